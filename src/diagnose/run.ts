/**
 * Runs checks against a context: each on its own, bounded in time, so that one that fails or hangs is
 * reported as such and the others still run. Exit code: 0 unless a check is an error.
 */
import { ApiError } from '../kube/reader.js';
import type { Check, CheckResult, DiagnoseContext } from './check.js';

/** One check may take this long (API calls, a dry-run create). */
export const CHECK_TIMEOUT_MS = 20_000;

export async function runCheck(check: Check, ctx: DiagnoseContext): Promise<CheckResult> {
  const bound = AbortSignal.any([ctx.signal, AbortSignal.timeout(CHECK_TIMEOUT_MS)]);
  try {
    const outcome = await check.run({ ...ctx, signal: bound });
    return { name: check.name, ...outcome };
  } catch (e) {
    // A check that cannot read what it needs says so, with the permission it lacked when that is why.
    const forbidden = e instanceof ApiError && e.status === 403;
    return {
      name: check.name,
      status: 'skipped',
      summary: forbidden ? `not allowed to read what this check needs: ${e.message}` : `could not run: ${(e as Error).message}`,
      evidence: [],
      fix: forbidden ? 'Run diagnose with the permissions of deploy/diagnose-rbac.yaml (ClusterRole tether-diagnose).' : '',
    };
  }
}

export async function runChecks(checks: readonly Check[], ctx: DiagnoseContext): Promise<CheckResult[]> {
  // One after the other: a handful of small reads each, and readable ordering in the output.
  const results: CheckResult[] = [];
  for (const c of checks) results.push(await runCheck(c, ctx));
  return results;
}

export const exitCodeOf = (results: readonly CheckResult[]): number => (results.some((r) => r.status === 'error') ? 1 : 0);
