/**
 * Evidence lists are for people: a check that finds hundreds of objects shows the first few and says
 * how many more there are, so the one line per check stays readable and `-o json` stays small.
 */

/** Most evidence lines one check shows. */
export const MAX_EVIDENCE_LINES = 20;

/** Pure: `lines`, cut to `max` with a last line counting what was left out. */
export function capLines(lines: readonly string[], max = MAX_EVIDENCE_LINES): string[] {
  if (lines.length <= max) return [...lines];
  return [...lines.slice(0, max - 1), `… and ${lines.length - (max - 1)} more`];
}
