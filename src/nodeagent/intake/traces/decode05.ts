/**
 * `/v0.5/traces` payloads (pure): `[strings, traces]`, where `strings` is the payload's string table
 * and each span is a 12-element array whose string fields are indices into it (dd-trace-js
 * `encode/0.5.js`; the agent's `pb.Traces.UnmarshalMsgDictionary`):
 *
 *   [service, name, resource, trace_id, span_id, parent_id, start, duration, error, meta, metrics, type]
 *
 * `meta` maps index → index, `metrics` index → number. An index outside the table, a span of another
 * length or a field of the wrong type fails the payload, naming the trace, span and field.
 */
import type { DdSpan } from '../types.js';
import { Budget, decodeSafely, DEFAULT_DECODE_LIMITS, readTraceList, tagRecord, Where, type DecodeLimits, type DecodeResult } from './decodeCommon.js';
import { readError } from './decode04.js';
import { MsgpackError, MsgpackReader } from './msgpackReader.js';

/** The 12 fields of a v0.5 span, in order (for messages). */
export const V05_FIELDS = ['service', 'name', 'resource', 'trace_id', 'span_id', 'parent_id', 'start', 'duration', 'error', 'meta', 'metrics', 'type'] as const;

export function decodeV05(payload: Buffer, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DecodeResult {
  const where = new Where();
  return decodeSafely(where, () => {
    const r = new MsgpackReader(payload);
    const budget = new Budget(limits);
    const outer = r.readArrayHeader();
    if (outer !== 2) throw new MsgpackError(`expected [strings, traces], an array of 2, got ${outer < 0 ? 'nil' : `an array of ${outer}`}`, 0);

    where.field = 'string table';
    const nStrings = r.readArrayHeader();
    budget.entries(Math.max(nStrings, 0));
    const table: string[] = new Array<string>(Math.max(nStrings, 0));
    for (let i = 0; i < nStrings; i++) {
      where.entry = i;
      table[i] = r.readString();
    }
    where.entry = -1;
    where.field = '';

    const str = (): string => {
      const at = r.pos;
      const i = r.readIndex();
      if (i >= table.length) throw new MsgpackError(`string index ${i} is outside the string table (${table.length} strings)`, at);
      return table[i]!;
    };

    const readSpan = (): DdSpan => {
      const at = r.pos;
      const n = r.readArrayHeader();
      if (n !== V05_FIELDS.length) throw new MsgpackError(`a v0.5 span is an array of ${V05_FIELDS.length} fields, got ${n < 0 ? 'nil' : n}`, at);
      where.field = 'service';
      const service = str();
      where.field = 'name';
      const name = str();
      where.field = 'resource';
      const resource = str();
      where.field = 'trace_id';
      const traceId = r.readUint64();
      where.field = 'span_id';
      const spanId = r.readUint64();
      where.field = 'parent_id';
      const parentId = r.readUint64();
      where.field = 'start';
      const start = r.readBigInt(false);
      where.field = 'duration';
      const duration = r.readBigInt(false);
      where.field = 'error';
      const error = readError(r);

      where.field = 'meta';
      const meta = tagRecord<string>();
      const nMeta = r.readMapHeader();
      if (nMeta > 0) budget.entries(nMeta);
      for (let i = 0; i < nMeta; i++) {
        where.entry = i;
        where.key = undefined;
        const k = str();
        where.key = k;
        meta[k] = str();
      }
      where.entry = -1;
      where.key = undefined;

      where.field = 'metrics';
      const metrics = tagRecord<number>();
      const nMetrics = r.readMapHeader();
      if (nMetrics > 0) budget.entries(nMetrics);
      for (let i = 0; i < nMetrics; i++) {
        where.entry = i;
        where.key = undefined;
        const k = str();
        where.key = k;
        metrics[k] = r.readNumber();
      }
      where.entry = -1;
      where.key = undefined;

      where.field = 'type';
      const type = str();
      return { traceId, spanId, parentId, name, resource, service, type, start, duration, error, meta, metrics };
    };
    return readTraceList(r, where, budget, readSpan);
  });
}
