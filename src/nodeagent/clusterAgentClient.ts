/**
 * The node agent's client of the cluster agent API (SPEC §9): bearer token, TLS 1.2+ verified against
 * `cluster_agent.ca_file` (re-read when the mounted ConfigMap changes), and every failure turned into an
 * `UpstreamProblem` that says what happened and what to do, in the words people search for (the first
 * seed): 401 `no session token provided`, 403 `invalid session token`, a token under 32 characters,
 * an unknown CA, a handshake cut short, nothing answering.
 *
 * It never retries by itself: the agent loop owns the schedule (and its backoff).
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import {
  AUTH_TOKEN_MIN_LENGTH,
  CLUSTER_AGENT_CA_CONFIGMAP,
  CLUSTER_AGENT_MAX_ANSWER_BYTES,
  CLUSTER_AGENT_REQUEST_TIMEOUT_MS,
  CLUSTER_AGENT_TOKEN_SECRET,
  CLUSTER_AGENT_TOKEN_SECRET_KEY,
  envVarFor,
  NODE_AGENT_NAME,
  TLS_MIN_VERSION,
} from '../config/index.js';
import { API_PATHS, AUTH_FAILURE_TEXT, type NodePodsAnswer, type PodServicesAnswer, type VersionAnswer } from '../agentapi/types.js';
import { encodeNodeAgentHeader, NODE_AGENT_REPORT_HEADER, type KubeletReport } from '../agentapi/nodeAgentReport.js';
import type { ClusterAgentEndpoint } from './discovery.js';
import { UpstreamError, type UpstreamProblem } from './problems.js';
import { tlsFailure } from './tlsFailure.js';

export interface ClusterAgentClientOptions {
  readonly endpoint: ClusterAgentEndpoint;
  /** `cluster_agent.auth_token`. */
  readonly authToken: string | undefined;
  /** `cluster_agent.tls_verify`. */
  readonly tlsVerify: boolean;
  /** `cluster_agent.ca_file`. */
  readonly caFile: string;
  /** Default `CLUSTER_AGENT_REQUEST_TIMEOUT_MS`. */
  readonly timeoutMs?: number;
}

/** What the node agent asks the cluster agent. Each call rejects with an `UpstreamError`, or an `AbortError` when `signal` aborts. */
export interface ClusterAgentClient {
  readonly url: string;
  version(signal?: AbortSignal): Promise<VersionAnswer>;
  /**
   * The stack's `GET /api/v1/tags/pod/{node}`: the Services selecting each pod of the node. `report`, the
   * node agent's last kubelet result, goes along in `X-Tether-Node-Agent` (agentapi/nodeAgentReport.ts).
   */
  podServices(node: string, signal?: AbortSignal, report?: KubeletReport): Promise<PodServicesAnswer>;
  /** Tether's `GET /api/v1/tether/pods/{node}`: the node's pods with all their tags (`report` as above). */
  nodePods(node: string, signal?: AbortSignal, report?: KubeletReport): Promise<NodePodsAnswer>;
  /** Closes idle keep-alive connections. */
  close(): void;
}

const TOKEN_VAR = envVarFor('cluster_agent.auth_token');
const CA_FILE_VAR = envVarFor('cluster_agent.ca_file');
const TLS_VERIFY_VAR = envVarFor('cluster_agent.tls_verify');
const URL_VAR = envVarFor('cluster_agent.url');
const RESTART_BOTH = `kubectl rollout restart deployment/<cluster agent> and daemonset/${NODE_AGENT_NAME} in their namespace`;

/**
 * The token rule of the cluster agent API, checked before any request. The length is stated (as in the
 * stack's own message, so a search for it finds this); the token itself never is.
 */
export function checkAuthToken(token: string | undefined): UpstreamProblem | undefined {
  if (token === undefined || token === '') {
    return {
      upstream: 'cluster-agent',
      code: 'token-missing',
      summary: `no cluster agent authentication token: ${TOKEN_VAR} (cluster_agent.auth_token) is not set, so the cluster agent is not asked (it would answer 401 "${AUTH_FAILURE_TEXT.missing}").`,
      fix: `Set ${TOKEN_VAR} from the Secret ${CLUSTER_AGENT_TOKEN_SECRET} (key ${CLUSTER_AGENT_TOKEN_SECRET_KEY}), the one the cluster agent reads (deploy/node-agent.yaml).`,
    };
  }
  if (token.length < AUTH_TOKEN_MIN_LENGTH) {
    return {
      upstream: 'cluster-agent',
      code: 'token-too-short',
      summary: `cluster agent authentication token length must be at least ${AUTH_TOKEN_MIN_LENGTH}, currently: ${token.length}; no request was sent.`,
      fix: `Put a token of at least ${AUTH_TOKEN_MIN_LENGTH} characters in the Secret ${CLUSTER_AGENT_TOKEN_SECRET} (key ${CLUSTER_AGENT_TOKEN_SECRET_KEY}), e.g. from \`openssl rand -hex 32\`, then restart both agents (${RESTART_BOTH}).`,
    };
  }
  return undefined;
}

export function createClusterAgentClient(opts: ClusterAgentClientOptions): ClusterAgentClient {
  const base = opts.endpoint.url.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? CLUSTER_AGENT_REQUEST_TIMEOUT_MS;
  // One keep-alive agent per CA bundle: a thousand node agents asking every few seconds should not each
  // cost the cluster agent a handshake per request. A new bundle gets a new agent (and new connections).
  let current: { readonly ca: string | undefined; readonly agent: https.Agent } | undefined;

  const agentFor = async (): Promise<https.Agent> => {
    let ca: string | undefined;
    if (opts.tlsVerify) ca = await readCa(opts.caFile);
    if (current && current.ca === ca) return current.agent;
    current?.agent.destroy();
    const agent = new https.Agent({
      keepAlive: true,
      maxSockets: 2,
      minVersion: TLS_MIN_VERSION,
      rejectUnauthorized: opts.tlsVerify,
      ...(ca !== undefined ? { ca } : {}),
    });
    current = { ca, agent };
    return agent;
  };

  const get = async <T>(path: string, parse: (body: unknown) => T | string, signal: AbortSignal | undefined, report?: KubeletReport): Promise<T> => {
    const tokenProblem = checkAuthToken(opts.authToken);
    if (tokenProblem) throw new UpstreamError(tokenProblem);
    const token = opts.authToken as string;
    signal?.throwIfAborted();
    const agent = await agentFor();
    const url = base + path;
    const headers: Record<string, string> = report ? { [NODE_AGENT_REPORT_HEADER]: encodeNodeAgentHeader(report) } : {};
    const answer = await send(url, { agent, token, headers, servername: opts.endpoint.servername, timeoutMs, signal }, (e) => transportProblem(e, url, opts));
    const excerpt = bodyExcerpt(answer.body, token);
    if (answer.status !== 200) throw new UpstreamError(statusProblem(url, answer.status, excerpt));
    let json: unknown;
    try {
      json = JSON.parse(answer.body);
    } catch {
      throw new UpstreamError(badAnswer(url, 200, `its answer is not JSON: ${excerpt}`));
    }
    const parsed = parse(json);
    if (typeof parsed === 'string') throw new UpstreamError(badAnswer(url, 200, `its answer is not what ${path} returns: ${parsed}`));
    return parsed;
  };

  return {
    url: base,
    version: (signal) => get(API_PATHS.version, parseVersion, signal),
    podServices: (node, signal, report) => get(API_PATHS.podServices(node), (b) => parsePodServices(b, node), signal, report),
    nodePods: (node, signal, report) => get(API_PATHS.nodePods(node), (b) => parseNodePods(b, node), signal, report),
    close: () => current?.agent.destroy(),
  };
}

/** The CA bundle, read on every request (a small file; a ConfigMap volume swaps it by symlink when it changes). */
async function readCa(caFile: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(caFile, 'utf8');
  } catch (e) {
    throw new UpstreamError({
      upstream: 'cluster-agent',
      code: 'tls-unknown-ca',
      summary: `cannot read the cluster agent's CA file ${caFile} (cluster_agent.ca_file): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; nothing was sent.`,
      fix: `Mount the ConfigMap ${CLUSTER_AGENT_CA_CONFIGMAP}, which the cluster agent publishes, at ${dirname(caFile)} (deploy/node-agent.yaml), or point ${CA_FILE_VAR} at the CA bundle.`,
    });
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new UpstreamError({
      upstream: 'cluster-agent',
      code: 'tls-unknown-ca',
      summary: `the cluster agent's CA file ${caFile} (cluster_agent.ca_file) holds no PEM certificate; nothing was sent.`,
      fix: `Mount the ConfigMap ${CLUSTER_AGENT_CA_CONFIGMAP} at ${dirname(caFile)}: it holds the CA the cluster agent API's certificate is signed by.`,
    });
  }
  return text;
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

interface SendOptions {
  readonly agent: https.Agent;
  readonly token: string;
  /** Extra request headers (the node agent's report). */
  readonly headers: Readonly<Record<string, string>>;
  readonly servername: string;
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
}

/** How far a connection got before it failed: what tells "nothing there" from "not TLS" from "not trusted". */
export type ConnectionStage = 'connecting' | 'handshake' | 'established';

export class RequestTimeout extends Error {
  override name = 'RequestTimeout';
}

function send(url: string, o: SendOptions, explain: (e: { error: NodeJS.ErrnoException; stage: ConnectionStage }) => UpstreamProblem, retried = false): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    let stage: ConnectionStage = 'connecting';
    let settled = false;
    const fail = (error: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (o.signal?.aborted) reject(o.signal.reason instanceof Error ? o.signal.reason : new DOMException('aborted', 'AbortError'));
      // A kept-alive connection the server closed just as it was reused: not a failure, ask again once
      // on a new connection (as Node's documentation advises for `reusedSocket`).
      else if (req.reusedSocket && error.code === 'ECONNRESET' && !retried) send(url, o, explain, true).then(resolve, reject);
      else reject(new UpstreamError(explain({ error, stage })));
    };
    const req = https.request(url, {
      method: 'GET',
      agent: o.agent,
      servername: o.servername,
      headers: { ...o.headers, Authorization: `Bearer ${o.token}`, Accept: 'application/json' },
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const timer = setTimeout(() => req.destroy(new RequestTimeout(`no answer within ${o.timeoutMs} ms`)), o.timeoutMs);
    req.on('socket', (socket: Socket) => {
      if (req.reusedSocket) {
        stage = 'established';
        return;
      }
      socket.once('connect', () => {
        if (stage === 'connecting') stage = 'handshake';
      });
      socket.once('secureConnect', () => (stage = 'established'));
    });
    req.on('error', fail);
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > CLUSTER_AGENT_MAX_ANSWER_BYTES) {
          res.destroy();
          fail(Object.assign(new Error(`answer larger than ${CLUSTER_AGENT_MAX_ANSWER_BYTES} bytes`), { code: 'ANSWER_TOO_LARGE' }));
          return;
        }
        chunks.push(c);
      });
      res.on('error', fail);
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end();
  });
}


/** Why a request got no HTTP answer, in the terms of SPEC §9 (pure; exported for tests). */
export function transportProblem(
  e: { error: NodeJS.ErrnoException; stage: ConnectionStage },
  url: string,
  opts: Pick<ClusterAgentClientOptions, 'caFile' | 'endpoint'>,
): UpstreamProblem {
  const { error, stage } = e;
  const code = error.code ?? '';
  const what = describeError(error);
  const base = { upstream: 'cluster-agent' as const };
  const tls = tlsFailure(code, error.message);
  const handshakeEof = `the cluster agent logs "http: TLS handshake error from <this node agent's IP>: EOF" for the same connection`;

  if (tls === 'unknown-ca') {
    return {
      ...base,
      code: 'tls-unknown-ca',
      summary: `the cluster agent's certificate at ${url} is not signed by a CA in ${opts.caFile} (cluster_agent.ca_file): ${what}.`,
      fix: `Mount the current ConfigMap ${CLUSTER_AGENT_CA_CONFIGMAP} at ${dirname(opts.caFile)} (the node agent re-reads it when it changes); check that ${URL_VAR} points at the cluster agent API and not at another TLS server; ${TLS_VERIFY_VAR}=false skips verification (not recommended).`,
    };
  }
  if (tls === 'wrong-name') {
    return {
      ...base,
      code: 'tls-unknown-ca',
      summary: `the cluster agent's certificate at ${url} does not name ${opts.endpoint.servername}: ${what}.`,
      fix: `Reach the cluster agent by its Service: ${URL_VAR}=https://<service>.<namespace>.svc:<port> (its certificate names the Service, not a node or pod address).`,
    };
  }
  if (tls === 'expired' || tls === 'not-yet-valid') {
    return {
      ...base,
      code: 'tls-unknown-ca',
      summary: `the cluster agent's certificate at ${url} is ${tls === 'expired' ? 'expired' : 'not yet valid'}: ${what}.`,
      fix: 'Check the cluster agent renews its API certificate (its logs, `tether diagnose`) and that both nodes have the right time.',
    };
  }
  if (tls === 'not-tls') {
    return {
      ...base,
      code: 'tls-handshake',
      summary: `${url} did not answer in TLS (${what}): that port speaks plain HTTP or another protocol, not the cluster agent API.`,
      fix: `Point ${URL_VAR} (or the Service's targetPort) at the cluster agent API port (cluster_agent.cmd_port, 5005 by default), which is HTTPS only.`,
    };
  }
  if (tls === 'tls-version') {
    return {
      ...base,
      code: 'tls-handshake',
      summary: `TLS handshake with ${url} failed on the protocol version (${what}): the node agent speaks TLS 1.2 or newer only; ${handshakeEof}.`,
      fix: 'Point the node agent at the cluster agent API itself (TLS 1.2+), not at a proxy or an old server offering TLS 1.0/1.1.',
    };
  }
  if (stage === 'handshake' && !(error instanceof RequestTimeout)) {
    return {
      ...base,
      code: 'tls-handshake',
      summary: `${url} accepted the connection and closed it during the TLS handshake (${what}); ${handshakeEof}.`,
      fix: `Check the port: ${URL_VAR} (or the Service's targetPort) must be the cluster agent API port (cluster_agent.cmd_port, 5005 by default), which speaks TLS 1.2+; a proxy or a server offering other TLS versions cuts the handshake the same way.`,
    };
  }
  if (stage === 'handshake') {
    return {
      ...base,
      code: 'tls-handshake',
      summary: `${url} accepted the connection but the TLS handshake did not finish (${what}): a server that is not the cluster agent API, or an overloaded one.`,
      fix: `Check that ${URL_VAR} (or the Service's targetPort) is the cluster agent API port (cluster_agent.cmd_port, 5005 by default) and that the cluster agent is healthy.`,
    };
  }
  const lost = error instanceof RequestTimeout ? 'no answer in time' : stage === 'established' ? 'the connection was lost before the answer' : 'nothing answers there';
  return {
    ...base,
    code: 'unreachable',
    summary: `cannot reach the cluster agent at ${url} (${lost}: ${what}); the last tags are kept and marked stale.`,
    fix: `Check the cluster agent's pods are running and ready and that its Service has endpoints (kubectl get endpoints <service>); the URL came from ${opts.endpoint.foundFrom}.`,
  };
}

/** An error on one line: OpenSSL's messages carry a file name, a line and a newline; the reason is what matters. */
function describeError(error: NodeJS.ErrnoException): string {
  const reason = /SSL routines:[^:]*:([^:]+):/.exec(error.message)?.[1];
  const message = (reason ?? error.message).replace(/\s+/g, ' ').trim();
  return error.code && !message.includes(error.code) ? `${error.code}: ${message}` : message;
}

/** An HTTP status that is not 200, explained (pure; exported for tests). */
export function statusProblem(url: string, status: number, excerpt: string): UpstreamProblem {
  if (status === 401) {
    return {
      upstream: 'cluster-agent',
      code: 'token-missing',
      status,
      summary: `the cluster agent at ${url} answered 401 ${JSON.stringify(excerpt)}: ${excerpt.includes(AUTH_FAILURE_TEXT.missing) ? 'it received no bearer token' : 'it did not take the request’s credentials as a bearer token'}.`,
      fix: `The node agent sends ${TOKEN_VAR} as "Authorization: Bearer …": when it is set, something between the two agents (a proxy, a mesh sidecar) drops the header, so connect to the cluster agent's Service directly.`,
    };
  }
  if (status === 403) {
    return {
      upstream: 'cluster-agent',
      code: 'unauthorized',
      status,
      summary: `the cluster agent at ${url} answered 403 ${JSON.stringify(excerpt)}: this node agent's ${TOKEN_VAR} differs from the cluster agent's token.`,
      fix: `Both must read the same Secret (${CLUSTER_AGENT_TOKEN_SECRET}, key ${CLUSTER_AGENT_TOKEN_SECRET_KEY}); each agent keeps the token it started with, so after the Secret changed restart both (${RESTART_BOTH}).`,
    };
  }
  if (status === 404) {
    return badAnswer(url, status, `not found (${JSON.stringify(excerpt)}): the cluster agent does not serve this path (an older Tether, or another cluster agent)`);
  }
  if (status === 503) {
    // A cluster agent that has just started answers 503 until its watches have listed (clusteragent/api/answers.ts).
    return {
      ...badAnswer(url, status, `503 ${JSON.stringify(excerpt)}: it is not ready to answer (its watches of the API server have not synced yet, or it is shutting down); the tags of its last answer are kept and marked stale`),
      fix: 'Nothing, when it passes within a minute (a cluster agent that just started or is being replaced). Otherwise see the cluster agent’s /readyz and logs: a watch it cannot list (RBAC, API server) is named there.',
    };
  }
  return badAnswer(url, status, `status ${status}: ${JSON.stringify(excerpt)}`);
}

function badAnswer(url: string, status: number, what: string): UpstreamProblem {
  return {
    upstream: 'cluster-agent',
    code: 'bad-answer',
    status,
    summary: `the cluster agent at ${url} answered ${what}.`,
    fix: 'Check the cluster agent’s logs for this request; the node agent and the cluster agent should run the same Tether version.',
  };
}

/** The start of an answer's body on one line, for a message; a token echoed back by a confused server is cut out. */
function bodyExcerpt(body: string, token: string): string {
  return body.split(token).join('[redacted]').slice(0, 200).replace(/\s+/g, ' ').trim();
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `/version`: the three numbers must be there; the strings are optional in older answers. */
export function parseVersion(b: unknown): VersionAnswer | string {
  if (!isObject(b) || typeof b.Major !== 'number' || typeof b.Minor !== 'number' || typeof b.Patch !== 'number') return 'no Major/Minor/Patch numbers';
  const s = (v: unknown) => (typeof v === 'string' ? v : '');
  return { Major: b.Major, Minor: b.Minor, Patch: b.Patch, Pre: s(b.Pre), Meta: s(b.Meta), Commit: s(b.Commit) };
}

/** `/api/v1/tags/pod/{node}`: a node without selected pods may be absent from `Nodes`. */
export function parsePodServices(b: unknown, node: string): PodServicesAnswer | string {
  if (!isObject(b) || !isObject(b.Nodes)) return 'no "Nodes" object';
  const entry = b.Nodes[node];
  if (entry !== undefined) {
    if (!isObject(entry) || !isObject(entry.services)) return `Nodes["${node}"] has no "services" object`;
    for (const [ns, pods] of Object.entries(entry.services)) {
      if (!isObject(pods)) return `services["${ns}"] is not an object`;
      for (const [pod, svcs] of Object.entries(pods)) if (!isObject(svcs)) return `services["${ns}"]["${pod}"] is not an object`;
    }
  }
  const warnings = Array.isArray(b.Warnings) ? b.Warnings.filter((w): w is string => typeof w === 'string') : [];
  return { Nodes: b.Nodes as PodServicesAnswer['Nodes'], Warnings: warnings, Errors: typeof b.Errors === 'string' ? b.Errors : '' };
}

/** `/api/v1/tether/pods/{node}`: every entry checked, since the tags go straight into the node agent's answers. */
export function parseNodePods(b: unknown, node: string): NodePodsAnswer | string {
  if (!isObject(b) || !Array.isArray(b.pods)) return 'no "pods" array';
  if (b.node !== node) return `it is about node ${JSON.stringify(b.node)}, not ${JSON.stringify(node)}`;
  for (const [i, p] of b.pods.entries()) {
    if (!isObject(p) || typeof p.namespace !== 'string' || typeof p.name !== 'string' || typeof p.uid !== 'string') return `pods[${i}] lacks namespace, name or uid`;
    if (!Array.isArray(p.tags) || !p.tags.every((t) => typeof t === 'string')) return `pods[${i}].tags is not a list of strings`;
  }
  return { node, pods: b.pods as NodePodsAnswer['pods'] };
}
