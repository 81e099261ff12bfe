/**
 * What the OTLP exporter does after one request (pure): the OTLP/HTTP specification's rules
 * (opentelemetry-proto, "OTLP/HTTP Throttling" and "Failures"), with its backoff.
 *
 * - 2xx: delivered (a partial success may still name rejected items: counted, not retried);
 * - 429, 408 and 5xx other than 501: the backend is busy or down: retry, after its `Retry-After` when it
 *   sends one (seconds or an HTTP date), else after the exponential backoff;
 * - network errors and timeouts: retry;
 * - anything else (400 a malformed request, 401/403/404 a wrong endpoint or credentials, 413, 501):
 *   retrying the same bytes cannot succeed: drop.
 */

export type Outcome = { readonly kind: 'ok' } | { readonly kind: 'retry'; readonly afterMs?: number } | { readonly kind: 'reject' };

export function classifyStatus(status: number, retryAfterMs: number | undefined): Outcome {
  if (status >= 200 && status < 300) return { kind: 'ok' };
  if (status === 429 || status === 408 || (status >= 500 && status !== 501)) return { kind: 'retry', ...(retryAfterMs !== undefined ? { afterMs: retryAfterMs } : {}) };
  return { kind: 'reject' };
}

/** `Retry-After` in milliseconds from `nowMs`: delta-seconds or an HTTP date; `undefined` when absent or unreadable, never negative. */
export function parseRetryAfter(header: string | null | undefined, nowMs: number): number | undefined {
  if (!header) return undefined;
  const v = header.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/**
 * The wait before try number `attempt + 1` after `attempt` failures (1, 2, ...): `baseMs` doubling,
 * capped at `maxMs`, then "equal jitter" (half fixed, half random), so that node agents that lost the
 * same backend at the same moment spread out without any of them retrying at once. A `Retry-After`
 * replaces it (capped at `retryAfterMaxMs`).
 */
export function retryDelayMs(attempt: number, opts: { readonly baseMs: number; readonly maxMs: number; readonly random: () => number; readonly retryAfterMs?: number; readonly retryAfterMaxMs: number }): number {
  if (opts.retryAfterMs !== undefined) return Math.min(opts.retryAfterMs, opts.retryAfterMaxMs);
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.round(exp / 2 + (exp / 2) * opts.random());
}
