/**
 * The OTLP/HTTP exporter of one signal (I/O): POSTs encoded requests (`application/x-protobuf`) to
 * `<otlp_endpoint>/v1/traces`, `/v1/metrics` or `/v1/logs`, one at a time, in order.
 *
 * It never blocks its caller: `send` queues and returns. The queue is bounded (bytes and requests,
 * `OTLP_QUEUE_MAX_*`); when full, the oldest request is dropped for the new one. A failed request is
 * retried as `retryPolicy.ts` says (backoff with jitter, `Retry-After` honoured) until it has failed for
 * `maxElapsedMs`, then dropped. Every drop is counted by reason; a failing backend is logged once at
 * warn (then at debug, again at warn every `OTLP_PROBLEM_REWARN_MS`), its recovery once at info.
 * `stop` gives the queue a deadline to drain, then drops what is left as `shutdown`.
 */
import { OTLP_PROBLEM_REWARN_MS, OTLP_QUEUE_MAX_BYTES, OTLP_QUEUE_MAX_REQUESTS, OTLP_REQUEST_TIMEOUT_MS, OTLP_RETRY_AFTER_MAX_MS, OTLP_RETRY_BASE_MS, OTLP_STOP_DEADLINE_MS } from '../../../config/index.js';
import type { Logger } from '../../../logging/logger.js';
import type { Timers } from '../../agent.js';
import type { DropReason, OtlpExporterMetrics, OtlpSignal, QueueSize, RequestResult } from './exporterMetrics.js';
import { classifyStatus, parseRetryAfter, retryDelayMs, type Outcome } from './retryPolicy.js';

export const OTLP_CONTENT_TYPE = 'application/x-protobuf';
export const OTLP_SIGNAL_PATHS: Readonly<Record<OtlpSignal, string>> = { traces: '/v1/traces', metrics: '/v1/metrics', logs: '/v1/logs' };
/** Of an answer, only this much is read (an OTLP response is a few bytes; a partial success a short message). */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** `http://collector:4318` (or `…/`) → `http://collector:4318/v1/traces`. */
export function signalUrl(endpoint: string, signal: OtlpSignal): string {
  return endpoint.replace(/\/+$/, '') + OTLP_SIGNAL_PATHS[signal];
}

/** One encoded `Export*ServiceRequest` and how many spans or data points it holds. */
export interface OtlpRequest {
  readonly body: Uint8Array;
  readonly items: number;
  /** Called once when the request leaves the exporter, sent or dropped (the pipeline's share per origin). */
  readonly release?: () => void;
}

export interface OtlpExporterOptions {
  readonly signal: OtlpSignal;
  /** The full URL, signal path included (`signalUrl`). */
  readonly url: string;
  readonly metrics: OtlpExporterMetrics;
  readonly logger: Logger;
  /** Items a 2xx answer says were rejected (its partial success); default none. */
  readonly rejectedItems?: (response: Uint8Array) => number;
  readonly retryMaxMs: number;
  readonly maxElapsedMs: number;
  readonly timers?: Timers;
  readonly random?: () => number;
  readonly queueMaxBytes?: number;
  readonly queueMaxRequests?: number;
  readonly retryBaseMs?: number;
  readonly requestTimeoutMs?: number;
}

export interface OtlpExporter {
  readonly signal: OtlpSignal;
  readonly url: string;
  /** Queues one request; never blocks, never throws. After `stop`, drops it as `shutdown`. */
  send(request: OtlpRequest): void;
  size(): QueueSize;
  /** Resolves once nothing is queued or in flight (for tests and the drain). */
  idle(): Promise<void>;
  /** Sends what is queued until `deadlineMs` (default `OTLP_STOP_DEADLINE_MS`) has passed, without waiting between tries; then drops the rest as `shutdown`. */
  stop(deadlineMs?: number): Promise<void>;
}

const REAL_TIMERS: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
};

interface Queued extends OtlpRequest {
  firstTryMs: number | undefined;
  attempts: number;
}

interface Attempt {
  readonly outcome: Outcome;
  readonly result: RequestResult;
  /** What went wrong, for the log line. */
  readonly problem?: string;
  readonly rejected: number;
}

async function readCapped(res: Response): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    n += value.length;
    if (n > MAX_RESPONSE_BYTES) {
      await reader.cancel().catch(() => undefined);
      break;
    }
  }
  return Buffer.concat(chunks);
}

export function createOtlpExporter(opts: OtlpExporterOptions): OtlpExporter {
  const timers = opts.timers ?? REAL_TIMERS;
  const random = opts.random ?? Math.random;
  const maxBytes = opts.queueMaxBytes ?? OTLP_QUEUE_MAX_BYTES;
  const maxRequests = opts.queueMaxRequests ?? OTLP_QUEUE_MAX_REQUESTS;
  const retryBaseMs = opts.retryBaseMs ?? OTLP_RETRY_BASE_MS;
  const timeoutMs = opts.requestTimeoutMs ?? OTLP_REQUEST_TIMEOUT_MS;
  const { signal, url, metrics } = opts;
  const log = opts.logger.child({ component: 'otlp-exporter', signal, url });

  const queue: Queued[] = [];
  let bytes = 0;
  let inFlight: Queued | undefined;
  let retryTimer: unknown;
  let stopping = false;
  const abort = new AbortController();
  let idleWaiters: (() => void)[] = [];

  // The backend's state, for logging once per change.
  let failing: { key: string; since: number; warnedAt: number; failures: number } | undefined;

  const drop = (q: OtlpRequest, reason: DropReason) => {
    metrics.dropped(signal, reason, q.items);
    q.release?.();
  };
  const isIdle = () => queue.length === 0 && !inFlight;
  const settleIdle = () => {
    if (!isIdle()) return;
    const w = idleWaiters;
    idleWaiters = [];
    for (const r of w) r();
  };

  /** Drops the oldest queued requests until `extraBytes` more fit. */
  const makeRoom = (extraBytes: number) => {
    while (queue.length > 0 && (bytes + extraBytes > maxBytes || queue.length + 1 > maxRequests)) {
      const old = queue.shift()!;
      bytes -= old.body.length;
      drop(old, 'queue_full');
    }
  };

  const noteFailure = (a: Attempt) => {
    const key = a.result;
    const now = timers.now();
    const line = `OTLP export of ${signal} to ${url} is failing: ${a.problem ?? a.result}; retrying with backoff (${queue.length + 1} requests, ${bytes} bytes queued). Fix: check that the OTLP backend at otlp_endpoint is up and reachable from the node.`;
    if (!failing || failing.key !== key || now - failing.warnedAt >= OTLP_PROBLEM_REWARN_MS) {
      failing = { key, since: failing?.since ?? now, warnedAt: now, failures: (failing?.failures ?? 0) + 1 };
      log.warn({ result: a.result, failures: failing.failures }, line);
    } else {
      failing.failures++;
      log.debug({ result: a.result, failures: failing.failures }, line);
    }
  };
  const noteSuccess = () => {
    if (!failing) return;
    log.info({ failures: failing.failures, downMs: timers.now() - failing.since }, `OTLP export of ${signal} to ${url} works again (after ${failing.failures} failed requests)`);
    failing = undefined;
  };

  const attempt = async (q: Queued): Promise<Attempt> => {
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': OTLP_CONTENT_TYPE },
        body: q.body,
        signal: AbortSignal.any([abort.signal, AbortSignal.timeout(timeoutMs)]),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const why = err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err.cause?.code ?? err.cause?.message ?? err.message);
      return { outcome: { kind: 'retry' }, result: 'network', problem: why, rejected: 0 };
    }
    let body: Uint8Array = new Uint8Array(0);
    try {
      body = await readCapped(res);
    } catch {
      // The status is what decides; an answer cut short only loses its partial-success detail.
    }
    const outcome = classifyStatus(res.status, parseRetryAfter(res.headers.get('retry-after'), timers.now()));
    let rejected = 0;
    if (outcome.kind === 'ok' && body.length > 0 && opts.rejectedItems) {
      try {
        rejected = Math.min(q.items, Math.max(0, opts.rejectedItems(body)));
      } catch {
        // Not an OTLP answer (a proxy's HTML page with a 200): nothing said to be rejected.
      }
    }
    const text = outcome.kind === 'ok' ? undefined : new TextDecoder().decode(body.subarray(0, 300)).trim();
    return { outcome, result: outcome.kind === 'ok' ? 'ok' : `${res.status}`, ...(text !== undefined ? { problem: `HTTP ${res.status}${text ? ` ${JSON.stringify(text)}` : ''}` } : {}), rejected };
  };

  const pump = (): void => {
    if (inFlight || retryTimer !== undefined) return;
    const q = queue.shift();
    if (!q) {
      settleIdle();
      return;
    }
    bytes -= q.body.length;
    inFlight = q;
    q.firstTryMs ??= timers.now();
    q.attempts++;
    void attempt(q).then((a) => {
      inFlight = undefined;
      metrics.request(signal, a.result);
      const o = a.outcome;
      if (o.kind === 'ok') {
        noteSuccess();
        metrics.exported(signal, q.items - a.rejected);
        q.release?.();
        if (a.rejected > 0) metrics.dropped(signal, 'partial_rejected', a.rejected);
      } else if (o.kind === 'reject') {
        log.warn({ result: a.result }, `the OTLP backend at ${url} refused ${q.items} ${signal} items: ${a.problem}; dropped (retrying the same request cannot succeed). Fix: check otlp_endpoint (the /v1/${signal} path must be an OTLP/HTTP receiver).`);
        drop(q, 'rejected');
      } else if (stopping) {
        drop(q, 'shutdown');
      } else {
        noteFailure(a);
        const elapsed = timers.now() - (q.firstTryMs ?? timers.now());
        if (elapsed >= opts.maxElapsedMs) drop(q, 'retries_exhausted');
        else {
          // Back at the head: order is kept, and it is the first to go if the queue fills meanwhile.
          makeRoom(q.body.length);
          queue.unshift(q);
          bytes += q.body.length;
          const wait = Math.min(
            retryDelayMs(q.attempts, { baseMs: retryBaseMs, maxMs: opts.retryMaxMs, random, retryAfterMaxMs: OTLP_RETRY_AFTER_MAX_MS, ...(o.afterMs !== undefined ? { retryAfterMs: o.afterMs } : {}) }),
            // No point waiting past the moment it would be dropped anyway: try once more then.
            Math.max(0, opts.maxElapsedMs - elapsed),
          );
          retryTimer = timers.setTimeout(() => {
            retryTimer = undefined;
            pump();
          }, wait);
        }
      }
      pump();
    });
  };

  const idle = (): Promise<void> => (isIdle() ? Promise.resolve() : new Promise<void>((r) => idleWaiters.push(r)));

  return {
    signal,
    url,
    send(request) {
      if (stopping) {
        drop(request, 'shutdown');
        return;
      }
      if (request.body.length > maxBytes) {
        drop(request, 'too_large');
        return;
      }
      makeRoom(request.body.length);
      queue.push({ ...request, firstTryMs: undefined, attempts: 0 });
      bytes += request.body.length;
      pump();
    },
    size: () => ({ requests: queue.length + (inFlight ? 1 : 0), bytes: bytes + (inFlight?.body.length ?? 0) }),
    idle,
    async stop(deadlineMs = OTLP_STOP_DEADLINE_MS) {
      stopping = true;
      // Waiting out a backoff is pointless now: one last try for each, until the deadline.
      if (retryTimer !== undefined) {
        timers.clearTimeout(retryTimer);
        retryTimer = undefined;
        pump();
      }
      let deadline: unknown;
      const expired = new Promise<void>((r) => (deadline = timers.setTimeout(r, deadlineMs)));
      await Promise.race([idle(), expired]);
      timers.clearTimeout(deadline);
      for (const q of queue.splice(0)) drop(q, 'shutdown');
      bytes = 0;
      if (inFlight) abort.abort();
      settleIdle();
    },
  };
}
