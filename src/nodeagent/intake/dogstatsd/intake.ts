/**
 * The node agent's DogStatsD intake: UDP and the Unix datagram socket → parser → aggregator (metrics)
 * and the window's service checks and events (`logRecords.ts`), flushed every window to whoever listens
 * (the OTLP exporter) and, the series, to the Prometheus view. Wiring only: each
 * part is its own module.
 *
 * Nothing a client sends can stop it: a malformed line is counted by reason and dropped, with one log
 * line per `DOGSTATSD_MALFORMED_LOG_INTERVAL_MS` naming the first one's problem (never the whole
 * datagram); a Unix socket that cannot be made is logged and the intake runs on UDP alone.
 */
import type { Registry } from 'prom-client';
import type { TetherConfig } from '../../../config/index.js';
import { DOGSTATSD_FLUSH_INTERVAL_MS, DOGSTATSD_MALFORMED_LOG_INTERVAL_MS, DOGSTATSD_MALFORMED_QUOTE_CHARS } from '../../../config/limits.js';
import type { Logger } from '../../../logging/logger.js';
import type { Timers } from '../../agent.js';
import type { AggregatedSeries, DogStatsDLogRecord, DogStatsDSample, Origin, OriginResolver, Sender, TaggedLogRecord } from '../types.js';
import type { AttestTransport, Attestor } from '../attest/attestor.js';
import { listenCredentialDatagrams, unixCredentials } from '../attest/credentials.js';
import { createAggregator, type Aggregator, type WindowStats } from './aggregator.js';
import { boundsFromConfig } from './bounds.js';
import { addDrops, newCounts, type DogStatsDCounts, type Transport } from './counts.js';
import { createLogRecordWindow } from './logRecords.js';
import { registerDogStatsDMetrics } from './metrics.js';
import { parseInto, type MalformedReason, type ParseSink } from './parser.js';
import { createPrometheusView, PROMETHEUS_CONTENT_TYPE } from './prometheus.js';
import { listenUdp, type UdpListener } from './udp.js';
import { listenUnixgram, type UnixListener } from './unixgram.js';

export type DogStatsDConfig = Pick<TetherConfig, 'dogstatsd_port' | 'dogstatsd_non_local_traffic' | 'dogstatsd_socket' | 'dogstatsd_buffer_size' | 'dogstatsd_so_rcvbuf'> &
  /** The byte budgets and caps (`bounds.ts`); unset ones take their defaults from `limits.ts`. */
  Partial<Pick<TetherConfig, 'dogstatsd_window_max_bytes' | 'dogstatsd_origin_max_bytes' | 'dogstatsd_max_metric_name_length' | 'dogstatsd_max_tag_length' | 'dogstatsd_max_tags_per_metric'>>;

export interface DogStatsDIntakeOptions {
  readonly config: DogStatsDConfig;
  readonly resolver: OriginResolver;
  readonly logger: Logger;
  /** The node agent's Prometheus registry, for the intake's own counters (`tether_dogstatsd_*`). */
  readonly registry?: Registry;
  /** Clock and timers (the node agent's `Timers`); real ones by default. */
  readonly clock?: Timers;
  /** Window length; `DOGSTATSD_FLUSH_INTERVAL_MS` by default (tests shorten it). */
  readonly windowMs?: number;
  /** Per-window series cap; `DOGSTATSD_MAX_SERIES_PER_WINDOW` by default. */
  readonly maxSeries?: number;
  /**
   * Checks each datagram's claimed origin against its sender (UDP source address, Unix socket peer pid):
   * what is attested wins. Without it, claims are taken as sent.
   */
  readonly attestor?: Attestor;
}

/** One window's series and its service checks and events (with their pods). */
export type FlushListener = (series: readonly AggregatedSeries[], stats: WindowStats, logs: readonly TaggedLogRecord[]) => void;

export interface DogStatsDIntakeStatus {
  readonly udp: { readonly port: number; readonly addresses: readonly string[] } | null;
  readonly socket: { readonly path: string } | null;
  /** Why the Unix socket is off although configured. */
  readonly socketProblem: string | null;
  /** Whether the Unix socket reads its senders' credentials, or why not. */
  readonly socketCredentials: true | string | null;
  readonly counts: DogStatsDCounts;
}

export interface DogStatsDIntake {
  /** Binds UDP (rejects when it cannot: a port in use is a configuration error) and the Unix socket (logged when it cannot), then flushes every window. */
  start(): Promise<void>;
  /** Closes the sockets and flushes what the current window holds to the listeners. */
  stop(): Promise<void>;
  /** Ends the current window now: its series, also given to every `onFlush` listener and to the Prometheus view. */
  flush(): AggregatedSeries[];
  /** Called after every flush; returns the unsubscribe. A listener that throws is logged, the others still called. */
  onFlush(cb: FlushListener): () => void;
  /** One datagram, as the listeners hand it, with who sent it when known (exposed for the bench and tests). */
  handleDatagram(msg: Buffer, transport: Transport, sender?: Sender): void;
  /** The Prometheus exposition of the metrics aggregated so far (`/dogstatsd/metrics`), in chunks made as they are read. */
  prometheus(): { readonly contentType: string; readonly body: Iterable<string> };
  status(): DogStatsDIntakeStatus;
}

const REAL_CLOCK: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
};

const shorten = (line: string): string => (line.length > DOGSTATSD_MALFORMED_QUOTE_CHARS ? line.slice(0, DOGSTATSD_MALFORMED_QUOTE_CHARS) + '…' : line);

export function createDogStatsDIntake(opts: DogStatsDIntakeOptions): DogStatsDIntake {
  const clock = opts.clock ?? REAL_CLOCK;
  const log = opts.logger.child({ component: 'dogstatsd' });
  const windowMs = opts.windowMs ?? DOGSTATSD_FLUSH_INTERVAL_MS;
  const cfg = opts.config;
  const counts = newCounts();
  if (opts.registry) registerDogStatsDMetrics(opts.registry, counts);
  const bounds = boundsFromConfig(cfg);
  const aggregator: Aggregator = createAggregator({ resolver: opts.resolver, startMs: clock.now(), windowMs, bounds, ...(opts.maxSeries !== undefined ? { maxSeries: opts.maxSeries } : {}) });
  const logWindow = createLogRecordWindow({ resolver: opts.resolver, bounds });
  const view = createPrometheusView(opts.maxSeries !== undefined ? { maxSeries: opts.maxSeries } : {});
  const listeners = new Set<FlushListener>();

  // Malformed lines: every one counted; one line logged per interval, the first of it, with how many
  // were dropped since the last line.
  let lastMalformedLogMs = Number.NEGATIVE_INFINITY;
  let malformedSinceLog = 0;
  let transportNow: Transport = 'udp';
  // The attestation of the datagram being parsed: its sender, and the verdict on the last claim seen (the
  // parser reuses one origin object for the lines of a datagram that claim the same).
  const attestor = opts.attestor;
  let senderNow: Sender | undefined;
  let attestedVia: AttestTransport = 'dogstatsd-udp';
  let lastClaim: Origin | undefined;
  let lastAttested: Origin | undefined;
  let lastKeyPrefix = '';
  const attestedOrigin = (claim: Origin): Origin => {
    if (claim !== lastClaim) {
      lastClaim = claim;
      lastAttested = attestor!.origin(claim, senderNow!, attestedVia);
      lastKeyPrefix = `\u0002${lastAttested.entityId ?? ''}\u0001${lastAttested.containerId ?? ''}\u0002`;
    }
    return lastAttested!;
  };
  const attested = (s: DogStatsDSample): DogStatsDSample => {
    if (attestedOrigin(s.origin) === s.origin) return s;
    // Another origin than the line's: its series must not be found by the line alone (another sender's
    // identical line is another series).
    return s.contextKey === undefined ? { ...s, origin: lastAttested! } : { ...s, origin: lastAttested!, contextKey: lastKeyPrefix + s.contextKey };
  };
  /** A service check or event, its origin attested like a sample's, into the window. */
  const keepRecord = (r: DogStatsDLogRecord): void => {
    const origin = senderNow ? attestedOrigin(r.origin) : r.origin;
    logWindow.add(origin === r.origin ? r : { ...r, origin }, clock.now());
  };
  const sink: ParseSink = {
    sample(s: DogStatsDSample) {
      counts.samples++;
      aggregator.add(senderNow ? attested(s) : s);
    },
    serviceCheck(check) {
      counts.serviceChecks++;
      keepRecord(check);
    },
    event(event) {
      counts.events++;
      keepRecord(event);
    },
    malformed(reason: MalformedReason, message: string, line: string) {
      counts.malformed[reason]++;
      malformedSinceLog++;
      const now = clock.now();
      if (now - lastMalformedLogMs < DOGSTATSD_MALFORMED_LOG_INTERVAL_MS) return;
      log.warn(
        { reason, line: shorten(line), transport: transportNow, droppedSinceLastLine: malformedSinceLog },
        `DogStatsD line dropped: ${message} (${malformedSinceLog} malformed ${malformedSinceLog === 1 ? 'line' : 'lines'} since the last such message; every one is counted in tether_dogstatsd_malformed_lines_total)`,
      );
      lastMalformedLogMs = now;
      malformedSinceLog = 0;
    },
  };

  const handleDatagram = (msg: Buffer, transport: Transport, sender?: Sender): void => {
    senderNow = attestor ? sender : undefined;
    lastClaim = undefined;
    attestedVia = transport === 'udp' ? 'dogstatsd-udp' : 'dogstatsd-unix';
    counts.datagrams[transport]++;
    counts.bytes[transport] += msg.length;
    let len = msg.length;
    if (len > cfg.dogstatsd_buffer_size) {
      counts.truncated[transport]++;
      len = cfg.dogstatsd_buffer_size;
    }
    transportNow = transport;
    parseInto(msg.toString('utf8', 0, len), sink);
  };

  const flush = (): AggregatedSeries[] => {
    const { series, stats } = aggregator.flush(clock.now());
    const logs = logWindow.take();
    addDrops(counts.droppedLogRecordsByOrigin, logs.drops);
    const logsDropped = [...logs.drops.values()].reduce((n, byReason) => n + Object.values(byReason).reduce((a, b) => a + b, 0), 0);
    if (logsDropped > 0) {
      log.warn(
        { droppedLogRecords: logsDropped, kept: logs.records.length, bytes: logs.bytes, origins: [...logs.drops].map(([origin, byReason]) => ({ origin, ...byReason })).slice(0, 5) },
        `DogStatsD window dropped ${logsDropped} service checks or events (past the byte budget of the window or of a pod, or a name or tag cap); tether_dogstatsd_log_records_dropped_total says which and whose`,
      );
    }
    counts.droppedSamples += stats.droppedSamples;
    addDrops(counts.droppedByOrigin, stats.drops);
    counts.lastWindowBytes = stats.bytes;
    counts.droppedSetMembers += stats.droppedSetMembers;
    counts.seriesFlushed.pod += stats.seriesWithPod;
    counts.seriesFlushed.unknown += stats.seriesUnknownOrigin;
    counts.seriesFlushed.none += stats.seriesNoOrigin;
    counts.lastWindowSeries = stats.series;
    if (stats.droppedSamples > 0) {
      const worst = [...stats.drops].map(([origin, byReason]) => ({ origin, ...byReason })).slice(0, 5);
      log.warn(
        { droppedSamples: stats.droppedSamples, series: stats.series, bytes: stats.bytes, origins: worst },
        `DogStatsD window dropped ${stats.droppedSamples} samples (it held ${stats.series} series, ${stats.bytes} bytes): past a byte budget of the window or of a pod, the series cap, or a name or tag cap; tether_dogstatsd_samples_dropped_total says which and whose. A tag with unbounded values (a request or user id) is the usual cause.`,
      );
    }
    view.update(series, clock.now());
    for (const cb of listeners) {
      try {
        cb(series, stats, logs.records);
      } catch (e) {
        log.error({ err: e }, `a DogStatsD flush listener failed: ${(e as Error)?.message ?? String(e)}`);
      }
    }
    return series;
  };

  let udp: UdpListener | undefined;
  let unix: UnixListener | undefined;
  let socketProblem: string | null = null;
  let socketCredentials: true | string | null = null;
  let timer: unknown;
  let running = false;

  // Windows end on multiples of windowMs of the wall clock, as the stack's do, so the series of many
  // nodes line up.
  const schedule = () => {
    const now = clock.now();
    timer = clock.setTimeout(() => {
      if (!running) return;
      flush();
      schedule();
    }, windowMs - (now % windowMs));
  };

  return {
    async start() {
      if (cfg.dogstatsd_port > 0) {
        udp = await listenUdp({
          port: cfg.dogstatsd_port,
          nonLocalTraffic: cfg.dogstatsd_non_local_traffic,
          receiveBufferBytes: cfg.dogstatsd_so_rcvbuf,
          onDatagram: (msg, rinfo) => handleDatagram(msg, 'udp', { ip: rinfo.address }),
          logger: log,
        });
        log.info({ port: udp.port, addresses: udp.addresses }, `DogStatsD on UDP ${udp.addresses.join(', ')} port ${udp.port}`);
      }
      if (cfg.dogstatsd_socket !== '') {
        try {
          const onReceiveError = (errno: number) => log.debug({ errno }, 'DogStatsD Unix socket: a receive failed');
          const credentials = attestor ? unixCredentials() : undefined;
          if (credentials && !('problem' in credentials)) {
            // One more byte than kept, so that a longer datagram is seen, cut and counted as truncated.
            unix = listenCredentialDatagrams({
              path: cfg.dogstatsd_socket,
              bufferBytes: cfg.dogstatsd_buffer_size + 1,
              receiveBufferBytes: cfg.dogstatsd_so_rcvbuf,
              onDatagram: (msg, pid) => handleDatagram(msg, 'unix', { pid }),
              onReceiveError,
            });
            socketCredentials = true;
          } else {
            unix = listenUnixgram({ path: cfg.dogstatsd_socket, onDatagram: (msg) => handleDatagram(msg, 'unix'), onReceiveError });
            if (credentials) {
              socketCredentials = credentials.problem;
              log.warn({ path: cfg.dogstatsd_socket }, `DogStatsD Unix socket without its senders' credentials: ${credentials.problem}. Origins are taken as clients claim them.`);
            }
          }
          log.info({ path: unix.path, credentials: socketCredentials === true }, `DogStatsD on the Unix socket ${unix.path}`);
        } catch (e) {
          socketProblem = (e as Error).message;
          log.warn(
            { path: cfg.dogstatsd_socket },
            `DogStatsD Unix socket off: ${socketProblem}. Clients sending to unix://${cfg.dogstatsd_socket} get nothing through; UDP works. Set dogstatsd_socket (DD_DOGSTATSD_SOCKET) to a writable path, or to "" to turn the socket off without this warning.`,
          );
        }
      }
      running = true;
      schedule();
    },
    async stop() {
      running = false;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      unix?.close();
      unix = undefined;
      await udp?.close();
      udp = undefined;
      flush();
    },
    flush,
    onFlush(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    handleDatagram,
    prometheus: () => ({ contentType: PROMETHEUS_CONTENT_TYPE, body: view.chunks() }),
    status: () => ({
      udp: udp ? { port: udp.port, addresses: udp.addresses } : null,
      socket: unix ? { path: unix.path } : null,
      socketProblem,
      socketCredentials,
      counts,
    }),
  };
}
