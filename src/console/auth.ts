/**
 * Who may use the console API (issue 12), with the cluster agent API's rules (agentapi/auth.ts):
 * - a session cookie (`CONSOLE_SESSION_COOKIE`) of a live session, made by `POST login`;
 * - or `Authorization: Bearer <token>`, as the rest of the API (curl, tests);
 * - nothing → 401 `no session token provided` (`WWW-Authenticate: Bearer`); a cookie of an ended or
 *   expired session → 401 too (log in again); a wrong token (bearer, or at login) → 403
 *   `invalid session token`.
 * Tokens: the console admin token (`admin`: `cluster_agent.console.admin_token`, never the token node
 * agents hold; `tether console`'s one-time token) and the viewer token (`viewer`), both optional. Both
 * are held as SHA-256 digests only (one nobody knows stands in for an absent one) and a presented token
 * is compared with both, always, in constant time; no message, log line or cookie ever contains a token.
 */
import type { IncomingMessage } from 'node:http';
import { AUTH_FAILURES, bearerCredentials, sameDigest, tokenDigest, type AuthFailure } from '../agentapi/auth.js';
import { randomBytes } from 'node:crypto';
import type { Session, SessionStore } from './sessions.js';
import { CONSOLE_API_PREFIX, CONSOLE_AUTH_TEXT, CONSOLE_SESSION_COOKIE, type ConsoleRole } from './types.js';

export interface ConsoleAuthFailure extends AuthFailure {
  /** `ConsoleError.code`: the AuthFailure reason, or `expired` for a cookie of no live session. */
  readonly code: string;
}

export type ConsoleAuthResult = { readonly role: ConsoleRole; readonly session?: Session } | { readonly failure: ConsoleAuthFailure };

export interface ConsoleAuth {
  /** The role a token gives, or undefined; compared with both tokens in constant time. */
  tokenRole(token: string): ConsoleRole | undefined;
  authenticate(req: Pick<IncomingMessage, 'headers' | 'rawHeaders'>): ConsoleAuthResult;
}

export const EXPIRED_FAILURE: ConsoleAuthFailure = {
  status: 401,
  reason: 'missing',
  code: 'expired',
  message: `${CONSOLE_AUTH_TEXT.missing}: the console session has ended or expired; log in again`,
  challenge: 'Bearer',
};

const withCode = (f: AuthFailure): ConsoleAuthFailure => ({ ...f, code: f.reason });
export const INVALID_FAILURE = withCode(AUTH_FAILURES.invalid);
export const MISSING_FAILURE = withCode(AUTH_FAILURES.missing);

/** The value of cookie `name` in a `Cookie` header (the first, as browsers send the most specific first). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The session cookie: HttpOnly (no script reads it), Secure, SameSite=Strict (no cross-site request
 * carries it), scoped to the console API's path, living as long as the session.
 */
export function sessionCookie(id: string, maxAgeS: number): string {
  return `${CONSOLE_SESSION_COOKIE}=${id}; Path=${CONSOLE_API_PREFIX}; Max-Age=${Math.max(0, Math.floor(maxAgeS))}; HttpOnly; Secure; SameSite=Strict`;
}
export const clearedSessionCookie = (): string => sessionCookie('', 0);

export function createConsoleAuth(opts: { readonly adminToken?: string | undefined; readonly viewerToken?: string | undefined; readonly sessions: SessionStore }): ConsoleAuth {
  // Without a token, a random one nobody knows: the comparison costs the same either way.
  const unknown = () => randomBytes(32).toString('hex');
  const admin = tokenDigest(opts.adminToken || unknown());
  const viewer = tokenDigest(opts.viewerToken || unknown());
  const tokenRole = (token: string): ConsoleRole | undefined => {
    const d = tokenDigest(token);
    const isAdmin = sameDigest(d, admin);
    const isViewer = sameDigest(d, viewer);
    return isAdmin ? 'admin' : isViewer ? 'viewer' : undefined;
  };
  return {
    tokenRole,
    authenticate(req) {
      if (req.headers.authorization !== undefined) {
        const bearer = bearerCredentials(req);
        if (!('credentials' in bearer)) return { failure: withCode(bearer) };
        const role = tokenRole(bearer.credentials);
        return role ? { role } : { failure: INVALID_FAILURE };
      }
      const id = cookieValue(req.headers.cookie, CONSOLE_SESSION_COOKIE);
      if (id === undefined || id === '') return { failure: MISSING_FAILURE };
      const session = opts.sessions.get(id);
      return session ? { role: session.role, session } : { failure: EXPIRED_FAILURE };
    },
  };
}
