/**
 * Datadog spans as OTLP spans (pure), in the OpenTelemetry SDK's `ReadableSpan` shape, which
 * `@opentelemetry/otlp-transformer` encodes as protobuf.
 *
 * - trace id: the 64-bit `trace_id`, or 128 bits with the high half from the `_dd.p.tid` tag (16 hex
 *   digits) that tracers set on a trace's first span when they generate 128-bit ids (one trace id for
 *   every span of the trace: the tag is read from whichever span of the trace has it);
 * - span id, parent (none when `parent_id` is 0), start and end from `start` / `duration` (nanoseconds);
 * - name: the Datadog resource (`GET /users`), else the operation name; the operation, resource and type
 *   are kept as `operation.name`, `resource.name`, `span.type`, the attributes Datadog's own OTLP intake
 *   reads them from, so nothing is lost either way;
 * - kind: from the `span.kind` tag (server, client, producer, consumer, internal), else internal;
 * - status: error when `error` is set, with `error.message` (or `error.msg`) as its message and an
 *   `exception` event carrying `error.type` / `error.message` / `error.stack`;
 * - attributes: every `meta` (strings) and `metrics` (numbers) entry as it is;
 * - resource: the pod's (`resource.ts`) with `service.name` the span's own service (a trace may cross
 *   services: a client span of `web` names `web-postgres`), and `service.version` /
 *   `deployment.environment.name` from the span's `version` / `env` tags when set.
 */
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime, type SpanContext } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import type { DdSpan, ResolvedOrigin, TaggedTraces } from '../types.js';
import { INTAKE_SCOPE } from './metrics.js';
import { ATTR, podResourceAttributes } from './resource.js';
import { hrTimeFromNs } from './time.js';

export const TRACE_ID_HIGH_TAG = '_dd.p.tid';
const KINDS: Readonly<Record<string, SpanKind>> = { server: SpanKind.SERVER, client: SpanKind.CLIENT, producer: SpanKind.PRODUCER, consumer: SpanKind.CONSUMER, internal: SpanKind.INTERNAL };

const hex16 = (n: bigint): string => BigInt.asUintN(64, n).toString(16).padStart(16, '0');

/** The trace's id, 32 hex digits: the `_dd.p.tid` of any of its spans as the high half (zeros when none or malformed). */
export function traceIdOf(trace: readonly DdSpan[]): string {
  let high = '0'.repeat(16);
  for (const s of trace) {
    const tid = s.meta[TRACE_ID_HIGH_TAG];
    if (tid && /^[0-9a-f]{16}$/i.test(tid)) {
      high = tid.toLowerCase();
      break;
    }
  }
  return high + hex16(trace[0]?.traceId ?? 0n);
}

/** The span's own trace id when it differs from its trace's (a malformed payload mixing traces). */
function spanTraceId(span: DdSpan, trace: readonly DdSpan[], traceId: string): string {
  return span.traceId === trace[0]?.traceId ? traceId : traceId.slice(0, 16) + hex16(span.traceId);
}

export function spanKindOf(span: DdSpan): SpanKind {
  return KINDS[(span.meta['span.kind'] ?? '').toLowerCase()] ?? SpanKind.INTERNAL;
}

function addHr(start: HrTime, durationNs: bigint): HrTime {
  const d = durationNs < 0n ? 0n : durationNs;
  const total = BigInt(start[0]) * 1_000_000_000n + BigInt(start[1]) + d;
  return hrTimeFromNs(total);
}

function spanAttributes(span: DdSpan): Attributes {
  const attrs: Attributes = { ...span.meta };
  for (const [k, v] of Object.entries(span.metrics)) if (Number.isFinite(v)) attrs[k] = v;
  attrs['operation.name'] = span.name;
  if (span.resource) attrs['resource.name'] = span.resource;
  if (span.type) attrs['span.type'] = span.type;
  return attrs;
}

function errorEvent(span: DdSpan, time: HrTime): TimedEvent[] {
  const attributes: Attributes = {};
  const type = span.meta['error.type'];
  const message = span.meta['error.message'] ?? span.meta['error.msg'];
  const stack = span.meta['error.stack'];
  if (type) attributes['exception.type'] = type;
  if (message) attributes['exception.message'] = message;
  if (stack) attributes['exception.stacktrace'] = stack;
  return Object.keys(attributes).length > 0 ? [{ name: 'exception', time, attributes, droppedAttributesCount: 0 }] : [];
}

/** The resources of one conversion, by origin and the span's service/version/env, so equal ones are shared (the encoder groups by identity). */
function resourceCache(): (origin: ResolvedOrigin | undefined, span: DdSpan) => Resource {
  const byOrigin = new Map<ResolvedOrigin | undefined, { base: Attributes; byKey: Map<string, Resource> }>();
  return (origin, span) => {
    let entry = byOrigin.get(origin);
    if (!entry) byOrigin.set(origin, (entry = { base: podResourceAttributes(origin), byKey: new Map() }));
    const version = span.meta['version'];
    const env = span.meta['env'];
    const key = `${span.service}\u0000${version ?? ''}\u0000${env ?? ''}`;
    let r = entry.byKey.get(key);
    if (!r) {
      const attrs: Attributes = { ...entry.base };
      if (span.service) attrs[ATTR.serviceName] = span.service;
      if (version) attrs[ATTR.serviceVersion] = version;
      if (env) attrs[ATTR.environment] = env;
      entry.byKey.set(key, (r = resourceFromAttributes(attrs)));
    }
    return r;
  };
}

export function toReadableSpan(span: DdSpan, traceId: string, resource: Resource): ReadableSpan {
  const startTime = hrTimeFromNs(span.start);
  const endTime = addHr(startTime, span.duration);
  const context: SpanContext = { traceId, spanId: hex16(span.spanId), traceFlags: TraceFlags.SAMPLED };
  const parent: SpanContext | undefined = span.parentId !== 0n ? { traceId, spanId: hex16(span.parentId), traceFlags: TraceFlags.SAMPLED } : undefined;
  const failed = span.error !== 0;
  const message = span.meta['error.message'] ?? span.meta['error.msg'];
  return {
    name: span.resource || span.name,
    kind: spanKindOf(span),
    spanContext: () => context,
    ...(parent ? { parentSpanContext: parent } : {}),
    startTime,
    endTime,
    duration: hrTimeFromNs(span.duration < 0n ? 0n : span.duration),
    status: failed ? { code: SpanStatusCode.ERROR, ...(message ? { message } : {}) } : { code: SpanStatusCode.UNSET },
    attributes: spanAttributes(span),
    links: [],
    events: failed ? errorEvent(span, endTime) : [],
    ended: true,
    resource,
    instrumentationScope: INTAKE_SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** Every span of `batches`, converted, in order. */
export function tracesToSpans(batches: readonly TaggedTraces[]): ReadableSpan[] {
  const resourceFor = resourceCache();
  const out: ReadableSpan[] = [];
  for (const b of batches) {
    for (const trace of b.traces) {
      if (trace.length === 0) continue;
      const traceId = traceIdOf(trace);
      for (const span of trace) out.push(toReadableSpan(span, spanTraceId(span, trace, traceId), resourceFor(b.origin, span)));
    }
  }
  return out;
}

/** One `ExportTraceServiceRequest`, encoded by the library. */
export function encodeTraceRequest(spans: ReadableSpan[]): Uint8Array {
  return ProtobufTraceSerializer.serializeRequest(spans) ?? new Uint8Array(0);
}
