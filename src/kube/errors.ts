/** What an API call's failure means, read off client-node's errors without leaking request headers. */
import * as k8s from '@kubernetes/client-node';

/** The HTTP status of a failed API call, or undefined when it never got an answer (network, TLS). */
export function apiStatus(e: unknown): number | undefined {
  if (e instanceof k8s.ApiException) return e.code;
  const code = (e as { code?: unknown; statusCode?: unknown } | null)?.statusCode ?? (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Someone else wrote the object since it was read: the caller reads it again and retries. */
export class Conflict extends Error {
  override name = 'Conflict';
}

export const isNotFound = (e: unknown): boolean => apiStatus(e) === 404;
export const isConflict = (e: unknown): boolean => apiStatus(e) === 409;
export const isAlreadyExists = isConflict;

/**
 * One line for logs and messages: the status and the API server's own message (a Status object's
 * `message`), never the request (which carries the bearer token).
 */
export function describeApiError(e: unknown): string {
  if (e instanceof k8s.ApiException) {
    let message = '';
    try {
      const body: unknown = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
      const m = (body as { message?: unknown } | null)?.message;
      if (typeof m === 'string') message = m;
    } catch {
      /* not JSON */
    }
    return `HTTP ${e.code}${message ? `: ${message}` : ''}`;
  }
  return e instanceof Error ? e.message : String(e);
}
