/**
 * The node agent's trace receiver (SPEC §10): what injected pods' tracers send to `DD_AGENT_HOST:8126`
 * or `DD_TRACE_AGENT_URL=unix:///var/run/datadog/apm.socket`. One HTTP handler behind two listeners:
 * TCP `apm_config.receiver_port` (127.0.0.1 only unless `apm_config.apm_non_local_traffic`) and the Unix
 * stream socket `apm_config.receiver_socket`.
 *
 * - `PUT`/`POST /v0.4/traces`, `/v0.5/traces` (and `/v0.3/traces`, msgpack): the body is read under
 *   `TRACE_MAX_PAYLOAD_BYTES` (413 by `Content-Length` before reading, or while streaming), decoded on a
 *   worker thread (`decodePool.ts`; 400 naming the trace, span and field when it is not a trace payload;
 *   413 past the decode limits), handed to `onPayload` with its origin, and answered with the sampling
 *   rates tracers read. `/v0.7/traces` (the tracer payload with chunks) likewise. The answer's rates come
 *   from the priority sampler (`rates`).
 * - Origins: what the headers claim is checked against the connection's peer (`attest`), read on this
 *   thread when the connection is accepted (`attest/sender.ts`: a TCP peer's address, a Unix peer's pid
 *   by `SO_PEERCRED`), never taken from the payload; the pod it resolves to (budgets, OTLP resource) is
 *   handed to the decode worker.
 * - `/v0.6/stats`, `/telemetry/proxy`, `/evp_proxy`, `/profiling`: accepted and dropped (`dropped.ts`).
 * - `GET /info`: what this receiver serves, so tracers pick v0.4/v0.5/v0.7 and nothing it lacks.
 * - Bounds per sender (`inflight.ts`, `bodyReader.ts`): bytes are taken from the in-flight budget as they
 *   arrive; bodies being read or decoded hold at most `TRACE_MAX_INFLIGHT_BYTES` together, one origin (its
 *   pod, else its address) at most `TRACE_MAX_INFLIGHT_BYTES_PER_ORIGIN` and
 *   `TRACE_MAX_CONNECTIONS_PER_ORIGIN` requests; past any, 429 (`busy`, `origin_busy`), as the agent
 *   answers when its decoders are all busy (the tracer drops the payload and counts it). A body that
 *   stalls `TRACE_BODY_IDLE_TIMEOUT_MS` is cut (408, `timeout`).
 * - Backpressure: a sink that is full (`sinkHasRoom` false before reading, or `onPayload` returns false:
 *   the export queue is full because the backend is slow or down, or this origin has its share of it)
 *   is answered 429 and counted `sink_full`, as the agent answers when its own queues are full.
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
import { packageVersion } from '../../../agentapi/version.js';
import type { Logger } from '../../../logging/logger.js';
import {
  TRACE_BODY_IDLE_TIMEOUT_MS,
  TRACE_MAX_CONNECTIONS_PER_ORIGIN,
  TRACE_MAX_INFLIGHT_BYTES_PER_ORIGIN,
} from '../../../config/limits.js';
import { declaredLength, drainBody, worthDiscarding } from '../../../http/body.js';
import { IPV6_ANY, listenOn } from '../../../http/listen.js';
import { trackRequests, type Drainer } from '../../../http/shutdown.js';
import type { Origin, ResolvedOrigin, Sender, TracePayload } from '../types.js';
import { readTraceBody } from './bodyReader.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './decodeCommon.js';
import { createDecodePool, type DecodePool, type PoolReply } from './decodePool.js';
import type { DecodeOutput, DecodeTask } from './decodeTask.js';
import { DROPPED_PATHS, droppedEndpointOf, type DroppedEndpoints } from './dropped.js';
import { InflightBudgets } from './inflight.js';
import { infoBody, RATE_BY_SERVICE_BODY, TRACE_PATHS } from './info.js';
import type { TraceEndpoint, TraceReceiverMetrics, TraceRejectReason } from './metrics.js';
import { declaredTraceCount, originFromHeaders, tracerFromHeaders } from './origin.js';
import { senderOf } from '../attest/sender.js';

/** Where the TCP receiver listens without `apm_config.apm_non_local_traffic`: this host only, as the agent. */
export const TRACE_LOCAL_HOST = '127.0.0.1';

export type TraceReceiverConfig = Pick<TetherConfig, 'apm_config.receiver_port' | 'apm_config.apm_non_local_traffic' | 'apm_config.receiver_socket'>;

/**
 * Takes one decoded payload. Returns `false` when it cannot (its queue is full): the payload is then
 * dropped, counted `sink_full` and answered 429. Called synchronously; it must not block.
 */
export type TracePayloadSink = (payload: TracePayload) => boolean | void;

export interface TraceReceiverOptions {
  readonly config: TraceReceiverConfig;
  readonly logger: Logger;
  readonly metrics: TraceReceiverMetrics;
  readonly onPayload: TracePayloadSink;
  /** Whether the sink can take a payload of `originKey` now (asked before reading one; false: 429 `sink_full` unread). */
  readonly sinkHasRoom?: (originKey: string) => boolean;
  /**
   * The origin to believe for a payload claiming `claim`, sent by `sender` (attest/attestor.ts: what the
   * kernel or the network says wins over the headers); without it, claims are taken as sent.
   */
  readonly attest?: (claim: Origin, sender: Sender) => Origin;
  /** The pod an origin is (budgets per pod, and the OTLP resource); none by default. */
  readonly resolveOrigin?: (origin: Origin) => ResolvedOrigin | undefined;
  /** What the decode workers hand back (`decodeTask.ts`): `traces` by default. */
  readonly output?: DecodeOutput;
  /** Overrides for tests: the TCP host (default from `apm_non_local_traffic`), sizes, decode limits, the clock of the log limiter. */
  readonly host?: string;
  /** The TCP port, over `apm_config.receiver_port` (where 0 means no TCP receiver); here 0 picks a free port. */
  readonly listenPort?: number;
  readonly maxPayloadBytes?: number;
  readonly maxInflightBytes?: number;
  readonly maxInflightBytesPerOrigin?: number;
  readonly maxRequestsPerOrigin?: number;
  readonly bodyIdleTimeoutMs?: number;
  /** Decode worker threads (`TRACE_DECODE_WORKERS`). */
  readonly decodeWorkers?: number;
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

/** The sender's key when its origin is no pod: its address (every Unix socket sender is one: `unix`). */
const senderKey = (req: IncomingMessage): string => (req.socket.remoteAddress ? `addr:${req.socket.remoteAddress}` : 'unix');

/** The request listener both servers share (exported for tests that drive it without sockets). */
export function traceRequestListener(opts: TraceReceiverOptions & { info: () => string; decode: (task: DecodeTask) => Promise<PoolReply> }) {
  const maxPayload = opts.maxPayloadBytes ?? TRACE_MAX_PAYLOAD_BYTES;
  const budgets = new InflightBudgets(
    opts.maxInflightBytes ?? TRACE_MAX_INFLIGHT_BYTES,
    opts.maxInflightBytesPerOrigin ?? TRACE_MAX_INFLIGHT_BYTES_PER_ORIGIN,
    opts.maxRequestsPerOrigin ?? TRACE_MAX_CONNECTIONS_PER_ORIGIN,
  );
  const idleMs = opts.bodyIdleTimeoutMs ?? TRACE_BODY_IDLE_TIMEOUT_MS;
  const output = opts.output ?? 'traces';
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
    // A stalled body is not waited for a second time: answered, and the connection closed.
    if (!req.readableEnded && reason !== 'timeout' && worthDiscarding(req, read)) {
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
    // The sender was read when the connection was accepted (attest/sender.ts caches it per connection).
    const sender = senderOf(req.socket);
    const claim = originFromHeaders(req.headers);
    const origin = sender && opts.attest ? opts.attest(claim, sender) : claim;
    const resolved = opts.resolveOrigin?.(origin);
    const originKey = resolved ? `pod:${resolved.uid}` : senderKey(req);
    const who = { ...fields, origin: resolved ? `${resolved.namespace}/${resolved.pod}` : originKey };
    if (opts.sinkHasRoom && !opts.sinkHasRoom(originKey)) {
      await refuse(req, res, 429, 'sink_full', 'the trace export queue is full (the OTLP backend is slow or down, or this pod has its share of the queue): payload dropped, try again later', 0, who);
      return;
    }
    const hold = budgets.open(originKey);
    if (!hold) {
      await refuse(req, res, 429, 'origin_busy', `this sender already has ${budgets.maxRequestsPerOrigin} trace payloads being read or decoded: payload dropped, try again later`, 0, who);
      return;
    }
    let reply: PoolReply;
    let size: number;
    try {
      const read = await readTraceBody(req, { max: maxPayload, hold, idleMs, declared });
      if (!read.ok) {
        hold.release();
        if (read.why === 'too_large') await refuse(req, res, 413, 'too_large', `trace payload larger than the ${maxPayload} bytes accepted (or than its Content-Length)`, read.read, who);
        else if (read.why === 'busy') await refuse(req, res, 429, 'busy', `too many trace bytes in flight (${budgets.total.max} bytes): payload dropped, try again later`, read.read, who);
        else if (read.why === 'origin_busy') await refuse(req, res, 429, 'origin_busy', `this sender has ${budgets.maxBytesPerOrigin} trace bytes in flight: payload dropped, try again later`, read.read, who);
        else if (read.why === 'timeout') await refuse(req, res, 408, 'timeout', `no byte of the trace payload for ${idleMs} ms: cut`, read.read, who);
        else await refuse(req, res, 499, 'aborted', 'the tracer closed the connection before sending the whole payload', read.read, who);
        return;
      }
      size = read.body.length;
      // The body's bytes stay held until the worker is done with them (the queue for workers is bounded by them).
      reply = await opts.decode({ body: read.body, endpoint, limits, output, ...(resolved ? { origin: resolved } : {}) });
    } finally {
      hold.release();
    }
    if (!reply.ok) {
      const tooLarge = reply.reason === 'too_large' || reply.reason === 'crashed';
      if (reply.reason === 'closed') {
        answer(res, 503, `${reply.message}\n`);
        return;
      }
      await refuse(req, res, tooLarge ? 413 : 400, tooLarge ? 'too_large' : 'malformed', `cannot take this ${endpoint} trace payload: ${reply.message}`, size, { ...who, bytes: size });
      return;
    }
    const declaredCount = declaredTraceCount(req.headers);
    if (declaredCount !== undefined && declaredCount !== reply.traces) {
      opts.logger.debug({ endpoint, declared: declaredCount, decoded: reply.traces }, 'X-Datadog-Trace-Count does not match the traces in the payload');
    }
    const payload: TracePayload = {
      traces: reply.decoded ?? [],
      traceCount: reply.traces,
      spanCount: reply.spans,
      ...(reply.otlp ? { otlp: reply.otlp } : {}),
      origin,
      ...(sender ? { sender } : {}),
      roots: reply.roots,
      ...(resolved ? { resolved } : {}),
      originKey,
      ...tracerFromHeaders(req.headers),
    };
    let taken: boolean | void;
    try {
      taken = opts.onPayload(payload);
    } catch (e) {
      opts.metrics.rejected('sink_error', reply.traces);
      logReject('sink_error', { ...who, err: e }, 'the trace sink failed on a payload: dropped');
      taken = true; // counted already; the tracer is answered as usual
    }
    if (taken === false) {
      opts.metrics.rejected('sink_full', reply.traces);
      logReject('sink_full', who, 'the trace export queue is full (the OTLP backend is slow or down, or this pod has its share of the queue): payload dropped, answered 429');
      answer(res, 429, 'the trace export queue is full: payload dropped, try again later\n');
      return;
    }
    opts.metrics.accepted(endpoint, reply.traces, reply.spans, size);
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
  let pool: DecodePool | undefined;
  const decode = (task: DecodeTask): Promise<PoolReply> =>
    (pool ??= createDecodePool({ logger: opts.logger, ...(opts.decodeWorkers !== undefined ? { size: opts.decodeWorkers } : {}) })).run(task);
  const listener = traceRequestListener({ ...opts, info, decode });

  let tcp: { server: http.Server; drainer: Drainer } | undefined;
  let unix: { server: http.Server; drainer: Drainer } | undefined;
  let tcpAddress: { host: string; port: number } | undefined;
  let listening = false;

  const stop = async () => {
    const closing: Promise<void>[] = [];
    if (tcp) closing.push(tcp.drainer.close(SHUTDOWN_DRAIN_MS));
    if (unix) closing.push(unix.drainer.close(SHUTDOWN_DRAIN_MS));
    await Promise.all(closing);
    await pool?.close();
    pool = undefined;
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
          // The peer's credentials are read as the connection is accepted, before any byte of it is read
          // (SO_PEERCRED is the connecting process's, fixed at connect: what a request later says cannot change it).
          server.on('connection', (socket: net.Socket) => void senderOf(socket));
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
