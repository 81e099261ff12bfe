/** The HTTPS server every Tether endpoint uses (webhook, cluster agent API), with its connection limits. */
import https from 'node:https';
import type { RequestListener } from 'node:http';
import {
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  MAX_CONNECTIONS,
  MAX_HEADERS_COUNT,
  REQUEST_TIMEOUT_MS,
  TIMEOUT_CHECK_INTERVAL_MS,
  TLS_HANDSHAKE_TIMEOUT_MS,
  TLS_MIN_VERSION,
} from '../config/limits.js';

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
