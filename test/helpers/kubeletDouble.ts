/**
 * A kubelet test double: the kubelet cannot run here, but what the node agent depends on is how it
 * decides a request, and that is reproduced against the real API server of the test control plane.
 *
 * ```ts
 * const kubelet = await startKubeletDouble({ controlPlane: cp, nodeName: 'node-a' });
 * // node agent: host 127.0.0.1, port kubelet.port, kubelet_client_ca = a file holding kubelet.caPem
 * await kubelet.stop();
 * ```
 *
 * Every request on the HTTPS port is decided as a kubelet started with `--anonymous-auth=false
 * --authentication-token-webhook --authorization-mode=Webhook` decides it (pkg/kubelet/server,
 * docs: "Kubelet authentication/authorization"):
 * 1. Authentication. `Authorization: Bearer <token>` (scheme case-insensitive) → a `TokenReview`
 *    (authentication.k8s.io/v1, no audiences: the API server's own) to the API server. A token it does
 *    not authenticate, or a failed review, → `401` with the body `Unauthorized`. No bearer token →
 *    `401 Unauthorized`, or `system:anonymous` (group `system:unauthenticated`) with `anonymousAuth`.
 *    Authenticated users get the group `system:authenticated` added, as the kubelet's authenticator does.
 * 2. Authorization. The HTTP method gives the verb (POST create, GET/HEAD get, PUT update, PATCH patch,
 *    DELETE delete) and the path the subresource of `nodes` named after the node (`KUBELET_SUBRESOURCES`:
 *    /stats → stats, /metrics → metrics, /logs → log, /spec → spec, /checkpoint → checkpoint, anything
 *    else → proxy; with `fineGrainedAuthz` (KubeletFineGrainedAuthz, on by default from 1.33) /pods and
 *    /runningPods are checked as pods then proxy, /healthz as healthz then proxy, /configz as configz
 *    then proxy). One `SubjectAccessReview` (authorization.k8s.io/v1) per candidate, in order, the first
 *    allowed wins. Refused → `403` with the kubelet's text: `Forbidden (user=U, verb=get,
 *    resource=nodes, subresource=proxy)`, or `… subresource(s)=[pods proxy])` with `fineGrainedAuthz`.
 *    A failed review → `500 Authorization error (user=…, verb=…, resource=…, subresource=…)`.
 * 3. Then `GET /pods` answers a v1 `PodList` of the API server's pods whose `spec.nodeName` is
 *    `nodeName`, listed with the admin client at request time (so a pod created just before is there);
 *    `GET /healthz` answers `ok`; anything else `404 page not found`.
 *
 * Unlike a real kubelet, it caches neither reviews (the kubelet caches TokenReviews 2 min, allowed
 * SubjectAccessReviews 5 min, refused ones 30 s), so a test that grants RBAC sees it at once.
 *
 * The ways the seed shows a kubelet failing the node agent, as `mode`:
 * - `tls` (default): as above.
 * - `plain-http`: plain HTTP on the port (the read-only port 10255 where 10250 was meant): the same
 *   routes, without authentication, as the read-only port serves them. A TLS client fails its handshake
 *   (`EPROTO … wrong version number`).
 * - `unknown-ca`: the serving certificate is signed by a CA of its own (as a kubelet's self-signed
 *   certificate is), sent with its chain; `caPem` is still the CA a client is told to trust, so a
 *   verifying client fails with `SELF_SIGNED_CERT_IN_CHAIN`.
 * - `no-token-webhook`: `--authentication-token-webhook` off: no token is ever checked, every request
 *   is `401 Unauthorized` (or `system:anonymous` with `anonymousAuth`, then a 403).
 * - `handshake-eof`: accepts TCP connections and closes each as soon as the ClientHello arrives (the
 *   TLS handshake EOF).
 *
 * Several doubles run side by side as several nodes (each on its own port, each with its node name);
 * give them one `ca` to let one CA file verify them all.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { generateCa, issueServingCertificate, type CertificatePair } from '../../src/certs/index.js';
import type { ControlPlane } from '../harness/controlPlane.js';

export type KubeletDoubleMode = 'tls' | 'plain-http' | 'unknown-ca' | 'no-token-webhook' | 'handshake-eof';

export interface KubeletDoubleOptions {
  /** The control plane whose API server reviews tokens and access and holds the pods (its admin client is used). */
  readonly controlPlane?: ControlPlane;
  /** Or an admin KubeConfig (allowed to create TokenReviews and SubjectAccessReviews and to list pods). */
  readonly kubeConfig?: k8s.KubeConfig;
  /** The node this kubelet runs: its pods are those with this `spec.nodeName`, its authorizer asks about `nodes/<name>`. */
  readonly nodeName: string;
  /** Default `tls`. */
  readonly mode?: KubeletDoubleMode;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default: a free port. */
  readonly port?: number;
  /** `--anonymous-auth`: a request without a bearer token is `system:anonymous` instead of a 401. Default false. */
  readonly anonymousAuth?: boolean;
  /** `--authorization-mode`: `Webhook` (default) or `AlwaysAllow` (every authenticated request allowed). */
  readonly authorization?: 'Webhook' | 'AlwaysAllow';
  /** The `KubeletFineGrainedAuthz` feature gate (default true, as kubelets 1.33+ have it; false: the classic single `proxy` check and text). */
  readonly fineGrainedAuthz?: boolean;
  /** The CA that signs the serving certificate (share one between doubles); default a new one. */
  readonly ca?: CertificatePair;
  /** Misbehaviour: `/pods` lists the pods of every node (as if the address were not a kubelet's). */
  readonly podsOfAllNodes?: boolean;
}

/** One decided request, for tests to look at. */
export interface KubeletDoubleRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** The authenticated user, when there was one. */
  readonly user?: string;
  /** The subresources the authorizer asked about, in order. */
  readonly subresources?: readonly string[];
}

export interface KubeletDouble {
  /** `https://<host>:<port>/pods`: where a node agent reads (also in `plain-http` mode: it is where the kubelet is expected). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly nodeName: string;
  /** The CA a correctly configured client trusts (PEM); in `unknown-ca` mode, not the serving certificate's issuer. */
  readonly caPem: string;
  /** Every request decided so far, oldest first. */
  readonly requests: readonly KubeletDoubleRequest[];
  stop(): Promise<void>;
}

/** The kubelet's path → subresource table (docs: Kubelet authentication/authorization). */
export const KUBELET_SUBRESOURCES: readonly { readonly path: string; readonly subresource: string }[] = [
  { path: '/stats', subresource: 'stats' },
  { path: '/metrics', subresource: 'metrics' },
  { path: '/logs', subresource: 'log' },
  { path: '/spec', subresource: 'spec' },
  { path: '/checkpoint', subresource: 'checkpoint' },
];
/** With `KubeletFineGrainedAuthz`: checked before `proxy`. */
export const KUBELET_FINE_GRAINED_SUBRESOURCES: readonly { readonly path: string; readonly subresource: string }[] = [
  { path: '/pods', subresource: 'pods' },
  { path: '/runningpods', subresource: 'pods' },
  { path: '/healthz', subresource: 'healthz' },
  { path: '/configz', subresource: 'configz' },
];

/** `path` is `prefix` or below it (the kubelet's isSubpath). */
const isSubpath = (path: string, prefix: string): boolean => path === prefix || path.startsWith(`${prefix}/`);

/** The subresources the kubelet's authorizer asks about for `path`, in order. */
export function kubeletSubresources(path: string, fineGrained = false): string[] {
  const out: string[] = [];
  if (fineGrained) {
    const fine = KUBELET_FINE_GRAINED_SUBRESOURCES.find((e) => isSubpath(path, e.path));
    if (fine) out.push(fine.subresource);
  }
  out.push(KUBELET_SUBRESOURCES.find((e) => isSubpath(path, e.path))?.subresource ?? 'proxy');
  return out;
}

/** The kubelet's HTTP method → verb table. */
export function kubeletVerb(method: string): string {
  switch (method) {
    case 'POST':
      return 'create';
    case 'GET':
    case 'HEAD':
      return 'get';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return '';
  }
}

interface UserInfo {
  readonly username: string;
  readonly uid?: string;
  readonly groups: readonly string[];
  readonly extra?: Record<string, string[]>;
}

/** A JSON request to the API server with the admin credentials. */
async function apiRequest(kc: k8s.KubeConfig, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('kubelet double: the kubeconfig names no cluster');
  const opts: https.RequestOptions = { method, headers: { Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}) } };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(path, server), { ...opts, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) });
        } catch {
          reject(new Error(`kubelet double: ${method} ${path} answered ${res.statusCode} and no JSON: ${text.slice(0, 200)}`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`kubelet double: ${method} ${path}: no answer from the API server`)));
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function ok(kc: k8s.KubeConfig, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const r = await apiRequest(kc, method, path, body);
  if (r.status < 200 || r.status >= 300) throw new Error(`kubelet double: ${method} ${path} answered ${r.status}: ${JSON.stringify(r.json).slice(0, 300)}`);
  return r.json as Record<string, unknown>;
}

/** TokenReview: the user, or `undefined` when the API server does not authenticate the token. */
async function reviewToken(kc: k8s.KubeConfig, token: string): Promise<UserInfo | undefined> {
  const review = await ok(kc, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenReview',
    spec: { token },
  });
  const status = (review['status'] ?? {}) as { authenticated?: boolean; user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> } };
  if (!status.authenticated || !status.user?.username) return undefined;
  const groups = status.user.groups ?? [];
  return {
    username: status.user.username,
    ...(status.user.uid ? { uid: status.user.uid } : {}),
    // The kubelet's authenticator adds it, as the API server's does.
    groups: groups.includes('system:authenticated') ? groups : [...groups, 'system:authenticated'],
    ...(status.user.extra ? { extra: status.user.extra } : {}),
  };
}

async function accessAllowed(kc: k8s.KubeConfig, user: UserInfo, verb: string, subresource: string, nodeName: string): Promise<boolean> {
  const review = await ok(kc, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: user.username,
      ...(user.uid ? { uid: user.uid } : {}),
      groups: user.groups,
      ...(user.extra ? { extra: user.extra } : {}),
      resourceAttributes: { namespace: '', verb, group: '', version: 'v1', resource: 'nodes', subresource, name: nodeName },
    },
  });
  return (review['status'] as { allowed?: boolean } | undefined)?.allowed === true;
}

const ANONYMOUS: UserInfo = { username: 'system:anonymous', groups: ['system:unauthenticated'] };

/** The bearer token of a request, as the kubelet's bearer-token authenticator reads it. */
function bearerToken(header: string | undefined): string | undefined {
  const parts = (header ?? '').trim().split(' ');
  if (parts.length < 2 || parts[0]?.toLowerCase() !== 'bearer') return undefined;
  const token = parts[1] ?? '';
  return token === '' ? undefined : token;
}

export async function startKubeletDouble(opts: KubeletDoubleOptions): Promise<KubeletDouble> {
  const kc = opts.kubeConfig ?? opts.controlPlane?.kubeConfig();
  if (!kc) throw new Error('startKubeletDouble: give controlPlane or kubeConfig');
  const mode = opts.mode ?? 'tls';
  const host = opts.host ?? '127.0.0.1';
  const nodeName = opts.nodeName;
  const requests: KubeletDoubleRequest[] = [];
  const ca = opts.ca ?? (await generateCa({ commonName: `kubelet-double-ca-${randomUUID().slice(0, 8)}`, validityHours: 24 }));
  const names = ['localhost', '127.0.0.1', '::1', nodeName];
  if (!names.includes(host)) names.push(host);
  const notAfter = new Date(Date.now() + 24 * 3600_000);

  let serving: { key: string; cert: string };
  if (mode === 'unknown-ca') {
    // What a kubelet without serverTLSBootstrap does: a CA of its own (`<host>-ca@<time>`), sent along.
    const own = await generateCa({ commonName: `${nodeName}-ca@${Math.floor(Date.now() / 1000)}`, validityHours: 24 });
    const pair = await issueServingCertificate({ ca: own, dnsNames: names, notAfter });
    serving = { key: pair.keyPem, cert: pair.certPem + own.certPem };
  } else {
    const pair = await issueServingCertificate({ ca, dnsNames: names, notAfter });
    serving = { key: pair.keyPem, cert: pair.certPem };
  }

  const send = (res: http.ServerResponse, req: http.IncomingMessage, status: number, body: string, type: string, record: Omit<KubeletDoubleRequest, 'method' | 'path' | 'status'> = {}): void => {
    requests.push({ method: req.method ?? '', path: new URL(req.url ?? '/', 'http://x').pathname, status, ...record });
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const text = 'text/plain; charset=utf-8';

  /** The routes behind authentication and authorization (or with none, on the read-only port). */
  async function serve(req: http.IncomingMessage, res: http.ServerResponse, record: Omit<KubeletDoubleRequest, 'method' | 'path' | 'status'>): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/pods' || path === '/pods/') {
      const selector = opts.podsOfAllNodes ? '' : `?fieldSelector=${encodeURIComponent(`spec.nodeName=${nodeName}`)}`;
      const list = await ok(kc!, 'GET', `/api/v1/pods${selector}`);
      const body = JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: list['items'] ?? [] });
      return send(res, req, 200, body, 'application/json', record);
    }
    if (path === '/healthz') return send(res, req, 200, 'ok', text, record);
    send(res, req, 404, '404 page not found\n', text, record);
  }

  async function decide(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // 1. Authentication.
    const token = mode === 'no-token-webhook' ? undefined : bearerToken(req.headers.authorization);
    let user: UserInfo | undefined;
    if (token !== undefined) {
      try {
        user = await reviewToken(kc!, token);
      } catch {
        user = undefined; // "Unable to authenticate the request due to an error" → 401
      }
      if (!user) return send(res, req, 401, 'Unauthorized', text);
    } else if (opts.anonymousAuth) {
      user = ANONYMOUS;
    } else {
      return send(res, req, 401, 'Unauthorized', text);
    }
    // 2. Authorization.
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const verb = kubeletVerb(req.method ?? '');
    const fineGrained = opts.fineGrainedAuthz ?? true;
    const subresources = kubeletSubresources(path, fineGrained);
    const record = { user: user.username, subresources };
    if ((opts.authorization ?? 'Webhook') === 'Webhook') {
      let allowed = false;
      for (const sub of subresources) {
        try {
          allowed = await accessAllowed(kc!, user, verb, sub, nodeName);
        } catch {
          return send(res, req, 500, `Authorization error (user=${user.username}, verb=${verb}, resource=nodes, subresource=${sub})`, text, record);
        }
        if (allowed) break;
      }
      if (!allowed) {
        const what = fineGrained ? `subresource(s)=[${subresources.join(' ')}]` : `subresource=${subresources[subresources.length - 1]}`;
        return send(res, req, 403, `Forbidden (user=${user.username}, verb=${verb}, resource=nodes, ${what})`, text, record);
      }
    }
    await serve(req, res, record);
  }

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const work = mode === 'plain-http' ? serve(req, res, {}) : decide(req, res);
    work.catch((e: unknown) => {
      if (!res.headersSent) send(res, req, 500, `kubelet double: ${(e as Error).message}`, text);
    });
  };

  let server: net.Server;
  const sockets = new Set<net.Socket>();
  if (mode === 'handshake-eof') {
    server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      // The ClientHello arrives; the handshake is cut (the client reads EOF).
      socket.once('data', () => socket.end());
    });
  } else if (mode === 'plain-http') {
    server = http.createServer(handler);
  } else {
    server = https.createServer({ key: serving.key, cert: serving.cert, minVersion: 'TLSv1.2' }, handler);
  }
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let stopped: Promise<void> | undefined;
  return {
    url: `https://${urlHost}:${port}/pods`,
    host,
    port,
    nodeName,
    caPem: ca.certPem,
    requests,
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      })),
  };
}
