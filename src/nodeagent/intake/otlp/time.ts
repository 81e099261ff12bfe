/** OTLP times as the OpenTelemetry SDK shapes hold them: `HrTime`, `[seconds, nanoseconds]` (pure). */
import type { HrTime } from '@opentelemetry/api';

const NS_PER_S = 1_000_000_000n;

export function hrTimeFromMs(ms: number): HrTime {
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1_000_000)];
}

/** Epoch nanoseconds (a tracer's `start`) as HrTime, exactly: a `number` would lose the nanoseconds. */
export function hrTimeFromNs(ns: bigint): HrTime {
  const n = ns < 0n ? 0n : ns;
  return [Number(n / NS_PER_S), Number(n % NS_PER_S)];
}
