/**
 * One trace payload's decoding, and its conversion to OTLP when asked (pure; what a decode worker runs,
 * `decodeWorker.ts`). The receiver never decodes on its event loop: a 25 MiB payload takes seconds of
 * CPU and hundreds of MiB of objects, which there would stall DogStatsD and every other request.
 *
 * What comes back is chosen by `output`, so that only what the caller needs crosses back to it:
 * - `otlp`: `ExportTraceServiceRequest`s of at most `OTLP_MAX_SPANS_PER_REQUEST` spans, encoded, with the
 *   pod's resource (the caller resolved the origin from the headers before);
 * - `traces`: the decoded spans (tests, and callers that look at spans);
 * - `count`: only how many traces and spans (nothing is exported: the payload is checked and counted).
 * Whatever the output, the traces come back counted by their root's service and env (`roots`), which the
 * priority sampler adds up on the event loop.
 */
import { OTLP_MAX_SPANS_PER_REQUEST } from '../../../config/limits.js';
import { encodeTraceRequest, tracesToSpans } from '../otlp/traces.js';
import type { DdSpan, ResolvedOrigin, RootCounts } from '../types.js';
import type { DecodeFailure, DecodeLimits, DecodeResult } from './decodeCommon.js';
import { decodeV04 } from './decode04.js';
import { decodeV05 } from './decode05.js';
import { decodeV07 } from './decode07.js';
import type { TraceEndpoint } from './metrics.js';
import { countRoots } from './prioritySampler.js';

export type DecodeOutput = 'otlp' | 'traces' | 'count';

export interface DecodeTask {
  readonly body: Uint8Array;
  readonly endpoint: TraceEndpoint;
  readonly limits: DecodeLimits;
  readonly output: DecodeOutput;
  /** The pod the payload's headers resolved to, for the OTLP resource. */
  readonly origin?: ResolvedOrigin;
}

/** One encoded OTLP request and its spans (the exporter's `OtlpRequest`). */
export interface EncodedSpans {
  readonly body: Uint8Array;
  readonly items: number;
}

export type DecodeReply =
  | { readonly ok: true; readonly traces: number; readonly spans: number; readonly roots: RootCounts; readonly decoded?: DdSpan[][]; readonly otlp?: EncodedSpans[] }
  | { readonly ok: false; readonly reason: DecodeFailure; readonly message: string };

const DECODERS: Record<TraceEndpoint, (b: Buffer, l: DecodeLimits) => DecodeResult> = { 'v0.3': decodeV04, 'v0.4': decodeV04, 'v0.5': decodeV05, 'v0.7': decodeV07 };

export function runDecodeTask(task: DecodeTask): DecodeReply {
  const body = Buffer.from(task.body.buffer, task.body.byteOffset, task.body.byteLength);
  const r = DECODERS[task.endpoint](body, task.limits);
  if (!r.ok) return r;
  const base = { ok: true as const, traces: r.traces.length, spans: r.spans, roots: countRoots(r.traces) };
  if (task.output === 'traces') return { ...base, decoded: r.traces };
  if (task.output === 'count') return base;
  const spans = tracesToSpans([{ traces: r.traces, ...(task.origin ? { origin: task.origin } : {}) }]);
  const otlp: EncodedSpans[] = [];
  for (let i = 0; i < spans.length; i += OTLP_MAX_SPANS_PER_REQUEST) {
    const part = spans.slice(i, i + OTLP_MAX_SPANS_PER_REQUEST);
    otlp.push({ body: encodeTraceRequest(part), items: part.length });
  }
  return { ...base, otlp };
}
