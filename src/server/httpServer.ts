/**
 * HTTP side of the webhook server (SPEC §6): routing, method/content-type/size checks, health, readiness
 * and metrics endpoints, and the HTTPS servers with their limits: HTTP/1.1 only (the cluster agent API),
 * or HTTP/2 with HTTP/1.1 still accepted (the webhook port, issue 22). The admission work itself is
 * `handleAdmission`; this module only decides whether a request gets that far and writes the answer.
 */
import https from 'node:https';
import http2, { type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { WebhookEntry } from '../admission/index.js';
import type { TetherConfig } from '../config/index.js';
import {
  H2_MAX_CONCURRENT_STREAMS,
  H2_MAX_HEADER_LIST_BYTES,
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  MAX_CONNECTIONS,
  MAX_HEADERS_COUNT,
  MAX_REVIEW_BODY_BYTES,
  REQUEST_TIMEOUT_MS,
  TIMEOUT_CHECK_INTERVAL_MS,
  TLS_HANDSHAKE_TIMEOUT_MS,
  TLS_MIN_VERSION,
} from '../config/limits.js';
import type { Logger } from '../logging/logger.js';
import { handleAdmission } from './admissionHandler.js';
import { abortRequest, BodyAborted, BodyTooLarge, closeAfterAnswer, declaredLength, drainBody, readBody, worthDiscarding, type AnyRequest } from './body.js';
import type { FactResolver } from './facts.js';
import type { AdmissionOutcome, ServerMetrics } from './metrics.js';

export interface RequestListenerDeps {
  readonly config: TetherConfig;
  readonly tetherNamespace: string;
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  /** Endpoint path → the entry served there. */
  readonly routes: ReadonlyMap<string, WebhookEntry>;
  /** Whether a certificate is loaded (`/readyz`). */
  readonly isReady: () => boolean;
  /** A shutdown has begun: `/readyz` fails, whatever `isReady` says (the Service must drop this pod). */
  readonly shuttingDown?: () => boolean;
  readonly facts?: FactResolver;
  /** Defaults to `MAX_REVIEW_BODY_BYTES`; smaller in tests. */
  readonly bodyLimit?: number;
  readonly factsBudgetMs?: number;
}

const TEXT = 'text/plain; charset=utf-8';

/** An answer over HTTP/1.1 or HTTP/2. */
type AnyResponse = ServerResponse | Http2ServerResponse;
/** What both servers call: HTTP/1.1's requests, and HTTP/2's through Node's compatibility API. */
export type AnyRequestListener = (req: AnyRequest, res: AnyResponse) => void;

/** `application/json`, with or without parameters (`; charset=utf-8`), in any case. */
export function isJsonContentType(header: string | undefined): boolean {
  return header !== undefined && header.split(';')[0]?.trim().toLowerCase() === 'application/json';
}

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Writes a complete answer. A body we did not read (or not entirely) is first drained when small
 * enough, so the client reads our answer rather than a reset; a larger one gets the answer at once and
 * the connection is closed after it, so one client cannot make us read without end.
 */
async function send(req: AnyRequest, res: AnyResponse, a: Answer, bodyBytesRead = 0): Promise<void> {
  if (!req.complete) {
    if (!worthDiscarding(req, bodyBytesRead)) closeAfterAnswer(req, res);
    else if (!(await drainBody(req, bodyBytesRead))) return;
  }
  if (res.headersSent || gone(res)) return;
  res.writeHead(a.status, {
    'Content-Type': a.contentType ?? TEXT,
    'Content-Length': Buffer.byteLength(a.body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...a.headers,
  });
  res.end(a.body);
}

/** The response can no longer be written (the connection, or the HTTP/2 stream, is gone). */
const gone = (res: AnyResponse): boolean => ('stream' in res ? res.stream.destroyed : res.destroyed);

/** Aborts when the client hangs up before the answer is written (e.g. while facts are being resolved). */
function clientGone(res: AnyResponse): AbortSignal {
  const gone = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  return gone.signal;
}

const text = (status: number, message: string, headers?: Record<string, string>): Answer => ({ status, body: message + '\n', ...(headers ? { headers } : {}) });

export function createRequestListener(deps: RequestListenerDeps): AnyRequestListener {
  const log = deps.logger;
  const limit = deps.bodyLimit ?? MAX_REVIEW_BODY_BYTES;

  async function webhook(entry: WebhookEntry, req: AnyRequest, res: AnyResponse): Promise<void> {
    const kind = entry.id;
    const started = process.hrtime.bigint();
    const done = (outcome: AdmissionOutcome, injections = 0) => {
      deps.metrics.observeRequest(kind, outcome, Number(process.hrtime.bigint() - started) / 1e9);
      deps.metrics.addMutations(kind, injections);
    };
    const reject = async (a: Answer, read = 0): Promise<void> => {
      log.info({ webhook: kind, status: a.status, problem: a.body.trim() }, 'rejected an admission request');
      await send(req, res, a, read);
      done('rejected');
    };

    if (req.method !== 'POST') return reject(text(405, `method ${req.method} not allowed: admission reviews are sent with POST`, { Allow: 'POST' }));
    if (!isJsonContentType(req.headers['content-type'])) {
      const got = req.headers['content-type'] === undefined ? 'none' : JSON.stringify(req.headers['content-type']);
      return reject(text(415, `unsupported Content-Type ${got}: an AdmissionReview is sent as application/json`));
    }
    const declared = declaredLength(req);
    if (declared !== undefined && declared > limit) return reject(text(413, `request body of ${declared} bytes is over the limit of ${limit} bytes`));

    let body: Buffer;
    try {
      body = await readBody(req, limit);
    } catch (e) {
      if (e instanceof BodyTooLarge) return reject(text(413, `request body is over the limit of ${limit} bytes`), limit);
      if (e instanceof BodyAborted) {
        log.info({ webhook: kind, problem: e.message }, 'admission request abandoned by the client');
        abortRequest(req);
        done('rejected');
        return;
      }
      throw e;
    }

    const reply = await handleAdmission(body, entry, {
      config: deps.config,
      tetherNamespace: deps.tetherNamespace,
      logger: log,
      clientGone: () => clientGone(res),
      ...(deps.facts ? { facts: deps.facts } : {}),
      ...(deps.factsBudgetMs !== undefined ? { factsBudgetMs: deps.factsBudgetMs } : {}),
    });
    await send(req, res, { status: reply.status, body: reply.body, contentType: reply.contentType });
    done(reply.outcome, reply.injections);
  }

  async function other(path: string, req: AnyRequest, res: AnyResponse): Promise<void> {
    const handlers: Record<string, () => Promise<Answer> | Answer> = {
      '/healthz': () => text(200, 'ok'),
      '/readyz': () =>
        deps.shuttingDown?.()
          ? text(503, 'not ready: shutting down')
          : deps.isReady()
            ? text(200, 'ok')
            : text(503, 'not ready: no TLS certificate loaded yet'),
      '/metrics': async () => ({ status: 200, body: await deps.metrics.registry.metrics(), contentType: deps.metrics.registry.contentType }),
    };
    const handler = handlers[path];
    if (!handler) return send(req, res, text(404, `no such endpoint: ${path}; webhooks are served at ${[...deps.routes.keys()].join(', ') || '(none enabled)'}`));
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(req, res, text(405, `method ${req.method} not allowed on ${path}`, { Allow: 'GET, HEAD' }));
    await send(req, res, await handler());
  }

  return (req, res) => {
    // The API server adds `?timeout=10s` to webhook URLs: route on the path alone.
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const entry = deps.routes.get(path);
    (entry ? webhook(entry, req, res) : other(path, req, res)).catch((e: unknown) => {
      // Only a bug gets here; the admission path itself fails open. Answer, never crash.
      log.error({ err: e, path }, 'unexpected error while answering a request');
      if (res.headersSent) res.destroy();
      else void send(req, res, text(500, 'internal error')).catch(() => res.destroy());
    });
  };
}

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
  server.on('request', (req: Http2ServerRequest | IncomingMessage, res: Http2ServerResponse | ServerResponse) => {
    if (req.httpVersionMajor !== 2) return;
    // A stream that has not been answered in time (a body trickling in, or never finished) is reset.
    const deadline = setTimeout(() => abortRequest(req), l.requestTimeoutMs);
    res.once('close', () => clearTimeout(deadline));
  });
  server.on('request', listener);
  return server;
}
