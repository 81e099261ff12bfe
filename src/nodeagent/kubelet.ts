/**
 * The node agent's kubelet client: `GET https://<kubernetes_kubelet_host or node name>:<port>/pods`
 * with the pod's service-account token, verifying the kubelet's certificate against
 * `kubelet_client_ca` (default: the service account's `ca.crt`) unless `kubelet_tls_verify` is false.
 *
 * - The token (and the CA) is read from its file again when the copy in memory is older than
 *   `KUBELET_TOKEN_REREAD_MS`: bound service-account tokens rotate, and a token read once at start
 *   expires (after an hour by default, a year with the legacy extension) into the seed's 401.
 * - Only pods whose `spec.nodeName` is this node are kept. A kubelet lists only its own pods, so others
 *   mean the address is not this node's kubelet; they are counted and reported, never returned (the
 *   seed's overview showed every pod on every node).
 * - Every failure is thrown as an `UpstreamError` whose problem says what happened and how to fix it
 *   (`kubeletProblems.ts`). Only an abort of the caller's own signal is thrown as is (its reason).
 * - Pods are returned as compact records: the node agent keeps them in memory and never needs a whole
 *   pod object.
 */
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { KUBELET_MAX_PODLIST_BYTES, KUBELET_REQUEST_TIMEOUT_MS, KUBELET_TOKEN_REREAD_MS, TLS_MIN_VERSION } from '../config/limits.js';
import { SCHEMA, type TetherConfig } from '../config/schema.js';
import { SERVICE_ACCOUNT_DIR } from '../config/conventions.js';
import type { Logger } from '../logging/logger.js';
import { foreignPodsMessage, kubeletProblem, type KubeletFailure, type KubeletTarget } from './kubeletProblems.js';
import { UpstreamError } from './problems.js';

/** A pod as the node agent keeps it: what tags and intake need, nothing more. */
export interface KubeletPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly nodeName: string;
  /** `status.phase` (`Pending`, `Running`...), `''` when the kubelet gave none. */
  readonly phase: string;
  /**
   * `containerID` of every started container, as the kubelet reports it (`containerd://abc…`): regular,
   * init (sidecars send metrics too) and ephemeral containers. Containers not started yet have none.
   */
  readonly containerIds: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly ownerReferences: readonly { readonly kind: string; readonly name: string }[];
  /** `status.podIPs` (else `status.podIP`): where its TCP/UDP data comes from (the intake checks claims against it). */
  readonly podIps?: readonly string[];
  /** `spec.hostNetwork`: its IPs are the node's. */
  readonly hostNetwork?: boolean;
  /** `status.hostIP(s)`: the node's addresses, as this pod sees them. */
  readonly hostIps?: readonly string[];
}

export interface KubeletPods {
  /** The pods of this node. */
  readonly pods: readonly KubeletPod[];
  /** Pods of other nodes the kubelet returned, dropped (0 from a real kubelet). */
  readonly foreign: number;
  /** Some of those pods' nodes (at most `FOREIGN_NODES_SAMPLE`), for the report. */
  readonly foreignNodes: readonly string[];
}

export interface KubeletClient {
  /** `https://host:port/pods`. */
  readonly url: string;
  /**
   * Reads the kubelet's pods. Throws `UpstreamError` on any failure; when `signal` aborts, rejects
   * with its reason instead (the caller stopped, the kubelet did nothing wrong).
   */
  pods(signal?: AbortSignal): Promise<KubeletPods>;
  /** Closes the connection of a request in flight, if any (the agent shuts down). */
  close(): void;
}

export interface KubeletClientOptions {
  /** `kubernetes_kubelet_nodename`: the pods of this node are kept, the kubelet's authorizer checks this name. */
  readonly nodeName: string;
  /** `kubernetes_kubelet_host` (the node's IP from the downward API); default: `nodeName`. */
  readonly host?: string;
  /** `kubernetes_https_kubelet_port`; default 10250. */
  readonly port?: number;
  /** `kubelet_auth_token_path`; default the service account's token. */
  readonly tokenPath?: string;
  /** `kubelet_tls_verify`; default true. */
  readonly tlsVerify?: boolean;
  /** `kubelet_client_ca`; default the service account's `ca.crt`. */
  readonly caFile?: string;
  /** Default `KUBELET_REQUEST_TIMEOUT_MS`. */
  readonly timeoutMs?: number;
  /** Token and CA files are read again when older than this; default `KUBELET_TOKEN_REREAD_MS`. */
  readonly rereadMs?: number;
  /** Milliseconds clock for the re-read (tests). Default `Date.now`. */
  readonly now?: () => number;
  /** Where pods of other nodes are reported (at warn when that changes, then at debug). */
  readonly log?: Logger;
}

/** How many other nodes' names the report of foreign pods lists. */
export const FOREIGN_NODES_SAMPLE = 5;

export const DEFAULT_KUBELET_TOKEN_PATH = join(SERVICE_ACCOUNT_DIR, 'token');
export const DEFAULT_KUBELET_CA_FILE = join(SERVICE_ACCOUNT_DIR, 'ca.crt');

/** The client's options from the configuration keys; throws when `kubernetes_kubelet_nodename` is unset. */
export function kubeletClientOptions(config: TetherConfig, extra: Pick<KubeletClientOptions, 'log' | 'now'> = {}): KubeletClientOptions {
  const nodeName = config.kubernetes_kubelet_nodename;
  if (!nodeName) throw new Error('kubernetes_kubelet_nodename (DD_KUBERNETES_KUBELET_NODENAME) is not set: the node agent must know its node');
  return {
    nodeName,
    ...(config.kubernetes_kubelet_host ? { host: config.kubernetes_kubelet_host } : {}),
    port: config.kubernetes_https_kubelet_port,
    tokenPath: config.kubelet_auth_token_path,
    tlsVerify: config.kubelet_tls_verify,
    ...(config.kubelet_client_ca ? { caFile: config.kubelet_client_ca } : {}),
    ...extra,
  };
}

/** `host` in a URL: IPv6 addresses in brackets. */
const urlHost = (host: string): string => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** One pod of the kubelet's answer as a compact record. */
export function compactPod(item: unknown): KubeletPod {
  const metadata = obj(obj(item)['metadata']);
  const spec = obj(obj(item)['spec']);
  const status = obj(obj(item)['status']);
  const containerIds = ['initContainerStatuses', 'containerStatuses', 'ephemeralContainerStatuses']
    .flatMap((k) => arr(status[k]))
    .map((s) => str(obj(s)['containerID']))
    .filter((id) => id !== '');
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(metadata['labels']))) if (typeof v === 'string') labels[k] = v;
  const ips = (plural: string, single: string): string[] => {
    const list = arr(status[plural]).map((x) => str(obj(x)['ip'])).filter((ip) => ip !== '');
    return list.length > 0 ? list : str(status[single]) !== '' ? [str(status[single])] : [];
  };
  const podIps = ips('podIPs', 'podIP');
  const hostIps = ips('hostIPs', 'hostIP');
  return {
    namespace: str(metadata['namespace']),
    name: str(metadata['name']),
    uid: str(metadata['uid']),
    nodeName: str(spec['nodeName']),
    phase: str(status['phase']),
    containerIds,
    labels,
    ownerReferences: arr(metadata['ownerReferences']).map((r) => ({ kind: str(obj(r)['kind']), name: str(obj(r)['name']) })),
    ...(podIps.length > 0 ? { podIps } : {}),
    ...(spec['hostNetwork'] === true ? { hostNetwork: true } : {}),
    ...(hostIps.length > 0 ? { hostIps } : {}),
  };
}

/** Pure: the answer's pods split into this node's and the others (counted, a few node names kept). */
export function podsOfNode(body: string, nodeName: string): KubeletPods | { error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    return { error: `invalid JSON (${(e as Error).message})` };
  }
  const items = obj(parsed)['items'];
  if (!Array.isArray(items)) return { error: `no "items" list (kind ${JSON.stringify(obj(parsed)['kind'] ?? null)})` };
  const pods: KubeletPod[] = [];
  const others = new Set<string>();
  let foreign = 0;
  for (const item of items) {
    const pod = compactPod(item);
    if (pod.nodeName === nodeName) {
      pods.push(pod);
    } else {
      foreign++;
      if (others.size < FOREIGN_NODES_SAMPLE) others.add(pod.nodeName || '(none)');
    }
  }
  return { pods, foreign, foreignNodes: [...others] };
}

interface Credentials {
  readonly token: string;
  readonly ca?: string;
  readonly readAt: number;
}

/** Header values may not hold control characters; a token file with one is not a token. */
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

export function createKubeletClient(opts: KubeletClientOptions): KubeletClient {
  const now = opts.now ?? Date.now;
  const host = opts.host ?? opts.nodeName;
  const port = opts.port ?? SCHEMA.kubernetes_https_kubelet_port.default;
  const tlsVerify = opts.tlsVerify ?? true;
  const timeoutMs = opts.timeoutMs ?? KUBELET_REQUEST_TIMEOUT_MS;
  const rereadMs = opts.rereadMs ?? KUBELET_TOKEN_REREAD_MS;
  const url = `https://${urlHost(host)}:${port}/pods`;
  const target: KubeletTarget = {
    url,
    nodeName: opts.nodeName,
    tokenPath: opts.tokenPath ?? DEFAULT_KUBELET_TOKEN_PATH,
    caFile: opts.caFile ?? DEFAULT_KUBELET_CA_FILE,
    tlsVerify,
  };
  const fail = (failure: KubeletFailure): UpstreamError => new UpstreamError(kubeletProblem(failure, target));

  let credentials: Credentials | undefined;
  // One agent per CA. No keep-alive: one handshake per poll (seconds apart) costs nothing, verifies
  // the kubelet's current certificate every time, and a kubelet closing an idle connection just as it
  // is reused cannot show up as a failure.
  let agent: https.Agent | undefined;
  let agentCa: string | undefined;
  const secured = new WeakSet<Socket>();
  let lastForeign = '';

  async function readCredentials(): Promise<Credentials> {
    let token: string;
    try {
      token = (await readFile(target.tokenPath, 'utf8')).trim();
    } catch (e) {
      throw fail({ kind: 'token-missing', reason: `cannot read ${target.tokenPath} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` });
    }
    if (token === '') throw fail({ kind: 'token-missing', reason: `${target.tokenPath} is empty` });
    if (!TOKEN_CHARS.test(token)) throw fail({ kind: 'token-missing', reason: `${target.tokenPath} holds characters a bearer token cannot have` });
    if (!tlsVerify) return { token, readAt: now() };
    let ca: string;
    try {
      ca = await readFile(target.caFile, 'utf8');
    } catch (e) {
      throw fail({ kind: 'ca-unreadable', reason: `cannot read ${target.caFile} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` });
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw fail({ kind: 'ca-unreadable', reason: `${target.caFile} holds no PEM certificate` });
    return { token, ca, readAt: now() };
  }

  async function currentCredentials(): Promise<Credentials> {
    if (!credentials || now() - credentials.readAt >= rereadMs) credentials = await readCredentials();
    return credentials;
  }

  function agentFor(ca: string | undefined): https.Agent {
    if (agent && agentCa === ca) return agent;
    agent?.destroy();
    agent = new https.Agent({ keepAlive: false, minVersion: TLS_MIN_VERSION, rejectUnauthorized: tlsVerify, ...(ca ? { ca } : {}) });
    agentCa = ca;
    return agent;
  }

  function get(c: Credentials, signal: AbortSignal | undefined): Promise<{ status: number; body: string }> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let handshakeDone = false;
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        {
          method: 'GET',
          agent: agentFor(c.ca),
          headers: { Authorization: `Bearer ${c.token}`, Accept: 'application/json' },
          signal: combined,
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > KUBELET_MAX_PODLIST_BYTES) {
              res.destroy();
              reject(fail({ kind: 'bad-answer', reason: `more than ${KUBELET_MAX_PODLIST_BYTES} bytes` }));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', onError);
        },
      );
      req.on('socket', (s: Socket) => {
        if (secured.has(s)) {
          handshakeDone = true;
          return;
        }
        s.once('secureConnect', () => {
          secured.add(s);
          handshakeDone = true;
        });
      });
      function onError(e: NodeJS.ErrnoException): void {
        if (signal?.aborted) return reject(signal.reason);
        if (timeout.aborted) return reject(fail({ kind: 'timeout', timeoutMs, handshakeDone }));
        reject(fail({ kind: 'connection', ...(e.code ? { code: e.code } : {}), message: e.message, handshakeDone }));
      }
      req.on('error', onError);
      req.end();
    });
  }

  return {
    url,
    async pods(signal) {
      signal?.throwIfAborted();
      const c = await currentCredentials();
      const { status, body } = await get(c, signal);
      if (status !== 200) throw fail({ kind: 'status', status, body });
      const result = podsOfNode(body, opts.nodeName);
      if ('error' in result) throw fail({ kind: 'bad-answer', reason: result.error });
      if (result.foreign > 0) {
        const message = foreignPodsMessage(opts.nodeName, url, result.foreign, result.pods.length, result.foreignNodes);
        opts.log?.[message === lastForeign ? 'debug' : 'warn']({ upstream: 'kubelet', foreign: result.foreign, kept: result.pods.length }, message);
        lastForeign = message;
      } else {
        lastForeign = '';
      }
      return result;
    },
    close() {
      agent?.destroy();
      agent = undefined;
    },
  };
}
