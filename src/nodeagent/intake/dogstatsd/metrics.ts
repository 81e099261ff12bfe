/**
 * The DogStatsD intake's own Prometheus metrics, on the node agent's registry (`nodeagent/metrics.ts`).
 * The intake counts in plain numbers (`counts.ts`); each counter here adds what changed since the last
 * scrape, so the receive path never calls into prom-client.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { TRANSPORTS, type DogStatsDCounts } from './counts.js';
import { DROP_REASONS, type DropReason } from './bounds.js';
import { MALFORMED_REASONS } from './parser.js';

/** A counter whose value is read from `read()` at scrape time (monotonic: it only ever adds the difference). */
function mirroredCounter(registry: Registry, name: string, help: string, labelNames: readonly string[], read: () => readonly [Record<string, string>, number][]) {
  const seen = new Map<string, number>();
  const counter = new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const [labels, value] of read()) {
        const key = JSON.stringify(labels);
        const delta = value - (seen.get(key) ?? 0);
        seen.set(key, value);
        if (delta > 0) this.inc(labels, delta);
      }
    },
  });
  // Every label set shows from the first scrape, at 0.
  for (const [labels] of read()) counter.inc(labels, 0);
  return counter;
}

/** Drops as label sets: only the reasons an origin has hit (a label set per origin and reason it dropped for, not six per origin). */
const byOriginAndReason = (drops: Readonly<Record<string, Readonly<Record<DropReason, number>>>>): [Record<string, string>, number][] =>
  Object.entries(drops).flatMap(([origin, byReason]) => DROP_REASONS.filter((reason) => byReason[reason] > 0).map((reason) => [{ reason, origin }, byReason[reason]] as [Record<string, string>, number]));

export function registerDogStatsDMetrics(registry: Registry, counts: DogStatsDCounts): void {
  const perTransport = (pick: (c: DogStatsDCounts) => Record<string, number>) => () => TRANSPORTS.map((t) => [{ transport: t }, pick(counts)[t] ?? 0] as [Record<string, string>, number]);
  const one = (pick: () => number) => () => [[{}, pick()] as [Record<string, string>, number]];
  mirroredCounter(registry, 'tether_dogstatsd_datagrams_total', 'DogStatsD datagrams received, by transport (udp, unix).', ['transport'], perTransport((c) => c.datagrams));
  mirroredCounter(registry, 'tether_dogstatsd_bytes_total', 'Bytes of DogStatsD datagrams received, by transport.', ['transport'], perTransport((c) => c.bytes));
  mirroredCounter(
    registry,
    'tether_dogstatsd_datagrams_truncated_total',
    'DogStatsD datagrams longer than dogstatsd_buffer_size, cut there (raise it, or lower the client\'s max buffer size).',
    ['transport'],
    perTransport((c) => c.truncated),
  );
  mirroredCounter(registry, 'tether_dogstatsd_samples_total', 'DogStatsD metric values taken (a packed line x:1:2:3|h is three).', [], one(() => counts.samples));
  mirroredCounter(
    registry,
    'tether_dogstatsd_malformed_lines_total',
    'DogStatsD lines dropped as malformed, by reason (the log names the first of every 10 s).',
    ['reason'],
    () => MALFORMED_REASONS.map((r) => [{ reason: r }, counts.malformed[r]] as [Record<string, string>, number]),
  );
  mirroredCounter(registry, 'tether_dogstatsd_service_checks_total', 'DogStatsD service checks received (exported as OTLP log records when a logs endpoint is set).', [], one(() => counts.serviceChecks));
  mirroredCounter(registry, 'tether_dogstatsd_events_total', 'DogStatsD events received (exported as OTLP log records when a logs endpoint is set).', [], one(() => counts.events));
  mirroredCounter(
    registry,
    'tether_dogstatsd_samples_dropped_total',
    "DogStatsD samples (and set members) dropped, by reason (series_limit, window_bytes, origin_bytes: a budget of the window or of the sender's pod was full, a tag with unbounded values is the usual cause; name_too_long, tag_too_long, too_many_tags) and origin (namespace/pod, the sender's unresolved key, none, other).",
    ['reason', 'origin'],
    () => byOriginAndReason(counts.droppedByOrigin),
  );
  mirroredCounter(
    registry,
    'tether_dogstatsd_log_records_dropped_total',
    "DogStatsD service checks and events dropped, by reason (window_bytes, origin_bytes: their own byte budgets of the window or of the sender's pod; name_too_long, tag_too_long, too_many_tags) and origin (namespace/pod, the sender's unresolved key, none, other).",
    ['reason', 'origin'],
    () => byOriginAndReason(counts.droppedLogRecordsByOrigin),
  );
  mirroredCounter(registry, 'tether_dogstatsd_set_members_dropped_total', 'DogStatsD set members past the bound of a set or of a window, not counted.', [], one(() => counts.droppedSetMembers));
  mirroredCounter(
    registry,
    'tether_dogstatsd_series_flushed_total',
    "DogStatsD series flushed, by origin: pod (tagged with its pod's tags), unknown (an entity or container id no pod of this node has), none (the client sent no origin).",
    ['origin'],
    () => (['pod', 'unknown', 'none'] as const).map((o) => [{ origin: o }, counts.seriesFlushed[o]] as [Record<string, string>, number]),
  );
  new Gauge({
    name: 'tether_dogstatsd_window_series',
    help: 'DogStatsD series in the last window flushed.',
    registers: [registry],
    collect() {
      this.set(counts.lastWindowSeries);
    },
  });
  new Gauge({
    name: 'tether_dogstatsd_window_bytes',
    help: 'Bytes of DogStatsD series (names, tags, value state) the last window flushed held; bounded by dogstatsd_window_max_bytes.',
    registers: [registry],
    collect() {
      this.set(counts.lastWindowBytes);
    },
  });
}
