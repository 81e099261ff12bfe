/**
 * A work queue of keys for level-triggered controllers, as client-go's: a key added several times
 * before it is processed is processed once; a key added while it is being processed is processed again
 * afterwards (never concurrently with itself); a failed key comes back with per-key exponential backoff;
 * a key can be scheduled for later (certificate renewal, resync). One worker: the controllers here
 * manage a handful of objects, and serial reconciles are simpler to reason about.
 */
import { RECONCILE_BACKOFF_BASE_MS, RECONCILE_BACKOFF_MAX_MS } from '../config/limits.js';

export interface ReconcileResult {
  /** Reconcile this key again after this long even if nothing changes (e.g. before a certificate expires). */
  readonly requeueAfterMs?: number;
}

export type Reconciler<K extends string> = (key: K) => Promise<ReconcileResult | void>;

export interface WorkQueueOptions<K extends string> {
  readonly reconcile: Reconciler<K>;
  /** Called after a reconcile fails, with the delay before it is retried. */
  readonly onError?: (key: K, error: unknown, retryInMs: number) => void;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
}

/** Node's timers overflow beyond 2^31-1 ms (~24.8 days) and fire at once: clamp. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class WorkQueue<K extends string> {
  private readonly queued = new Set<K>();
  private readonly failures = new Map<K, number>();
  private readonly timers = new Map<K, NodeJS.Timeout>();
  private processing: K | undefined;
  private dirty = false;
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly done: Promise<void>;

  constructor(private readonly opts: WorkQueueOptions<K>) {
    this.done = this.loop();
  }

  /** Reconcile `key` as soon as possible. */
  add(key: K): void {
    if (this.stopped) return;
    this.clearTimer(key);
    if (this.processing === key) {
      this.dirty = true;
      return;
    }
    this.queued.add(key);
    this.wake?.();
  }

  /** Reconcile `key` after `ms`, unless something adds it sooner; a later call replaces the timer. */
  addAfter(key: K, ms: number): void {
    if (this.stopped) return;
    this.clearTimer(key);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, Math.min(Math.max(0, ms), MAX_TIMER_MS));
    timer.unref();
    this.timers.set(key, timer);
  }

  /** Keys waiting or being processed (tests, idle checks). */
  get pending(): number {
    return this.queued.size + (this.processing === undefined ? 0 : 1);
  }

  /** Stops taking keys; resolves when the reconcile in progress (if any) has finished. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.queued.clear();
    this.wake?.();
    await this.done;
  }

  private clearTimer(key: K): void {
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
  }

  private backoff(key: K): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const base = this.opts.baseDelayMs ?? RECONCILE_BACKOFF_BASE_MS;
    const max = this.opts.maxDelayMs ?? RECONCILE_BACKOFF_MAX_MS;
    return Math.min(max, base * 2 ** Math.min(n - 1, 30));
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const next = this.queued.values().next();
      if (next.done) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const key = next.value;
      this.queued.delete(key);
      this.processing = key;
      this.dirty = false;
      try {
        const result = await this.opts.reconcile(key);
        this.failures.delete(key);
        if (result?.requeueAfterMs !== undefined && !this.dirty) this.addAfter(key, result.requeueAfterMs);
      } catch (e) {
        const delay = this.backoff(key);
        this.opts.onError?.(key, e, delay);
        if (!this.dirty) this.addAfter(key, delay);
      } finally {
        this.processing = undefined;
      }
      if (this.dirty) this.add(key);
    }
  }
}
