/**
 * The console API as the page calls it: typed requests (shapes from src/console/types.ts), errors with
 * the server's own words, and one place that notices a lost session (401) and sends the page back to
 * the login screen. The session lives in an HttpOnly cookie: this code never sees or stores a token.
 */
import { CONSOLE_PATHS, type ConsoleError } from '../../src/console/types.js';

/** An answer of status ≥ 400 (or no answer at all: status 0), with the server's message and code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The API's absolute paths resolved against the page's own address, so a path prefix in front of
 * Tether (kubectl proxy, an ingress) is kept: the page is `<prefix>/console/`, the API `<prefix>/api/…`.
 */
export function apiUrl(path: string): string {
  return new URL(`..${path}`, document.baseURI).toString();
}

/** `path?k=v…`, leaving out empty and undefined values. */
export function withQuery(path: string, params: Readonly<Record<string, string | number | boolean | undefined>>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

let sessionLost: () => void = () => undefined;

/** Called when a request other than login answers 401: the session ended (expired, logged out elsewhere). */
export function onSessionLost(handler: () => void): void {
  sessionLost = handler;
}

export interface RequestOptions {
  readonly method?: 'GET' | 'POST';
  readonly body?: unknown;
  readonly signal?: AbortSignal;
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const { method = 'GET', body, signal } = options;
  let res: Response;
  try {
    res = await fetch(apiUrl(path), {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal ? { signal } : {}),
    });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new ApiError(0, 'unreachable', `The cluster agent did not answer (${e instanceof Error ? e.message : String(e)}).`);
  }
  const text = await res.text();
  if (!res.ok) {
    let error: Partial<ConsoleError> = {};
    try {
      error = JSON.parse(text) as ConsoleError;
    } catch {
      // Not the API's JSON (a proxy's page): the status line says enough.
    }
    if (res.status === 401 && path !== CONSOLE_PATHS.login) sessionLost();
    throw new ApiError(res.status, error.code ?? `http-${res.status}`, error.error ?? (text.trim().slice(0, 200) || `${res.status} ${res.statusText}`));
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

/** The message to show for a failed request. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) return e.status ? `${e.message} (${e.status})` : e.message;
  return e instanceof Error ? e.message : String(e);
}
