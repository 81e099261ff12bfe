/**
 * Trace payloads exactly as the real `dd-trace` npm tracer encodes them: its own v0.4 and v0.5
 * encoders (CommonJS, loaded from the devDependency), fed spans in the shape its span formatter
 * produces. Ids are passed as decimal strings or bigints and become dd-trace `Identifier`s.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface Encoder {
  encode(trace: unknown[]): void;
  makePayload(): Buffer;
}
type EncoderClass = new (writer: { flush(): void }) => Encoder;

const { AgentEncoder: V04 } = require('dd-trace/packages/dd-trace/src/encode/0.4.js') as { AgentEncoder: EncoderClass };
const { AgentEncoder: V05 } = require('dd-trace/packages/dd-trace/src/encode/0.5.js') as { AgentEncoder: EncoderClass };
const ddId = require('dd-trace/packages/dd-trace/src/id.js') as (value: string, radix?: number) => unknown;

/** A span as dd-trace's formatter hands it to the encoder (ids as bigint here). */
export interface FormattedSpan {
  traceId: bigint;
  spanId: bigint;
  parentId: bigint;
  name: string;
  resource: string;
  service: string;
  type?: string;
  error: number;
  meta: Record<string, string>;
  metrics: Record<string, number>;
  /** Nanoseconds; dd-trace holds them as numbers. */
  start: number;
  duration: number;
}

function toDd(s: FormattedSpan): Record<string, unknown> {
  return {
    trace_id: ddId(s.traceId.toString(10), 10),
    span_id: ddId(s.spanId.toString(10), 10),
    parent_id: ddId(s.parentId.toString(10), 10),
    name: s.name,
    resource: s.resource,
    service: s.service,
    ...(s.type !== undefined ? { type: s.type } : {}),
    error: s.error,
    meta: { ...s.meta },
    metrics: { ...s.metrics },
    start: s.start,
    duration: s.duration,
  };
}

export function ddTraceEncode(version: '0.4' | '0.5', traces: FormattedSpan[][]): Buffer {
  const enc = new (version === '0.4' ? V04 : V05)({ flush() {} });
  for (const t of traces) enc.encode(t.map(toDd));
  return enc.makePayload();
}

export function sampleSpan(i: number, over: Partial<FormattedSpan> = {}): FormattedSpan {
  return {
    traceId: 0xfedcba9876543210n,
    spanId: BigInt(1000 + i),
    parentId: i === 0 ? 0n : 1000n,
    name: 'web.request',
    resource: `GET /items/${i}`,
    service: 'billing',
    type: 'web',
    error: 0,
    meta: { 'http.method': 'GET', 'http.url': `http://billing/items/${i}`, env: 'prod', version: '1.2.3', component: 'http', 'span.kind': 'server' },
    metrics: { _sampling_priority_v1: 1, '_dd.measured': 1, 'http.status_code': 200, _top_level: 1 },
    start: 1_700_000_000_000_000_000 + i * 1000,
    duration: 1_234_567,
    ...over,
  };
}
