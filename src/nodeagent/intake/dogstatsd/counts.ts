/**
 * What the DogStatsD intake counts, as plain numbers (the hot path adds to a field; prom-client is
 * touched only at scrape time, `metrics.ts`), and the status it shows.
 */
import { DOGSTATSD_MAX_ORIGINS_PER_WINDOW, DOGSTATSD_OTHER_ORIGINS } from '../../../config/limits.js';
import { DROP_REASONS, newDropCounts, type DropReason } from './bounds.js';
import { MALFORMED_REASONS, type MalformedReason } from './parser.js';

export type Transport = 'udp' | 'unix';
export const TRANSPORTS: readonly Transport[] = ['udp', 'unix'];

export interface DogStatsDCounts {
  readonly datagrams: Record<Transport, number>;
  readonly bytes: Record<Transport, number>;
  /** Datagrams longer than `dogstatsd_buffer_size`, cut there. */
  readonly truncated: Record<Transport, number>;
  /** Metric values taken (a packed line `x:1:2:3|h` is three). */
  samples: number;
  readonly malformed: Record<MalformedReason, number>;
  serviceChecks: number;
  events: number;
  /** Samples dropped (past a byte budget, the series cap, or a name or tag cap), whatever the reason. */
  droppedSamples: number;
  /**
   * Samples and set members dropped, by origin (`namespace/pod`, the sender's key, `none`) then reason;
   * at most `DOGSTATSD_MAX_ORIGINS_PER_WINDOW` origins, further ones under `other`.
   */
  readonly droppedByOrigin: Record<string, Record<DropReason, number>>;
  /** Service checks and events dropped (past their byte budgets, or a name or tag cap), by origin then reason, bounded the same way. */
  readonly droppedLogRecordsByOrigin: Record<string, Record<DropReason, number>>;
  droppedSetMembers: number;
  /** Series flushed, by what their origin resolved to. */
  readonly seriesFlushed: { pod: number; unknown: number; none: number };
  /** Series of the last window flushed. */
  lastWindowSeries: number;
  /** Bytes the last window flushed held (as `bounds.ts` counts them). */
  lastWindowBytes: number;
}

export function newCounts(): DogStatsDCounts {
  const perTransport = () => ({ udp: 0, unix: 0 });
  return {
    datagrams: perTransport(),
    bytes: perTransport(),
    truncated: perTransport(),
    samples: 0,
    malformed: Object.fromEntries(MALFORMED_REASONS.map((r) => [r, 0])) as Record<MalformedReason, number>,
    serviceChecks: 0,
    events: 0,
    droppedSamples: 0,
    droppedByOrigin: Object.create(null) as Record<string, Record<DropReason, number>>,
    droppedLogRecordsByOrigin: Object.create(null) as Record<string, Record<DropReason, number>>,
    droppedSetMembers: 0,
    seriesFlushed: { pod: 0, unknown: 0, none: 0 },
    lastWindowSeries: 0,
    lastWindowBytes: 0,
  };
}

/** Adds one window's drops to running totals by origin (`droppedByOrigin`, `droppedLogRecordsByOrigin`: bounded by origin). */
export function addDrops(into: Record<string, Record<DropReason, number>>, drops: ReadonlyMap<string, Readonly<Record<DropReason, number>>>): void {
  for (const [label, byReason] of drops) {
    const known = Object.keys(into).length;
    const key = label in into || known < DOGSTATSD_MAX_ORIGINS_PER_WINDOW ? label : DOGSTATSD_OTHER_ORIGINS;
    const row = (into[key] ??= newDropCounts());
    for (const r of DROP_REASONS) row[r] += byReason[r];
  }
}
