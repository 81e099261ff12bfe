/**
 * The aggregated DogStatsD metrics in Prometheus' text format, for clusters that scrape (pure: the
 * caller hands each window's series and the time).
 *
 * Prometheus reads counters as running totals and computes rates itself, and scrapes on its own
 * schedule (15 s, 30 s), not on the 10 s windows: so counts are kept as cumulative counters, summaries'
 * `_sum` and `_count` too (their quantiles are the last window's, as a Prometheus summary's are over a
 * recent window), and gauges and sets show their last value. A series not seen for `ttlMs` goes (a pod
 * deleted, a tag value gone), and at most `maxSeries` are kept, of at most `maxBytes` rendered together
 * (a series past either is dropped and counted). The page is made in chunks of about
 * `DOGSTATSD_PROMETHEUS_CHUNK_BYTES` as the client reads it (`chunks`), never as one string.
 *
 * Names: every character outside `[a-zA-Z0-9_:]` becomes `_` (`http.requests` → `http_requests`).
 * Tags become labels: `key:value` → `key="value"` (key sanitised the same way, without `:`), a tag
 * without a value → `tag="true"`, several values of one key joined with `,` in sorted order; the pod's
 * tags (`kube_namespace`, `pod_name`, `kube_deployment`…) are tags like the others.
 */
import { DOGSTATSD_MAX_SERIES_PER_WINDOW, DOGSTATSD_PROMETHEUS_CHUNK_BYTES, DOGSTATSD_PROMETHEUS_MAX_BYTES, DOGSTATSD_PROMETHEUS_TTL_MS, DOGSTATSD_QUANTILES } from '../../../config/limits.js';
import type { AggregatedSeries } from '../types.js';

export interface PrometheusViewOptions {
  readonly ttlMs?: number;
  readonly maxSeries?: number;
  readonly maxBytes?: number;
  readonly chunkBytes?: number;
}

export interface PrometheusView {
  /** One window's series. */
  update(series: readonly AggregatedSeries[], nowMs: number): void;
  /** The exposition (text format 0.0.4), in chunks made as they are asked for. */
  chunks(): Generator<string>;
  /** The whole exposition as one string (tests; the status server streams `chunks`). */
  render(): string;
  readonly size: number;
  /** Bytes the kept series render to (about). */
  readonly bytes: number;
  /** Series not kept: past `maxSeries` or `maxBytes`, or whose name another type already uses. */
  readonly dropped: number;
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type PromType = 'counter' | 'gauge' | 'summary';

interface Entry {
  readonly name: string;
  readonly type: PromType;
  /** Rendered `{…}` (without the quantile), '' when no labels. */
  readonly labels: string;
  readonly labelPairs: readonly string[];
  value: number;
  count: number;
  sum: number;
  quantiles: readonly { readonly q: number; readonly value: number }[];
  seenMs: number;
  /** What its lines take, rendered (about: numbers counted at their longest). */
  readonly bytes: number;
}

/** A line's bytes besides its name and labels: the value, the separators, a quantile label. */
const LINE_EXTRA_BYTES = 48;
const bytesOf = (name: string, labels: string, type: PromType): number => (name.length + labels.length + LINE_EXTRA_BYTES) * (type === 'summary' ? DOGSTATSD_QUANTILES.length + 2 : 1);

/** A metric name Prometheus accepts. */
export function sanitizeMetricName(name: string): string {
  let out = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  if (out === '' || (out.charCodeAt(0) >= 48 && out.charCodeAt(0) <= 57)) out = '_' + out;
  return out;
}

/** A label name Prometheus accepts, never one it reserves (`__…`) nor one the format uses (`quantile`, `le`). */
export function sanitizeLabelName(name: string): string {
  let out = name.replace(/[^a-zA-Z0-9_]/g, '_');
  if (out === '' || (out.charCodeAt(0) >= 48 && out.charCodeAt(0) <= 57)) out = '_' + out;
  if (out.startsWith('__') || out === 'quantile' || out === 'le') out = 'tag_' + out;
  return out;
}

const escapeValue = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/** Sorted `name="value"` pairs of a series' tags. */
export function tagsToLabels(tags: readonly string[]): string[] {
  const byName = new Map<string, string[]>();
  for (const tag of tags) {
    const colon = tag.indexOf(':');
    const name = sanitizeLabelName(colon === -1 ? tag : tag.slice(0, colon));
    const value = colon === -1 ? 'true' : tag.slice(colon + 1);
    const values = byName.get(name);
    if (values) {
      if (!values.includes(value)) values.push(value);
    } else byName.set(name, [value]);
  }
  return [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, values]) => `${name}="${escapeValue(values.sort().join(','))}"`);
}

const TYPE_OF: Record<AggregatedSeries['kind'], PromType> = { sum: 'counter', gauge: 'gauge', summary: 'summary' };

const formatNumber = (n: number): string => (Number.isNaN(n) ? 'NaN' : n === Infinity ? '+Inf' : n === -Infinity ? '-Inf' : String(n));

export function createPrometheusView(opts: PrometheusViewOptions = {}): PrometheusView {
  const ttlMs = opts.ttlMs ?? DOGSTATSD_PROMETHEUS_TTL_MS;
  const maxSeries = opts.maxSeries ?? DOGSTATSD_MAX_SERIES_PER_WINDOW;
  const maxBytes = opts.maxBytes ?? DOGSTATSD_PROMETHEUS_MAX_BYTES;
  const chunkBytes = opts.chunkBytes ?? DOGSTATSD_PROMETHEUS_CHUNK_BYTES;
  const entries = new Map<string, Entry>();
  let bytes = 0;
  /** The type each name has, so one name never shows with two (Prometheus rejects the whole page). */
  const typeOfName = new Map<string, PromType>();
  let dropped = 0;

  return {
    get size() {
      return entries.size;
    },
    get dropped() {
      return dropped;
    },
    get bytes() {
      return bytes;
    },
    update(series, nowMs) {
      for (const s of series) {
        const name = sanitizeMetricName(s.name);
        const type = TYPE_OF[s.kind];
        const labelPairs = tagsToLabels(s.tags);
        const labels = labelPairs.length === 0 ? '' : `{${labelPairs.join(',')}}`;
        const key = `${name}${labels}`;
        let e = entries.get(key);
        if (!e) {
          const known = typeOfName.get(name);
          const cost = bytesOf(name, labels, type);
          if ((known !== undefined && known !== type) || entries.size >= maxSeries || bytes + cost > maxBytes) {
            dropped++;
            continue;
          }
          typeOfName.set(name, type);
          e = { name, type, labels, labelPairs, value: 0, count: 0, sum: 0, quantiles: [], seenMs: nowMs, bytes: cost };
          entries.set(key, e);
          bytes += cost;
        } else if (e.type !== type) {
          dropped++;
          continue;
        }
        e.seenMs = nowMs;
        if (s.kind === 'sum') e.value += s.value ?? 0;
        else if (s.kind === 'gauge') e.value = s.value ?? 0;
        else if (s.summary) {
          e.count += s.summary.count;
          e.sum += s.summary.sum;
          e.quantiles = s.summary.quantiles;
        }
      }
      for (const [key, e] of entries) {
        if (nowMs - e.seenMs <= ttlMs) continue;
        entries.delete(key);
        bytes -= e.bytes;
      }
      typeOfName.clear();
      for (const e of entries.values()) typeOfName.set(e.name, e.type);
    },
    *chunks() {
      // Grouped by name (the format wants a name's lines together): an index of references, not text.
      const byName = new Map<string, Entry[]>();
      for (const e of entries.values()) {
        const list = byName.get(e.name);
        if (list) list.push(e);
        else byName.set(e.name, [e]);
      }
      let lines: string[] = [];
      let size = 0;
      const push = (line: string) => {
        lines.push(line);
        size += line.length + 1;
      };
      for (const name of [...byName.keys()].sort()) {
        const list = byName.get(name)!;
        const type = list[0]!.type;
        push(`# TYPE ${name} ${type}`);
        for (const e of list) {
          if (type !== 'summary') push(`${name}${e.labels} ${formatNumber(e.value)}`);
          else {
            for (const q of e.quantiles) push(`${name}{${[...e.labelPairs, `quantile="${q.q}"`].join(',')}} ${formatNumber(q.value)}`);
            push(`${name}_sum${e.labels} ${formatNumber(e.sum)}`);
            push(`${name}_count${e.labels} ${formatNumber(e.count)}`);
          }
          if (size >= chunkBytes) {
            yield lines.join('\n') + '\n';
            lines = [];
            size = 0;
          }
        }
      }
      if (lines.length > 0) yield lines.join('\n') + '\n';
    },
    render() {
      return [...this.chunks()].join('');
    },
  };
}
