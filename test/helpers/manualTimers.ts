/**
 * A clock and timers that move only when the test says so, for code that takes `now` and
 * `setTimeout`/`clearTimeout` (the `Timers` interface of kube/informer.ts). Real I/O (loopback servers)
 * still runs in real time; only the code's own waiting is manual.
 */

interface Pending {
  readonly id: number;
  readonly at: number;
  readonly ms: number;
  readonly fn: () => void;
}

export interface ManualTimers {
  now(): number;
  readonly timers: { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(handle: unknown): void };
  /** Moves the clock by `ms`, firing due timers in order (including those they schedule within the window). */
  advance(ms: number): void;
  /** Delays of the timers now pending, in scheduling order. */
  pending(): number[];
  /** Resolves with the delay of a pending timer that matches, or of the next one scheduled that does. */
  scheduled(match: (ms: number) => boolean): Promise<number>;
}

export function manualTimers(start = 1_000_000): ManualTimers {
  let t = start;
  let seq = 0;
  const pending = new Map<number, Pending>();
  const waiters: { match: (ms: number) => boolean; resolve: (ms: number) => void }[] = [];
  return {
    now: () => t,
    timers: {
      setTimeout(fn, ms) {
        const p = { id: ++seq, at: t + ms, ms, fn };
        pending.set(p.id, p);
        for (const w of [...waiters]) {
          if (w.match(ms)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(ms);
          }
        }
        return p.id;
      },
      clearTimeout(handle) {
        pending.delete(handle as number);
      },
    },
    advance(ms) {
      const end = t + ms;
      for (;;) {
        let next: Pending | undefined;
        for (const p of pending.values()) if (p.at <= end && (!next || p.at < next.at || (p.at === next.at && p.id < next.id))) next = p;
        if (!next) break;
        pending.delete(next.id);
        t = Math.max(t, next.at);
        next.fn();
      }
      t = end;
    },
    pending: () => [...pending.values()].map((p) => p.ms),
    scheduled(match) {
      const found = [...pending.values()].find((p) => match(p.ms));
      if (found) return Promise.resolve(found.ms);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}
