/** Routing and limits over plain HTTP (TLS is the same listener behind `https`, tested elsewhere). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { isJsonContentType } from '../../../src/http/request.js';
import { createRequestListener, createServerMetrics, webhookRoutes, type FactResolver } from '../../../src/server/index.js';
import { ConfigError, type ConfigKey } from '../../../src/config/index.js';
import { MAX_DISCARDED_BODY_BYTES } from '../../../src/config/limits.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { testConfig } from '../../helpers/config.js';
import { patchOf, responseOf, reviewBody, samplePod, untaggedPod } from '../../helpers/reviews.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function call(port: number, o: { method?: string; path: string; headers?: Record<string, string | number>; body?: string | Buffer; chunks?: Buffer[]; agent?: http.Agent }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: o.method ?? 'GET', path: o.path, headers: o.headers ?? {}, agent: o.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (o.chunks) {
      for (const c of o.chunks) req.write(c);
      req.end();
    } else req.end(o.body);
  });
}

const json = { 'Content-Type': 'application/json' };

async function listen(values: Partial<Record<ConfigKey, unknown>> = {}, bodyLimit = 4096, facts?: FactResolver) {
  const config = testConfig(values);
  const routes = webhookRoutes(config);
  const metrics = createServerMetrics([...routes.values()].map((e) => e.id));
  let ready = false;
  const server = http.createServer(
    createRequestListener({ config, tetherNamespace: 'datadog', logger: silentLogger(), metrics, routes, isReady: () => ready, bodyLimit, ...(facts ? { facts } : {}) }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    metrics,
    port: (server.address() as net.AddressInfo).port,
    setReady: (v: boolean) => (ready = v),
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

describe('request listener', () => {
  let s: Awaited<ReturnType<typeof listen>>;
  before(async () => (s = await listen()));
  after(() => s.close());

  test('a review on each endpoint, with the query string the API server adds', async () => {
    for (const path of ['/injectconfig', '/injecttags', '/injectlib']) {
      const r = await call(s.port, { method: 'POST', path: `${path}?timeout=10s`, headers: json, body: reviewBody({ object: samplePod() }) });
      assert.equal(r.status, 200, path);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.ok(patchOf(responseOf(r.body)).length > 0, path);
    }
  });

  test('health, readiness and metrics', async () => {
    assert.equal((await call(s.port, { path: '/healthz' })).body, 'ok\n');
    const head = await call(s.port, { method: 'HEAD', path: '/healthz' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal((await call(s.port, { path: '/readyz' })).status, 503);
    s.setReady(true);
    assert.equal((await call(s.port, { path: '/readyz' })).status, 200);
    const m = await call(s.port, { path: '/metrics' });
    assert.equal(m.status, 200);
    assert.match(String(m.headers['content-type']), /^text\/plain/);
    assert.match(m.body, /tether_admission_requests_total\{webhook="config",outcome="mutated"\} [1-9]/);
    const post = await call(s.port, { method: 'POST', path: '/healthz' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });

  test('unknown paths are 404 and say where the webhooks are', async () => {
    const r = await call(s.port, { path: '/mutate' });
    assert.equal(r.status, 404);
    assert.match(r.body, /\/injectconfig, \/injecttags, \/injectlib/);
    assert.equal((await call(s.port, { method: 'POST', path: '/injectconfig/', headers: json, body: '{}' })).status, 404);
  });

  test('a webhook path only takes POST', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const r = await call(s.port, { method, path: '/injecttags' });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'POST');
    }
  });

  test('only application/json, with or without parameters', async () => {
    const body = reviewBody({ object: samplePod() });
    for (const ct of ['application/json; charset=utf-8', 'Application/JSON']) {
      assert.equal((await call(s.port, { method: 'POST', path: '/injectconfig', headers: { 'Content-Type': ct }, body })).status, 200, ct);
    }
    for (const ct of ['text/plain', 'application/jsonx', 'application/x-www-form-urlencoded']) {
      const r = await call(s.port, { method: 'POST', path: '/injectconfig', headers: { 'Content-Type': ct }, body });
      assert.equal(r.status, 415, ct);
      assert.match(r.body, /unsupported Content-Type/);
    }
    const none = await call(s.port, { method: 'POST', path: '/injectconfig', body });
    assert.equal(none.status, 415);
    assert.match(none.body, /Content-Type none/);
    assert.equal(isJsonContentType(undefined), false);
  });

  test('a body over the limit is 413, whether declared or streamed; the connection stays usable', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const declared = await call(s.port, { method: 'POST', path: '/injectconfig', headers: json, body: Buffer.alloc(5000, 32), agent });
      assert.equal(declared.status, 413);
      assert.match(declared.body, /5000 bytes is over the limit of 4096 bytes/);
      const streamed = await call(s.port, { method: 'POST', path: '/injectconfig', headers: json, chunks: [Buffer.alloc(3000, 32), Buffer.alloc(3000, 32)], agent });
      assert.equal(streamed.status, 413);
      const ok = await call(s.port, { method: 'POST', path: '/injectconfig', headers: json, body: reviewBody({ object: samplePod() }), agent });
      assert.equal(ok.status, 200);
    } finally {
      agent.destroy();
    }
  });

  test('a body too large to even discard: 413, then the connection is closed', async () => {
    const sock = net.connect(s.port, '127.0.0.1');
    const got = await new Promise<string>((resolve, reject) => {
      let data = '';
      sock.on('data', (d: Buffer) => (data += d.toString()));
      sock.on('close', () => resolve(data));
      sock.on('error', reject);
      sock.write(`POST /injectconfig HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${MAX_DISCARDED_BODY_BYTES + 1}\r\n\r\n{`);
    });
    assert.match(got, /^HTTP\/1\.1 413 /);
    assert.match(got, /Connection: close/i);
  });

  test('malformed reviews are 400s', async () => {
    const r = await call(s.port, { method: 'POST', path: '/injectconfig', headers: json, body: '{"kind":"AdmissionReview"}' });
    assert.equal(r.status, 400);
    assert.match(r.body, /malformed AdmissionReview: apiVersion/);
  });

  test('a client that hangs up mid-body does not hurt the server', async () => {
    await new Promise<void>((resolve) => {
      const sock = net.connect(s.port, '127.0.0.1', () => {
        sock.write('POST /injectconfig HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"apiVersion":');
        setTimeout(() => (sock.destroy(), resolve()), 50);
      });
    });
    assert.equal((await call(s.port, { path: '/healthz' })).status, 200);
  });

  test('a client that hangs up while its review waits for facts: the resolver is told to stop', { timeout: 5_000 }, async () => {
    let signalled!: (signal: AbortSignal) => void;
    const asked = new Promise<AbortSignal>((r) => (signalled = r));
    const facts: FactResolver = {
      owner: (_ns, _ref, signal) => (signalled(signal), new Promise(() => {})),
      namespaceLabels: async () => undefined,
    };
    const w = await listen({}, 1 << 20, facts);
    try {
      const body = reviewBody({ object: untaggedPod() });
      const sock = net.connect(w.port, '127.0.0.1', () => {
        sock.write(`POST /injecttags HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      });
      const signal = await asked;
      assert.equal(signal.aborted, false);
      sock.destroy();
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    } finally {
      await w.close();
    }
  });

  test('rejections are counted', async () => {
    const text = await s.metrics.registry.getSingleMetricAsString('tether_admission_requests_total');
    assert.match(text, /webhook="config",outcome="rejected"\} [1-9]/);
    assert.match(text, /webhook="tags",outcome="rejected"\} [1-9]/);
  });
});

describe('routes', () => {
  test('disabled webhooks are not served; endpoints follow the configuration', async () => {
    const s = await listen({ 'admission_controller.inject_tags.enabled': false, 'admission_controller.inject_config.endpoint': '/cfg' });
    try {
      assert.equal((await call(s.port, { method: 'POST', path: '/injecttags', headers: json, body: reviewBody({ object: samplePod() }) })).status, 404);
      assert.equal((await call(s.port, { method: 'POST', path: '/injectconfig', headers: json, body: reviewBody({ object: samplePod() }) })).status, 404);
      assert.equal((await call(s.port, { method: 'POST', path: '/cfg', headers: json, body: reviewBody({ object: samplePod() }) })).status, 200);
    } finally {
      await s.close();
    }
  });

  test('two webhooks on one endpoint is a configuration error naming the key', () => {
    assert.throws(
      () => webhookRoutes(testConfig({ 'admission_controller.inject_tags.endpoint': '/injectconfig' })),
      (e: unknown) => e instanceof ConfigError && /admission_controller\.inject_tags\.endpoint.*\/injectconfig is already the endpoint of the config webhook/.test(e.message),
    );
    assert.deepEqual([...webhookRoutes(testConfig({ 'admission_controller.enabled': false }))], []);
  });
});
