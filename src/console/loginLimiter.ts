/**
 * Login attempts per client (issue 20): each client (its remote address) may fail to log in
 * `CONSOLE_LOGIN_MAX_FAILURES` times per `CONSOLE_LOGIN_WINDOW_MS`; then every login from it is answered
 * 429 with `Retry-After` until its window ends, right token or not (a guesser learns nothing more). A
 * successful login does not reset the count: a viewer token does not buy more guesses at the admin one.
 *
 * Bounded in memory: at most `CONSOLE_LOGIN_MAX_CLIENTS` clients are remembered (the oldest window goes
 * first), each a short address and two numbers, so a flood from many addresses costs a fixed few hundred
 * kilobytes; each attempt's body is bounded already (`CONSOLE_LOGIN_BODY_MAX_BYTES`). Pure but for the
 * injected clock.
 */
import { CONSOLE_LOGIN_MAX_CLIENTS, CONSOLE_LOGIN_MAX_FAILURES, CONSOLE_LOGIN_WINDOW_MS } from '../config/limits.js';

export interface LoginLimiterOptions {
  readonly now: () => number;
  readonly maxFailures?: number;
  readonly windowMs?: number;
  readonly maxClients?: number;
}

export interface LoginLimiter {
  /** Undefined: the client may try; else how long (ms) until it may. */
  blockedFor(client: string): number | undefined;
  /** A failed login of `client` (a wrong or missing token). */
  failed(client: string): void;
  readonly size: () => number;
}

/** A client's address as a key: at most 64 characters (an IPv6 address with a zone is under that). */
const keyOf = (client: string): string => client.slice(0, 64);

export function createLoginLimiter(o: LoginLimiterOptions): LoginLimiter {
  const maxFailures = o.maxFailures ?? CONSOLE_LOGIN_MAX_FAILURES;
  const windowMs = o.windowMs ?? CONSOLE_LOGIN_WINDOW_MS;
  const maxClients = o.maxClients ?? CONSOLE_LOGIN_MAX_CLIENTS;
  /** In order of each client's window start (a Map iterates so): the first is the oldest. */
  const clients = new Map<string, { startMs: number; failures: number }>();

  const current = (key: string) => {
    const c = clients.get(key);
    if (c && o.now() - c.startMs >= windowMs) {
      clients.delete(key);
      return undefined;
    }
    return c;
  };

  return {
    blockedFor(client) {
      const c = current(keyOf(client));
      return c && c.failures >= maxFailures ? Math.max(1, c.startMs + windowMs - o.now()) : undefined;
    },
    failed(client) {
      const key = keyOf(client);
      const c = current(key);
      if (c) {
        c.failures++;
        return;
      }
      while (clients.size >= maxClients) clients.delete(clients.keys().next().value as string);
      clients.set(key, { startMs: o.now(), failures: 1 });
    },
    size: () => clients.size,
  };
}
