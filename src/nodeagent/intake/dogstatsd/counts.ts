/**
 * What the DogStatsD intake counts, as plain numbers (the hot path adds to a field; prom-client is
 * touched only at scrape time, `metrics.ts`), and the status it shows.
 */
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
  /** Samples of new series past the per-window cap. */
  droppedSamples: number;
  droppedSetMembers: number;
  /** Series flushed, by what their origin resolved to. */
  readonly seriesFlushed: { pod: number; unknown: number; none: number };
  /** Series of the last window flushed. */
  lastWindowSeries: number;
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
    droppedSetMembers: 0,
    seriesFlushed: { pod: 0, unknown: 0, none: 0 },
    lastWindowSeries: 0,
  };
}
