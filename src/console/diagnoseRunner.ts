/**
 * `diagnose` for the console (issue 12): the same checks (`diagnose/checks`), the same runner
 * (`diagnose/run.ts`) and the same JSON (`renderResultsJson`), run in-process: one run at a time, at most
 * once per `CONSOLE_DIAGNOSE_MIN_INTERVAL_MS`, the latest result kept for every viewer. The console never
 * re-derives a finding.
 */
import type { Check, DiagnoseContext, Platform } from '../diagnose/check.js';
import { renderResultsJson } from '../diagnose/render.js';
import { runChecks } from '../diagnose/run.js';
import { CONSOLE_DIAGNOSE_MIN_INTERVAL_MS } from '../config/limits.js';
import type { DiagnoseAnswer, DiagnoseCheckResult, DiagnoseRun, DiagnoseSummary } from './types.js';

export interface DiagnoseRunnerOptions {
  readonly checks: readonly Check[];
  /** A fresh context for one run (its own deadline). */
  readonly context: () => Promise<DiagnoseContext>;
  /** Whose permissions the checks run with, in words. */
  readonly ranAs: string;
  readonly now?: () => number;
  readonly minIntervalMs?: number;
  /** A run started or finished. */
  readonly onChange?: (answer: DiagnoseAnswer) => void;
  /** The platform the run detected (the console's classification uses it). */
  readonly onPlatform?: (platform: Platform) => void;
}

export type StartOutcome = { readonly started: true } | { readonly started: false; readonly why: 'running' | 'rate-limited'; readonly retryAfterMs: number };

export interface DiagnoseRunner {
  answer(): DiagnoseAnswer;
  /** Starts a run unless one is running or the last started too recently (`force`: the first, automatic one). */
  start(force?: boolean): StartOutcome;
  /** The run in progress, if any (tests, shutdown). */
  running(): Promise<void> | undefined;
}

export function summaryOf(results: readonly DiagnoseCheckResult[], finishedAt: string): DiagnoseSummary {
  const count = (s: DiagnoseCheckResult['status']) => results.filter((r) => r.status === s).length;
  return { finishedAt, ok: count('ok'), warning: count('warning'), error: count('error'), skipped: count('skipped') };
}

export function createDiagnoseRunner(o: DiagnoseRunnerOptions): DiagnoseRunner {
  const now = o.now ?? Date.now;
  const minInterval = o.minIntervalMs ?? CONSOLE_DIAGNOSE_MIN_INTERVAL_MS;
  let latest: DiagnoseRun | undefined;
  let current: { startedAtMs: number; done: Promise<void> } | undefined;
  let lastStartMs: number | undefined;

  const answer = (): DiagnoseAnswer => {
    const next = lastStartMs !== undefined ? lastStartMs + minInterval : undefined;
    return {
      running: current !== undefined,
      ...(current ? { startedAt: new Date(current.startedAtMs).toISOString() } : {}),
      ...(latest ? { latest } : {}),
      ...(next !== undefined && next > now() ? { nextRunAllowedAt: new Date(next).toISOString() } : {}),
    };
  };

  const run = async (startedAtMs: number): Promise<void> => {
    const startedAt = new Date(startedAtMs).toISOString();
    try {
      const ctx = await o.context();
      const results = JSON.parse(renderResultsJson(await runChecks(o.checks, ctx))) as DiagnoseCheckResult[];
      ctx
        .platform()
        .then((p) => o.onPlatform?.(p))
        .catch(() => {});
      const finishedAt = new Date(now()).toISOString();
      latest = { startedAt, finishedAt, results, summary: summaryOf(results, finishedAt), ranAs: o.ranAs };
    } catch (e) {
      const finishedAt = new Date(now()).toISOString();
      latest = { startedAt, finishedAt, results: [], summary: summaryOf([], finishedAt), ranAs: o.ranAs, error: `diagnose could not run: ${(e as Error).message}` };
    }
  };

  return {
    answer,
    start(force = false) {
      const t = now();
      if (current) return { started: false, why: 'running', retryAfterMs: Math.max(1000, minInterval - (t - current.startedAtMs)) };
      if (!force && lastStartMs !== undefined && t - lastStartMs < minInterval) return { started: false, why: 'rate-limited', retryAfterMs: lastStartMs + minInterval - t };
      lastStartMs = t;
      const done = run(t).finally(() => {
        current = undefined;
        o.onChange?.(answer());
      });
      current = { startedAtMs: t, done };
      o.onChange?.(answer());
      return { started: true };
    },
    running: () => current?.done,
  };
}
