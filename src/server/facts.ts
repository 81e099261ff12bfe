/**
 * Outside facts the admission core needs for some pods (the owner's labels for the tags webhook, the
 * namespace's labels for the library init containers), resolved before the mutation under a time budget:
 * the API server stops waiting after the webhook's `timeout_seconds`, and an answer without the owner's
 * tags (with a warning) is better than no answer.
 */
import type { FactResolver, NeededFacts, OwnerFact, OwnerReference, StringMap } from '../admission/index.js';
import { FACTS_BUDGET_MARGIN_MS, FACTS_BUDGET_MAX_MS, FACTS_BUDGET_MIN_MS } from '../config/limits.js';

export type { FactResolver };

/** A fact that was needed but could not be had. */
export interface FactProblem {
  /** Which fact: callers branch on this, never on the wording of `message`. */
  readonly fact: keyof NeededFacts;
  /** In words, for logs: what was asked for and why it is missing. */
  readonly message: string;
}

export interface ResolvedFacts {
  readonly owner?: OwnerFact;
  readonly namespaceLabels?: StringMap;
  readonly problems: readonly FactProblem[];
}

/** Time allowed for facts, from the webhook's timeout (see `config/limits.ts`). */
export function factsBudgetMs(timeoutSeconds: number): number {
  return Math.max(FACTS_BUDGET_MIN_MS, Math.min(timeoutSeconds * 1000 - FACTS_BUDGET_MARGIN_MS, FACTS_BUDGET_MAX_MS));
}

class OutOfTime extends Error {}

/** Rejects with `OutOfTime` when `signal` aborts; removes its listener once `p` settles. */
function within<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new OutOfTime());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new OutOfTime());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function why(e: unknown, budgetMs: number, parent?: AbortSignal): string {
  if (e instanceof OutOfTime) return parent?.aborted ? 'the request was cancelled' : `no answer within ${budgetMs} ms`;
  return e instanceof Error ? e.message : String(e);
}

/** Whether a review has facts to wait for: some are needed and there is a resolver to ask. */
export function waitsForFacts(needed: NeededFacts, resolver: FactResolver | undefined): resolver is FactResolver {
  return resolver !== undefined && (needed.owner !== undefined || needed.namespaceLabels === true);
}

/**
 * Resolves what `needed` asks for, in parallel, within `budgetMs`. Never throws: a fact that times out or
 * fails becomes `{ found: false, reason }` (owner) or `undefined` (namespace labels) plus a problem.
 * Without a resolver (e.g. `tether serve` outside a cluster) facts are simply unknown.
 */
export async function resolveFacts(
  needed: NeededFacts,
  namespace: string,
  resolver: FactResolver | undefined,
  budgetMs: number,
  parent?: AbortSignal,
): Promise<ResolvedFacts> {
  if (!waitsForFacts(needed, resolver)) return { problems: [] };
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new OutOfTime()), budgetMs);
  const onParentAbort = () => controller.abort(new OutOfTime());
  parent?.addEventListener('abort', onParentAbort, { once: true });
  if (parent?.aborted) controller.abort(new OutOfTime());
  const signal = controller.signal;
  const problems: FactProblem[] = [];
  try {
    const [owner, namespaceLabels] = await Promise.all([
      needed.owner === undefined
        ? undefined
        : within(Promise.resolve().then(() => resolver.owner(namespace, needed.owner as OwnerReference, signal)), signal).catch((e: unknown): OwnerFact => {
            const reason = why(e, budgetMs, parent);
            problems.push({ fact: 'owner', message: `owner ${needed.owner?.kind}/${needed.owner?.name}: ${reason}` });
            return { found: false, reason };
          }),
      !needed.namespaceLabels
        ? undefined
        : within(Promise.resolve().then(() => resolver.namespaceLabels(namespace, signal)), signal).catch((e: unknown) => {
            problems.push({ fact: 'namespaceLabels', message: `labels of namespace ${namespace}: ${why(e, budgetMs, parent)}` });
            return undefined;
          }),
    ]);
    return { ...(owner ? { owner } : {}), ...(namespaceLabels ? { namespaceLabels } : {}), problems };
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener('abort', onParentAbort);
    // Tell a resolver still working (e.g. the other fact finished first) that nobody is waiting any more.
    controller.abort(new OutOfTime());
  }
}
