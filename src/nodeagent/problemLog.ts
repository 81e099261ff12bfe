/**
 * One log line per upstream failure, with its fix, without flooding: the node agent polls its
 * upstreams every few seconds, and a kubelet that answers 401 for a day must not write 20,000 warnings
 * that bury everything else (nor be silent: the seed's 401 went unnoticed). A problem is logged at warn
 * when it starts or changes, at debug while it repeats, at warn again every `rewarnMs` (with how many
 * times it happened meanwhile), and recovery is logged at info once.
 */
import { UPSTREAM_PROBLEM_REWARN_MS } from '../config/limits.js';
import type { Logger } from '../logging/logger.js';
import type { UpstreamProblem } from './problems.js';

export type ProblemLogLevel = 'warn' | 'debug';

export interface ProblemLogState {
  /** The problem being repeated, and when it was last logged at warn. */
  readonly current?: { readonly key: string; readonly warnedAt: number; readonly repeats: number };
}

/** Two failures are "the same problem" when code, status and evidence match. */
export const problemKey = (p: UpstreamProblem): string => `${p.upstream}\u0000${p.code}\u0000${p.status ?? ''}\u0000${p.summary}`;

/** Pure: the level of this failure's line and the next state. `repeats` counts the failures since the last warn. */
export function nextProblemLog(
  state: ProblemLogState,
  problem: UpstreamProblem,
  now: number,
  rewarnMs = UPSTREAM_PROBLEM_REWARN_MS,
): { level: ProblemLogLevel; repeats: number; state: ProblemLogState } {
  const key = problemKey(problem);
  const cur = state.current;
  if (cur && cur.key === key && now - cur.warnedAt < rewarnMs) {
    const repeats = cur.repeats + 1;
    return { level: 'debug', repeats, state: { current: { ...cur, repeats } } };
  }
  const repeats = cur && cur.key === key ? cur.repeats : 0;
  return { level: 'warn', repeats, state: { current: { key, warnedAt: now, repeats: 0 } } };
}

export interface ProblemLog {
  /** Logs a failure (one line: summary and fix). */
  failed(problem: UpstreamProblem): void;
  /** The upstream answered: logs the recovery once if there was a problem. */
  succeeded(): void;
}

export function createProblemLog(log: Logger, opts: { now?: () => number; rewarnMs?: number } = {}): ProblemLog {
  const now = opts.now ?? Date.now;
  let state: ProblemLogState = {};
  let failures = 0;
  let last: UpstreamProblem | undefined;
  return {
    failed(problem) {
      failures++;
      last = problem;
      const next = nextProblemLog(state, problem, now(), opts.rewarnMs);
      state = next.state;
      const fields = {
        upstream: problem.upstream,
        code: problem.code,
        ...(problem.status !== undefined ? { status: problem.status } : {}),
        fix: problem.fix,
        ...(next.repeats > 0 ? { repeatedSinceLastWarning: next.repeats } : {}),
      };
      log[next.level](fields, `${problem.summary} Fix: ${problem.fix}`);
    },
    succeeded() {
      if (!last) return;
      log.info({ upstream: last.upstream, code: last.code, failures }, `${last.upstream} answers again after ${failures} failure${failures === 1 ? '' : 's'} (last: ${last.code})`);
      last = undefined;
      failures = 0;
      state = {};
    },
  };
}
