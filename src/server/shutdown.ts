/**
 * Graceful shutdown of an HTTP(S) server: stop accepting, let in-flight requests finish (an admission
 * review cut off mid-way costs the pod its injection, or its creation with failurePolicy Fail), close
 * idle keep-alive connections at once and busy ones as soon as their answer is sent, and cut whatever
 * is left at the drain deadline.
 */
import type { Server } from 'node:http';

export interface Drainer {
  readonly inFlight: () => number;
  readonly closing: () => boolean;
  /** Resolves once every connection is closed; may be called again with a shorter deadline. */
  close(drainMs: number): Promise<void>;
}

export function trackRequests(server: Server): Drainer {
  let inFlight = 0;
  let closing = false;
  let closed: Promise<void> | undefined;

  // Prepended, so it runs before the request handler and can still set headers.
  server.prependListener('request', (_req, res) => {
    inFlight++;
    if (closing) res.setHeader('Connection', 'close');
    res.once('close', () => {
      inFlight--;
      // The connection becomes idle only after this tick.
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
  });

  return {
    inFlight: () => inFlight,
    closing: () => closing,
    close(drainMs) {
      closing = true;
      // Each call may shorten the deadline (a second SIGTERM: stop waiting now).
      const deadline = setTimeout(() => server.closeAllConnections(), drainMs);
      deadline.unref();
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return closed.finally(() => clearTimeout(deadline));
    },
  };
}
