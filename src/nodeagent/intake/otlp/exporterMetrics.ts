/**
 * Prometheus metrics of the OTLP export, on the node agent's registry: what was delivered, what was
 * dropped and why, each request's result, and how full each queue is. Counts are of items (spans, data
 * points), which is what a reader wants to compare with what the apps sent.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export type OtlpSignal = 'traces' | 'metrics' | 'logs';
export const OTLP_SIGNALS: readonly OtlpSignal[] = ['traces', 'metrics', 'logs'];

export type DropReason =
  /** The queue was full: the oldest request made room for a newer one. */
  | 'queue_full'
  /** One request larger than the whole queue. */
  | 'too_large'
  /** The backend refused it with a status retrying cannot change (400, 401, 403, 404, 413...). */
  | 'rejected'
  /** The backend accepted the request but rejected these items (an OTLP partial success). */
  | 'partial_rejected'
  /** Still failing `otlp_retry_max_elapsed_seconds` after its first try. */
  | 'retries_exhausted'
  /** Not delivered when the node agent stopped (its drain deadline passed). */
  | 'shutdown'
  /** Not encodable (a series whose value is not a finite number). */
  | 'invalid';

export const DROP_REASONS: readonly DropReason[] = ['queue_full', 'too_large', 'rejected', 'partial_rejected', 'retries_exhausted', 'shutdown', 'invalid'];

/** A request's result: `ok`, the HTTP status when not 2xx, or `network` (no answer: refused, reset, timeout). */
export type RequestResult = 'ok' | 'network' | `${number}`;

export interface QueueSize {
  readonly requests: number;
  readonly bytes: number;
}

export interface OtlpExporterMetrics {
  exported(signal: OtlpSignal, items: number): void;
  dropped(signal: OtlpSignal, reason: DropReason, items: number): void;
  request(signal: OtlpSignal, result: RequestResult): void;
  /** How to read `signal`'s queue, called at scrape time. */
  queue(signal: OtlpSignal, read: () => QueueSize): void;
}

export function createOtlpExporterMetrics(registry: Registry): OtlpExporterMetrics {
  const exported = new Counter({
    name: 'tether_node_agent_otlp_exported_items_total',
    help: 'Spans and metric data points the OTLP backend accepted, by signal.',
    labelNames: ['signal'] as const,
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'tether_node_agent_otlp_dropped_items_total',
    help: 'Spans and metric data points never delivered, by signal and reason: queue_full (backend down or slow; oldest dropped), too_large, rejected (a 4xx), partial_rejected, retries_exhausted, shutdown, invalid (not a finite number).',
    labelNames: ['signal', 'reason'] as const,
    registers: [registry],
  });
  const requests = new Counter({
    name: 'tether_node_agent_otlp_requests_total',
    help: 'Requests to the OTLP backend by signal and result: ok, the HTTP status, or network (refused, reset, timed out).',
    labelNames: ['signal', 'result'] as const,
    registers: [registry],
  });
  const readers = new Map<OtlpSignal, () => QueueSize>();
  const read = (s: OtlpSignal): QueueSize | undefined => readers.get(s)?.();
  new Gauge({
    name: 'tether_node_agent_otlp_queue_bytes',
    help: 'Encoded OTLP requests waiting to be sent (or retried), bytes, by signal.',
    labelNames: ['signal'] as const,
    registers: [registry],
    collect() {
      for (const s of OTLP_SIGNALS) this.set({ signal: s }, read(s)?.bytes ?? 0);
    },
  });
  new Gauge({
    name: 'tether_node_agent_otlp_queue_requests',
    help: 'Encoded OTLP requests waiting to be sent (or retried), by signal.',
    labelNames: ['signal'] as const,
    registers: [registry],
    collect() {
      for (const s of OTLP_SIGNALS) this.set({ signal: s }, read(s)?.requests ?? 0);
    },
  });
  for (const signal of OTLP_SIGNALS) {
    exported.inc({ signal }, 0);
    for (const reason of DROP_REASONS) dropped.inc({ signal, reason }, 0);
  }
  return {
    exported: (signal, items) => exported.inc({ signal }, items),
    dropped: (signal, reason, items) => dropped.inc({ signal, reason }, items),
    request: (signal, result) => requests.inc({ signal, result }),
    queue(signal, r) {
      readers.set(signal, r);
    },
  };
}
