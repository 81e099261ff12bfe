/**
 * A list+watch of one collection with a local store, like client-go's reflector and informer but
 * small: list (in pages), then watch from the list's resourceVersion with bookmarks; on a clean end of
 * the watch (the server-side timeout) watch again from the last resourceVersion without listing; on
 * 410 Gone (the resourceVersion was compacted away) list again, and deliver the difference against
 * the store (deletes for objects that vanished meanwhile, updates for those whose resourceVersion
 * changed, adds for new ones), so handlers never miss a change, only intermediate states.
 *
 * What it protects against:
 * - a connection that goes silent without closing: a client-side watchdog cuts any request that brings
 *   no byte for too long (see `WATCH_IDLE_TIMEOUT_MS`), then the watch restarts;
 * - an API server that fails: retries with backoff, whose count starts again after any success (a list
 *   answered, or a watch answered 200), so one blip an hour after a bad minute waits the base delay;
 * - memory: the store holds `transform(obj)`, never the whole object unless the caller asks for it, and
 *   an object whose resourceVersion did not change is not transformed again on a re-list.
 *
 * `isSynced()` says whether the store is as fresh as the watch: true after a list or a watch answered
 * 200, false from the moment a request fails until one succeeds again (callers answer /readyz with it).
 * Handlers run synchronously, after the store has changed; an exception in one is logged, not fatal.
 */
import { StringDecoder } from 'node:string_decoder';
import {
  LIST_IDLE_TIMEOUT_MS,
  LIST_PAGE_SIZE,
  MAX_WATCH_EVENT_BYTES,
  MIN_WATCH_DURATION_MS,
  WATCH_IDLE_TIMEOUT_MS,
  WATCH_RETRY_BASE_MS,
  WATCH_RETRY_MAX_MS,
  WATCH_TIMEOUT_MARGIN_MS,
  WATCH_TIMEOUT_MAX_S,
  WATCH_TIMEOUT_MIN_S,
} from '../config/limits.js';
import type { Logger } from '../logging/logger.js';
import type { ApiResponse, ApiTransport } from './transport.js';

// ---------------------------------------------------------------------------------------------------
// Types

/** The parts of an object the informer itself reads. */
export interface KubeObject {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly resourceVersion?: string };
}

export interface InformerHandlers<T> {
  onAdd?(obj: T, key: string): void;
  onUpdate?(obj: T, old: T, key: string): void;
  /** `last` is the object's final state from the DELETED event, or the stored one when a re-list found it gone. */
  onDelete?(last: T, key: string): void;
  /** After every list has been applied to the store (the first sync and each re-list). */
  onSync?(): void;
}

/** Timers the informer schedules its retries and watchdog with (tests pass manual ones). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface InformerOptions<R extends KubeObject, T = R> {
  readonly transport: ApiTransport;
  /** The collection's URL path, e.g. `/api/v1/namespaces/datadog/pods` or `/api/v1/nodes`. */
  readonly path: string;
  readonly fieldSelector?: string;
  readonly labelSelector?: string;
  /**
   * What the store keeps of each object (default: the object itself). Called once per new
   * resourceVersion. An object it throws on is logged and left out of the store, as if it did not exist.
   */
  readonly transform?: (obj: R) => T;
  readonly handlers?: InformerHandlers<T>;
  readonly logger: Logger;
  /** For logs, e.g. `pods in datadog`; default the path and selectors. */
  readonly what?: string;
  /** Stops the informer when aborted, like `stop()`. */
  readonly signal?: AbortSignal;
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  /** Server-side `timeoutSeconds` is drawn from this range for each watch request. */
  readonly watchTimeoutSeconds?: readonly [min: number, max: number];
  readonly watchIdleTimeoutMs?: number;
  readonly watchTimeoutMarginMs?: number;
  readonly listIdleTimeoutMs?: number;
  readonly pageSize?: number;
  /** Milliseconds clock (tests). Default `Date.now`. */
  readonly now?: () => number;
  readonly timers?: Timers;
  /** In [0, 1), for the watch timeout. Default `Math.random`. */
  readonly random?: () => number;
}

export interface InformerStatus {
  readonly synced: boolean;
  /** `now()` when a list was last applied. */
  readonly lastSyncAt: number | undefined;
  /** `now()` when the API server last sent this informer anything (a page, an event, a bookmark). */
  readonly lastHeardAt: number | undefined;
  /** Failures in a row since the last success. */
  readonly failures: number;
  readonly lastError: string | undefined;
  readonly resourceVersion: string | undefined;
  readonly objects: number;
}

export interface Informer<T> {
  /** Resolves once the first list has been applied; rejects with `InformerStopped` if stopped before. */
  readonly synced: Promise<void>;
  isSynced(): boolean;
  readonly lastSyncAt: number | undefined;
  get(key: string): T | undefined;
  entries(): IterableIterator<[string, T]>;
  readonly size: number;
  /** More handlers on the same store and connection; returns the function that removes them. */
  addHandlers(handlers: InformerHandlers<T>): () => void;
  status(): InformerStatus;
  /** Aborts whatever request is in flight (even one the server never answers) and resolves when done. */
  stop(): Promise<void>;
}

export class InformerStopped extends Error {
  override name = 'InformerStopped';
}

/** An API answer other than 200: the HTTP status (or a watch ERROR event's code) and the Status message. */
export class ApiStatusError extends Error {
  override name = 'ApiStatusError';
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(`HTTP ${code}${reason ? ` ${reason}` : ''}${message ? `: ${message}` : ''}`);
  }
}

/** The client-side watchdog cut a request that brought nothing for `idleMs`. */
export class IdleTimeout extends Error {
  override name = 'IdleTimeout';
  constructor(readonly idleMs: number) {
    super(`no answer from the API server for ${Math.round(idleMs / 1000)} s`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Pure pieces

/** Store key, as client-go's MetaNamespaceKeyFunc: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: KubeObject): string {
  const m = obj.metadata;
  return m?.namespace ? `${m.namespace}/${m.name ?? ''}` : (m?.name ?? '');
}

/** Delay before the retry that follows `failures` failures in a row (1 = the first). */
export function retryDelay(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
}

/** How long a watch may bring nothing before the watchdog cuts it (see `WATCH_IDLE_TIMEOUT_MS`). */
export function watchIdleLimitMs(timeoutSeconds: number, serverSendsBookmarks: boolean, idleMs: number, marginMs: number): number {
  const afterServerTimeout = timeoutSeconds * 1000 + marginMs;
  return serverSendsBookmarks ? Math.min(idleMs, afterServerTimeout) : afterServerTimeout;
}

interface Status {
  readonly code?: number;
  readonly reason?: string;
  readonly message?: string;
}

function statusOf(value: unknown): Status {
  const s = value as { code?: unknown; reason?: unknown; message?: unknown } | null;
  return {
    ...(typeof s?.code === 'number' ? { code: s.code } : {}),
    ...(typeof s?.reason === 'string' ? { reason: s.reason } : {}),
    ...(typeof s?.message === 'string' ? { message: s.message } : {}),
  };
}

function statusError(httpStatus: number, text: string): ApiStatusError {
  let s: Status = {};
  try {
    s = statusOf(JSON.parse(text));
  } catch {
    /* not a Status */
  }
  return new ApiStatusError(httpStatus, s.reason ?? '', s.message ?? text.slice(0, 200));
}

/** Rejects with the signal's reason as soon as it aborts, whether or not `p` ever settles. */
function abortable<V>(p: Promise<V>, signal: AbortSignal): Promise<V> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<V>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** The body's chunks; every chunk calls `heard`, and each wait for one ends when `signal` aborts. */
async function* chunks(body: ApiResponse['body'], signal: AbortSignal, heard: () => void): AsyncGenerator<string> {
  const it = body[Symbol.asyncIterator]();
  const decoder = new StringDecoder('utf8');
  try {
    for (;;) {
      const r = await abortable(it.next(), signal);
      if (r.done) break;
      heard();
      yield typeof r.value === 'string' ? r.value : decoder.write(r.value);
    }
    const rest = decoder.end();
    if (rest) yield rest;
  } finally {
    // Releases the connection (Node's stream iterator destroys the stream); never waits for it.
    it.return?.()?.catch(() => {});
  }
}

async function readText(body: ApiResponse['body'], signal: AbortSignal, heard: () => void): Promise<string> {
  let text = '';
  for await (const c of chunks(body, signal, heard)) text += c;
  return text;
}

/** Newline-delimited watch events; a line longer than `MAX_WATCH_EVENT_BYTES` is a broken stream. */
async function* lines(body: ApiResponse['body'], signal: AbortSignal, heard: () => void): AsyncGenerator<string> {
  let buf = '';
  for await (const c of chunks(body, signal, heard)) {
    buf += c;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) yield line;
    }
    if (buf.length > MAX_WATCH_EVENT_BYTES) throw new Error(`a watch event longer than ${MAX_WATCH_EVENT_BYTES} bytes: the stream is broken`);
  }
  if (buf.trim()) yield buf.trim();
}

/**
 * Not unref'd: a running informer keeps the process alive, also while it waits to retry with no socket
 * open (a process that only watches must not exit in the middle of a backoff); `stop()` ends it.
 */
const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

// ---------------------------------------------------------------------------------------------------
// The informer

interface Entry<T> {
  readonly rv: string;
  readonly value: T;
}

type WatchEnd = 'ended' | 'gone';

export function startInformer<R extends KubeObject, T = R>(opts: InformerOptions<R, T>): Informer<T> {
  const log = opts.logger;
  const now = opts.now ?? Date.now;
  const timers = opts.timers ?? realTimers;
  const random = opts.random ?? Math.random;
  const transform = opts.transform ?? ((o: R) => o as unknown as T);
  const retryBase = opts.retryBaseMs ?? WATCH_RETRY_BASE_MS;
  const retryMax = opts.retryMaxMs ?? WATCH_RETRY_MAX_MS;
  const [timeoutMin, timeoutMax] = opts.watchTimeoutSeconds ?? [WATCH_TIMEOUT_MIN_S, WATCH_TIMEOUT_MAX_S];
  const idleTimeoutMs = opts.watchIdleTimeoutMs ?? WATCH_IDLE_TIMEOUT_MS;
  const marginMs = opts.watchTimeoutMarginMs ?? WATCH_TIMEOUT_MARGIN_MS;
  const listIdleMs = opts.listIdleTimeoutMs ?? LIST_IDLE_TIMEOUT_MS;
  const pageSize = opts.pageSize ?? LIST_PAGE_SIZE;
  const selectors = [opts.fieldSelector && `fieldSelector=${opts.fieldSelector}`, opts.labelSelector && `labelSelector=${opts.labelSelector}`].filter(Boolean);
  const what = opts.what ?? `${opts.path}${selectors.length ? ` (${selectors.join(', ')})` : ''}`;

  const stopping = new AbortController();
  const onOuterAbort = () => stopping.abort(new InformerStopped(`the watch of ${what} was stopped`));
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });

  let store = new Map<string, Entry<T>>();
  // Wrapped, so that adding the same handlers object twice gives two removable registrations.
  const handlerSets = new Set<{ readonly h: InformerHandlers<T> }>();
  if (opts.handlers) handlerSets.add({ h: opts.handlers });

  let resourceVersion: string | undefined;
  /** The resourceVersion came from a list, no event since: a 410 now is not "fell behind". */
  let rvFromList = false;
  let serverSendsBookmarks = false;
  let fresh = false;
  let failures = 0;
  let lastError: string | undefined;
  let lastSyncAt: number | undefined;
  let lastHeardAt: number | undefined;

  let markSynced!: () => void;
  let failSync!: (e: unknown) => void;
  let everSynced = false;
  const synced = new Promise<void>((resolve, reject) => {
    markSynced = resolve;
    failSync = reject;
  });
  // A caller that never awaits `synced` must not crash the process when the informer stops early.
  synced.catch(() => {});

  const emit = (call: (h: InformerHandlers<T>) => void, event: string, key: string): void => {
    for (const { h } of [...handlerSets]) {
      try {
        call(h);
      } catch (e) {
        log.warn({ what, object: key, event, problem: e instanceof Error ? e.message : String(e) }, `a handler of the watch of ${what} threw on ${event}; ignored`);
      }
    }
  };
  /** `transform(obj)`, or undefined (logged) when it throws: one odd object must not stop the informer. */
  const transformed = (obj: R, key: string): { value: T } | undefined => {
    try {
      return { value: transform(obj) };
    } catch (e) {
      log.warn({ what, object: key, problem: e instanceof Error ? e.message : String(e) }, `cannot keep ${key} of ${what}; left out`);
      return undefined;
    }
  };
  const heard = (): void => {
    lastHeardAt = now();
  };
  const query = (): URLSearchParams => {
    const q = new URLSearchParams();
    if (opts.fieldSelector) q.set('fieldSelector', opts.fieldSelector);
    if (opts.labelSelector) q.set('labelSelector', opts.labelSelector);
    return q;
  };

  /**
   * Runs one request with a watchdog: when no byte arrives for `idleMs` (headers included), the request
   * is aborted with `IdleTimeout`. One timer per request, re-armed from the last byte's time when it
   * fires, rather than one per chunk.
   */
  const withWatchdog = async <V>(idleMs: number, run: (signal: AbortSignal, heard: () => void) => Promise<V>): Promise<V> => {
    const attempt = new AbortController();
    const signal = AbortSignal.any([stopping.signal, attempt.signal]);
    let last = now();
    let timer: unknown;
    const arm = (ms: number) => {
      timer = timers.setTimeout(() => {
        const idle = now() - last;
        if (idle >= idleMs) attempt.abort(new IdleTimeout(idleMs));
        else arm(idleMs - idle);
      }, ms);
    };
    arm(idleMs);
    try {
      return await run(signal, () => {
        last = now();
        heard();
      });
    } finally {
      timers.clearTimeout(timer);
      // Whatever happened, the request is over: release its connection.
      attempt.abort(new Error('request finished'));
    }
  };

  /** Lists the whole collection (in pages) and applies it to the store; returns the list's resourceVersion. */
  const list = async (): Promise<string> => {
    const next = new Map<string, Entry<T>>();
    let listRv: string | undefined;
    let cont: string | undefined;
    do {
      const q = query();
      q.set('limit', String(pageSize));
      if (cont) q.set('continue', cont);
      const page = await withWatchdog(listIdleMs, async (signal, onBytes) => {
        const res = await abortable(opts.transport.get(opts.path, q, signal), signal);
        onBytes();
        const text = await readText(res.body, signal, onBytes);
        if (res.status !== 200) throw statusError(res.status, text);
        return JSON.parse(text) as { metadata?: { resourceVersion?: string; continue?: string }; items?: R[] };
      });
      // Every page of one paginated list is served at the first page's resourceVersion.
      listRv ??= page.metadata?.resourceVersion;
      for (const item of page.items ?? []) {
        const key = objectKey(item);
        const rv = item.metadata?.resourceVersion ?? '';
        const old = store.get(key);
        if (old && old.rv === rv) {
          next.set(key, old);
          continue;
        }
        const t = transformed(item, key);
        if (t) next.set(key, { rv, value: t.value });
      }
      cont = page.metadata?.continue || undefined;
    } while (cont);
    if (!listRv) throw new Error(`the list of ${what} carried no resourceVersion`);

    const previous = store;
    store = next;
    for (const [key, old] of previous) if (!next.has(key)) emit((h) => h.onDelete?.(old.value, key), 'delete', key);
    for (const [key, e] of next) {
      const old = previous.get(key);
      if (!old) emit((h) => h.onAdd?.(e.value, key), 'add', key);
      else if (old !== e) emit((h) => h.onUpdate?.(e.value, old.value, key), 'update', key);
    }
    lastSyncAt = now();
    emit((h) => h.onSync?.(), 'sync', '');
    return listRv;
  };

  const apply = (type: string, obj: R): void => {
    const key = objectKey(obj);
    const rv = obj.metadata?.resourceVersion ?? '';
    const old = store.get(key);
    if (type === 'DELETED') {
      if (!store.delete(key)) return;
      const last = transformed(obj, key)?.value ?? old!.value;
      emit((h) => h.onDelete?.(last, key), 'delete', key);
      return;
    }
    // ADDED or MODIFIED: which one the store says (a replayed ADDED for a known key is an update).
    if (old?.rv === rv) return;
    const t = transformed(obj, key);
    if (!t) {
      // Left out now: if it was kept before, to its handlers it is gone.
      if (old && store.delete(key)) emit((h) => h.onDelete?.(old.value, key), 'delete', key);
      return;
    }
    const e = { rv, value: t.value };
    store.set(key, e);
    if (old) emit((h) => h.onUpdate?.(e.value, old.value, key), 'update', key);
    else emit((h) => h.onAdd?.(e.value, key), 'add', key);
  };

  /** One watch request from `resourceVersion`, until the server ends it ('ended'), 410 ('gone'), or it fails (throws). */
  const watchOnce = (fromRv: string): Promise<WatchEnd> => {
    const timeoutSeconds = timeoutMin + Math.floor(random() * (timeoutMax - timeoutMin + 1));
    const idleMs = watchIdleLimitMs(timeoutSeconds, serverSendsBookmarks, idleTimeoutMs, marginMs);
    const q = query();
    q.set('watch', 'true');
    q.set('resourceVersion', fromRv);
    q.set('allowWatchBookmarks', 'true');
    q.set('timeoutSeconds', String(timeoutSeconds));
    return withWatchdog(idleMs, async (signal, onBytes) => {
      const started = now();
      const res = await abortable(opts.transport.get(opts.path, q, signal), signal);
      onBytes();
      if (res.status !== 200) {
        const err = statusError(res.status, await readText(res.body, signal, onBytes));
        if (res.status === 410) return 'gone';
        throw err;
      }
      // A successful (re)connect: the backoff starts again, and events from `fromRv` on are coming.
      failures = 0;
      fresh = true;
      lastError = undefined;
      log.debug({ what, resourceVersion: fromRv, timeoutSeconds }, `watching ${what}`);
      let events = 0;
      for await (const line of lines(res.body, signal, onBytes)) {
        let ev: { type?: unknown; object?: unknown };
        try {
          ev = JSON.parse(line) as typeof ev;
        } catch {
          throw new Error(`the watch of ${what} sent a line that is not JSON`);
        }
        events++;
        const obj = ev.object as R | undefined;
        switch (ev.type) {
          case 'ADDED':
          case 'MODIFIED':
          case 'DELETED':
            if (!obj) break;
            apply(ev.type, obj);
            resourceVersion = obj.metadata?.resourceVersion ?? resourceVersion;
            rvFromList = false;
            break;
          case 'BOOKMARK':
            serverSendsBookmarks = true;
            resourceVersion = obj?.metadata?.resourceVersion ?? resourceVersion;
            rvFromList = false;
            break;
          case 'ERROR': {
            const s = statusOf(obj);
            if (s.code === 410) return 'gone';
            throw new ApiStatusError(s.code ?? 0, s.reason ?? '', s.message ?? 'watch error');
          }
          default:
            log.debug({ what, type: ev.type }, `the watch of ${what} sent an event of unknown type; ignored`);
        }
      }
      // client-go's reflector does the same: a watch closed at once with nothing in it is a failure
      // (a proxy or server that accepts and hangs up), or it would be retried in a tight loop.
      if (events === 0 && now() - started < MIN_WATCH_DURATION_MS) throw new Error(`the watch of ${what} was closed at once, with no event`);
      return 'ended';
    });
  };

  const sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const done = () => {
        timers.clearTimeout(t);
        stopping.signal.removeEventListener('abort', done);
        resolve();
      };
      const t = timers.setTimeout(done, ms);
      stopping.signal.addEventListener('abort', done, { once: true });
    });

  const run = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      try {
        if (resourceVersion === undefined) {
          const relist = everSynced;
          resourceVersion = await list();
          rvFromList = true;
          failures = 0;
          fresh = true;
          lastError = undefined;
          if (!everSynced) {
            everSynced = true;
            markSynced();
          }
          log.debug({ what, resourceVersion, objects: store.size }, relist ? `re-listed ${what}` : `listed ${what}`);
        }
        const end = await watchOnce(resourceVersion);
        if (end === 'gone') {
          // The resourceVersion is older than the server keeps: list again, and tell handlers what changed.
          const straightFromList = rvFromList;
          resourceVersion = undefined;
          fresh = false;
          log.info({ what }, `the watch of ${what} fell too far behind (410 Gone); listing again`);
          if (straightFromList) throw new Error(`the API server expired the resourceVersion its own list of ${what} had just returned`);
        }
      } catch (e) {
        if (stopping.signal.aborted) break;
        fresh = false;
        failures++;
        lastError = e instanceof Error ? e.message : String(e);
        const delay = retryDelay(failures, retryBase, retryMax);
        if (e instanceof IdleTimeout) {
          log.warn({ what, problem: lastError, retryInMs: delay }, `the watch of ${what} went silent; cutting the connection and watching again`);
        } else {
          log.warn({ what, problem: lastError, retryInMs: delay }, `watch of ${what} failed; restarting it`);
        }
        await sleep(delay);
      }
    }
  };

  const running = run().finally(() => {
    fresh = false;
    opts.signal?.removeEventListener('abort', onOuterAbort);
    if (!everSynced) failSync(stopping.signal.reason ?? new InformerStopped(`the watch of ${what} was stopped`));
  });

  return {
    synced,
    isSynced: () => fresh,
    get lastSyncAt() {
      return lastSyncAt;
    },
    get: (key) => store.get(key)?.value,
    *entries() {
      for (const [key, e] of store) yield [key, e.value];
    },
    get size() {
      return store.size;
    },
    addHandlers(h) {
      const own = { h };
      handlerSets.add(own);
      return () => void handlerSets.delete(own);
    },
    status: () => ({ synced: fresh, lastSyncAt, lastHeardAt, failures, lastError, resourceVersion, objects: store.size }),
    async stop() {
      if (!stopping.signal.aborted) stopping.abort(new InformerStopped(`the watch of ${what} was stopped`));
      await running;
    },
  };
}
