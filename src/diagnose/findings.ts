/**
 * A check that can find several problems at once (a short token and a Secret changed since the pods
 * started) reports them as one result: the worst status, the first error's summary with the count of
 * the others, every problem's evidence after the context, and their fixes numbered in order.
 */
import { ok, problem, type CheckOutcome } from './check.js';

export interface Finding {
  readonly status: 'warning' | 'error';
  readonly summary: string;
  readonly evidence: readonly string[];
  readonly fix: string;
}

export function outcomeOf(findings: readonly Finding[], okSummary: string, context: readonly string[]): CheckOutcome {
  if (findings.length === 0) return ok(okSummary, context);
  // Errors first, each group in the order found.
  const sorted = [...findings.filter((f) => f.status === 'error'), ...findings.filter((f) => f.status === 'warning')];
  const first = sorted[0]!;
  const many = sorted.length > 1;
  const summary = many ? `${first.summary} (and ${sorted.length - 1} more ${sorted.length === 2 ? 'problem' : 'problems'}: see the evidence)` : first.summary;
  const evidence = [...context, ...sorted.flatMap((f) => (many ? [`problem: ${f.summary}`, ...f.evidence] : f.evidence))];
  const fix = many ? sorted.map((f, i) => `${i + 1}. ${f.fix}`).join('\n') : first.fix;
  return problem(first.status, summary, evidence, fix);
}
