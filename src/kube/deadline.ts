/**
 * Deadlines for calls that may never answer (pure: no client-node): a signal that aborts after a time
 * measured on injectable timers (so tests drive it with a manual clock), and a wait that ends when its
 * signal aborts even if the call ignores the signal.
 */

/** What an aborted wait rejects with: the signal's reason, or a DOMException like fetch's own. */
export const abortReason = (signal: AbortSignal): unknown => signal.reason ?? new DOMException('This operation was aborted', 'AbortError');

/** Rejects when `signal` aborts, even if `p` (a call that ignores its signal) never settles. */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** setTimeout/clearTimeout, injectable so that tests move time by hand. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** The abort reason of a `deadline` that ran out. */
export class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';
}

export interface Deadline {
  /** Aborts when `ms` have passed (reason `DeadlineExceeded`) or when the parent signal aborts (its reason). */
  readonly signal: AbortSignal;
  /** Clears the timer and the listener on the parent; call it when the guarded work is done. */
  dispose(): void;
}

/**
 * A signal that aborts after `ms` or with `parent`, whichever comes first (`AbortSignal.timeout` and
 * `AbortSignal.any` do this on the real clock only). `ms` ≤ 0 aborts at once.
 */
export function deadline(ms: number, parent?: AbortSignal, timers: Timers = systemTimers): Deadline {
  const controller = new AbortController();
  const onParent = () => controller.abort(parent ? abortReason(parent) : undefined);
  let timer: unknown;
  const dispose = () => {
    if (timer !== undefined) timers.clearTimeout(timer);
    timer = undefined;
    parent?.removeEventListener('abort', onParent);
  };
  controller.signal.addEventListener('abort', dispose, { once: true });
  if (parent?.aborted) onParent();
  else if (ms <= 0) controller.abort(new DeadlineExceeded(`no answer within ${Math.max(0, Math.round(ms))} ms`));
  else {
    parent?.addEventListener('abort', onParent, { once: true });
    timer = timers.setTimeout(() => controller.abort(new DeadlineExceeded(`no answer within ${Math.round(ms)} ms`)), ms);
  }
  return { signal: controller.signal, dispose };
}
