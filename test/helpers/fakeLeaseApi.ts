/**
 * A loopback stand-in for the API server's Lease endpoints (get, create, replace of one namespace's
 * Leases) with resourceVersion conflicts, and a switch that makes it accept requests and never answer.
 * For tests of the client-node side of `kube/leases.ts`: what goes over the wire, and that an aborted
 * call closes its connection.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import * as k8s from '@kubernetes/client-node';

export interface LeaseApiRequest {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

export interface FakeLeaseApi {
  readonly url: string;
  /** Leases by name, as stored (JSON objects, times as the client sent them). */
  readonly leases: Map<string, Record<string, unknown>>;
  readonly requests: LeaseApiRequest[];
  /** When true, requests are read and never answered. */
  silent: boolean;
  /** Answers every request with this status (and a Status body) instead, when set. */
  failWith: { code: number; message: string } | undefined;
  /** Connections closed by the client while their request was unanswered. */
  abandoned(): number;
  /** Emits 'request' when one has been read, 'abandoned' when the client closed an unanswered one. */
  readonly events: EventEmitter;
  kubeConfig(): k8s.KubeConfig;
  close(): Promise<void>;
}

const status = (code: number, reason: string, message: string) => ({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code });

export async function startFakeLeaseApi(namespace: string): Promise<FakeLeaseApi> {
  const leases = new Map<string, Record<string, unknown>>();
  const requests: LeaseApiRequest[] = [];
  const base = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`;
  let rv = 100;
  let abandoned = 0;
  const sockets = new Set<net.Socket>();

  const api: FakeLeaseApi = {
    url: '',
    leases,
    requests,
    silent: false,
    failWith: undefined,
    abandoned: () => abandoned,
    events: new EventEmitter(),
    kubeConfig() {
      const kc = new k8s.KubeConfig();
      kc.loadFromOptions({
        // Plain HTTP needs skipTLSVerify in client-node.
        clusters: [{ name: 'c', server: api.url, skipTLSVerify: true }],
        users: [{ name: 'u', token: 'token' }],
        contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
        currentContext: 'ctx',
      });
      return kc;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };

  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      requests.push({ method: req.method ?? '', path, body });
      if (api.silent) {
        res.on('close', () => {
          if (res.writableEnded) return;
          abandoned++;
          api.events.emit('abandoned');
        });
        api.events.emit('request');
        return;
      }
      const send = (code: number, o: unknown) => res.writeHead(code, { 'Content-Type': 'application/json' }).end(JSON.stringify(o));
      if (api.failWith) return send(api.failWith.code, status(api.failWith.code, 'Failure', api.failWith.message));
      const name = path.startsWith(`${base}/`) ? path.slice(base.length + 1) : undefined;
      const stored = name ? leases.get(name) : undefined;
      const store = (n: string, o: Record<string, unknown>) => {
        const metadata = { ...(o['metadata'] as object), name: n, namespace, resourceVersion: String(++rv) };
        const saved = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...o, metadata };
        leases.set(n, saved);
        return saved;
      };
      if (req.method === 'GET' && name) return stored ? send(200, stored) : send(404, status(404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`));
      const object = JSON.parse(body || '{}') as Record<string, unknown>;
      const meta = (object['metadata'] ?? {}) as { name?: string; resourceVersion?: string };
      if (req.method === 'POST' && path === base) {
        const n = meta.name ?? '';
        if (leases.has(n)) return send(409, status(409, 'AlreadyExists', `leases.coordination.k8s.io "${n}" already exists`));
        return send(201, store(n, object));
      }
      if (req.method === 'PUT' && name) {
        if (!stored) return send(404, status(404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`));
        const current = (stored['metadata'] as { resourceVersion: string }).resourceVersion;
        if (meta.resourceVersion !== current) {
          return send(409, status(409, 'Conflict', `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`));
        }
        return send(200, store(name, object));
      }
      send(405, status(405, 'MethodNotAllowed', `${req.method} ${path}`));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  (api as { url: string }).url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return api;
}
