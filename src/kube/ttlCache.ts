/**
 * The cache in front of API reads for admission facts (owners, namespaces): values expire after a TTL
 * chosen per value (failures briefly), the least recently used entry goes when the cache is full, and
 * concurrent loads of one key share one call ("single flight"): in a rollout, the hundred pods of one
 * ReplicaSet arrive together, before any answer could be cached, and must cost one read, not a hundred.
 *
 * A load belongs to the cache, not to the caller that started it: a caller that stops waiting (its
 * signal aborts) leaves the others waiting. The load itself is aborted only when nobody waits any more,
 * or after `loadTimeoutMs`, so a hung API server cannot collect connections.
 */
import { abortReason, untilAborted } from './deadline.js';

export interface TtlCacheOptions<V> {
  /** Most entries kept; the least recently used one is dropped first. */
  readonly maxEntries: number;
  /** How long a loaded value stays valid, in ms; 0 or less: not kept (single flight still applies). */
  readonly ttlMs: (value: V) => number;
  /** A load is aborted, and its waiters get an error, after this long. */
  readonly loadTimeoutMs: number;
  /** Milliseconds clock for expiry; injected by tests. Default `Date.now`. */
  readonly now?: () => number;
}

/** Where a value came from: a fresh entry, a load another caller had started, or a load of our own. */
export type CacheSource = 'cache' | 'shared' | 'loaded';

export interface Cached<V> {
  readonly value: V;
  readonly source: CacheSource;
}

export interface TtlCacheStats {
  /** Answered from a fresh entry. */
  readonly hits: number;
  /** Joined a load already under way. */
  readonly shared: number;
  /** Loads started. */
  readonly loads: number;
  /** Entries dropped to stay within `maxEntries`. */
  readonly evictions: number;
}

/** A load ran out of time (`loadTimeoutMs`). */
export class LoadTimeout extends Error {
  override name = 'LoadTimeout';
}

/** Why a load was aborted when its last waiter left; nobody sees it but the load itself. */
class Abandoned extends Error {
  override name = 'Abandoned';
}

interface Entry<V> {
  readonly value: V;
  readonly expiresAt: number;
}

interface Flight<V> {
  readonly promise: Promise<V>;
  readonly controller: AbortController;
  waiters: number;
  settled: boolean;
}

export class TtlCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly flights = new Map<string, Flight<V>>();
  private readonly now: () => number;
  private counts = { hits: 0, shared: 0, loads: 0, evictions: 0 };

  constructor(private readonly opts: TtlCacheOptions<V>) {
    if (!(opts.maxEntries >= 1)) throw new RangeError(`maxEntries must be at least 1, got ${opts.maxEntries}`);
    this.now = opts.now ?? Date.now;
  }

  /**
   * The value for `key`: a fresh cached one, else the result of the load under way for `key`, else of
   * `load` (started now). Rejects with `signal`'s reason as soon as `signal` aborts; with the load's
   * error when it fails (errors are never cached: a loader that wants a failure cached briefly returns
   * it as a value and gives it a short `ttlMs`).
   */
  get(key: string, load: (signal: AbortSignal) => Promise<V>, signal?: AbortSignal): Promise<Cached<V>> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const entry = this.entries.get(key);
    if (entry) {
      if (this.now() < entry.expiresAt) {
        // Most recently used goes last: Map keeps insertion order, so the first key is the LRU one.
        this.entries.delete(key);
        this.entries.set(key, entry);
        this.counts.hits++;
        return Promise.resolve({ value: entry.value, source: 'cache' });
      }
      this.entries.delete(key);
    }
    let flight = this.flights.get(key);
    let source: CacheSource = 'shared';
    if (flight) this.counts.shared++;
    else {
      flight = this.start(key, load);
      source = 'loaded';
    }
    return this.wait(key, flight, signal).then((value) => ({ value, source }));
  }

  /** Drops every entry (loads under way are not affected and still store their result). */
  clear(): void {
    this.entries.clear();
  }

  /** Entries held, fresh or expired-but-not-yet-dropped. */
  get size(): number {
    return this.entries.size;
  }

  /** Loads under way. */
  get inFlight(): number {
    return this.flights.size;
  }

  get stats(): TtlCacheStats {
    return { ...this.counts };
  }

  private start(key: string, load: (signal: AbortSignal) => Promise<V>): Flight<V> {
    this.counts.loads++;
    const controller = new AbortController();
    // Not unref'd: a load exists only while someone waits for it (an abandoned one is aborted, which
    // clears the timer), and that caller must get its answer or its timeout.
    const timer = setTimeout(() => controller.abort(new LoadTimeout(`no answer within ${this.opts.loadTimeoutMs} ms`)), this.opts.loadTimeoutMs);
    const loaded = Promise.resolve().then(() => load(controller.signal));
    const flight: Flight<V> = {
      controller,
      waiters: 0,
      settled: false,
      promise: untilAborted(loaded, controller.signal).then((value) => {
        // A flight that was abandoned (or replaced) does not overwrite what a newer one may have stored.
        if (this.flights.get(key) === flight) this.store(key, value);
        return value;
      }),
    };
    // Nobody may be listening when an abandoned load fails: that is expected, not an unhandled rejection.
    flight.promise.catch(() => {});
    void flight.promise
      .finally(() => {
        flight.settled = true;
        clearTimeout(timer);
        if (this.flights.get(key) === flight) this.flights.delete(key);
      })
      .catch(() => {});
    this.flights.set(key, flight);
    return flight;
  }

  private wait(key: string, flight: Flight<V>, signal: AbortSignal | undefined): Promise<V> {
    flight.waiters++;
    return new Promise<V>((resolve, reject) => {
      let done = false;
      const leave = (): boolean => {
        if (done) return false;
        done = true;
        flight.waiters--;
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const onAbort = () => {
        if (!leave()) return;
        reject(abortReason(signal as AbortSignal));
        if (flight.waiters === 0 && !flight.settled) {
          // Nobody wants this answer any more: stop the read rather than let it hold a connection, and let
          // the next caller start afresh instead of joining a load that is being torn down.
          if (this.flights.get(key) === flight) this.flights.delete(key);
          flight.controller.abort(new Abandoned('every caller stopped waiting'));
        }
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      flight.promise.then(
        (v) => leave() && resolve(v),
        (e: unknown) => leave() && reject(e),
      );
    });
  }

  private store(key: string, value: V): void {
    const ttl = this.opts.ttlMs(value);
    this.entries.delete(key);
    if (!(ttl > 0)) return;
    this.entries.set(key, { value, expiresAt: this.now() + ttl });
    while (this.entries.size > this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.counts.evictions++;
    }
  }
}
