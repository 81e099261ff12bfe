/**
 * The HTTPS servers Tether's endpoints use, with their connection limits: HTTP/1.1 only (the cluster
 * agent API), or HTTP/2 with HTTP/1.1 still accepted (the webhook port, issue 22).
 */
import https from 'node:https';
import http2, { type Http2SecureServer, type Http2ServerResponse } from 'node:http2';
import type { RequestListener, ServerResponse } from 'node:http';
import {
  H2_MAX_CONCURRENT_STREAMS,
  H2_MAX_HEADER_LIST_BYTES,
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  MAX_CONNECTIONS,
  MAX_HEADERS_COUNT,
  REQUEST_TIMEOUT_MS,
  TIMEOUT_CHECK_INTERVAL_MS,
  TLS_HANDSHAKE_TIMEOUT_MS,
  TLS_MIN_VERSION,
} from '../config/limits.js';
import { abortRequest, type AnyRequest } from './body.js';

/** An answer over HTTP/1.1 or HTTP/2. */
export type AnyResponse = ServerResponse | Http2ServerResponse;
/** What both servers call: HTTP/1.1's requests, and HTTP/2's through Node's compatibility API. */
export type AnyRequestListener = (req: AnyRequest, res: AnyResponse) => void;

/** The connection limits of the HTTPS server; the defaults are `config/limits.ts`. */
export interface ServerLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly timeoutCheckIntervalMs: number;
  readonly maxConnections: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  headersTimeoutMs: HEADERS_TIMEOUT_MS,
  requestTimeoutMs: REQUEST_TIMEOUT_MS,
  keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
  handshakeTimeoutMs: TLS_HANDSHAKE_TIMEOUT_MS,
  timeoutCheckIntervalMs: TIMEOUT_CHECK_INTERVAL_MS,
  maxConnections: MAX_CONNECTIONS,
};

/**
 * The HTTPS server with Tether's limits. Without a certificate it accepts no handshake until one is set.
 * `limits` overrides some of them (tests, to see a timeout in a second rather than ten).
 */
export function createHttpsServer(listener: RequestListener, pem?: { certPem: string; keyPem: string }, limits: Partial<ServerLimits> = {}): https.Server {
  const l = { ...DEFAULT_SERVER_LIMITS, ...limits };
  const server = https.createServer(
    {
      minVersion: TLS_MIN_VERSION,
      handshakeTimeout: l.handshakeTimeoutMs,
      headersTimeout: l.headersTimeoutMs,
      requestTimeout: l.requestTimeoutMs,
      keepAliveTimeout: l.keepAliveTimeoutMs,
      connectionsCheckingInterval: l.timeoutCheckIntervalMs,
      ...(pem ? { cert: pem.certPem, key: pem.keyPem } : {}),
    },
    listener,
  );
  server.headersTimeout = l.headersTimeoutMs;
  server.requestTimeout = l.requestTimeoutMs;
  server.keepAliveTimeout = l.keepAliveTimeoutMs;
  server.maxHeadersCount = MAX_HEADERS_COUNT;
  server.maxConnections = l.maxConnections;
  return server;
}

/**
 * The webhook port's server: HTTP/2 when the client offers it in ALPN (`h2`: the API server then sends
 * its reviews as streams of one connection instead of opening more connections under a burst), HTTP/1.1
 * otherwise, with HTTP/1.1's limits exactly as `createHttpsServer` sets them. HTTP/2 has limits of its
 * own: concurrent streams and header bytes per connection (`H2_MAX_CONCURRENT_STREAMS`,
 * `H2_MAX_HEADER_LIST_BYTES`), a whole-review deadline per stream (`requestTimeoutMs`: the stream is
 * reset, the connection's other reviews go on), and idle connections closed after `keepAliveTimeoutMs`.
 */
export function createWebhookTlsServer(listener: AnyRequestListener, pem?: { certPem: string; keyPem: string }, limits: Partial<ServerLimits> = {}): Http2SecureServer {
  const l = { ...DEFAULT_SERVER_LIMITS, ...limits };
  const server = http2.createSecureServer({
    allowHTTP1: true,
    // Nagle off, as Node's HTTP/1.1 servers have it by default and its HTTP/2 server does not: an answer
    // goes out as HEADERS then DATA, and the second write would wait for the client's ACK of the first.
    noDelay: true,
    minVersion: TLS_MIN_VERSION,
    handshakeTimeout: l.handshakeTimeoutMs,
    maxHeaderListPairs: MAX_HEADERS_COUNT,
    settings: { maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS, maxHeaderListSize: H2_MAX_HEADER_LIST_BYTES },
    ...(pem ? { cert: pem.certPem, key: pem.keyPem } : {}),
  });
  // HTTP/1.1 connections are served by Node's HTTP/1.1 server code, which reads these from the server
  // (the http2 server ignores them as options; the checking interval is read when it starts listening).
  const h1 = server as Http2SecureServer & { headersTimeout: number; requestTimeout: number; keepAliveTimeout: number; maxHeadersCount: number; connectionsCheckingInterval: number };
  h1.headersTimeout = l.headersTimeoutMs;
  h1.requestTimeout = l.requestTimeoutMs;
  h1.keepAliveTimeout = l.keepAliveTimeoutMs;
  h1.maxHeadersCount = MAX_HEADERS_COUNT;
  h1.connectionsCheckingInterval = l.timeoutCheckIntervalMs;
  server.maxConnections = l.maxConnections;
  server.on('session', (session) => {
    // No stream activity for this long: the connection is idle (HTTP/1.1's keep-alive timeout).
    session.setTimeout(l.keepAliveTimeoutMs, () => session.close());
  });
  server.on('request', (req: AnyRequest, res: AnyResponse) => {
    if (req.httpVersionMajor !== 2) return;
    // A stream that has not been answered in time (a body trickling in, or never finished) is reset.
    const deadline = setTimeout(() => abortRequest(req), l.requestTimeoutMs);
    res.once('close', () => clearTimeout(deadline));
  });
  server.on('request', listener);
  return server;
}
