/** Things tests drive by hand: a promise settled from outside, and a clock. */

/** A promise resolved or rejected from outside. */
export function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every promise chain that is ready run (nothing here waits for real I/O). */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A clock tests move by hand, with timers on it: `advance` only moves the time; `tick` moves it through
 * each timer due on the way, in order, running it and then whatever promise chains it started.
 */
export function manualClock(start = 1_000_000) {
  let t = start;
  let seq = 0;
  const timers = new Map<number, { readonly at: number; readonly fn: () => void }>();
  const next = () => {
    let first: [number, { at: number; fn: () => void }] | undefined;
    for (const e of timers) if (!first || e[1].at < first[1].at) first = e;
    return first;
  };
  return {
    now: () => t,
    advance: (ms: number) => void (t += ms),
    setTimeout: (fn: () => void, ms: number): unknown => {
      const id = ++seq;
      timers.set(id, { at: t + Math.max(0, ms), fn });
      return id;
    },
    clearTimeout: (id: unknown) => void timers.delete(id as number),
    /** Timers not yet run. */
    pending: () => timers.size,
    /** `afterEach` runs after every timer (and the work it started): tests check invariants there. */
    async tick(ms = 0, afterEach?: () => void): Promise<void> {
      const end = t + ms;
      await settle();
      for (let e = next(); e && e[1].at <= end; e = next()) {
        timers.delete(e[0]);
        t = Math.max(t, e[1].at);
        e[1].fn();
        await settle();
        afterEach?.();
      }
      t = Math.max(t, end);
      await settle();
    },
  };
}
