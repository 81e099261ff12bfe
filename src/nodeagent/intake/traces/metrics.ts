/**
 * Prometheus counters of the trace receiver, registered on the registry the caller hands over (the
 * node agent's), in the style of `nodeagent/metrics.ts`: payloads, traces, spans and bytes taken, and
 * payloads and traces refused, by reason.
 */
import { Counter, type Registry } from 'prom-client';

/**
 * Why a payload was not taken: `too_large` (413: past the payload size or decode limits), `malformed`
 * (400), `busy` (429: too many bytes in flight), `origin_busy` (429: this sender's share of them, or of
 * requests, in flight), `timeout` (408: the body stalled), `unsupported` (415: a JSON body), `aborted` (the
 * client left mid-body), `sink_full` (429: the export queue, or this pod's share of it, is full),
 * `sink_error` (the exporter threw: a bug).
 */
export const TRACE_REJECT_REASONS = ['too_large', 'malformed', 'busy', 'origin_busy', 'timeout', 'unsupported', 'aborted', 'sink_full', 'sink_error'] as const;
export type TraceRejectReason = (typeof TRACE_REJECT_REASONS)[number];

export const TRACE_ENDPOINTS = ['v0.3', 'v0.4', 'v0.5', 'v0.7'] as const;
export type TraceEndpoint = (typeof TRACE_ENDPOINTS)[number];

export interface TraceReceiverMetrics {
  accepted(endpoint: TraceEndpoint, traces: number, spans: number, bytes: number): void;
  /** `traces`: decoded, else the `X-Datadog-Trace-Count` the tracer declared, else 0. */
  rejected(reason: TraceRejectReason, traces: number): void;
}

export function createTraceReceiverMetrics(registry: Registry): TraceReceiverMetrics {
  const payloads = new Counter({
    name: 'tether_node_agent_trace_payloads_total',
    help: 'Trace payloads received and decoded, by endpoint.',
    labelNames: ['endpoint'] as const,
    registers: [registry],
  });
  const traces = new Counter({ name: 'tether_node_agent_trace_traces_total', help: 'Traces in the payloads taken.', registers: [registry] });
  const spans = new Counter({ name: 'tether_node_agent_trace_spans_total', help: 'Spans in the payloads taken.', registers: [registry] });
  const bytes = new Counter({ name: 'tether_node_agent_trace_bytes_total', help: 'Bytes of the trace payloads taken (msgpack bodies).', registers: [registry] });
  const rejected = new Counter({
    name: 'tether_node_agent_trace_payloads_rejected_total',
    help: 'Trace payloads not passed on, by reason: too_large (413), malformed (400), busy (429), origin_busy (429: the sender has its share in flight), timeout (408: the body stalled), unsupported (415), aborted (client left), sink_full (429: the export queue is full), sink_error (decoded, dropped: a bug).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const droppedTraces = new Counter({
    name: 'tether_node_agent_trace_traces_dropped_total',
    help: 'Traces in the payloads not passed on (decoded, or as the tracer declared them in X-Datadog-Trace-Count), by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const e of TRACE_ENDPOINTS) payloads.inc({ endpoint: e }, 0);
  for (const r of TRACE_REJECT_REASONS) {
    rejected.inc({ reason: r }, 0);
    droppedTraces.inc({ reason: r }, 0);
  }
  return {
    accepted(endpoint, t, s, b) {
      payloads.inc({ endpoint });
      traces.inc(t);
      spans.inc(s);
      bytes.inc(b);
    },
    rejected(reason, t) {
      rejected.inc({ reason });
      if (t > 0) droppedTraces.inc({ reason }, t);
    },
  };
}
