/**
 * `tether diagnose` output. Text: one line per check (`status  name  summary`, columns aligned), then
 * for each warning and error its evidence and its fix; colour only when asked (a TTY). JSON: the results
 * as they are, `[{"name","status","summary","evidence","fix"}]`, for machines.
 */
import type { Check, CheckResult, CheckStatus } from './check.js';

export interface TextOptions {
  /** ANSI colours on the status words (stdout is a TTY and NO_COLOR is not set). */
  readonly color: boolean;
}

const COLOURS: Record<CheckStatus, string> = { ok: '\u001b[32m', warning: '\u001b[33m', error: '\u001b[31m', skipped: '\u001b[2m' };
const RESET = '\u001b[0m';
const STATUS_WIDTH = Math.max(...(['ok', 'warning', 'error', 'skipped'] as const).map((s) => s.length));

const paint = (status: CheckStatus, text: string, o: TextOptions): string => (o.color ? `${COLOURS[status]}${text}${RESET}` : text);

export const isProblem = (r: CheckResult): boolean => r.status === 'warning' || r.status === 'error';

export function renderResultsText(results: readonly CheckResult[], o: TextOptions = { color: false }): string {
  if (results.length === 0) return 'no checks to run\n';
  const nameWidth = Math.max(...results.map((r) => r.name.length));
  const lines = results.map((r) => `${paint(r.status, r.status.padEnd(STATUS_WIDTH), o)}  ${r.name.padEnd(nameWidth)}  ${r.summary}`.trimEnd());
  for (const r of results.filter(isProblem)) {
    lines.push('', `${paint(r.status, r.status, o)}: ${r.name}: ${r.summary}`);
    for (const e of r.evidence) lines.push(`  ${e}`);
    // A fix may span lines (a command, then why): every line keeps the `fix:` column.
    r.fix.split('\n').forEach((f, i) => lines.push(`  ${i === 0 ? 'fix: ' : '     '}${f}`.trimEnd()));
  }
  return lines.join('\n') + '\n';
}

export function renderResultsJson(results: readonly CheckResult[]): string {
  return JSON.stringify(results.map((r) => ({ name: r.name, status: r.status, summary: r.summary, evidence: r.evidence, fix: r.fix })), null, 2) + '\n';
}

/** `--list`: each check's name and what it finds. */
export function renderCheckListText(checks: readonly Check[]): string {
  if (checks.length === 0) return '';
  const width = Math.max(...checks.map((c) => c.name.length));
  return checks.map((c) => `${c.name.padEnd(width)}  ${c.finds}`).join('\n') + '\n';
}

export function renderCheckListJson(checks: readonly Check[]): string {
  return JSON.stringify(checks.map((c) => ({ name: c.name, finds: c.finds, fixes: c.fixes })), null, 2) + '\n';
}

/**
 * The checks `--check` names, in registry order; an unknown name is an error listing the known ones.
 * Returns the selection, or the message for the user.
 */
export function selectChecks(all: readonly Check[], names: readonly string[]): { checks: readonly Check[] } | { error: string } {
  if (names.length === 0) return { checks: all };
  const known = new Set(all.map((c) => c.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    const list = all.map((c) => c.name).join(', ') || '(none)';
    return { error: `unknown check${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; the checks are: ${list}` };
  }
  const wanted = new Set(names);
  return { checks: all.filter((c) => wanted.has(c.name)) };
}
