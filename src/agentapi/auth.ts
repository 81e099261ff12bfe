/**
 * Bearer-token authentication of the cluster agent API (SPEC §9), in the stack's words so its node
 * agents and people's searches recognise the answers:
 * - no `Authorization` header (or an empty one, or `Bearer` without a token) → 401
 *   `no session token provided`, with `WWW-Authenticate: Bearer`;
 * - another scheme (`Basic …`) → 401 with `WWW-Authenticate: Bearer`;
 * - several `Authorization` headers → 401: which one counts would be up to the parser (Node keeps the
 *   first and drops the rest), and a proxy may have added one;
 * - a token that differs from `cluster_agent.auth_token` → 403 `invalid session token`.
 * The scheme is case-insensitive (RFC 9110 §11.1); the credentials are everything after the first space,
 * compared exactly (a second space or a trailing newline makes a different token).
 *
 * The comparison hashes both sides with SHA-256 and compares the digests with `timingSafeEqual`, so
 * neither the contents nor the length of the expected token leak through timing. The token is held only
 * as its digest here; no message or log line ever contains a received or expected credential.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AUTH_FAILURE_TEXT } from './types.js';

/** Why a request was refused; the metrics label of `tether_cluster_agent_auth_failures_total`. */
export const AUTH_FAILURE_REASONS = ['missing', 'scheme', 'malformed', 'invalid'] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

export interface AuthFailure {
  readonly status: 401 | 403;
  readonly reason: AuthFailureReason;
  /** The answer's text (no credential in it). */
  readonly message: string;
  /** `WWW-Authenticate` for a 401. */
  readonly challenge?: string;
}

const CHALLENGE = 'Bearer';

export const AUTH_FAILURES: Readonly<Record<AuthFailureReason, AuthFailure>> = {
  missing: { status: 401, reason: 'missing', message: AUTH_FAILURE_TEXT.missing, challenge: CHALLENGE },
  scheme: { status: 401, reason: 'scheme', message: `${AUTH_FAILURE_TEXT.missing}: the Authorization header must use the Bearer scheme`, challenge: CHALLENGE },
  malformed: { status: 401, reason: 'malformed', message: `${AUTH_FAILURE_TEXT.missing}: send exactly one Authorization header`, challenge: `${CHALLENGE} error="invalid_request"` },
  invalid: { status: 403, reason: 'invalid', message: AUTH_FAILURE_TEXT.invalid },
};

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Case-insensitive `Authorization`, without lower-casing every header name. */
function isAuthorizationName(name: string): boolean {
  return name.length === 13 && (name === 'Authorization' || name === 'authorization' || name.toLowerCase() === 'authorization');
}

/** How many `Authorization` headers came (Node keeps only the first in `req.headers`). */
function authorizationCount(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (isAuthorizationName(raw[i] as string)) n++;
  return n;
}

export interface BearerAuth {
  /** Undefined when the request carries the token; otherwise why not. */
  check(req: Pick<IncomingMessage, 'headers' | 'rawHeaders'>): AuthFailure | undefined;
}

/**
 * The bearer credentials of a request, or why there are none (the 401s above). Shared with the
 * console's authentication (console/auth.ts), which accepts a bearer token too.
 */
export function bearerCredentials(req: Pick<IncomingMessage, 'headers' | 'rawHeaders'>): { readonly credentials: string } | AuthFailure {
  const header = req.headers.authorization;
  if (header === undefined) return AUTH_FAILURES.missing;
  if (authorizationCount(req.rawHeaders) > 1) return AUTH_FAILURES.malformed;
  const space = header.indexOf(' ');
  const scheme = space < 0 ? header : header.slice(0, space);
  if (scheme.length === 0 && header.trim() === '') return AUTH_FAILURES.missing;
  if (scheme.length !== 6 || scheme.toLowerCase() !== 'bearer') return AUTH_FAILURES.scheme;
  const credentials = space < 0 ? '' : header.slice(space + 1);
  if (credentials === '') return AUTH_FAILURES.missing;
  return { credentials };
}

/** SHA-256 digests compared in constant time (neither contents nor length leak). */
export const tokenDigest = (s: string): Buffer => sha256(s);
export const sameDigest = (a: Buffer, b: Buffer): boolean => timingSafeEqual(a, b);

/** `token` is `cluster_agent.auth_token`; only its digest is kept. */
export function createBearerAuth(token: string): BearerAuth {
  if (token === '') throw new Error('createBearerAuth: the token is empty');
  const expected = sha256(token);
  return {
    check(req) {
      const bearer = bearerCredentials(req);
      if (!('credentials' in bearer)) return bearer;
      return timingSafeEqual(sha256(bearer.credentials), expected) ? undefined : AUTH_FAILURES.invalid;
    },
  };
}
