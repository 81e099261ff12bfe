/**
 * The node agent's trace receiver (SPEC §10): what injected pods' tracers send to `DD_AGENT_HOST:8126`
 * or `DD_TRACE_AGENT_URL=unix:///var/run/datadog/apm.socket`. One HTTP handler behind two listeners:
 * TCP `apm_config.receiver_port` (127.0.0.1 only unless `apm_config.apm_non_local_traffic`) and the Unix
 * stream socket `apm_config.receiver_socket`.
 *
 * - `PUT`/`POST /v0.4/traces`, `/v0.5/traces` (and `/v0.3/traces`, msgpack): the body is read under
 *   `TRACE_MAX_PAYLOAD_BYTES` (413 by `Content-Length` before reading, or while streaming), decoded
 *   (400 naming the trace, span and field when it is not a trace payload; 413 past the decode limits),
 *   handed to `onPayload` with its origin headers, and answered with the sampling rates tracers read.
 *   `/v0.7/traces` (the tracer payload with chunks) likewise. The answer's rates come from the priority
 *   sampler (`rates`), and each payload carries its connection's peer (`sender`: address or Unix peer pid)
 *   for the attestation of its origin.
 * - `/v0.6/stats`, `/telemetry/proxy`, `/evp_proxy`, `/profiling`: accepted and dropped (`dropped.ts`).
 * - `GET /info`: what this receiver serves, so tracers pick v0.4/v0.5/v0.7 and nothing it lacks.
 * - Bodies being read or decoded hold at most `TRACE_MAX_INFLIGHT_BYTES` together: a payload that
 *   would pass that is answered 429 unread, as the agent answers when its decoders are all busy (the
 *   node agent cannot keep up; the tracer drops the payload and counts it).
 * - A sink that is full (`onPayload` returns false: the exporter's queue is full because the backend
 *   is slow or down) is not the tracer's problem: the payload is answered 200 and dropped, counted
 *   `sink_full`. Answering 429 there would only make every tracer log an error every flush for as long
 *   as the backend is down, and resend nothing (tracers do not retry), for the same loss; the agent
 *   behaves the same when its own sender queue is full.
 * Nothing a client sends can make it throw: every refusal is an answer and a counter, with one log
 * line per reason per `TRACE_REJECT_LOG_INTERVAL_MS`.
 */
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import {
  HEADERS_TIMEOUT_MS,
  MAX_HEADERS_COUNT,
  REQUEST_TIMEOUT_MS,
  SHUTDOWN_DRAIN_MS,
  TIMEOUT_CHECK_INTERVAL_MS,
  TRACE_MAX_INFLIGHT_BYTES,
  TRACE_MAX_PAYLOAD_BYTES,
  TRACE_REJECT_LOG_INTERVAL_MS,
  TRACE_SOCKET_MODE,
  type TetherConfig,
} from '../../../config/index.js';
import { packageVersion } from '../../../clusteragent/api/version.js';
import type { Logger } from '../../../logging/logger.js';
import { declaredLength, drainBody, worthDiscarding } from '../../../server/body.js';
import { IPV6_ANY, listenOn } from '../../../server/listen.js';
import { trackRequests, type Drainer } from '../../../server/shutdown.js';
import type { TracePayload } from '../types.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits, type DecodeResult } from './decodeCommon.js';
import { decodeV04 } from './decode04.js';
import { decodeV05 } from './decode05.js';
import { decodeV07 } from './decode07.js';
import { DROPPED_PATHS, droppedEndpointOf, type DroppedEndpoints } from './dropped.js';
import { infoBody, RATE_BY_SERVICE_BODY, TRACE_PATHS } from './info.js';
import type { TraceEndpoint, TraceReceiverMetrics, TraceRejectReason } from './metrics.js';
import { declaredTraceCount, originFromHeaders, tracerFromHeaders } from './origin.js';
import { senderOf } from '../attest/sender.js';

/** Where the TCP receiver listens without `apm_config.apm_non_local_traffic`: this host only, as the agent. */
export const TRACE_LOCAL_HOST = '127.0.0.1';

export type TraceReceiverConfig = Pick<TetherConfig, 'apm_config.receiver_port' | 'apm_config.apm_non_local_traffic' | 'apm_config.receiver_socket'>;

/**
 * Takes one decoded payload. Returns `false` when it cannot (its queue is full): the payload is then
 * dropped and counted `sink_full`. Called synchronously; it must not block.
 */
export type TracePayloadSink = (payload: TracePayload) => boolean | void;

export interface TraceReceiverOptions {
  readonly config: TraceReceiverConfig;
  readonly logger: Logger;
  readonly metrics: TraceReceiverMetrics;
  readonly onPayload: TracePayloadSink;
  /** Overrides for tests: the TCP host (default from `apm_non_local_traffic`), sizes, decode limits, the clock of the log limiter. */
  readonly host?: string;
  /** The TCP port, over `apm_config.receiver_port` (where 0 means no TCP receiver); here 0 picks a free port. */
  readonly listenPort?: number;
  readonly maxPayloadBytes?: number;
  readonly maxInflightBytes?: number;
  readonly decodeLimits?: DecodeLimits;
  /** Reported by `/info` (default: package.json's). */
  readonly version?: string;
  /** The `rate_by_service` body a payload is answered with (the priority sampler's); default: every rate 1. */
  readonly rates?: () => string;
  /** Where `/v0.6/stats`, `/telemetry/proxy`, `/evp_proxy`, `/profiling` go (accepted and dropped); without it, 404. */
  readonly dropped?: DroppedEndpoints;
  readonly now?: () => number;
}

export interface TraceReceiverAddress {
  /** The TCP listener, when `apm_config.receiver_port` is not 0. */
  readonly tcp?: { readonly host: string; readonly port: number };
  /** The Unix socket's path, when `apm_config.receiver_socket` is set. */
  readonly socket?: string;
}

export interface TraceReceiver {
  /** Listens on TCP and the Unix socket; rejects (having closed whatever it opened) when either cannot be bound. */
  start(): Promise<void>;
  /** Stops accepting, lets requests in flight finish (up to `SHUTDOWN_DRAIN_MS`), removes the socket file. */
  stop(): Promise<void>;
  address(): TraceReceiverAddress;
}

/** Bytes held by bodies being read or decoded, shared by every connection. */
export class InflightBudget {
  used = 0;
  constructor(readonly max: number) {}
  take(n: number): boolean {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }
  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
}

type Route = { kind: 'traces'; endpoint: TraceEndpoint } | { kind: 'info' } | { kind: 'none' };

function route(path: string): Route {
  switch (path) {
    case TRACE_PATHS.v04:
      return { kind: 'traces', endpoint: 'v0.4' };
    case TRACE_PATHS.v05:
      return { kind: 'traces', endpoint: 'v0.5' };
    case TRACE_PATHS.v03:
      return { kind: 'traces', endpoint: 'v0.3' };
    case TRACE_PATHS.v07:
      return { kind: 'traces', endpoint: 'v0.7' };
    case TRACE_PATHS.info:
      return { kind: 'info' };
    default:
      return { kind: 'none' };
  }
}

const DECODERS: Record<TraceEndpoint, (b: Buffer, l: DecodeLimits) => DecodeResult> = { 'v0.3': decodeV04, 'v0.4': decodeV04, 'v0.5': decodeV05, 'v0.7': decodeV07 };

/** Body read outcome. */
type Read = { ok: true; body: Buffer } | { ok: false; why: 'too_large' | 'busy' | 'aborted'; read: number };

/**
 * Reads a body under `max`, taking its bytes from `budget` (all of `Content-Length` up front, or chunk by
 * chunk when chunked). The caller gives back `held` bytes once the body is decoded.
 */
function readBody(req: IncomingMessage, max: number, budget: InflightBudget, declared: number | undefined): Promise<Read & { held: number }> {
  return new Promise((resolve) => {
    let held = 0;
    if (declared !== undefined) {
      if (!budget.take(declared)) {
        resolve({ ok: false, why: 'busy', read: 0, held: 0 });
        return;
      }
      held = declared;
    }
    const fixed = declared !== undefined ? Buffer.allocUnsafe(declared) : undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (r: Read) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('close', onClose);
      if (!r.ok) {
        budget.give(held);
        held = 0;
      }
      resolve({ ...r, held });
    };
    const onData = (chunk: Buffer) => {
      const next = size + chunk.length;
      if (next > max || (declared !== undefined && next > declared)) {
        finish({ ok: false, why: 'too_large', read: next });
        return;
      }
      if (fixed) chunk.copy(fixed, size);
      else {
        if (!budget.take(chunk.length)) {
          finish({ ok: false, why: 'busy', read: next });
          return;
        }
        held += chunk.length;
        chunks.push(chunk);
      }
      size = next;
    };
    const onEnd = () => {
      if (fixed) finish({ ok: true, body: size === fixed.length ? fixed : fixed.subarray(0, size) });
      else finish({ ok: true, body: Buffer.concat(chunks, size) });
    };
    const onAbort = () => finish({ ok: false, why: 'aborted', read: size });
    const onClose = () => {
      if (!req.complete) onAbort();
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('close', onClose);
  });
}

/** Logs a refusal once per reason per interval, with how many were not logged since. */
function rejectLogger(logger: Logger, now: () => number) {
  const last = new Map<TraceRejectReason, { at: number; suppressed: number }>();
  return (reason: TraceRejectReason, fields: Record<string, unknown>, message: string) => {
    const t = now();
    const seen = last.get(reason);
    if (seen && t - seen.at < TRACE_REJECT_LOG_INTERVAL_MS) {
      seen.suppressed++;
      return;
    }
    const suppressed = seen?.suppressed ?? 0;
    last.set(reason, { at: t, suppressed: 0 });
    const level = reason === 'sink_error' ? 'error' : 'warn';
    logger[level]({ reason, ...fields, ...(suppressed > 0 ? { notLoggedSinceLast: suppressed } : {}) }, message);
  };
}

/** The request listener both servers share (exported for tests that drive it without sockets). */
export function traceRequestListener(opts: TraceReceiverOptions & { info: () => string }) {
  const maxPayload = opts.maxPayloadBytes ?? TRACE_MAX_PAYLOAD_BYTES;
  const budget = new InflightBudget(opts.maxInflightBytes ?? TRACE_MAX_INFLIGHT_BYTES);
  const limits = opts.decodeLimits ?? DEFAULT_DECODE_LIMITS;
  const logReject = rejectLogger(opts.logger, opts.now ?? Date.now);

  const answer = (res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8', extra: Record<string, string> = {}) => {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra }).end(body);
  };

  /** Answers a refused payload after draining what is left of its body (so the tracer reads our status, not a reset). */
  const refuse = async (req: IncomingMessage, res: ServerResponse, status: number, reason: TraceRejectReason, message: string, read: number, fields: Record<string, unknown>) => {
    opts.metrics.rejected(reason, declaredTraceCount(req.headers) ?? 0);
    logReject(reason, { status, ...fields }, message);
    if (reason === 'aborted') return;
    if (!req.readableEnded && worthDiscarding(req, read)) {
      const drained = await drainBody(req, read);
      if (!drained) return;
      answer(res, status, message + '\n');
      return;
    }
    answer(res, status, message + '\n', undefined, req.readableEnded ? {} : { Connection: 'close' });
  };

  const traces = async (req: IncomingMessage, res: ServerResponse, endpoint: TraceEndpoint) => {
    const fields = { endpoint, lang: req.headers['datadog-meta-lang'], remote: req.socket.remoteAddress ?? 'unix socket' };
    if (/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      await refuse(req, res, 415, 'unsupported', 'this receiver takes msgpack trace payloads only (Content-Type: application/msgpack)', 0, fields);
      return;
    }
    const declared = declaredLength(req);
    if (declared !== undefined && declared > maxPayload) {
      await refuse(req, res, 413, 'too_large', `trace payload of ${declared} bytes is larger than the ${maxPayload} bytes accepted`, 0, { ...fields, bytes: declared });
      return;
    }
    const read = await readBody(req, maxPayload, budget, declared);
    if (!read.ok) {
      if (read.why === 'too_large') {
        await refuse(req, res, 413, 'too_large', `trace payload larger than the ${maxPayload} bytes accepted (or than its Content-Length)`, read.read, fields);
      } else if (read.why === 'busy') {
        await refuse(req, res, 429, 'busy', `too many trace bytes in flight (${budget.max} bytes): payload dropped, try again later`, read.read, fields);
      } else {
        await refuse(req, res, 499, 'aborted', 'the tracer closed the connection before sending the whole payload', read.read, fields);
      }
      return;
    }
    let decoded: DecodeResult;
    try {
      decoded = DECODERS[endpoint](read.body, limits);
    } finally {
      budget.give(read.held);
    }
    if (!decoded.ok) {
      const status = decoded.reason === 'too_large' ? 413 : 400;
      await refuse(req, res, status, decoded.reason === 'too_large' ? 'too_large' : 'malformed', `cannot take this ${endpoint} trace payload: ${decoded.message}`, read.body.length, {
        ...fields,
        bytes: read.body.length,
      });
      return;
    }
    const declaredCount = declaredTraceCount(req.headers);
    if (declaredCount !== undefined && declaredCount !== decoded.traces.length) {
      opts.logger.debug({ endpoint, declared: declaredCount, decoded: decoded.traces.length }, 'X-Datadog-Trace-Count does not match the traces in the payload');
    }
    const sender = senderOf(req.socket);
    const payload: TracePayload = { traces: decoded.traces, origin: originFromHeaders(req.headers), ...(sender ? { sender } : {}), ...tracerFromHeaders(req.headers) };
    let taken: boolean | void;
    try {
      taken = opts.onPayload(payload);
    } catch (e) {
      opts.metrics.rejected('sink_error', decoded.traces.length);
      logReject('sink_error', { ...fields, err: e }, 'the trace sink failed on a payload: dropped');
      taken = true; // counted already; the tracer is answered as usual
    }
    if (taken === false) {
      opts.metrics.rejected('sink_full', decoded.traces.length);
      logReject('sink_full', fields, 'the trace export queue is full: payload dropped (the OTLP backend is slow or down)');
    } else {
      opts.metrics.accepted(endpoint, decoded.traces.length, decoded.spans, read.body.length);
    }
    if (endpoint === 'v0.3') answer(res, 200, 'OK\n');
    else answer(res, 200, opts.rates?.() ?? RATE_BY_SERVICE_BODY, 'application/json');
  };

  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const r = route(path);
    const done = (p: Promise<void>) =>
      p.catch((e: unknown) => {
        // Not reachable from client input; a bug must still answer and not take the process down.
        opts.logger.error({ err: e, path }, 'trace receiver: unexpected failure');
        answer(res, 500, 'internal error\n');
      });
    if (r.kind === 'traces') {
      if (req.method !== 'PUT' && req.method !== 'POST') {
        void done(drainBody(req).then(() => answer(res, 405, `method ${req.method} not allowed on ${path}: PUT or POST msgpack traces\n`, undefined, { Allow: 'PUT, POST' })));
        return;
      }
      void done(traces(req, res, r.endpoint));
      return;
    }
    const dropped = opts.dropped ? droppedEndpointOf(path) : undefined;
    if (dropped && (req.method === 'POST' || req.method === 'PUT')) {
      void done(opts.dropped!.handle(req, res, dropped, maxPayload));
      return;
    }
    void done(
      drainBody(req).then(() => {
        if (r.kind === 'info') {
          if (req.method !== 'GET' && req.method !== 'HEAD') answer(res, 405, `method ${req.method} not allowed on /info\n`, undefined, { Allow: 'GET, HEAD' });
          else answer(res, 200, opts.info(), 'application/json');
          return;
        }
        answer(res, 404, `404 page not found: this node agent serves ${TRACE_PATHS.v04}, ${TRACE_PATHS.v05}, ${TRACE_PATHS.v07}, ${TRACE_PATHS.v03} and ${TRACE_PATHS.info}\n`);
      }),
    );
  };
}

function newServer(listener: http.RequestListener): http.Server {
  const server = http.createServer(
    { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
    listener,
  );
  server.maxHeadersCount = MAX_HEADERS_COUNT;
  return server;
}

/** Whether something accepts connections on the Unix socket `path` (another agent running). */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Makes `path` free to listen on: creates its directory, removes a stale socket file left by a previous
 * run (a crashed one leaves it, and listen would fail with EADDRINUSE), refuses to remove anything
 * that is not a socket or a socket someone still listens on.
 */
async function prepareSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket: remove it, or set apm_config.receiver_socket (DD_APM_RECEIVER_SOCKET) to another path`);
  if (await socketAnswers(path)) throw new Error(`another process already listens on ${path}: stop it, or set apm_config.receiver_socket (DD_APM_RECEIVER_SOCKET) to another path`);
  await unlink(path);
}

export function createTraceReceiver(opts: TraceReceiverOptions): TraceReceiver {
  const configured = opts.config['apm_config.receiver_port'];
  const port = opts.listenPort ?? configured;
  const tcpEnabled = opts.listenPort !== undefined || configured !== 0;
  const socketPath = opts.config['apm_config.receiver_socket'];
  const host = opts.host ?? (opts.config['apm_config.apm_non_local_traffic'] ? IPV6_ANY : TRACE_LOCAL_HOST);
  const maxPayload = opts.maxPayloadBytes ?? TRACE_MAX_PAYLOAD_BYTES;
  let version: string | undefined = opts.version;
  let body: string | undefined;
  const info = () =>
    (body ??= infoBody({
      version: (version ??= packageVersion()),
      receiverPort: tcpAddress?.port ?? port,
      receiverSocket: socketPath,
      maxRequestBytes: maxPayload,
      ...(opts.dropped ? { droppedPaths: Object.values(DROPPED_PATHS) } : {}),
    }));
  const listener = traceRequestListener({ ...opts, info });

  let tcp: { server: http.Server; drainer: Drainer } | undefined;
  let unix: { server: http.Server; drainer: Drainer } | undefined;
  let tcpAddress: { host: string; port: number } | undefined;
  let listening = false;

  const stop = async () => {
    const closing: Promise<void>[] = [];
    if (tcp) closing.push(tcp.drainer.close(SHUTDOWN_DRAIN_MS));
    if (unix) closing.push(unix.drainer.close(SHUTDOWN_DRAIN_MS));
    await Promise.all(closing);
    if (unix && listening) await unlink(socketPath).catch(() => undefined);
    tcp = unix = undefined;
    tcpAddress = undefined;
    listening = false;
  };

  return {
    async start() {
      if (tcp || unix) throw new Error('the trace receiver is already started');
      try {
        if (tcpEnabled) {
          const server = newServer(listener);
          tcp = { server, drainer: trackRequests(server) };
          const bound = await listenOn(server, port, host, opts.logger);
          tcpAddress = { host: bound, port: (server.address() as AddressInfo).port };
        }
        if (socketPath !== '') {
          await prepareSocketPath(socketPath);
          const server = newServer(listener);
          unix = { server, drainer: trackRequests(server) };
          await new Promise<void>((resolve, reject) => {
            server.once('error', reject);
            server.listen(socketPath, () => {
              server.off('error', reject);
              resolve();
            });
          });
          listening = true;
          // Tracers run as the pod's user, whatever it is: connecting to a socket needs write permission on it.
          await chmod(socketPath, TRACE_SOCKET_MODE);
        }
      } catch (e) {
        await stop();
        throw e;
      }
      opts.logger.info(
        { tcp: tcpAddress, socket: socketPath || undefined },
        `trace receiver listening${tcpAddress ? ` on ${tcpAddress.host}:${tcpAddress.port}` : ''}${tcpAddress && socketPath ? ' and' : ''}${socketPath ? ` on ${socketPath}` : ''}`,
      );
    },
    stop,
    address() {
      return { ...(tcpAddress ? { tcp: tcpAddress } : {}), ...(socketPath !== '' && unix ? { socket: socketPath } : {}) };
    },
  };
}
