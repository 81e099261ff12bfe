/**
 * A TCP proxy on loopback for tests, standing in for what a cluster puts between a client and some pods.
 *
 * Plain: round-robin over the backend ports given (`setBackends`); each client connection is pinned to
 * the backend it was sent to, as kube-proxy's per-connection translation pins it, and a backend that
 * refuses gets the client's connection closed before any answer, as a closed port on a pod fails it.
 * (Closed, not reset: `resetAndDestroy` leaves a handle behind in Node 20 that makes the process spin at
 * 100% CPU when it exits.)
 *
 * Service mode (`service`): the backends are the pods of a Service. Each one's `/readyz` is polled
 * (HTTPS, certificate not verified); a backend enters the rotation as soon as it is ready and leaves it
 * only `ENDPOINT_DROP_DELAY_MS` after its `/readyz` started failing, the time the endpoints controller
 * and kube-proxy on every node take to stop sending new connections to a pod that is going away.
 * Existing connections are never moved (they stay pinned, as in a cluster).
 *
 * `pause()`/`resume()` hold all data in both directions, on open and new connections, without closing
 * anything: a connection that lags (a slow network, a stalled peer).
 */
import https from 'node:https';
import net from 'node:net';

/** Endpoints controller + kube-proxy: a pod that stopped being ready still gets connections for this long. */
export const ENDPOINT_DROP_DELAY_MS = 3_000;
/** How often Service mode probes each backend's `/readyz`. */
export const READINESS_POLL_MS = 200;

export interface TcpProxyOptions {
  /** Backend ports on 127.0.0.1. */
  readonly backends?: readonly number[];
  /** Service mode; `dropDelayMs` default `ENDPOINT_DROP_DELAY_MS`, `pollMs` default `READINESS_POLL_MS`. */
  readonly service?: { readonly readyPath?: string; readonly dropDelayMs?: number; readonly pollMs?: number };
}

export interface TcpProxy {
  readonly port: number;
  /** `https://127.0.0.1:<port>`: what a webhook URL points at. */
  readonly url: string;
  /** The backends (in Service mode: the pods; a new one joins the rotation once ready, a removed one leaves at once). */
  setBackends(ports: readonly number[]): void;
  /** Backends new connections go to now. */
  rotation(): readonly number[];
  /** Resolves once `test(rotation)` holds (checked now and at every change). */
  until(test: (rotation: readonly number[]) => boolean, timeoutMs?: number): Promise<void>;
  /** Connections each backend received so far. */
  connections(): ReadonlyMap<number, number>;
  /** Connections a backend refused (client's connection closed at once), or made while no backend was in rotation. */
  failedConnections(): number;
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

interface Backend {
  readonly port: number;
  ready: boolean;
  inRotation: boolean;
  failingSince: number | undefined;
  dropTimer: NodeJS.Timeout | undefined;
  probe: NodeJS.Timeout | undefined;
}

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
}

/** One `/readyz` probe: true for a 200, false for any other answer or failure. */
function probeReady(port: number, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get({ host: '127.0.0.1', port, path, agent: false, rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export async function startTcpProxy(o: TcpProxyOptions = {}): Promise<TcpProxy> {
  const service = o.service;
  const dropDelayMs = service?.dropDelayMs ?? ENDPOINT_DROP_DELAY_MS;
  const pollMs = service?.pollMs ?? READINESS_POLL_MS;
  const readyPath = service?.readyPath ?? '/readyz';

  const backends = new Map<number, Backend>();
  const pairs = new Set<Pair>();
  const counts = new Map<number, number>();
  const waiters = new Set<() => void>();
  let failed = 0;
  let next = 0;
  let held = false;
  let closed = false;

  const rotation = () => [...backends.values()].filter((b) => b.inRotation).map((b) => b.port);
  const changed = () => {
    for (const w of [...waiters]) w();
  };

  const setRotation = (b: Backend, on: boolean) => {
    if (b.inRotation === on) return;
    b.inRotation = on;
    changed();
  };

  const observe = (b: Backend, ready: boolean) => {
    if (!backends.has(b.port)) return;
    b.ready = ready;
    if (ready) {
      b.failingSince = undefined;
      if (b.dropTimer) clearTimeout(b.dropTimer);
      b.dropTimer = undefined;
      setRotation(b, true);
    } else if (b.inRotation && b.failingSince === undefined) {
      b.failingSince = Date.now();
      b.dropTimer = setTimeout(() => setRotation(b, false), dropDelayMs);
    }
  };

  const poll = (b: Backend) => {
    void probeReady(b.port, readyPath, pollMs * 5).then((ready) => {
      if (closed || !backends.has(b.port)) return;
      observe(b, ready);
      b.probe = setTimeout(() => poll(b), pollMs);
    });
  };

  const forget = (b: Backend) => {
    if (b.dropTimer) clearTimeout(b.dropTimer);
    if (b.probe) clearTimeout(b.probe);
    backends.delete(b.port);
  };

  const setBackends = (ports: readonly number[]) => {
    for (const b of [...backends.values()]) if (!ports.includes(b.port)) forget(b);
    for (const port of ports) {
      if (backends.has(port)) continue;
      const b: Backend = { port, ready: !service, inRotation: !service, failingSince: undefined, dropTimer: undefined, probe: undefined };
      backends.set(port, b);
      if (service) poll(b);
    }
    changed();
  };

  /** Copies `from` to `to`, with backpressure, holding everything while the proxy is paused. */
  const forward = (from: net.Socket, to: net.Socket) => {
    from.on('data', (d: Buffer) => {
      if (!to.write(d)) {
        from.pause();
        to.once('drain', () => {
          if (!held) from.resume();
        });
      }
    });
    from.on('end', () => to.end());
    from.on('error', () => to.destroy());
    from.on('close', () => to.end());
  };

  const server = net.createServer((client) => {
    const live = rotation();
    const port = live.length ? live[next++ % live.length] : undefined;
    if (port === undefined) {
      failed++;
      client.destroy();
      return;
    }
    counts.set(port, (counts.get(port) ?? 0) + 1);
    const upstream = net.connect(port, '127.0.0.1');
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    if (held) {
      client.pause();
      upstream.pause();
    }
    let connected = false;
    upstream.once('connect', () => (connected = true));
    upstream.once('error', () => {
      // A refused connection: the client's ends without an answer, as to a pod whose port is closed.
      if (!connected) failed++;
      client.destroy();
    });
    forward(client, upstream);
    forward(upstream, client);
    client.once('close', () => pairs.delete(pair));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const proxyPort = typeof address === 'object' && address ? address.port : 0;
  setBackends(o.backends ?? []);

  return {
    port: proxyPort,
    url: `https://127.0.0.1:${proxyPort}`,
    setBackends,
    rotation,
    until(test, timeoutMs = 30_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!test(rotation())) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`proxy rotation did not reach the expected state within ${timeoutMs} ms (now ${JSON.stringify(rotation())})`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    connections: () => new Map(counts),
    failedConnections: () => failed,
    pause() {
      held = true;
      for (const p of pairs) {
        p.client.pause();
        p.upstream.pause();
      }
    },
    resume() {
      held = false;
      for (const p of pairs) {
        p.client.resume();
        p.upstream.resume();
      }
    },
    async close() {
      closed = true;
      for (const b of [...backends.values()]) forget(b);
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
