/**
 * The service checks and events of one DogStatsD window (pure; the caller says what time it is), held
 * until the window's flush, when they go out as OTLP log records with their pod (`otlp/logs.ts`).
 *
 * Bounded as the window's series are (`bounds.ts`), with budgets of their own
 * (`DOGSTATSD_LOGS_WINDOW_MAX_BYTES`, `DOGSTATSD_LOGS_ORIGIN_MAX_BYTES`): a pod sending events in a loop
 * loses its own, never its neighbours' or anyone's metrics. A record kept owns its strings (never a
 * slice of its datagram). Whatever is refused is counted by reason and origin.
 */
import { DOGSTATSD_LOG_RECORD_OVERHEAD_BYTES, DOGSTATSD_LOGS_ORIGIN_MAX_BYTES, DOGSTATSD_LOGS_WINDOW_MAX_BYTES } from '../../../config/limits.js';
import type { DogStatsDLogRecord, OriginResolver, TaggedLogRecord } from '../types.js';
import { originKeyOf, owned, shapeProblem, WindowBudget, type DogStatsDBounds, type DropReason } from './bounds.js';

export interface LogRecordWindow {
  /** Keeps one record received at `receivedMs`; false (counted) when a bound refuses it. */
  add(record: DogStatsDLogRecord, receivedMs: number): boolean;
  /** The window's records with their pods, and its drops by origin then reason; the next window starts empty. */
  take(): { readonly records: TaggedLogRecord[]; readonly drops: ReadonlyMap<string, Readonly<Record<DropReason, number>>>; readonly bytes: number };
}

/** A copy owning its strings, and what it costs. */
function ownedCopy(r: DogStatsDLogRecord): { readonly record: DogStatsDLogRecord; readonly bytes: number } {
  let bytes = DOGSTATSD_LOG_RECORD_OVERHEAD_BYTES;
  const own = (s: string): string => {
    const o = owned(s);
    bytes += o.bytes;
    return o.s;
  };
  const opt = (s: string | undefined): string | undefined => (s === undefined ? undefined : own(s));
  const tags = r.tags.map((t) => {
    bytes += 16;
    return own(t);
  });
  const origin = { ...(r.origin.entityId !== undefined ? { entityId: own(r.origin.entityId) } : {}), ...(r.origin.containerId !== undefined ? { containerId: own(r.origin.containerId) } : {}) };
  const hostname = opt(r.hostname);
  const base = { tags, origin, ...(r.timestampMs !== undefined ? { timestampMs: r.timestampMs } : {}), ...(hostname !== undefined ? { hostname } : {}) };
  if (r.kind === 'service_check') {
    const message = opt(r.message);
    return { record: { ...base, kind: r.kind, name: own(r.name), status: r.status, ...(message !== undefined ? { message } : {}) }, bytes };
  }
  const aggregationKey = opt(r.aggregationKey);
  const sourceType = opt(r.sourceType);
  return {
    record: {
      ...base,
      kind: r.kind,
      title: own(r.title),
      text: own(r.text),
      alertType: r.alertType,
      priority: r.priority,
      ...(aggregationKey !== undefined ? { aggregationKey } : {}),
      ...(sourceType !== undefined ? { sourceType } : {}),
    },
    bytes,
  };
}

/** A lower bound of a record's cost, in bytes, known without copying anything (UTF-16 length ≤ UTF-8 bytes). */
function lowerBound(r: DogStatsDLogRecord): number {
  let n = DOGSTATSD_LOG_RECORD_OVERHEAD_BYTES + (r.hostname?.length ?? 0);
  for (const t of r.tags) n += t.length + 16;
  return n + (r.kind === 'service_check' ? r.name.length + (r.message?.length ?? 0) : r.title.length + r.text.length);
}

export function createLogRecordWindow(opts: { readonly resolver: OriginResolver; readonly bounds: DogStatsDBounds }): LogRecordWindow {
  const bounds: DogStatsDBounds = { ...opts.bounds, windowMaxBytes: DOGSTATSD_LOGS_WINDOW_MAX_BYTES, originMaxBytes: DOGSTATSD_LOGS_ORIGIN_MAX_BYTES };
  let budget = new WindowBudget(bounds, opts.resolver);
  let kept: { record: DogStatsDLogRecord; originKey: string; receivedMs: number }[] = [];

  return {
    add(record, receivedMs) {
      const originKey = originKeyOf(record.origin);
      const b = budget.of(record.origin, originKey);
      const refused = shapeProblem(record.kind === 'service_check' ? record.name : record.title, record.tags, bounds) ?? budget.refuse(b, lowerBound(record));
      if (refused) {
        budget.drop(b, refused);
        return false;
      }
      const copy = ownedCopy(record);
      const over = budget.refuse(b, copy.bytes);
      if (over) {
        budget.drop(b, over);
        return false;
      }
      budget.charge(b, copy.bytes);
      kept.push({ record: copy.record, originKey, receivedMs });
      return true;
    },
    take() {
      const done = budget;
      const records = kept.map(({ record, originKey, receivedMs }): TaggedLogRecord => {
        // Resolved when first seen this window; asked again for those that were not (a pod listed since).
        const pod = done.resolved.get(originKey) ?? (originKey === '' ? undefined : opts.resolver.resolve(record.origin));
        return { record, receivedMs, ...(pod ? { origin: pod } : {}) };
      });
      budget = new WindowBudget(bounds, opts.resolver);
      kept = [];
      return { records, drops: done.drops, bytes: done.bytes };
    },
  };
}
