/** Durations the way the seeds' `status` output and logs print them (Go's time.Duration): `8643h34m2.557s`. */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = rest / 1000;
  const sText = `${Number.isInteger(s) ? s : s.toFixed(3).replace(/0+$/, '')}s`;
  if (h > 0) return `${sign}${h}h${m}m${sText}`;
  if (m > 0) return `${sign}${m}m${sText}`;
  return `${sign}${sText}`;
}
