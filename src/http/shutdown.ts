/**
 * Graceful shutdown of an HTTP(S) server behind a Kubernetes Service (SPEC §6), in two phases.
 *
 * Grace: the pod is still in the Service's endpoints for a few seconds after SIGTERM, and the API server
 * keeps connecting to it; a closed port then costs every pod created meanwhile its injection. So the
 * server first only says it is going (`/readyz` fails, see `phase()`), keeps accepting and answering,
 * and near the end asks keep-alive clients to hang up (`Connection: close`, see `SHUTDOWN_CLOSE_NOTICE_MS`).
 *
 * Drain: the listener closes, idle connections are closed at once and busy ones as soon as their answer
 * is sent (an admission review cut off mid-way costs the pod its injection, or its creation with
 * failurePolicy Fail), and whatever is left is cut at the drain deadline.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Http2SecureServer, Http2ServerRequest, Http2ServerResponse, ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import { SHUTDOWN_CLOSE_NOTICE_MS } from '../config/limits.js';

/** `serving` → `grace` (not ready, still accepting) → `closing` (listener closed, draining). */
export type ServingPhase = 'serving' | 'grace' | 'closing';

export interface ShutdownOptions {
  /** How long to keep accepting after `shutdown` is called; 0 closes the listener at once. */
  readonly graceMs: number;
  /** Then how long in-flight requests get before their connections are cut. */
  readonly drainMs: number;
  /** Answers in the last this-many ms of the grace period carry `Connection: close`; default `SHUTDOWN_CLOSE_NOTICE_MS`. */
  readonly closeNoticeMs?: number;
  /** Called when the grace period ends, just before the listener closes. */
  readonly onGraceEnd?: () => void;
}

export interface Drainer {
  readonly inFlight: () => number;
  readonly phase: () => ServingPhase;
  /** The listener is closed (or closing): the drain phase. */
  readonly closing: () => boolean;
  /**
   * Grace, then drain (see the module comment). Resolves once every connection is closed. A later
   * `close` ends the grace period at once; calling `shutdown` again returns the same promise.
   */
  shutdown(opts: ShutdownOptions): Promise<void>;
  /**
   * Closes the listener now (ending a grace period) and drains. Resolves once every connection is
   * closed; may be called again with a shorter deadline (0 cuts every connection at once).
   */
  close(drainMs: number): Promise<void>;
}

/**
 * What draining needs of a server, for HTTP/1.1 servers and for the webhook port's HTTP/2 server alike.
 * HTTP/2 connections are sessions: told to go with GOAWAY (`session.close()`: no new streams, the open
 * ones finish), and cut by destroying their sockets.
 */
function connectionsOf(server: Server | Http2SecureServer): { closeIdle(): void; closeAll(): void } {
  if ('closeAllConnections' in server) {
    return { closeIdle: () => server.closeIdleConnections(), closeAll: () => server.closeAllConnections() };
  }
  const h2 = server as Http2SecureServer & { closeIdleConnections?: () => void };
  const sessions = new Set<ServerHttp2Session>();
  const sockets = new Set<Socket>();
  h2.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  h2.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return {
    closeIdle() {
      h2.closeIdleConnections?.(); // HTTP/1.1 connections
      for (const session of sessions) if (!session.closed) session.close();
    },
    closeAll() {
      for (const socket of sockets) socket.destroy();
    },
  };
}

export function trackRequests(server: Server | Http2SecureServer): Drainer {
  let inFlight = 0;
  let phase: ServingPhase = 'serving';
  /** Answers carry `Connection: close` (end of the grace period, and while draining). */
  let hangUp = false;
  let closed: Promise<void> | undefined;
  let shutdownDone: Promise<void> | undefined;
  let endGrace: (() => void) | undefined;

  const connections = connectionsOf(server);
  // Prepended, so it runs before the request handler and can still set headers.
  server.prependListener('request', (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
    inFlight++;
    if (hangUp) {
      // HTTP/2 has no Connection header: GOAWAY says the same (this stream is still answered).
      if (req.httpVersionMajor === 2) (req as Http2ServerRequest).stream.session?.close();
      else res.setHeader('Connection', 'close');
    }
    res.once('close', () => {
      inFlight--;
      // The connection becomes idle only after this tick.
      if (phase === 'closing') setImmediate(() => connections.closeIdle());
    });
  });

  const close = (drainMs: number): Promise<void> => {
    endGrace?.();
    phase = 'closing';
    hangUp = true;
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Node's close() does this too (since 19); explicit, since it is the point: idle keep-alive
      // connections must not keep the process (or the API server's connection pool) hanging on.
      connections.closeIdle();
    });
    if (drainMs <= 0) {
      connections.closeAll();
      return closed;
    }
    // Each call may shorten the deadline (a second signal: stop waiting now).
    const deadline = setTimeout(() => connections.closeAll(), drainMs);
    deadline.unref();
    return closed.finally(() => clearTimeout(deadline));
  };

  return {
    inFlight: () => inFlight,
    phase: () => phase,
    closing: () => phase === 'closing',
    close,
    shutdown(opts) {
      if (shutdownDone) return shutdownDone;
      if (phase === 'closing' || opts.graceMs <= 0) return (shutdownDone = close(opts.drainMs));
      phase = 'grace';
      const notice = opts.closeNoticeMs ?? SHUTDOWN_CLOSE_NOTICE_MS;
      if (opts.graceMs <= notice) hangUp = true;
      const graceOver = new Promise<void>((resolve) => {
        const noticeTimer = hangUp ? undefined : setTimeout(() => (hangUp = true), opts.graceMs - notice);
        const graceTimer = setTimeout(() => endGrace?.(), opts.graceMs);
        endGrace = () => {
          endGrace = undefined;
          if (noticeTimer) clearTimeout(noticeTimer);
          clearTimeout(graceTimer);
          resolve();
        };
      });
      shutdownDone = graceOver.then(() => {
        // Not when `close` cut the grace period short: that caller has said what happens instead.
        if (phase === 'grace') opts.onGraceEnd?.();
        return close(opts.drainMs);
      });
      return shutdownDone;
    },
  };
}
