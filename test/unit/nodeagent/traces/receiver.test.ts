import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stat, writeFile, mkdir } from 'node:fs/promises';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { encode } from '@msgpack/msgpack';
import { parseConfig, TRACE_MAX_PAYLOAD_BYTES, TRACE_SOCKET_MODE } from '../../../../src/config/index.js';
import { tempDir } from '../../../helpers/certs.js';
import { ddTraceEncode, sampleSpan } from '../../../helpers/ddTraceEncode.js';
import { metricValue, send, startTestReceiver, type TestReceiver } from '../../../helpers/traceReceiver.js';

const CONTAINER = '3f1d6f5c2b8a4e7d9c0b1a2f3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d';
const POD_UID = 'f0e1d2c3-b4a5-4697-8879-6a5b4c3d2e1f';

describe('trace receiver', () => {
  let r: TestReceiver;
  before(async () => {
    r = await startTestReceiver({ maxPayloadBytes: 64 * 1024, maxInflightBytes: 96 * 1024 });
  });
  after(() => r.stop());
  const metrics = () => r.registry.metrics();

  test('/info lists the trace endpoints it serves, and nothing it does not', async () => {
    const a = await send({ port: r.port }, '/info', { method: 'GET' });
    assert.equal(a.status, 200);
    assert.match(String(a.headers['content-type']), /application\/json/);
    const info = JSON.parse(a.body) as { endpoints: string[]; client_drop_p0s: boolean; config: { receiver_port: number; max_request_bytes: number } };
    assert.deepEqual(info.endpoints, ['/v0.3/traces', '/v0.4/traces', '/v0.5/traces', '/v0.7/traces']);
    assert.equal(info.client_drop_p0s, false);
    assert.equal(info.config.receiver_port, r.port);
    assert.equal(info.config.max_request_bytes, 64 * 1024);
  });

  for (const version of ['0.4', '0.5'] as const) {
    test(`PUT /v${version}/traces: decoded, handed on with its origin, answered with the sampling rates`, async () => {
      const got = r.next((p) => p.traces[0]?.[0]?.resource === `GET /v${version}`);
      const a = await send({ port: r.port }, `/v${version}/traces`, {
        body: ddTraceEncode(version, [[sampleSpan(0, { resource: `GET /v${version}` }), sampleSpan(1)]]),
        headers: { 'Datadog-Meta-Lang': 'nodejs', 'Datadog-Meta-Tracer-Version': '5.132.0', 'X-Datadog-Trace-Count': '1', 'Datadog-Container-ID': CONTAINER, 'Datadog-Entity-ID': `ci-${CONTAINER}` },
      });
      assert.equal(a.status, 200);
      assert.deepEqual(JSON.parse(a.body), { rate_by_service: { 'service:,env:': 1 } });
      const p = await got;
      assert.equal(p.traces[0]!.length, 2);
      assert.equal(p.traces[0]![0]!.traceId, 0xfedcba9876543210n);
      assert.deepEqual(p.origin, { containerId: CONTAINER });
      assert.equal(p.lang, 'nodejs');
      assert.equal(p.tracerVersion, '5.132.0');
    });
  }

  test('origin: a cgroup inode, a bare entity id, the pod UID of DD_EXTERNAL_ENV', async () => {
    const cases: [Record<string, string>, object][] = [
      [{ 'Datadog-Entity-ID': 'in-123456' }, { cgroupInode: '123456' }],
      [{ 'Datadog-Entity-ID': POD_UID }, { entityId: POD_UID }],
      [{ 'Datadog-External-Env': `it-false,cn-app,pu-${POD_UID}` }, { entityId: POD_UID }],
      [{ 'Datadog-Entity-ID': 'not an id; spaces & \"quotes\"' }, {}],
    ];
    for (const [headers, origin] of cases) {
      const marker = `origin-${JSON.stringify(headers)}`;
      const got = r.next((p) => p.traces[0]?.[0]?.resource === marker);
      const a = await send({ port: r.port }, '/v0.4/traces', { body: ddTraceEncode('0.4', [[sampleSpan(0, { resource: marker })]]), headers });
      assert.equal(a.status, 200);
      assert.deepEqual((await got).origin, origin, marker);
    }
  });

  test('v0.3 is v0.4 answered OK', async () => {
    const a = await send({ port: r.port }, '/v0.3/traces', { method: 'POST', body: ddTraceEncode('0.4', [[sampleSpan(0)]]) });
    assert.equal(a.status, 200);
    assert.equal(a.body, 'OK\n');
  });

  test('413 by Content-Length, before reading; the declared traces are counted dropped', async () => {
    const before = await metrics();
    const a = await send({ port: r.port }, '/v0.4/traces', { body: Buffer.alloc(65 * 1024), headers: { 'X-Datadog-Trace-Count': '7' } });
    assert.equal(a.status, 413);
    assert.match(a.body, /66560 bytes is larger than the 65536 bytes accepted/);
    const after = await metrics();
    assert.equal(metricValue(after, 'tether_node_agent_trace_payloads_rejected_total', { reason: 'too_large' }) - metricValue(before, 'tether_node_agent_trace_payloads_rejected_total', { reason: 'too_large' }), 1);
    assert.equal(metricValue(after, 'tether_node_agent_trace_traces_dropped_total', { reason: 'too_large' }) - metricValue(before, 'tether_node_agent_trace_traces_dropped_total', { reason: 'too_large' }), 7);
  });

  test('413 while streaming a chunked body', async () => {
    const a = await send({ port: r.port }, '/v0.4/traces', { body: [Buffer.alloc(40 * 1024), Buffer.alloc(40 * 1024)], chunked: true });
    assert.equal(a.status, 413);
  });

  test('400 naming what is wrong; the receiver keeps serving', async () => {
    const a = await send({ port: r.port }, '/v0.4/traces', { body: Buffer.from(encode([[{ name: 'ok' }, { name: 7 }]])) });
    assert.equal(a.status, 400);
    assert.match(a.body, /trace 0, span 1, field name: expected a string, got an integer/);
    const b = await send({ port: r.port }, '/v0.5/traces', { body: Buffer.from('not msgpack at all') });
    assert.equal(b.status, 400);
    assert.equal((await send({ port: r.port }, '/info', { method: 'GET' })).status, 200);
    assert.ok(metricValue(await metrics(), 'tether_node_agent_trace_payloads_rejected_total', { reason: 'malformed' }) >= 2);
  });

  test('429 when the bytes in flight would pass the budget', async () => {
    // One request holds 50 KiB of the 96 KiB budget (bytes it sent) while the rest of its body is still coming; a second of 60 KiB does not fit.
    const hold = net.connect(r.port, '127.0.0.1');
    await new Promise<void>((resolve) => hold.once('connect', () => resolve()));
    hold.write(`PUT /v0.4/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/msgpack\r\nContent-Length: ${60 * 1024}\r\n\r\n`);
    hold.write(Buffer.alloc(50 * 1024));
    await new Promise((res) => setTimeout(res, 200));
    const a = await send({ port: r.port }, '/v0.4/traces', { body: Buffer.alloc(60 * 1024) });
    assert.equal(a.status, 429);
    hold.destroy();
    assert.ok(metricValue(await metrics(), 'tether_node_agent_trace_payloads_rejected_total', { reason: 'busy' }) >= 1);
    // Once the held body is gone, the budget is back.
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await send({ port: r.port }, '/v0.4/traces', { body: ddTraceEncode('0.4', [[sampleSpan(0)]]) })).status;
      if (status !== 200) await new Promise((res) => setImmediate(res));
    }
    assert.equal(status, 200);
  });

  test("a full sink: answered the stack's 429 (backpressure reaches the tracer), dropped and counted", async () => {
    r.accept = false;
    try {
      const a = await send({ port: r.port }, '/v0.4/traces', { body: ddTraceEncode('0.4', [[sampleSpan(0)], [sampleSpan(1)]]) });
      assert.equal(a.status, 429);
      assert.equal(metricValue(await metrics(), 'tether_node_agent_trace_traces_dropped_total', { reason: 'sink_full' }), 2);
    } finally {
      r.accept = true;
    }
  });

  test('a JSON body is refused 415; wrong methods 405; other paths 404', async () => {
    assert.equal((await send({ port: r.port }, '/v0.4/traces', { body: Buffer.from('[]'), headers: { 'Content-Type': 'application/json' } })).status, 415);
    assert.equal((await send({ port: r.port }, '/v0.4/traces', { method: 'GET' })).status, 405);
    assert.equal((await send({ port: r.port }, '/info', { method: 'DELETE' })).status, 405);
    assert.equal((await send({ port: r.port }, '/v0.7/config', { method: 'POST', body: Buffer.from('{}') })).status, 404);
  });

  test('counters of what was taken', async () => {
    const text = await metrics();
    assert.ok(metricValue(text, 'tether_node_agent_trace_payloads_total', { endpoint: 'v0.4' }) >= 2);
    assert.ok(metricValue(text, 'tether_node_agent_trace_spans_total') >= 4);
    assert.ok(metricValue(text, 'tether_node_agent_trace_bytes_total') > 0);
  });

  test('the same handler on the Unix socket, whose file any user may write to', async () => {
    const got = r.next((p) => p.traces[0]?.[0]?.resource === 'over the socket');
    const a = await send({ socketPath: r.socket }, '/v0.5/traces', { body: ddTraceEncode('0.5', [[sampleSpan(0, { resource: 'over the socket' })]]) });
    assert.equal(a.status, 200);
    assert.equal((await got).traces[0]![0]!.resource, 'over the socket');
    assert.equal((await stat(r.socket)).mode & 0o777, TRACE_SOCKET_MODE);
    assert.deepEqual(r.receiver.address(), { tcp: { host: '127.0.0.1', port: r.port }, socket: r.socket });
  });
});

describe('trace receiver socket file', () => {
  test('a stale socket file left by a crash is replaced; the file is removed on stop', async () => {
    const dir = await tempDir('tether-sock-');
    const path = join(dir.path, 'apm.socket');
    // A socket file nobody listens on any more: a process that listened on it was killed (SIGKILL: no cleanup).
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('ready'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(child.stdout, 'data');
    child.kill('SIGKILL');
    await once(child, 'exit');
    assert.ok((await stat(path)).isSocket());
    const r = await startTestReceiver({ config: { 'apm_config.receiver_port': 0, 'apm_config.apm_non_local_traffic': false, 'apm_config.receiver_socket': path } }, false);
    assert.equal((await send({ socketPath: path }, '/info', { method: 'GET' })).status, 200);
    await r.stop();
    await assert.rejects(stat(path), { code: 'ENOENT' });
    await dir.remove();
  });

  test('refuses to remove a file that is not a socket, or a socket someone listens on', async () => {
    const dir = await tempDir('tether-sock-');
    const file = join(dir.path, 'apm.socket');
    await writeFile(file, 'precious');
    await assert.rejects(
      startTestReceiver({ config: { 'apm_config.receiver_port': 0, 'apm_config.apm_non_local_traffic': false, 'apm_config.receiver_socket': file } }, false),
      /exists and is not a socket/,
    );
    await mkdir(join(dir.path, 'live'));
    const live = join(dir.path, 'live', 'apm.socket');
    const other = net.createServer();
    await new Promise<void>((res) => other.listen(live, res));
    await assert.rejects(
      startTestReceiver({ config: { 'apm_config.receiver_port': 0, 'apm_config.apm_non_local_traffic': false, 'apm_config.receiver_socket': live } }, false),
      /another process already listens/,
    );
    await new Promise<void>((res) => other.close(() => res()));
    await dir.remove();
  });
});

describe('trace receiver configuration', () => {
  test('defaults and the trace agent environment variables', () => {
    const d = parseConfig({ env: {} });
    assert.equal(d['apm_config.receiver_port'], 8126);
    assert.equal(d['apm_config.apm_non_local_traffic'], false);
    assert.equal(d['apm_config.receiver_socket'], '/var/run/datadog/apm.socket');
    const c = parseConfig({ env: { DD_APM_RECEIVER_PORT: '9126', DD_APM_NON_LOCAL_TRAFFIC: 'true', DD_APM_RECEIVER_SOCKET: '' } });
    assert.equal(c['apm_config.receiver_port'], 9126);
    assert.equal(c['apm_config.apm_non_local_traffic'], true);
    assert.equal(c['apm_config.receiver_socket'], '');
    assert.throws(() => parseConfig({ env: { DD_APM_RECEIVER_SOCKET: 'relative/apm.socket' } }), /apm_config.receiver_socket \(from env DD_APM_RECEIVER_SOCKET\)/);
    assert.ok(TRACE_MAX_PAYLOAD_BYTES >= 8 * 1024 * 1024, 'tracers flush at 8 MiB: the limit must take that');
  });
});
