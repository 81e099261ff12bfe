/**
 * The webhook's request rate, p99 and recent failures for the console (issue 12), from the webhook
 * server's own prom-client metrics (`server/metrics.ts`: `tether_admission_requests_total` by webhook
 * and outcome, `tether_admission_request_duration_seconds`): sampled every `CONSOLE_TRAFFIC_SAMPLE_MS`,
 * and the window is the difference between the newest sample and the oldest within
 * `CONSOLE_TRAFFIC_WINDOW_MS`. p99 is estimated from the histogram's buckets as Prometheus'
 * `histogram_quantile` does (linear within the bucket). Pure apart from `sampleRegistry` and the sampler.
 */
import type { Registry } from 'prom-client';
import { CONSOLE_TRAFFIC_SAMPLE_MS, CONSOLE_TRAFFIC_WINDOW_MS } from '../config/limits.js';
import type { WebhookFailure, WebhookTraffic } from './types.js';

const REQUESTS = 'tether_admission_requests_total';
const DURATION = 'tether_admission_request_duration_seconds';
/** Outcomes that are failures (server/metrics.ts). */
const FAILED_OUTCOMES: ReadonlySet<string> = new Set(['error', 'rejected']);
const MAX_FAILURES = 20;

export interface TrafficSample {
  readonly atMs: number;
  /** `webhook\u0000outcome` → requests since start. */
  readonly requests: ReadonlyMap<string, number>;
  /** Bucket upper bound (seconds; Infinity last) → cumulative count, all webhooks together, ascending. */
  readonly buckets: readonly (readonly [le: number, count: number])[];
}

const KEY_SEP = '\u0000';

/** Reads one sample from a webhook server's registry. */
export async function sampleRegistry(registry: Registry, atMs: number): Promise<TrafficSample> {
  const requests = new Map<string, number>();
  const req = await registry.getSingleMetric(REQUESTS)?.get();
  for (const v of req?.values ?? []) requests.set(`${String(v.labels['webhook'])}${KEY_SEP}${String(v.labels['outcome'])}`, v.value);
  const byLe = new Map<number, number>();
  const dur = await registry.getSingleMetric(DURATION)?.get();
  for (const v of dur?.values ?? []) {
    const name = (v as { metricName?: string }).metricName;
    if (name !== `${DURATION}_bucket`) continue;
    const raw = v.labels['le'];
    const le = raw === '+Inf' ? Infinity : Number(raw);
    byLe.set(le, (byLe.get(le) ?? 0) + v.value);
  }
  return { atMs, requests, buckets: [...byLe].sort((a, b) => a[0] - b[0]) };
}

const total = (m: ReadonlyMap<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

/** Prometheus' histogram_quantile over bucket deltas; undefined when nothing was observed. */
export function quantileOf(q: number, buckets: readonly (readonly [number, number])[]): number | undefined {
  const last = buckets[buckets.length - 1];
  if (!last || last[1] <= 0) return undefined;
  const rank = q * last[1];
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      const inBucket = count - prevCount;
      return inBucket <= 0 ? le : prevLe + ((le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

/** Rate, p99 and outcomes between the oldest sample within the window and the newest. */
export function trafficOf(samples: readonly TrafficSample[], windowMs = CONSOLE_TRAFFIC_WINDOW_MS): WebhookTraffic | undefined {
  const newest = samples[samples.length - 1];
  if (!newest) return undefined;
  const oldest = samples.find((s) => newest.atMs - s.atMs <= windowMs) ?? newest;
  const spanMs = newest.atMs - oldest.atMs;
  const outcomes: Record<string, number> = {};
  for (const [key, n] of newest.requests) {
    const outcome = key.slice(key.indexOf(KEY_SEP) + 1);
    outcomes[outcome] = (outcomes[outcome] ?? 0) + n - (oldest.requests.get(key) ?? 0);
  }
  const delta = total(newest.requests) - total(oldest.requests);
  const older = new Map(oldest.buckets);
  const p99 = quantileOf(
    0.99,
    newest.buckets.map(([le, c]) => [le, c - (older.get(le) ?? 0)] as const),
  );
  return {
    ratePerSecond: spanMs > 0 ? Math.round((delta / (spanMs / 1000)) * 100) / 100 : 0,
    ...(p99 !== undefined ? { p99Ms: Math.round(p99 * 1000 * 1000) / 1000 } : {}),
    windowMs: spanMs,
    outcomes,
    totalRequests: total(newest.requests),
  };
}

/** The failures counted between two samples, one entry per webhook and failed outcome. */
export function failuresBetween(prev: TrafficSample, next: TrafficSample): WebhookFailure[] {
  const out: WebhookFailure[] = [];
  for (const [key, n] of next.requests) {
    const [webhook = '', outcome = ''] = key.split(KEY_SEP);
    if (!FAILED_OUTCOMES.has(outcome)) continue;
    const count = n - (prev.requests.get(key) ?? 0);
    if (count > 0) out.push({ at: new Date(next.atMs).toISOString(), webhook, outcome, count });
  }
  return out;
}

export interface TrafficSampler {
  traffic(): WebhookTraffic | undefined;
  /** Newest first. */
  recentFailures(): readonly WebhookFailure[];
  /** Takes a sample now (the timer does it every `sampleMs`). */
  sample(): Promise<void>;
  stop(): void;
}

export interface TrafficSamplerOptions {
  readonly read: (atMs: number) => Promise<TrafficSample>;
  readonly now?: () => number;
  readonly sampleMs?: number;
  readonly windowMs?: number;
  /** Default: a real, unref'd interval; tests pass none and call `sample`. */
  readonly setInterval?: (fn: () => void, ms: number) => { clear(): void };
}

const realInterval = (fn: () => void, ms: number): { clear(): void } => {
  const t = setInterval(fn, ms);
  t.unref();
  return { clear: () => clearInterval(t) };
};

export function createTrafficSampler(opts: TrafficSamplerOptions): TrafficSampler {
  const now = opts.now ?? Date.now;
  const windowMs = opts.windowMs ?? CONSOLE_TRAFFIC_WINDOW_MS;
  const samples: TrafficSample[] = [];
  let failures: WebhookFailure[] = [];
  const sample = async (): Promise<void> => {
    const s = await opts.read(now());
    const prev = samples[samples.length - 1];
    if (prev) failures = [...failuresBetween(prev, s).reverse(), ...failures].slice(0, MAX_FAILURES);
    samples.push(s);
    // Keep one sample older than the window: the window's start.
    while (samples.length > 2 && s.atMs - (samples[1] as TrafficSample).atMs >= windowMs) samples.shift();
  };
  const timer = (opts.setInterval ?? realInterval)(() => void sample().catch(() => {}), opts.sampleMs ?? CONSOLE_TRAFFIC_SAMPLE_MS);
  void sample().catch(() => {});
  return {
    traffic: () => trafficOf(samples, windowMs),
    recentFailures: () => failures,
    sample,
    stop: () => timer.clear(),
  };
}
