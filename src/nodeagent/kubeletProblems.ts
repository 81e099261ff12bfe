/**
 * Every way reading the kubelet's `/pods` can fail, turned into one `UpstreamProblem` with its fix
 * (SPEC §9, the first seed: `unexpected status code 401 on https://<NODE_IP>:10250/pods: Unauthorized`
 * said what, never why nor what to do). Pure: the client (`kubelet.ts`) describes what happened as a
 * `KubeletFailure`, this module explains it.
 *
 * What the kubelet does, which the explanations rely on (kubelet-authn-authz docs, pkg/kubelet/server):
 * - a bearer token is checked by a `TokenReview` only when the kubelet runs with
 *   `--authentication-token-webhook`; a token it cannot authenticate gets `401` with the body
 *   `Unauthorized` (with anonymous auth on and no token authenticator, the request is
 *   `system:anonymous` instead, and gets a 403);
 * - an authenticated request is authorized by a `SubjectAccessReview` for verb (from the HTTP method)
 *   on `nodes/<subresource>` named after the node, `/pods` mapping to `proxy` (and, from Kubernetes
 *   1.33 with `KubeletFineGrainedAuthz`, first to `pods`, then `proxy`); a refusal is a 403 whose body
 *   is `Forbidden (user=U, verb=V, resource=nodes, subresource=proxy)`, or
 *   `… subresource(s)=[pods proxy])` with the fine-grained check.
 */
import { envVarFor, type ConfigKey } from '../config/schema.js';
import type { UpstreamProblem } from './problems.js';
import { tlsFailure } from './tlsFailure.js';
import { kubeletRbacFix } from '../kube/kubeletRbac.js';

/** Where the client was reading, for the evidence and the fix. */
export interface KubeletTarget {
  /** `https://<host>:<port>/pods`. */
  readonly url: string;
  readonly nodeName: string;
  /** `kubelet_auth_token_path`. */
  readonly tokenPath: string;
  /** The CA file the certificate is verified against (`kubelet_client_ca` or the service account's `ca.crt`). */
  readonly caFile: string;
  /** `kubelet_tls_verify`. */
  readonly tlsVerify: boolean;
}

/** What happened, as the client saw it; `kubeletProblem` explains it. */
export type KubeletFailure =
  /** The kubelet answered with a status other than 200. `body` is the start of its answer. */
  | { readonly kind: 'status'; readonly status: number; readonly body: string }
  /**
   * The connection failed. `code` is Node's (`ECONNREFUSED`, `EPROTO`, `DEPTH_ZERO_SELF_SIGNED_CERT`,
   * `ERR_TLS_CERT_ALTNAME_INVALID`...); `handshakeDone` says whether TLS was established before it.
   */
  | { readonly kind: 'connection'; readonly code?: string; readonly message: string; readonly handshakeDone: boolean }
  /** No answer within the request timeout. */
  | { readonly kind: 'timeout'; readonly timeoutMs: number; readonly handshakeDone: boolean }
  /** The token file cannot be read, or is empty. */
  | { readonly kind: 'token-missing'; readonly reason: string }
  /** The CA file cannot be read or holds no certificate. */
  | { readonly kind: 'ca-unreadable'; readonly reason: string }
  /** A 200 whose body is not a pod list. */
  | { readonly kind: 'bad-answer'; readonly reason: string };

/** Nothing listens there, or the name does not resolve, or there is no route. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EHOSTDOWN', 'EADDRNOTAVAIL']);
/** The peer hung up. */
const CUT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** `` `key` (DD_KEY) `` */
const setting = (key: ConfigKey): string => `\`${key}\` (${envVarFor(key)})`;

const MAX_BODY_EVIDENCE = 200;
/** The start of an answer's body on one line, for the evidence (a kubelet's error texts are short). */
export function bodyExcerpt(body: string): string {
  const oneLine = body.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_BODY_EVIDENCE ? `${oneLine.slice(0, MAX_BODY_EVIDENCE)}…` : oneLine;
}

export interface KubeletForbidden {
  readonly user: string;
  readonly verb: string;
  readonly resource: string;
  /** In the order the kubelet asked: `['proxy']`, or `['pods', 'proxy']` with fine-grained authz. */
  readonly subresources: readonly string[];
}

const FORBIDDEN = /Forbidden \(user=(.*?), verb=([^,]*), resource=([^,]*), subresource(?:=([^)\s]*)|\(s\)=\[([^\]]*)\])/;

/** The kubelet's 403 text, parsed; `undefined` when the body is not one (a proxy's 403, say). */
export function parseKubeletForbidden(body: string): KubeletForbidden | undefined {
  const m = FORBIDDEN.exec(body);
  if (!m) return undefined;
  const subresources = m[4] !== undefined ? [m[4]] : (m[5] ?? '').split(/[\s,]+/).filter((s) => s !== '');
  return { user: m[1] ?? '', verb: m[2] ?? '', resource: m[3] ?? '', subresources };
}

/** Subresources as RBAC names them: `nodes/proxy`, `nodes/pods or nodes/proxy`. */
const rbacResources = (f: KubeletForbidden): string => f.subresources.map((s) => `${f.resource}/${s}`).join(' or ') || f.resource;

function forbidden(body: string, t: KubeletTarget): UpstreamProblem {
  const f = parseKubeletForbidden(body);
  const base = { upstream: 'kubelet', code: 'forbidden', status: 403 } as const;
  if (!f) {
    return {
      ...base,
      summary: `the kubelet at ${t.url} answered 403 Forbidden without saying to whom (${bodyExcerpt(body) || 'empty body'}): something in between (a proxy) refused, or the service account lacks RBAC on nodes/pods.`,
      fix: `check that ${setting('kubernetes_kubelet_host')} and ${setting('kubernetes_https_kubelet_port')} reach the kubelet itself, and grant the node agent's service account: ${kubeletRbacFix(undefined)}`,
    };
  }
  const asked = `"${f.verb}" on ${rbacResources(f)} (node ${t.nodeName})`;
  if (f.user === 'system:anonymous') {
    return {
      ...base,
      summary: `the kubelet at ${t.url} treated the request as system:anonymous and refused ${asked}: it did not authenticate the bearer token at all.`,
      fix: `run the kubelet with --authentication-token-webhook (authentication.webhook.enabled: true in its KubeletConfiguration) so that it checks service-account tokens with a TokenReview, and check that ${setting('kubelet_auth_token_path')} is the pod's token (${t.tokenPath}). Do not grant nodes/proxy to system:anonymous.`,
    };
  }
  return {
    ...base,
    summary: `the kubelet at ${t.url} refused ${f.user}: it lacks RBAC permission ${asked}. The token is valid; the permission is missing.`,
    fix: `grant it: ${kubeletRbacFix(f.user, f.verb, !f.subresources.includes('pods'))} (or apply the node agent's RBAC from deploy/).`,
  };
}

function statusProblem(status: number, body: string, t: KubeletTarget): UpstreamProblem {
  if (status === 401) {
    return {
      upstream: 'kubelet',
      code: 'unauthorized',
      status,
      summary: `the kubelet at ${t.url} answered 401 ${bodyExcerpt(body) || 'Unauthorized'}: it did not accept the token read from ${t.tokenPath} (expired, revoked or from another cluster), or it does not check bearer tokens.`,
      fix: `check that ${setting('kubelet_auth_token_path')} is the pod's service-account token (a projected volume; automountServiceAccountToken not false), and that the kubelet runs with --authentication-token-webhook (authentication.webhook.enabled: true in its KubeletConfiguration).`,
    };
  }
  if (status === 403) return forbidden(body, t);
  const excerpt = bodyExcerpt(body);
  const detail = excerpt ? ` (${excerpt})` : '';
  if (status === 500 && /^Authorization error/.test(excerpt)) {
    return {
      upstream: 'kubelet',
      code: 'bad-answer',
      status,
      summary: `the kubelet at ${t.url} could not ask the API server whether the request is allowed${detail}.`,
      fix: 'the kubelet cannot reach the API server or is not allowed to create SubjectAccessReviews: check the kubelet\'s logs and its connection to the control plane.',
    };
  }
  return {
    upstream: 'kubelet',
    code: 'bad-answer',
    status,
    summary: `the kubelet at ${t.url} answered HTTP ${status}${detail}.`,
    fix:
      status === 404
        ? `${setting('kubernetes_kubelet_host')} and ${setting('kubernetes_https_kubelet_port')} must point at the kubelet's HTTPS port (10250), not at another server.`
        : 'retrying; if it persists, check the kubelet\'s logs on that node.',
  };
}

const caFix = (t: KubeletTarget): string =>
  `set ${setting('kubelet_client_ca')} to the CA that signed the kubelet's serving certificate (now ${t.caFile}), or, if the kubelets use self-signed certificates, set \`kubelet_tls_verify: false\` (${envVarFor('kubelet_tls_verify')}=false).`;

/**
 * Node's error message on one line, OpenSSL's internals dropped: `write EPROTO 80…:error:0A00010B:SSL
 * routines:ssl3_get_record:wrong version number:../deps/openssl/…:350:\n` → `SSL: wrong version number`.
 */
export function connectionMessage(message: string): string {
  const ssl = /error:[0-9A-Fa-f]+:SSL routines:[^:]*:([^:]+)/.exec(message);
  return ssl ? `SSL: ${ssl[1]}` : message.replace(/\s+/g, ' ').trim();
}

function connectionProblem(code: string | undefined, rawMessage: string, handshakeDone: boolean, t: KubeletTarget): UpstreamProblem {
  const c = code ?? '';
  const message = connectionMessage(rawMessage);
  const why = c ? `${c}: ${message}` : message;
  const hostPort = `${setting('kubernetes_kubelet_host')} and ${setting('kubernetes_https_kubelet_port')}`;
  const tls = tlsFailure(c, message);
  if (tls === 'unknown-ca') {
    return {
      upstream: 'kubelet',
      code: 'tls-unknown-ca',
      summary: `the kubelet's certificate at ${t.url} is not signed by the CA in ${t.caFile} (${why}).`,
      fix: caFix(t),
    };
  }
  if (tls === 'wrong-name') {
    return {
      upstream: 'kubelet',
      code: 'tls-unknown-ca',
      summary: `the kubelet's certificate at ${t.url} is not for that address (${why}).`,
      fix: `set ${setting('kubernetes_kubelet_host')} to a name or IP the kubelet's certificate holds (the downward API's status.hostIP when the kubelet's certificate has the node IPs), or set \`kubelet_tls_verify: false\` (${envVarFor('kubelet_tls_verify')}=false).`,
    };
  }
  if (tls === 'expired' || tls === 'not-yet-valid') {
    return {
      upstream: 'kubelet',
      code: 'tls-unknown-ca',
      summary: `the kubelet's certificate at ${t.url} is not valid now (${why}).`,
      fix: 'the kubelet did not renew its serving certificate: check its certificate rotation (serverTLSBootstrap, approved CSRs) and the node\'s clock.',
    };
  }
  const wrongProtocol = tls === 'not-tls' || tls === 'tls-version' || c === 'EPROTO' || c.startsWith('ERR_SSL_');
  if (wrongProtocol) {
    return {
      upstream: 'kubelet',
      code: 'tls-handshake',
      summary: `the TLS handshake with ${t.url} failed (${why}): something that does not speak TLS, such as plain HTTP (the kubelet's read-only port 10255), answers on that port.`,
      fix: `point ${hostPort} at the kubelet's HTTPS port (10250).`,
    };
  }
  if (CUT_CODES.has(c) || /socket hang up|disconnected before secure TLS/i.test(message)) {
    if (!handshakeDone) {
      return {
        upstream: 'kubelet',
        code: 'tls-handshake',
        summary: `the TLS handshake with ${t.url} was cut (EOF; ${why}): the server closed the connection before TLS was established.`,
        fix: `check that ${hostPort} name the kubelet's HTTPS port (10250) and not a port of another protocol, and that nothing in between (a network policy, a proxy) cuts TLS connections.`,
      };
    }
    return {
      upstream: 'kubelet',
      code: 'unreachable',
      summary: `the kubelet at ${t.url} closed the connection before answering (${why}).`,
      fix: 'retrying; if it persists, check the kubelet\'s logs on that node.',
    };
  }
  if (UNREACHABLE_CODES.has(c)) {
    const host = new URL(t.url).host;
    return {
      upstream: 'kubelet',
      code: 'unreachable',
      summary: `nothing answers at ${host} (${why}).`,
      fix: `${hostPort} must be the node's kubelet: usually the downward API's status.hostIP (DD_KUBERNETES_KUBELET_HOST from fieldRef status.hostIP) and 10250; check that no network policy blocks the pod from its node.`,
    };
  }
  return {
    upstream: 'kubelet',
    code: 'unreachable',
    summary: `reading ${t.url} failed (${why}).`,
    fix: `check ${hostPort}; retrying.`,
  };
}

/** Explains one failure of `GET /pods`. */
export function kubeletProblem(failure: KubeletFailure, t: KubeletTarget): UpstreamProblem {
  switch (failure.kind) {
    case 'status':
      return statusProblem(failure.status, failure.body, t);
    case 'connection':
      return connectionProblem(failure.code, failure.message, failure.handshakeDone, t);
    case 'timeout':
      return {
        upstream: 'kubelet',
        code: 'unreachable',
        summary: failure.handshakeDone
          ? `the kubelet at ${t.url} accepted the request and did not answer within ${failure.timeoutMs} ms.`
          : `nothing completed a TLS handshake at ${new URL(t.url).host} within ${failure.timeoutMs} ms.`,
        fix: failure.handshakeDone
          ? 'the kubelet is overloaded or stuck: check its logs on that node; retrying.'
          : `check ${setting('kubernetes_kubelet_host')} and ${setting('kubernetes_https_kubelet_port')} (the downward API's status.hostIP and 10250), and that no firewall drops the packets.`,
      };
    case 'token-missing':
      return {
        upstream: 'kubelet',
        code: 'token-missing',
        summary: `no token to show the kubelet: ${failure.reason}.`,
        fix: `mount the pod's service-account token (automountServiceAccountToken: true, or a projected serviceAccountToken volume) and set ${setting('kubelet_auth_token_path')} to its file (now ${t.tokenPath}).`,
      };
    case 'ca-unreadable':
      return {
        upstream: 'kubelet',
        code: 'tls-unknown-ca',
        summary: `cannot verify the kubelet's certificate: ${failure.reason}.`,
        fix: caFix(t),
      };
    case 'bad-answer':
      return {
        upstream: 'kubelet',
        code: 'bad-answer',
        status: 200,
        summary: `the answer of ${t.url} is not a pod list: ${failure.reason}.`,
        fix: `${setting('kubernetes_kubelet_host')} and ${setting('kubernetes_https_kubelet_port')} must point at the kubelet itself (port 10250).`,
      };
  }
}

/**
 * What to say when the kubelet returned pods of other nodes (the seed's overview, where every node
 * showed every pod): they were dropped, and the likely cause. `otherNodes` is a sample of their nodes.
 */
export function foreignPodsMessage(nodeName: string, url: string, foreign: number, kept: number, otherNodes: readonly string[]): string {
  const sample = otherNodes.length > 0 ? ` (nodes ${otherNodes.join(', ')})` : '';
  return (
    `the kubelet at ${url} returned ${foreign} pod${foreign === 1 ? '' : 's'} of other nodes${sample}; kept only the ${kept} of node ${nodeName}. ` +
    `A kubelet lists only its own node's pods: ${setting('kubernetes_kubelet_host')} probably points at something else (a Service, a proxy, another node's kubelet), ` +
    `or ${setting('kubernetes_kubelet_nodename')} is not this node (set it from the downward API's spec.nodeName).`
  );
}
