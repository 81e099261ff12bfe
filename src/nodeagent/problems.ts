/**
 * What went wrong between the node agent and one of its upstreams (its kubelet, the cluster agent), in
 * one shape for the log line, the node agent's status endpoint, `tether status`, `diagnose` and the
 * console: a stable code to match on, the evidence in words, and the fix (SPEC §9, the first seed).
 */
export type Upstream = 'kubelet' | 'cluster-agent';

export type ProblemCode =
  /** 401: the token was not accepted (missing, expired, or the kubelet's webhook authentication is off). */
  | 'unauthorized'
  /** 403: the token is valid, its identity lacks RBAC (kubelet: nodes/proxy or nodes/pods; cluster agent: n/a). */
  | 'forbidden'
  /** The peer's certificate is not signed by the CA we verify with (or has the wrong name). */
  | 'tls-unknown-ca'
  /** Handshake cut (EOF), or plain HTTP answering a TLS client: wrong port or protocol. */
  | 'tls-handshake'
  /** Connection refused, DNS failure, timeout: nothing answers at that address. */
  | 'unreachable'
  /** The configured token is shorter than the 32 characters the cluster agent requires. */
  | 'token-too-short'
  /** No token, or no token file. */
  | 'token-missing'
  /** The node agent cannot tell where the cluster agent is (no URL, no Service variables). */
  | 'endpoint-unknown'
  /** Any other HTTP status or malformed answer. */
  | 'bad-answer';

export interface UpstreamProblem {
  readonly upstream: Upstream;
  readonly code: ProblemCode;
  /** The HTTP status, when there was an answer. */
  readonly status?: number;
  /** What happened, with the evidence (URL, status, identity), never a token. */
  readonly summary: string;
  /** What to do, with the exact setting or `kubectl` command. */
  readonly fix: string;
}

/** Thrown by the upstream clients: the problem, explained. */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
  constructor(readonly problem: UpstreamProblem) {
    super(`${problem.summary} Fix: ${problem.fix}`);
  }
}
