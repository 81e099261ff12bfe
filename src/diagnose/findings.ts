/**
 * A check that looks at several things collects what it finds here and reports one outcome: the worst
 * status, the first problem of that status as the summary (with how many more), the evidence of each
 * problem under its summary, and each distinct fix once, in the order found.
 */
import { ok, problem, type CheckOutcome } from './check.js';

export type Severity = 'warning' | 'error';

export class Findings {
  private readonly problems: { severity: Severity; summary: string; fix: string; evidence: readonly string[] }[] = [];
  private readonly lines: string[] = [];

  /** Evidence that is worth showing whatever the outcome (what was looked at). */
  evidence(...lines: string[]): this {
    for (const l of lines) if (!this.lines.includes(l)) this.lines.push(l);
    return this;
  }

  /** A problem, with the evidence for it. */
  add(severity: Severity, summary: string, fix: string, evidence: readonly string[] = []): this {
    this.problems.push({ severity, summary, fix, evidence });
    return this;
  }

  get hasErrors(): boolean {
    return this.problems.some((p) => p.severity === 'error');
  }

  get empty(): boolean {
    return this.problems.length === 0;
  }

  /**
   * The outcome; `okSummary` when nothing was found. Errors come before warnings; with several problems
   * the summary is the first one's with a count, every problem's summary heads its own evidence, and the
   * distinct fixes are numbered.
   */
  outcome(okSummary: string): CheckOutcome {
    if (this.problems.length === 0) return ok(okSummary, this.lines);
    const sorted = [...this.problems.filter((p) => p.severity === 'error'), ...this.problems.filter((p) => p.severity === 'warning')];
    const first = sorted[0]!;
    const others = sorted.length - 1;
    if (others === 0) return problem(first.severity, first.summary, dedupe([...this.lines, ...first.evidence]), first.fix);
    const summary = `${first.summary} (and ${others} more problem${others > 1 ? 's' : ''}: see the evidence)`;
    const evidence = dedupe([...this.lines, ...sorted.flatMap((p) => [`problem: ${p.summary}`, ...p.evidence])]);
    const fixes = dedupe(sorted.map((p) => p.fix).filter(Boolean));
    return problem(first.severity, summary, evidence, fixes.length > 1 ? fixes.map((f, i) => `${i + 1}. ${f}`).join('\n') : (fixes[0] ?? ''));
  }
}

const dedupe = (lines: readonly string[]): string[] => [...new Set(lines)];

/** One problem, as the checks that collect them in a list describe it. */
export interface Finding {
  readonly status: Severity;
  readonly summary: string;
  readonly evidence: readonly string[];
  readonly fix: string;
}

/** The outcome of a list of findings, after `context` (what was looked at): the same rules as `Findings`. */
export function outcomeOf(findings: readonly Finding[], okSummary: string, context: readonly string[]): CheckOutcome {
  const f = new Findings().evidence(...context);
  for (const x of findings) f.add(x.status, x.summary, x.fix, x.evidence);
  return f.outcome(okSummary);
}
