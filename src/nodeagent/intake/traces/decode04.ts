/**
 * `/v0.4/traces` (and `/v0.3/traces`) payloads (pure): a MessagePack array of traces, each an array of
 * spans, each a map keyed by field name, as the tracers send them (dd-trace-js `encode/0.4.js`; the
 * agent's `pb.Span` msgp decoder). Fields this version does not carry (`meta_struct`, `span_links`,
 * `span_events`, anything newer) are skipped, as the agent skips unknown fields; a field of the wrong
 * type fails the payload with its trace, span and name.
 */
import type { DdSpan } from '../types.js';
import { Budget, decodeSafely, DEFAULT_DECODE_LIMITS, readTraceList, tagRecord, Where, type DecodeLimits, type DecodeResult } from './decodeCommon.js';
import { MsgpackError, MsgpackReader } from './msgpackReader.js';

export function decodeV04(payload: Buffer, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DecodeResult {
  const where = new Where();
  return decodeSafely(where, () => {
    const r = new MsgpackReader(payload);
    const budget = new Budget(limits);
    return readTraceList(r, where, budget, () => readSpan(r, where, budget));
  });
}

export function readSpan(r: MsgpackReader, where: Where, budget: Budget): DdSpan {
  let traceId = 0n;
  let spanId = 0n;
  let parentId = 0n;
  let name = '';
  let resource = '';
  let service = '';
  let type = '';
  let start = 0n;
  let duration = 0n;
  let error = 0;
  let meta = tagRecord<string>();
  let metrics = tagRecord<number>();
  const n = r.readMapHeader();
  for (let i = 0; i < n; i++) {
    where.field = '(a key)';
    const key = r.readString();
    where.field = key;
    switch (key) {
      case 'trace_id':
        traceId = r.readUint64();
        break;
      case 'span_id':
        spanId = r.readUint64();
        break;
      case 'parent_id':
        parentId = r.readUint64();
        break;
      case 'name':
        name = r.readString();
        break;
      case 'resource':
        resource = r.readString();
        break;
      case 'service':
        service = r.readString();
        break;
      case 'type':
        type = r.readString();
        break;
      case 'start':
        start = r.readBigInt(false);
        break;
      case 'duration':
        duration = r.readBigInt(false);
        break;
      case 'error':
        error = readError(r);
        break;
      case 'meta':
        meta = readMeta(r, where, budget);
        break;
      case 'metrics':
        metrics = readMetrics(r, where, budget);
        break;
      default:
        r.skip();
    }
  }
  where.field = '';
  return { traceId, spanId, parentId, name, resource, service, type, start, duration, error, meta, metrics };
}

/** `error` is an int32 flag; the agent takes any integer, so do we (kept within int32). */
export function readError(r: MsgpackReader): number {
  const at = r.pos;
  const v = r.readNumber();
  if (!Number.isFinite(v)) throw new MsgpackError(`expected an integer, got ${v}`, at);
  return Math.trunc(v) | 0;
}

function readMeta(r: MsgpackReader, where: Where, budget: Budget): Record<string, string> {
  const meta = tagRecord<string>();
  const n = r.readMapHeader();
  if (n <= 0) return meta;
  budget.entries(n);
  for (let i = 0; i < n; i++) {
    where.entry = i;
    where.key = undefined;
    const k = r.readString();
    where.key = k;
    if (r.readNil()) continue;
    meta[k] = r.readString();
  }
  where.entry = -1;
  where.key = undefined;
  return meta;
}

function readMetrics(r: MsgpackReader, where: Where, budget: Budget): Record<string, number> {
  const metrics = tagRecord<number>();
  const n = r.readMapHeader();
  if (n <= 0) return metrics;
  budget.entries(n);
  for (let i = 0; i < n; i++) {
    where.entry = i;
    where.key = undefined;
    const k = r.readString();
    where.key = k;
    if (r.readNil()) continue;
    metrics[k] = r.readNumber();
  }
  where.entry = -1;
  where.key = undefined;
  return metrics;
}
