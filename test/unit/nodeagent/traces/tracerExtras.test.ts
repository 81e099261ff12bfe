/**
 * What tracers expect besides v0.4/v0.5 (issue 19, item 5): v0.7 payloads, priority sampling rates that
 * make tracers keep about the target per service and env, and the endpoints accepted and dropped.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import { Registry } from 'prom-client';
import { decodeV07 } from '../../../../src/nodeagent/intake/traces/decode07.js';
import { createDroppedEndpoints, droppedEndpointOf } from '../../../../src/nodeagent/intake/traces/dropped.js';
import { countRoots, createPrioritySampler, rootSpan } from '../../../../src/nodeagent/intake/traces/prioritySampler.js';
import type { DdSpan } from '../../../../src/nodeagent/intake/types.js';
import { send, startTestReceiver, type TestReceiver } from '../../../helpers/traceReceiver.js';

const span = (service: string, env: string | undefined, spanId = 1n, parentId = 0n): DdSpan => ({
  traceId: 7n,
  spanId,
  parentId,
  name: 'web.request',
  resource: 'GET /',
  service,
  type: 'web',
  start: 1n,
  duration: 2n,
  error: 0,
  meta: env === undefined ? {} : { env },
  metrics: {},
});

describe('priority sampling: rate_by_service toward the target traces per second, per service and env', () => {
  test('100 traces/s of one service and env → 0.1 for a target of 10; a quiet one keeps the default; idle → back to 1', () => {
    let t = 1_000_000;
    const s = createPrioritySampler({ targetTps: 10, now: () => t, windowMs: 10_000 });
    assert.deepEqual(s.rates(), { 'service:,env:': 1 });
    for (let i = 0; i < 1000; i++) s.observe(countRoots([[span('checkout', 'prod')]]));
    for (let i = 0; i < 50; i++) s.observe(countRoots([[span('billing', 'prod')]]));
    t += 10_000;
    assert.deepEqual(s.rates(), { 'service:,env:': 1, 'service:checkout,env:prod': 0.1 });
    assert.equal(s.body(), '{"rate_by_service":{"service:,env:":1,"service:checkout,env:prod":0.1}}');
    // The same service in another env is another key.
    for (let i = 0; i < 400; i++) s.observe(countRoots([[span('checkout', 'staging')]]));
    t += 10_000;
    assert.deepEqual(s.rates(), { 'service:,env:': 1, 'service:checkout,env:staging': 0.25 });
    t += 30_000;
    assert.deepEqual(s.rates(), { 'service:,env:': 1 });
  });
  test("a trace counts under its root span's service and env", () => {
    assert.equal(rootSpan([span('child', 'x', 2n, 1n), span('root', 'x', 1n, 0n)])?.service, 'root');
    assert.equal(rootSpan([span('orphan', 'x', 3n, 99n), span('child', 'x', 4n, 3n)])?.service, 'orphan');
  });
  test('keys are bounded: more services count under the default key', () => {
    let t = 0;
    const s = createPrioritySampler({ targetTps: 1, now: () => t, windowMs: 1_000, maxKeys: 2 });
    for (const svc of ['a', 'b', 'c', 'd']) for (let i = 0; i < 10; i++) s.observe(countRoots([[span(svc, 'prod')]]));
    t += 1_000;
    assert.deepEqual(Object.keys(s.rates()).sort(), ['service:,env:', 'service:a,env:prod', 'service:b,env:prod']);
    assert.equal(s.rates()['service:,env:'], 1);
  });
});

describe('/v0.7/traces (the tracer payload with chunks)', () => {
  const wire = (sp: Record<string, unknown>) => ({ service: 'checkout', name: 'web.request', resource: 'GET /', trace_id: 7, span_id: 1, parent_id: 0, start: 1, duration: 2, error: 0, meta: {}, metrics: { _sampling_priority_v1: 1 }, type: 'web', ...sp });
  const payload = (env?: string) =>
    Buffer.from(
      encode({
        container_id: 'abc',
        language_name: 'nodejs',
        tracer_version: '5.0.0',
        ...(env !== undefined ? { env } : {}),
        chunks: [
          { priority: 1, origin: '', spans: [wire({}), wire({ span_id: 2, parent_id: 1, meta: { env: 'own' } })], tags: {}, droppedTrace: false },
          { priority: 0, spans: [wire({ trace_id: 8, resource: 'GET /b' })] },
        ],
        tags: { a: 'b' },
        hostname: 'h',
        app_version: '1',
      }),
    );
  test('decoded to one trace per chunk; the payload env applies to spans without one', () => {
    const r = decodeV07(payload('prod'));
    assert.ok(r.ok, r.ok ? '' : r.message);
    assert.equal(r.traces.length, 2);
    assert.equal(r.spans, 3);
    assert.equal(r.traces[0]![0]!.meta['env'], 'prod');
    assert.equal(r.traces[0]![1]!.meta['env'], 'own');
    assert.equal(r.traces[1]![0]!.resource, 'GET /b');
  });
  test('malformed: a clear error naming where', () => {
    const r = decodeV07(Buffer.from(encode({ chunks: [{ spans: [{ service: 5 }] }] })));
    assert.equal(r.ok, false);
    assert.match((r as { message: string }).message, /trace 0, span 0, field service/);
  });

  let r: TestReceiver;
  before(async () => {
    r = await startTestReceiver({ dropped: createDroppedEndpoints(new Registry()), rates: () => '{"rate_by_service":{"service:,env:":1,"service:checkout,env:prod":0.5}}' });
  });
  after(() => r.stop());

  test('PUT /v0.7/traces over HTTP: accepted, handed on, answered with the sampler\'s rates', async () => {
    const got = r.next((p) => p.traces.length === 2);
    const a = await send({ port: r.port }, '/v0.7/traces', { body: payload('prod') });
    assert.equal(a.status, 200);
    assert.deepEqual(JSON.parse(a.body), { rate_by_service: { 'service:,env:': 1, 'service:checkout,env:prod': 0.5 } });
    assert.equal((await got).traces[1]![0]!.resource, 'GET /b');
  });

  test('/v0.6/stats, /telemetry/proxy, /evp_proxy/v1-4, /profiling: accepted (2xx), dropped, counted; listed apart in /info', async () => {
    const cases: [string, number][] = [
      ['/v0.6/stats', 200],
      ['/telemetry/proxy/api/v2/apmtelemetry', 202],
      ['/evp_proxy/v2/api/v2/citestcycle', 202],
      ['/evp_proxy/v4/api/v2/llmobs', 202],
      ['/profiling/v1/input', 202],
    ];
    for (const [path, status] of cases) {
      const a = await send({ port: r.port }, path, { method: 'POST', body: Buffer.alloc(2048, 1) });
      assert.equal(a.status, status, path);
    }
    assert.equal((await send({ port: r.port }, '/evp_proxy/v9/x', { method: 'POST', body: Buffer.alloc(8) })).status, 404);
    const info = JSON.parse((await send({ port: r.port }, '/info', { method: 'GET' })).body) as { endpoints: string[]; tether_dropped_endpoints: string[] };
    assert.ok(!info.endpoints.includes('/v0.6/stats'), 'tracers must not compute stats for nothing');
    assert.ok(info.endpoints.includes('/v0.7/traces'));
    assert.ok(info.tether_dropped_endpoints.includes('/v0.6/stats'));
  });

  test('the path table', () => {
    assert.equal(droppedEndpointOf('/v0.6/stats'), 'stats');
    assert.equal(droppedEndpointOf('/evp_proxy/v3/x'), 'evp_proxy');
    assert.equal(droppedEndpointOf('/evp_proxy/v5/x'), undefined);
    assert.equal(droppedEndpointOf('/v0.4/traces'), undefined);
  });
});
