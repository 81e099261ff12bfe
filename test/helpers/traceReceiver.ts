/** A trace receiver on a free port and a temporary socket, recording what it hands on, for tests and the bench. */
import http from 'node:http';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createTraceReceiverMetrics } from '../../src/nodeagent/intake/traces/metrics.js';
import { createTraceReceiver, type TraceReceiver, type TraceReceiverOptions } from '../../src/nodeagent/intake/traces/receiver.js';
import type { TracePayload } from '../../src/nodeagent/intake/types.js';
import { tempDir, type TempDir } from './certs.js';
import { recordingLogger, type RecordedLog } from './logs.js';

export interface TestReceiver {
  readonly receiver: TraceReceiver;
  readonly registry: Registry;
  readonly log: RecordedLog;
  readonly payloads: TracePayload[];
  readonly port: number;
  readonly socket: string;
  readonly dir: TempDir;
  /** Resolves with the first payload (from now on) that `match` accepts. */
  next(match?: (p: TracePayload) => boolean): Promise<TracePayload>;
  /** What `onPayload` returns (false: the sink is full). */
  accept: boolean;
  stop(): Promise<void>;
}

export async function startTestReceiver(over: Partial<TraceReceiverOptions> = {}, socket = true): Promise<TestReceiver> {
  const dir = await tempDir('tether-traces-');
  const registry = new Registry();
  const log = recordingLogger('debug');
  const payloads: TracePayload[] = [];
  const waiters: { match: (p: TracePayload) => boolean; resolve: (p: TracePayload) => void }[] = [];
  const socketPath = socket ? join(dir.path, 'run', 'apm.socket') : '';
  const t: { accept: boolean } = { accept: true };
  const receiver = createTraceReceiver({
    config: { 'apm_config.receiver_port': 0, 'apm_config.apm_non_local_traffic': false, 'apm_config.receiver_socket': socketPath },
    logger: log.logger,
    metrics: createTraceReceiverMetrics(registry),
    onPayload: (p) => {
      payloads.push(p);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.match(p)) {
          waiters[i]!.resolve(p);
          waiters.splice(i, 1);
        }
      }
      return t.accept;
    },
    version: '0.0.0-test',
    listenPort: 0,
    ...over,
  });
  await receiver.start();
  return Object.assign(t, {
    receiver,
    registry,
    log,
    payloads,
    port: receiver.address().tcp?.port ?? 0,
    socket: socketPath,
    dir,
    next: (match: (p: TracePayload) => boolean = () => true) => new Promise<TracePayload>((resolve) => waiters.push({ match, resolve })),
    stop: async () => {
      await receiver.stop();
      await dir.remove();
    },
  });
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request over TCP (`port`) or the Unix socket (`socketPath`); resolves with the answer, or rejects on a connection error. */
export function send(
  to: { port: number } | { socketPath: string },
  path: string,
  opts: { method?: string; body?: Buffer | Buffer[]; headers?: Record<string, string>; chunked?: boolean } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? [] : Array.isArray(opts.body) ? opts.body : [opts.body];
    const length = body.reduce((n, b) => n + b.length, 0);
    const headers: Record<string, string> = { 'Content-Type': 'application/msgpack', ...opts.headers };
    if (!opts.chunked && opts.body !== undefined && headers['Content-Length'] === undefined) headers['Content-Length'] = String(length);
    const req = http.request({ ...('port' in to ? { host: '127.0.0.1', port: to.port } : { socketPath: to.socketPath }), path, method: opts.method ?? 'PUT', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    for (const b of body) req.write(b);
    req.end();
  });
}

/** The value of one Prometheus sample, e.g. `metric(text, 'x_total', { reason: 'busy' })`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  const line = text.split('\n').find((l) => l.startsWith(want ? `${name}{${want}}` : `${name} `));
  if (line === undefined) throw new Error(`no sample ${name}{${want}} in:\n${text}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}
