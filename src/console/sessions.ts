/**
 * Console sessions (issue 12): a login makes a random session id (32 bytes, base64url), kept in memory
 * with its role and expiry; the browser holds only that id, in an HttpOnly cookie, never a token.
 * Sessions end at their expiry (checked on every use, with the injected clock), at logout, or when their
 * role's table is full (the oldest of that role first: `max` per role, so viewer logins never end an
 * admin's session), and whoever listens (the event streams) is told.
 *
 * Per process: a session made on one replica is unknown to another (the console is one replica's page;
 * behind a Service with several replicas, log in again or pin the session with sessionAffinity).
 */
import { randomBytes } from 'node:crypto';
import { CONSOLE_MAX_SESSIONS, CONSOLE_SESSION_TTL_MS } from '../config/limits.js';
import type { ConsoleRole } from './types.js';

export interface Session {
  readonly id: string;
  readonly role: ConsoleRole;
  readonly expiresAtMs: number;
}

export type SessionEndReason = 'logout' | 'expired';

export interface SessionStore {
  create(role: ConsoleRole): Session;
  /** The live session of that id; undefined when unknown, ended or expired (an expired one is ended now). */
  get(id: string): Session | undefined;
  /** Ends it (logout); false when there was none. */
  end(id: string, reason?: SessionEndReason): boolean;
  /** Ends every expired session (a timer calls it; `get` checks on its own). */
  sweep(): void;
  onEnd(listener: (id: string, reason: SessionEndReason) => void): () => void;
  readonly size: () => number;
}

export interface SessionStoreOptions {
  readonly now?: () => number;
  readonly ttlMs?: number;
  /** Per role. */
  readonly max?: number;
  /** Tests: deterministic ids. */
  readonly newId?: () => string;
}

export function createSessionStore(opts: SessionStoreOptions = {}): SessionStore {
  const now = opts.now ?? Date.now;
  const ttl = opts.ttlMs ?? CONSOLE_SESSION_TTL_MS;
  const max = opts.max ?? CONSOLE_MAX_SESSIONS;
  const newId = opts.newId ?? (() => randomBytes(32).toString('base64url'));
  /** Every live session by id, and each role's ids in creation order (a Set iterates so: the first is the oldest). */
  const sessions = new Map<string, Session>();
  const byRole = new Map<ConsoleRole, Set<string>>();
  const idsOf = (role: ConsoleRole): Set<string> => {
    let ids = byRole.get(role);
    if (!ids) byRole.set(role, (ids = new Set()));
    return ids;
  };
  const listeners = new Set<(id: string, reason: SessionEndReason) => void>();

  const end = (id: string, reason: SessionEndReason): boolean => {
    const s = sessions.get(id);
    if (!s) return false;
    sessions.delete(id);
    idsOf(s.role).delete(id);
    for (const l of listeners) l(id, reason);
    return true;
  };

  return {
    create(role) {
      const ids = idsOf(role);
      while (ids.size >= max) end(ids.values().next().value as string, 'expired');
      const s: Session = Object.freeze({ id: newId(), role, expiresAtMs: now() + ttl });
      sessions.set(s.id, s);
      ids.add(s.id);
      return s;
    },
    get(id) {
      const s = sessions.get(id);
      if (!s) return undefined;
      if (now() >= s.expiresAtMs) {
        end(id, 'expired');
        return undefined;
      }
      return s;
    },
    end: (id, reason = 'logout') => end(id, reason),
    sweep() {
      const t = now();
      for (const [id, s] of sessions) if (t >= s.expiresAtMs) end(id, 'expired');
    },
    onEnd(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    size: () => sessions.size,
  };
}
