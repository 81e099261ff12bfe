/**
 * What the v0.4, v0.5 and v0.7 decoders share (pure): the result shape, the per-payload limits on what a
 * payload may make the node agent allocate, and where a failure was (trace, span, field).
 */
import { TRACE_MAX_ITEMS_PER_PAYLOAD, TRACE_MAX_SPANS_PER_PAYLOAD } from '../../../config/limits.js';
import type { DdSpan } from '../types.js';
import { MsgpackError, type MsgpackReader } from './msgpackReader.js';

export interface DecodeLimits {
  /** Spans in one payload. */
  readonly maxSpans: number;
  /** Spans plus meta and metrics entries in one payload: what decoding allocates grows with this. */
  readonly maxItems: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxSpans: TRACE_MAX_SPANS_PER_PAYLOAD, maxItems: TRACE_MAX_ITEMS_PER_PAYLOAD };

/** `malformed`: not a trace payload (answer 400); `too_large`: valid so far but past a decode limit (answer 413). */
export type DecodeFailure = 'malformed' | 'too_large';

export type DecodeResult =
  | { readonly ok: true; readonly traces: DdSpan[][]; readonly spans: number }
  | { readonly ok: false; readonly reason: DecodeFailure; readonly message: string };

/** Where the decoder is, for the message of a failure. */
export class Where {
  trace = -1;
  span = -1;
  field = '';
  /** Inside a map field (`meta`, `metrics`): the entry's index, and its key once read. */
  entry = -1;
  key: string | undefined = undefined;

  describe(): string {
    const parts: string[] = [];
    if (this.trace >= 0) parts.push(`trace ${this.trace}`);
    if (this.span >= 0) parts.push(`span ${this.span}`);
    if (this.field !== '') {
      let f = `field ${this.field}`;
      if (this.entry >= 0) f += this.key === undefined ? ` (key of entry ${this.entry})` : `[${JSON.stringify(this.key.slice(0, 100))}]`;
      parts.push(f);
    }
    return parts.length > 0 ? parts.join(', ') : 'the payload';
  }
}

export class LimitExceeded extends Error {
  override name = 'LimitExceeded';
}

/** Counts what a payload allocates against `DecodeLimits`. */
export class Budget {
  spans = 0;
  items = 0;
  constructor(private readonly limits: DecodeLimits) {}

  span(): void {
    this.spans++;
    this.items++;
    if (this.spans > this.limits.maxSpans) throw new LimitExceeded(`more than ${this.limits.maxSpans} spans in one payload`);
    if (this.items > this.limits.maxItems) throw new LimitExceeded(`more than ${this.limits.maxItems} spans and tags in one payload`);
  }

  entries(n: number): void {
    this.items += n;
    if (this.items > this.limits.maxItems) throw new LimitExceeded(`more than ${this.limits.maxItems} spans and tags in one payload`);
  }
}

/**
 * An object for tags: no prototype, so a tag named `__proto__` or `constructor` is a tag like any
 * other instead of reaching Object.prototype.
 */
export function tagRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** One trace: an array of spans, each read by `readSpan` (v0.4/v0.5's traces, v0.7's chunks' `spans`). */
export function readSpanList(r: MsgpackReader, where: Where, budget: Budget, readSpan: () => DdSpan): DdSpan[] {
  const nSpans = r.readArrayHeader();
  const spans: DdSpan[] = [];
  for (let s = 0; s < nSpans; s++) {
    where.span = s;
    where.field = '';
    budget.span();
    spans.push(readSpan());
  }
  return spans;
}

/**
 * The list of traces both versions share (an array of traces, each an array of spans), each span read
 * by `readSpan`; `where` follows the trace and span for messages, and nothing may follow the list.
 */
export function readTraceList(r: MsgpackReader, where: Where, budget: Budget, readSpan: () => DdSpan): { traces: DdSpan[][]; spans: number } {
  const traces: DdSpan[][] = [];
  const nTraces = r.readArrayHeader();
  for (let t = 0; t < nTraces; t++) {
    where.trace = t;
    where.span = -1;
    where.field = '';
    traces.push(readSpanList(r, where, budget, readSpan));
  }
  where.trace = -1;
  where.span = -1;
  where.field = '';
  if (!r.atEnd()) throw new MsgpackError(`${r.remaining} bytes follow the list of traces`, r.pos);
  return { traces, spans: budget.spans };
}

/** Turns whatever the decoding body threw into a result; nothing escapes. */
export function decodeSafely(where: Where, body: () => { traces: DdSpan[][]; spans: number }): DecodeResult {
  try {
    const r = body();
    return { ok: true, traces: r.traces, spans: r.spans };
  } catch (e) {
    if (e instanceof LimitExceeded) return { ok: false, reason: 'too_large', message: `${e.message} (at ${where.describe()})` };
    if (e instanceof MsgpackError) return { ok: false, reason: 'malformed', message: `${where.describe()}: ${e.message} (byte ${e.offset})` };
    if (e instanceof RangeError) return { ok: false, reason: 'malformed', message: `${where.describe()}: ${e.message}` };
    return { ok: false, reason: 'malformed', message: `${where.describe()}: cannot decode: ${e instanceof Error ? e.message : String(e)}` };
  }
}
