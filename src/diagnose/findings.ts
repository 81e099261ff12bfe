/**
 * A check that looks at several things collects what it finds here and reports one outcome: the worst
 * status, the first problem of that status as the summary (with how many more), all the evidence, and
 * each distinct fix once, in the order found.
 */
import { ok, problem, type CheckOutcome } from './check.js';

export type Severity = 'warning' | 'error';

export class Findings {
  private readonly problems: { severity: Severity; summary: string; fix: string }[] = [];
  private readonly lines: string[] = [];

  /** Evidence that is worth showing whatever the outcome (what was looked at). */
  evidence(...lines: string[]): this {
    for (const l of lines) if (!this.lines.includes(l)) this.lines.push(l);
    return this;
  }

  add(severity: Severity, summary: string, fix: string, evidence: readonly string[] = []): this {
    this.problems.push({ severity, summary, fix });
    return this.evidence(...evidence);
  }

  get hasErrors(): boolean {
    return this.problems.some((p) => p.severity === 'error');
  }

  get empty(): boolean {
    return this.problems.length === 0;
  }

  /** The outcome; `okSummary` when nothing was found. */
  outcome(okSummary: string): CheckOutcome {
    if (this.problems.length === 0) return ok(okSummary, this.lines);
    const severity: Severity = this.hasErrors ? 'error' : 'warning';
    const worst = this.problems.filter((p) => p.severity === severity);
    const others = this.problems.length - 1;
    const summary = others > 0 ? `${worst[0]!.summary} (and ${others} more problem${others > 1 ? 's' : ''})` : worst[0]!.summary;
    const fixes = [...new Set([...worst, ...this.problems.filter((p) => p.severity !== severity)].map((p) => p.fix).filter(Boolean))];
    return problem(severity, summary, this.lines, fixes.join('\n'));
  }
}

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
