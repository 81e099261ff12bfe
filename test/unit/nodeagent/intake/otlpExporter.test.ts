/** The OTLP exporter against a loopback HTTP server whose answers each test sets; its waits on manual timers. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createOtlpExporter, signalUrl, type OtlpExporterOptions } from '../../../../src/nodeagent/intake/otlp/exporter.js';
import { createOtlpExporterMetrics } from '../../../../src/nodeagent/intake/otlp/exporterMetrics.js';
import { classifyStatus, parseRetryAfter, retryDelayMs } from '../../../../src/nodeagent/intake/otlp/retryPolicy.js';
import { recordingLogger } from '../../../helpers/logs.js';
import { manualTimers } from '../../../helpers/manualTimers.js';

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly type: string | undefined;
  readonly body: Buffer;
}
type Answer = { status: number; headers?: Record<string, string>; body?: Uint8Array | string } | 'hang';

let server: http.Server;
let base: string;
const seen: Seen[] = [];
let answers: Answer[] = [];
const hanging: http.ServerResponse[] = [];
let arrived: (() => void)[] = [];
/** Resolves when `n` requests have arrived in all. */
const requests = (n: number) => new Promise<void>((resolve) => {
  const check = () => (seen.length >= n ? resolve() : arrived.push(check));
  check();
});

before(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method!, path: req.url!, type: req.headers['content-type'], body: Buffer.concat(chunks) });
      const a = answers.shift() ?? { status: 200 };
      if (a === 'hang') hanging.push(res);
      else res.writeHead(a.status, a.headers ?? {}).end(a.body ?? '');
      const w = arrived;
      arrived = [];
      for (const f of w) f();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  for (const r of hanging) r.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function setup(over: Partial<OtlpExporterOptions> = {}) {
  seen.length = 0;
  answers = [];
  const clock = manualTimers();
  const registry = new Registry();
  const metrics = createOtlpExporterMetrics(registry);
  const logs = recordingLogger();
  const exporter = createOtlpExporter({
    signal: 'traces',
    url: signalUrl(base + '/', 'traces'),
    metrics,
    logger: logs.logger,
    retryMaxMs: 8_000,
    maxElapsedMs: 60_000,
    timers: { now: clock.now, ...clock.timers },
    random: () => 0.5,
    ...over,
  });
  metrics.queue('traces', () => exporter.size());
  const value = async (name: string, labels: Record<string, string>) => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
    const v = m?.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
    return v?.value ?? 0;
  };
  return { clock, exporter, logs, value };
}

const req = (items: number, size = 10) => ({ body: new Uint8Array(size).fill(items), items });

test('retry policy: 429, 408 and 5xx (not 501) retry; other 4xx and 501 are dropped; Retry-After in seconds or as a date', () => {
  assert.deepEqual(classifyStatus(200, undefined), { kind: 'ok' });
  for (const s of [429, 408, 500, 502, 503, 504]) assert.equal(classifyStatus(s, undefined).kind, 'retry', String(s));
  for (const s of [400, 401, 403, 404, 413, 501]) assert.equal(classifyStatus(s, undefined).kind, 'reject', String(s));
  assert.deepEqual(classifyStatus(503, 2000), { kind: 'retry', afterMs: 2000 });
  assert.equal(parseRetryAfter('3', 0), 3000);
  assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6_000);
  assert.equal(parseRetryAfter('soon', 0), undefined);
  assert.equal(parseRetryAfter(undefined, 0), undefined);
  const o = { baseMs: 500, maxMs: 8_000, retryAfterMaxMs: 60_000 };
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, { ...o, random: () => 1 })), [500, 1000, 2000, 4000, 8000, 8000]);
  assert.deepEqual([1, 2, 3].map((n) => retryDelayMs(n, { ...o, random: () => 0 })), [250, 500, 1000]);
  assert.equal(retryDelayMs(1, { ...o, random: () => 0, retryAfterMs: 90_000 }), 60_000);
});

test('delivers: POST to /v1/traces, application/x-protobuf, the bytes as given, in order; counts the items', async () => {
  const { exporter, value } = setup();
  exporter.send(req(3));
  exporter.send(req(4));
  await exporter.idle();
  assert.deepEqual(seen.map((s) => [s.method, s.path, s.type, s.body[0]]), [['POST', '/v1/traces', 'application/x-protobuf', 3], ['POST', '/v1/traces', 'application/x-protobuf', 4]]);
  assert.equal(await value('tether_node_agent_otlp_exported_items_total', { signal: 'traces' }), 7);
  assert.equal(await value('tether_node_agent_otlp_requests_total', { signal: 'traces', result: 'ok' }), 2);
});

test('a 503 with Retry-After is retried after exactly that long; the failure is logged once at warn, the recovery at info', async () => {
  const { exporter, clock, value, logs } = setup();
  answers = [{ status: 503, headers: { 'Retry-After': '7' } }, { status: 503, headers: { 'Retry-After': '7' } }, { status: 200 }];
  exporter.send(req(5));
  assert.equal(await clock.scheduled(() => true), 7000);
  clock.advance(7000);
  await requests(2);
  assert.equal(await clock.scheduled(() => true), 7000);
  clock.advance(7000);
  await exporter.idle();
  assert.equal(seen.length, 3);
  assert.equal(await value('tether_node_agent_otlp_exported_items_total', { signal: 'traces' }), 5);
  assert.equal(await value('tether_node_agent_otlp_requests_total', { signal: 'traces', result: '503' }), 2);
  const lines = logs.lines();
  assert.equal(lines.filter((l) => l.level === 40 && /is failing: HTTP 503/.test(String(l.msg))).length, 1);
  assert.equal(lines.filter((l) => l.level === 30 && /works again \(after 2 failed requests\)/.test(String(l.msg))).length, 1);
});

test('a 400 is dropped at once as rejected, never retried', async () => {
  const { exporter, clock, value } = setup();
  answers = [{ status: 400, body: 'bad proto' }];
  exporter.send(req(9));
  await exporter.idle();
  assert.equal(seen.length, 1);
  assert.deepEqual(clock.pending(), []);
  assert.equal(await value('tether_node_agent_otlp_dropped_items_total', { signal: 'traces', reason: 'rejected' }), 9);
});

test('a backend that is down: exponential backoff with jitter, then dropped as retries_exhausted', async () => {
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const { exporter, clock, value } = setup({ url: `http://127.0.0.1:${port}/v1/traces`, maxElapsedMs: 3_000 });
  exporter.send(req(2));
  const waits: number[] = [];
  for (let i = 0; i < 4; i++) {
    const ms = await clock.scheduled(() => true);
    waits.push(ms);
    clock.advance(ms);
  }
  // 500·2^(n-1) at random 0.5 → 0.75 of it; the last capped at what is left of the 3 s, then one last try.
  assert.deepEqual(waits, [375, 750, 1500, 375]);
  await exporter.idle();
  assert.equal(await value('tether_node_agent_otlp_dropped_items_total', { signal: 'traces', reason: 'retries_exhausted' }), 2);
  assert.equal(await value('tether_node_agent_otlp_requests_total', { signal: 'traces', result: 'network' }), 5);
});

test('the queue is bounded: while the backend fails the oldest requests are dropped as queue_full, memory stays within the bound', async () => {
  const { exporter, clock, value } = setup({ queueMaxRequests: 3, queueMaxBytes: 1_000 });
  answers = [{ status: 503 }];
  exporter.send(req(1, 100));
  await clock.scheduled(() => true);
  for (let i = 0; i < 10; i++) exporter.send(req(1, 100));
  assert.deepEqual(exporter.size(), { requests: 3, bytes: 300 });
  for (let i = 0; i < 10; i++) exporter.send(req(1, 400));
  assert.ok(exporter.size().bytes <= 1_000);
  exporter.send(req(1, 2_000));
  assert.equal(await value('tether_node_agent_otlp_dropped_items_total', { signal: 'traces', reason: 'too_large' }), 1);
  assert.equal(await value('tether_node_agent_otlp_dropped_items_total', { signal: 'traces', reason: 'queue_full' }), 19);
  assert.equal(await value('tether_node_agent_otlp_queue_requests', { signal: 'traces' }), 2);
  clock.advance(60_000);
  await exporter.idle();
  assert.equal(await value('tether_node_agent_otlp_exported_items_total', { signal: 'traces' }), 2);
});

test('a partial success counts its rejected items as dropped', async () => {
  const { exporter, value } = setup({ rejectedItems: (b) => b[0]! });
  answers = [{ status: 200, body: new Uint8Array([2]) }];
  exporter.send(req(5));
  await exporter.idle();
  assert.equal(await value('tether_node_agent_otlp_exported_items_total', { signal: 'traces' }), 3);
  assert.equal(await value('tether_node_agent_otlp_dropped_items_total', { signal: 'traces', reason: 'partial_rejected' }), 2);
});

test('stop: sends what is queued without waiting out a backoff; past its deadline what is left is dropped as shutdown', async () => {
  const { exporter, clock, value } = setup();
  answers = [{ status: 503 }, 'hang'];
  exporter.send(req(1));
  await clock.scheduled(() => true);
  exporter.send(req(2));
  const stopped = exporter.stop(5_000);
  await requests(2);
  clock.advance(5_000);
  await stopped;
  exporter.send(req(4));
  await exporter.idle();
  assert.equal(await value('tether_node_agent_otlp_dropped_items_total', { signal: 'traces', reason: 'shutdown' }), 7);
});
