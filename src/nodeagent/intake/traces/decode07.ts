/**
 * `/v0.7/traces` payloads (pure): one MessagePack map, the agent's `pb.TracerPayload` — the tracer's
 * metadata (`container_id`, `language_name`, `env`, `hostname`, `app_version`, `tags`…) and `chunks`,
 * each a map whose `spans` is one trace's spans, keyed by field name as in v0.4 (`decode04.readSpan`).
 * Of the chunk the spans are kept (its `priority` and `origin` are the tracer's decision, already on
 * the spans' metrics/meta); payload-level `env` is applied to spans that have none, as the agent does.
 * Other fields are skipped.
 */
import type { DdSpan } from '../types.js';
import { Budget, decodeSafely, DEFAULT_DECODE_LIMITS, readSpanList, Where, type DecodeLimits, type DecodeResult } from './decodeCommon.js';
import { readSpan } from './decode04.js';
import { MsgpackError, MsgpackReader } from './msgpackReader.js';

export function decodeV07(payload: Buffer, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DecodeResult {
  const where = new Where();
  return decodeSafely(where, () => {
    const r = new MsgpackReader(payload);
    const budget = new Budget(limits);
    const traces: DdSpan[][] = [];
    let env = '';
    const n = r.readMapHeader();
    for (let i = 0; i < n; i++) {
      where.field = '(a key)';
      const key = r.readString();
      where.field = key;
      if (key === 'env') env = r.readNil() ? '' : r.readString();
      else if (key === 'chunks') readChunks(r, where, budget, traces);
      else r.skip();
    }
    where.field = '';
    if (!r.atEnd()) throw new MsgpackError(`${r.remaining} bytes follow the tracer payload`, r.pos);
    if (env !== '') for (const t of traces) for (const s of t) if (s.meta['env'] === undefined) (s.meta as Record<string, string>)['env'] = env;
    return { traces, spans: budget.spans };
  });
}

function readChunks(r: MsgpackReader, where: Where, budget: Budget, traces: DdSpan[][]): void {
  const nChunks = r.readArrayHeader();
  for (let c = 0; c < nChunks; c++) {
    where.trace = traces.length;
    where.span = -1;
    const m = r.readMapHeader();
    for (let i = 0; i < m; i++) {
      where.field = '(a chunk key)';
      const key = r.readString();
      if (key !== 'spans') {
        r.skip();
        continue;
      }
      traces.push(readSpanList(r, where, budget, () => readSpan(r, where, budget)));
    }
  }
  where.trace = -1;
  where.span = -1;
}
