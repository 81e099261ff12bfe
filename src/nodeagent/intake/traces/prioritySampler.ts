/**
 * Priority sampling (pure; the caller says what time it is): the `rate_by_service` a trace payload is
 * answered with, per `service:<service>,env:<env>`, so that tracers keep about
 * `apm_config.max_traces_per_second` traces per second of each (the stack's agent's default: 10), and
 * drop the rest at the source (their sampling priority 0), instead of sending every trace to the OTLP
 * backend.
 *
 * Each trace is counted under its root span's service and `env` (the root: the span whose parent is
 * not in the trace, else the first) over windows of `PRIORITY_SAMPLING_WINDOW_MS`. The counting per
 * payload (`countRoots`) runs where the payload is decoded, on a decode worker: only the counts per key
 * cross back to the event loop, never the spans. At each window's end
 * the key's rate becomes `min(1, target / traces per second seen)`. Tracers send every trace whatever its
 * priority (`/info` says `client_drop_p0s: false`), so what is counted is what the app produces, not
 * what it kept. A key not seen for a window is forgotten (rate 1 again: the default key). At most
 * `PRIORITY_SAMPLING_MAX_KEYS` keys: traces of more are counted under the default key.
 */
import { PRIORITY_SAMPLING_MAX_KEYS, PRIORITY_SAMPLING_WINDOW_MS } from '../../../config/limits.js';
import type { DdSpan, RootCounts } from '../types.js';
import { DEFAULT_RATE_KEY } from './info.js';

export interface PrioritySamplerOptions {
  /** Traces per second per key (`apm_config.max_traces_per_second`). */
  readonly targetTps: number;
  readonly now: () => number;
  readonly windowMs?: number;
  readonly maxKeys?: number;
}

export interface PrioritySampler {
  /** Adds one payload's counts (`countRoots`) to the window. */
  observe(counts: RootCounts): void;
  /** `{"rate_by_service":{…}}`, the body a payload is answered with (the same string until the rates change). */
  body(): string;
  rates(): Readonly<Record<string, number>>;
}

/** The trace's root span: the one whose parent is not in the trace, else the first. */
export function rootSpan(trace: readonly DdSpan[]): DdSpan | undefined {
  if (trace.length <= 1) return trace[0];
  const ids = new Set<bigint>();
  for (const s of trace) ids.add(s.spanId);
  for (const s of trace) if (s.parentId === 0n || !ids.has(s.parentId)) return s;
  return trace[0];
}

export const rateKey = (service: string, env: string): string => `service:${service},env:${env}`;

/**
 * One payload's traces by the rate key of their root span; at most `maxKeys` keys, the traces of any
 * further key counted under the default key (a payload of a million services is bounded here too).
 */
export function countRoots(traces: readonly (readonly DdSpan[])[], maxKeys = PRIORITY_SAMPLING_MAX_KEYS): RootCounts {
  const counts = new Map<string, number>();
  for (const trace of traces) {
    const root = rootSpan(trace);
    if (!root) continue;
    let key = rateKey(root.service, root.meta['env'] ?? '');
    if (!counts.has(key) && counts.size >= maxKeys) key = DEFAULT_RATE_KEY;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts];
}

/** Rates rounded as the agent writes them (no 17-digit floats in every answer). */
const round = (r: number): number => Math.max(1e-6, Math.round(r * 1e6) / 1e6);

export function createPrioritySampler(opts: PrioritySamplerOptions): PrioritySampler {
  const windowMs = opts.windowMs ?? PRIORITY_SAMPLING_WINDOW_MS;
  const maxKeys = opts.maxKeys ?? PRIORITY_SAMPLING_MAX_KEYS;
  let windowStart = Math.floor(opts.now() / windowMs) * windowMs;
  let counts = new Map<string, number>();
  let rates: Record<string, number> = { [DEFAULT_RATE_KEY]: 1 };
  let body = JSON.stringify({ rate_by_service: rates });

  const roll = (): void => {
    const t = opts.now();
    if (t < windowStart + windowMs) return;
    // A window with no traces at all in between (an idle app) counts as seen: rates go back to 1.
    const elapsedS = t - windowStart >= 2 * windowMs ? Number.POSITIVE_INFINITY : windowMs / 1000;
    const next: Record<string, number> = { [DEFAULT_RATE_KEY]: 1 };
    for (const [key, n] of counts) {
      if (key === DEFAULT_RATE_KEY) continue;
      const tps = n / elapsedS;
      if (tps > opts.targetTps) next[key] = round(opts.targetTps / tps);
    }
    rates = next;
    body = JSON.stringify({ rate_by_service: rates });
    counts = new Map();
    windowStart = Math.floor(t / windowMs) * windowMs;
  };

  return {
    observe(payloadCounts) {
      roll();
      for (const [k, n] of payloadCounts) {
        const key = !counts.has(k) && counts.size >= maxKeys ? DEFAULT_RATE_KEY : k;
        counts.set(key, (counts.get(key) ?? 0) + n);
      }
    },
    body() {
      roll();
      return body;
    },
    rates() {
      roll();
      return rates;
    },
  };
}
