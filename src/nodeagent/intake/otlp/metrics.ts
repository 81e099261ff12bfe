/**
 * DogStatsD's aggregated series as OTLP metrics (pure), in the OpenTelemetry SDK's shapes
 * (`ResourceMetrics`), which `@opentelemetry/otlp-transformer` encodes as protobuf.
 *
 * - one resource per pod (its tags, `resource.ts`) and host override (a series' `host:<name>` tag, the
 *   stack's way to set a metric's host, becomes the resource's `host.name`, not an attribute); series of
 *   unknown origin share one empty resource;
 * - a data point's attributes are the client's own tags (the series' tags less its pod's);
 * - `sum` (counts): a delta, monotonic Sum over the flush window; `gauge` (gauges, set sizes): a Gauge;
 * - `summary` (histograms, distributions, timings): a delta Histogram point with count, sum, min and
 *   max and no buckets, plus the quantiles the aggregator computed as a Gauge `<name>.quantile` with a
 *   `quantile` attribute (`0.5`, `0.95`, ...), the shape a Prometheus summary has. The SDK shapes, and so
 *   the library's encoder, have no OTLP Summary: hand-writing its protobuf is what this avoids.
 * Counts are monotonic as DogStatsD means them; a client that decrements a counter sends a negative
 * delta, which backends take as it is.
 */
import { ValueType, type Attributes } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type DataPoint, type Histogram, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { AggregatedSeries, ResolvedOrigin } from '../types.js';
import { podResourceAttributes, tagsToAttributes } from './resource.js';
import { hrTimeFromMs } from './time.js';

/** The instrumentation scope of everything the intake converts. */
export const INTAKE_SCOPE: InstrumentationScope = { name: 'tether.node-agent.intake' };
export const QUANTILE_SUFFIX = '.quantile';
export const QUANTILE_ATTRIBUTE = 'quantile';

const originTagSets = new WeakMap<ResolvedOrigin, ReadonlySet<string>>();
function originTags(origin: ResolvedOrigin): ReadonlySet<string> {
  let set = originTagSets.get(origin);
  if (!set) originTagSets.set(origin, (set = new Set(origin.tags)));
  return set;
}

/** A DogStatsD client's host override (the stack's server makes it the metric's hostname). */
export const HOST_TAG_PREFIX = 'host:';
/** Where it goes in OTLP: the resource (OpenTelemetry's `host.name`). */
export const HOST_NAME_ATTRIBUTE = 'host.name';

/** The client's own tags of a series: its tags less those its pod gave it (they are on the resource). */
export function clientTags(series: AggregatedSeries): string[] {
  if (!series.origin) return [...series.tags];
  const fromPod = originTags(series.origin);
  return series.tags.filter((t) => !fromPod.has(t));
}

type Kind = 'sum' | 'gauge' | 'histogram';

/** One metric being built: its points by kind (a name is one metric of one kind per resource). */
interface Building {
  readonly name: string;
  readonly kind: Kind;
  readonly numbers: DataPoint<number>[];
  readonly histograms: DataPoint<Histogram>[];
}

function toMetricData(b: Building): MetricData {
  const descriptor = { name: b.name, description: '', unit: '', valueType: ValueType.DOUBLE };
  switch (b.kind) {
    case 'sum':
      return { descriptor, aggregationTemporality: AggregationTemporality.DELTA, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints: b.numbers };
    case 'gauge':
      return { descriptor, aggregationTemporality: AggregationTemporality.DELTA, dataPointType: DataPointType.GAUGE, dataPoints: b.numbers };
    case 'histogram':
      return { descriptor, aggregationTemporality: AggregationTemporality.DELTA, dataPointType: DataPointType.HISTOGRAM, dataPoints: b.histograms };
  }
}

/**
 * The series of one flush as one `ResourceMetrics` per origin (pod), in first-seen order. A series whose
 * value is missing or not finite is skipped (and counted in `skipped`): it cannot be encoded.
 */
export function seriesToResourceMetrics(series: readonly AggregatedSeries[]): { readonly resourceMetrics: ResourceMetrics[]; readonly points: number; readonly skipped: number } {
  const byOrigin = new Map<ResolvedOrigin | undefined, Map<string, Map<string, Building>>>();
  let points = 0;
  let skipped = 0;
  let host = '';
  const metric = (origin: ResolvedOrigin | undefined, name: string, kind: Kind): Building => {
    let hosts = byOrigin.get(origin);
    if (!hosts) byOrigin.set(origin, (hosts = new Map()));
    let metrics = hosts.get(host);
    if (!metrics) hosts.set(host, (metrics = new Map()));
    const key = `${kind}\u0000${name}`;
    let b = metrics.get(key);
    if (!b) metrics.set(key, (b = { name, kind, numbers: [], histograms: [] }));
    return b;
  };
  for (const s of series) {
    const startTime = hrTimeFromMs(s.startMs);
    const endTime = hrTimeFromMs(s.endMs);
    const own = clientTags(s);
    // `host:<name>`, the stack's host override: the series' host (its resource's host.name), not an attribute.
    const h = own.findIndex((t) => t.startsWith(HOST_TAG_PREFIX));
    host = h < 0 ? '' : own.splice(h, 1)[0]!.slice(HOST_TAG_PREFIX.length);
    const attributes: Attributes = tagsToAttributes(own);
    if (s.kind === 'summary') {
      const sm = s.summary;
      if (!sm || ![sm.count, sm.sum, sm.min, sm.max].every(Number.isFinite)) {
        skipped++;
        continue;
      }
      metric(s.origin, s.name, 'histogram').histograms.push({
        startTime,
        endTime,
        attributes,
        value: { count: sm.count, sum: sm.sum, min: sm.min, max: sm.max, buckets: { boundaries: [], counts: [] } },
      });
      points++;
      const q = metric(s.origin, s.name + QUANTILE_SUFFIX, 'gauge');
      for (const { q: quantile, value } of sm.quantiles) {
        if (!Number.isFinite(value)) continue;
        q.numbers.push({ startTime, endTime, attributes: { ...attributes, [QUANTILE_ATTRIBUTE]: String(quantile) }, value });
        points++;
      }
      continue;
    }
    if (s.value === undefined || !Number.isFinite(s.value)) {
      skipped++;
      continue;
    }
    metric(s.origin, s.name, s.kind).numbers.push({ startTime, endTime, attributes, value: s.value });
    points++;
  }
  const resourceMetrics: ResourceMetrics[] = [];
  for (const [origin, hosts] of byOrigin) {
    for (const [hostName, metrics] of hosts) {
      resourceMetrics.push({
        resource: resourceFromAttributes({ ...podResourceAttributes(origin), ...(hostName !== '' ? { [HOST_NAME_ATTRIBUTE]: hostName } : {}) }),
        scopeMetrics: [{ scope: INTAKE_SCOPE, metrics: [...metrics.values()].map(toMetricData) }],
      });
    }
  }
  return { resourceMetrics, points, skipped };
}

/**
 * One `ExportMetricsServiceRequest` holding every resource. The library encodes one `ResourceMetrics`
 * per request; protobuf appends a repeated field's elements when encoded messages are concatenated, so
 * the concatenation is the request with all of them (the protobuf encoding guide, "Last One Wins" /
 * merging), without writing any of the encoding here.
 */
export function encodeMetricsRequest(resourceMetrics: readonly ResourceMetrics[]): Uint8Array {
  const parts = resourceMetrics.map((rm) => ProtobufMetricsSerializer.serializeRequest(rm) ?? new Uint8Array(0));
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
