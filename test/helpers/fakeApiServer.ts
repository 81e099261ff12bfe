/**
 * A fake Kubernetes API server on loopback HTTP that speaks the list/watch protocol, for unit tests of
 * anything that lists and watches through a real HTTP stack (`kube/transport.ts`, client-node's Watch):
 *
 * - collections at any path, whose objects tests add, update and delete; one resourceVersion counter
 *   for the whole server, as etcd's revision, and a history of events per collection;
 * - lists, paginated with `limit`/`continue` over a snapshot (`expireContinueTokens` makes the next
 *   continue a 410), filtered by `fieldSelector` (`metadata.name`, `metadata.namespace`) and
 *   `labelSelector` (`k=v`, `k!=v`, `k`, comma-separated);
 * - watches: newline-delimited JSON events replayed from the requested resourceVersion, then live;
 *   an object leaving or entering a selector is DELETED or ADDED, as the real API server does;
 *   `bookmark()`, `endWatches()` (the server-side timeout), and `compact()`, after which a watch from an
 *   older resourceVersion gets 410 (as a 200 with an ERROR event, like the watch cache, or as HTTP 410);
 * - failure switches: `refuse` (reset the connection, or answer a status), and `silence`: every open
 *   connection goes dead without closing and new requests are never answered, as a network partition.
 */
import http from 'node:http';
import type net from 'node:net';
import * as k8s from '@kubernetes/client-node';

export interface FakeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; uid?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface FakeRequest {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly watch: boolean;
  readonly authorization: string | undefined;
}

export interface FakeCollection {
  /** Creates the object (its resourceVersion is set) and returns a copy of what is stored. */
  add(obj: FakeObject): FakeObject;
  update(name: string, mutate: (obj: FakeObject) => void, namespace?: string): FakeObject;
  remove(name: string, namespace?: string): void;
  get(name: string, namespace?: string): FakeObject | undefined;
  readonly size: number;
}

export interface FakeApiServer {
  readonly url: string;
  /** A KubeConfig for this server with a bearer token (plain HTTP needs skipTLSVerify in client-node). */
  kubeConfig(token?: string): k8s.KubeConfig;
  collection(path: string): FakeCollection;
  readonly requests: readonly FakeRequest[];
  /** The next request (received after this call) that matches. */
  nextRequest(match?: (r: FakeRequest) => boolean): Promise<FakeRequest>;
  /** Watch connections answered and not yet closed (dead ones included: they are still open). */
  openWatches(path?: string): number;
  /** Requests received and not answered (while silent), not yet closed by the client. */
  hangingRequests(): number;
  /** Resolves once no watch connection and no unanswered request is open. */
  untilNoOpenRequests(): Promise<void>;
  readonly resourceVersion: number;
  /** Watches from a resourceVersion older than the current one get 410 from now on. */
  compact(as?: 'event' | 'status'): void;
  bookmark(path?: string): void;
  /** Ends open watches cleanly, after a bookmark (unless `bookmark: false`), as the server-side timeout does. */
  endWatches(path?: string, opts?: { bookmark?: boolean }): void;
  expireContinueTokens(): void;
  /** 'reset': requests get their connection destroyed; a number: answered with that status; false: served. */
  refuse(how: 'reset' | number | false): void;
  /** Open connections go dead (nothing more is written, never closed); new requests are not answered. */
  silence(): void;
  /** New requests are served again; connections that went dead stay dead. */
  unsilence(): void;
  close(): Promise<void>;
}

interface HistoryEvent {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly obj: FakeObject;
  readonly prev?: FakeObject;
}

interface Coll {
  readonly objects: Map<string, FakeObject>;
  readonly history: HistoryEvent[];
}

interface WatchConn {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly res: http.ServerResponse;
  dead: boolean;
  timer?: NodeJS.Timeout;
}

const clone = <V>(v: V): V => structuredClone(v);
const keyOf = (name: string, namespace?: string) => (namespace ? `${namespace}/${name}` : name);
const status = (code: number, reason: string, message: string) => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });

function matches(obj: FakeObject, q: URLSearchParams): boolean {
  for (const term of (q.get('fieldSelector') ?? '').split(',').filter(Boolean)) {
    const [field, value] = term.split('=');
    const actual = field === 'metadata.name' ? obj.metadata.name : field === 'metadata.namespace' ? obj.metadata.namespace : undefined;
    if (actual !== value) return false;
  }
  const labels = obj.metadata.labels ?? {};
  for (const term of (q.get('labelSelector') ?? '').split(',').filter(Boolean)) {
    const ne = term.split('!=');
    if (ne.length === 2) {
      if (labels[ne[0]!] === ne[1]) return false;
      continue;
    }
    const eq = term.split('=');
    if (eq.length === 2 ? labels[eq[0]!] !== eq[1] : !(term in labels)) return false;
  }
  return true;
}

/** The event a watcher with query `q` sees for `e`, or undefined (as the API server filters by selector). */
function filtered(e: HistoryEvent, q: URLSearchParams): { type: string; object: FakeObject } | undefined {
  const now = matches(e.obj, q);
  const before = e.prev ? matches(e.prev, q) : false;
  if (e.type === 'ADDED') return now ? { type: 'ADDED', object: e.obj } : undefined;
  if (e.type === 'DELETED') return now ? { type: 'DELETED', object: e.obj } : undefined;
  if (now && before) return { type: 'MODIFIED', object: e.obj };
  if (now) return { type: 'ADDED', object: e.obj };
  if (before) return { type: 'DELETED', object: e.obj };
  return undefined;
}

export async function startFakeApiServer(): Promise<FakeApiServer> {
  let rv = 100;
  let compactedRev = 0;
  let goneAs: 'event' | 'status' = 'event';
  let refusing: 'reset' | number | false = false;
  let silent = false;
  const colls = new Map<string, Coll>();
  const conns = new Set<WatchConn>();
  const sockets = new Set<net.Socket>();
  const hung = new Set<http.ServerResponse>();
  const idleWaiters: (() => void)[] = [];
  const checkIdle = () => {
    if (conns.size || hung.size) return;
    for (const w of idleWaiters.splice(0)) w();
  };
  const requests: FakeRequest[] = [];
  const waiters: { match: (r: FakeRequest) => boolean; resolve: (r: FakeRequest) => void }[] = [];
  const continues = new Map<string, { items: FakeObject[]; rv: number }>();
  let tokenSeq = 0;

  const coll = (path: string): Coll => {
    let c = colls.get(path);
    if (!c) colls.set(path, (c = { objects: new Map(), history: [] }));
    return c;
  };
  const write = (conn: WatchConn, event: unknown) => {
    if (!conn.dead && !conn.res.writableEnded) conn.res.write(`${JSON.stringify(event)}\n`);
  };
  const record = (path: string, e: HistoryEvent) => {
    coll(path).history.push(e);
    for (const conn of conns) {
      if (conn.path !== path) continue;
      const ev = filtered(e, conn.query);
      if (ev) write(conn, ev);
    }
  };
  const bookmarkOf = () => ({ type: 'BOOKMARK', object: { kind: 'Bookmark', apiVersion: 'v1', metadata: { resourceVersion: String(rv) } } });

  const serveList = (path: string, q: URLSearchParams, res: http.ServerResponse) => {
    let items: FakeObject[];
    let listRv = rv;
    const token = q.get('continue');
    if (token) {
      const snap = continues.get(token);
      if (!snap) {
        res.writeHead(410, { 'Content-Type': 'application/json' }).end(JSON.stringify(status(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result.')));
        return;
      }
      continues.delete(token);
      items = snap.items;
      listRv = snap.rv;
    } else {
      items = [...coll(path).objects.values()].filter((o) => matches(o, q)).map(clone);
    }
    const limit = Number(q.get('limit') ?? 0);
    const metadata: Record<string, unknown> = { resourceVersion: String(listRv) };
    if (limit > 0 && items.length > limit) {
      const next = `c${++tokenSeq}`;
      continues.set(next, { items: items.slice(limit), rv: listRv });
      metadata['continue'] = next;
      metadata['remainingItemCount'] = items.length - limit;
      items = items.slice(0, limit);
    }
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ kind: 'List', apiVersion: 'v1', metadata, items }));
  };

  const serveWatch = (path: string, q: URLSearchParams, res: http.ServerResponse) => {
    const from = q.get('resourceVersion') ?? '';
    if (from !== '' && from !== '0' && Number(from) < compactedRev) {
      const gone = status(410, 'Expired', `too old resource version: ${from} (${compactedRev})`);
      if (goneAs === 'status') res.writeHead(410, { 'Content-Type': 'application/json' }).end(JSON.stringify(gone));
      else res.writeHead(200, { 'Content-Type': 'application/json' }).end(`${JSON.stringify({ type: 'ERROR', object: gone })}\n`);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const conn: WatchConn = { path, query: q, res, dead: false };
    conns.add(conn);
    res.on('close', () => {
      conns.delete(conn);
      if (conn.timer) clearTimeout(conn.timer);
      checkIdle();
    });
    if (from === '' || from === '0') {
      for (const o of coll(path).objects.values()) if (matches(o, q)) write(conn, { type: 'ADDED', object: o });
    } else {
      for (const e of coll(path).history) {
        if (e.rv <= Number(from)) continue;
        const ev = filtered(e, q);
        if (ev) write(conn, ev);
      }
    }
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    if (timeout > 0) {
      conn.timer = setTimeout(() => {
        if (!conn.dead) res.end();
      }, timeout * 1000);
      conn.timer.unref();
    }
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const q = url.searchParams;
    const r: FakeRequest = { path: url.pathname, query: q, watch: q.get('watch') === 'true' || q.get('watch') === '1', authorization: req.headers.authorization };
    requests.push(r);
    for (const w of [...waiters]) {
      if (w.match(r)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(r);
      }
    }
    if (silent) {
      hung.add(res);
      res.on('close', () => {
        hung.delete(res);
        checkIdle();
      });
      return;
    }
    if (refusing === 'reset') {
      req.socket.destroy();
      return;
    }
    if (typeof refusing === 'number') {
      res.writeHead(refusing, { 'Content-Type': 'application/json' }).end(JSON.stringify(status(refusing, 'InternalError', `refused by the fake API server (${refusing})`)));
      return;
    }
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (r.watch) serveWatch(r.path, q, res);
    else serveList(r.path, q, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;

  return {
    url,
    kubeConfig(token = 'fake-token') {
      const kc = new k8s.KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
        users: [{ name: 'u', token }],
        contexts: [{ name: 'fake', cluster: 'fake', user: 'u' }],
        currentContext: 'fake',
      });
      return kc;
    },
    collection(path) {
      const c = coll(path);
      return {
        add(obj) {
          const o = clone(obj);
          const key = keyOf(o.metadata.name, o.metadata.namespace);
          if (c.objects.has(key)) throw new Error(`fake API server: ${path} ${key} already exists`);
          o.metadata.resourceVersion = String(++rv);
          o.metadata.uid ??= `uid-${rv}`;
          c.objects.set(key, o);
          record(path, { rv, type: 'ADDED', obj: clone(o) });
          return clone(o);
        },
        update(name, mutate, namespace) {
          const key = keyOf(name, namespace);
          const prev = c.objects.get(key);
          if (!prev) throw new Error(`fake API server: ${path} ${key} not found`);
          const o = clone(prev);
          mutate(o);
          o.metadata.resourceVersion = String(++rv);
          c.objects.set(key, o);
          record(path, { rv, type: 'MODIFIED', obj: clone(o), prev });
          return clone(o);
        },
        remove(name, namespace) {
          const key = keyOf(name, namespace);
          const prev = c.objects.get(key);
          if (!prev) throw new Error(`fake API server: ${path} ${key} not found`);
          c.objects.delete(key);
          const o = clone(prev);
          o.metadata.resourceVersion = String(++rv);
          record(path, { rv, type: 'DELETED', obj: o, prev });
        },
        get: (name, namespace) => {
          const o = c.objects.get(keyOf(name, namespace));
          return o && clone(o);
        },
        get size() {
          return c.objects.size;
        },
      };
    },
    requests,
    nextRequest: (match = () => true) => new Promise((resolve) => waiters.push({ match, resolve })),
    openWatches: (path) => [...conns].filter((c) => path === undefined || c.path === path).length,
    hangingRequests: () => hung.size,
    untilNoOpenRequests: () =>
      new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        checkIdle();
      }),
    get resourceVersion() {
      return rv;
    },
    compact(as = 'event') {
      compactedRev = rv;
      goneAs = as;
    },
    bookmark(path) {
      for (const c of conns) if (path === undefined || c.path === path) write(c, bookmarkOf());
    },
    endWatches(path, { bookmark = true } = {}) {
      for (const c of [...conns]) {
        if (c.dead || (path !== undefined && c.path !== path)) continue;
        if (bookmark) write(c, bookmarkOf());
        c.res.end();
      }
    },
    expireContinueTokens: () => continues.clear(),
    refuse(how) {
      refusing = how;
    },
    silence() {
      silent = true;
      for (const c of conns) c.dead = true;
    },
    unsilence() {
      silent = false;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
