import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { generateCa, type CertificatePair } from '../../../src/certs/index.js';
import { AUTH_FAILURE_TEXT } from '../../../src/agentapi/types.js';
import { startClusterAgentApi, type ClusterAgentApi } from '../../../src/clusteragent/api/index.js';
import { testConfig } from '../../helpers/config.js';
import { fakeClusterView, SYNCED, type FakeClusterView } from '../../helpers/fakeClusterView.js';
import { request, type HttpReply } from '../../helpers/https.js';
import { recordingLogger, type RecordedLog } from '../../helpers/logs.js';
import { rawRequest } from '../../helpers/rawHttps.js';

const TOKEN = 'k3y-' + 'x'.repeat(20) + '-0123456789abcdef'; // 41 characters
const WRONG = 'k3y-' + 'x'.repeat(20) + '-0123456789abcdeX';
const auth = { Authorization: `Bearer ${TOKEN}` };

/** A small cluster: two nodes, services selecting some pods. */
function cluster(): FakeClusterView {
  const v = fakeClusterView();
  v.setNode('n1', { 'kubernetes.io/hostname': 'n1', 'topology.kubernetes.io/zone': 'z1' });
  v.setNode('n2', {});
  v.setNamespace('kube-system', {}, '3f1c2a90-0000-4000-8000-000000000001');
  v.setNamespace('shop', { team: 'payments', 'kubernetes.io/metadata.name': 'shop' });
  v.addService({ namespace: 'shop', name: 'web', selector: { app: 'web' } });
  v.addService({ namespace: 'shop', name: 'all', selector: { tier: 'front' } });
  v.addService({ namespace: 'ops', name: 'mon', selector: { app: 'mon' } });
  v.addPod({ namespace: 'shop', name: 'web-1', node: 'n1', labels: { app: 'web', tier: 'front' }, uid: 'u-web-1', owner: { kind: 'ReplicaSet', name: 'web-5d9' } });
  v.addPod({ namespace: 'shop', name: 'lonely', node: 'n1', labels: { app: 'none' }, uid: 'u-lonely' });
  v.addPod({ namespace: 'ops', name: 'mon-a', node: 'n1', labels: { app: 'mon' }, uid: 'u-mon-a' });
  v.addPod({ namespace: 'shop', name: 'web-2', node: 'n2', labels: { app: 'web' }, uid: 'u-web-2' });
  v.setWorkload('shop', { kind: 'ReplicaSet', name: 'web-5d9' }, { kind: 'Deployment', name: 'web', via: { kind: 'ReplicaSet', name: 'web-5d9' }, tagLabels: { 'tags.datadoghq.com/env': 'prod' } });
  return v;
}

describe('cluster agent API over HTTPS', () => {
  let ca: CertificatePair;
  let api: ClusterAgentApi;
  let view: FakeClusterView;
  let logs: RecordedLog;
  const get = (path: string, headers: Record<string, string> = auth, method = 'GET'): Promise<HttpReply> => request(api.url + path, { ca: ca.certPem, headers, method });

  before(async () => {
    ca = await generateCa({ commonName: 'api test CA', validityHours: 24 });
    view = cluster();
    logs = recordingLogger('debug');
    api = await startClusterAgentApi({
      config: testConfig({ 'cluster_agent.auth_token': TOKEN }),
      namespace: 'datadog',
      view,
      logger: logs.logger,
      host: '127.0.0.1',
      port: 0,
      extraNames: ['127.0.0.1'],
      commit: 'abc1234',
    });
  });
  after(() => api.close({ drainMs: 0 }));

  test('accepts no TLS handshake before its first certificate, then serves one for the Service names', async () => {
    const handshake = new Promise<void>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: api.port, ca: ca.certPem }, () => {
        s.destroy();
        reject(new Error('a handshake succeeded without a certificate'));
      });
      s.on('error', () => resolve());
    });
    await handshake;
    const info = await api.setCa(ca.certPem, ca.keyPem);
    assert.ok(info);
    assert.deepEqual(info.dnsNames, ['datadog-cluster-agent', 'datadog-cluster-agent.datadog', 'datadog-cluster-agent.datadog.svc', 'datadog-cluster-agent.datadog.svc.cluster.local']);
    assert.deepEqual(info.ipAddresses, ['127.0.0.1']);
    const r = await get('/version');
    assert.equal(r.status, 200);
  });

  test('GET /version: the stack shape from package.json and the commit', async () => {
    const r = await get('/version');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal(r.body, '{"Major":0,"Minor":1,"Patch":0,"Pre":"","Meta":"","Commit":"abc1234"}');
  });

  test('the stack paths answer in its shapes, byte for byte', async () => {
    const cases: [string, number, string][] = [
      ['/api/v1/tags/pod/n1', 200, '{"Nodes":{"n1":{"services":{"ops":{"mon-a":{"mon":{}}},"shop":{"web-1":{"all":{},"web":{}}}}}},"Warnings":[],"Errors":""}'],
      ['/api/v1/tags/pod/n2', 200, '{"Nodes":{"n2":{"services":{"shop":{"web-2":{"web":{}}}}}},"Warnings":[],"Errors":""}'],
      ['/api/v1/tags/pod/n1/shop/web-1', 200, '["kube_service:all","kube_service:web"]'],
      ['/api/v1/tags/pod/n1/shop/lonely', 200, '[]'],
      ['/api/v1/tags/node/n1', 200, '{"kubernetes.io/hostname":"n1","topology.kubernetes.io/zone":"z1"}'],
      ['/api/v1/tags/node/n2', 200, '{}'],
      ['/api/v1/tags/namespace/shop', 200, '{"kubernetes.io/metadata.name":"shop","team":"payments"}'],
      ['/api/v1/cluster/id', 200, '"3f1c2a90-0000-4000-8000-000000000001"'],
    ];
    for (const [path, status, body] of cases) {
      const r = await get(path);
      assert.equal(r.status, status, path);
      assert.equal(r.body, body, path);
      assert.equal(r.headers['content-type'], 'application/json', path);
    }
  });

  test("GET /api/v1/tether/pods/{node}: the node's pods, sorted, with their tags", async () => {
    const r = await get('/api/v1/tether/pods/n1');
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body) as { node: string; pods: { namespace: string; name: string; uid: string; tags: string[] }[] };
    assert.equal(body.node, 'n1');
    assert.deepEqual(body.pods.map((p) => `${p.namespace}/${p.name}`), ['ops/mon-a', 'shop/lonely', 'shop/web-1']);
    const web = body.pods[2]!;
    assert.equal(web.uid, 'u-web-1');
    for (const t of ['kube_namespace:shop', 'pod_name:web-1', 'kube_service:web', 'kube_service:all', 'kube_deployment:web', 'kube_replica_set:web-5d9', 'env:prod', 'kube_node:n1']) assert.ok(web.tags.includes(t), `${t} in ${web.tags.join(',')}`);
    assert.deepEqual([...web.tags].sort(), web.tags);
    assert.equal((await get('/api/v1/tether/pods/nowhere')).body, '{"node":"nowhere","pods":[]}');
  });

  test('percent-encoded path segments are decoded; a malformed one is a 400 (after authentication)', async () => {
    view.addPod({ namespace: 'shop', name: 'web-3', node: 'n:1', labels: { app: 'web' } });
    assert.equal((await get('/api/v1/tags/pod/n%3A1')).body, '{"Nodes":{"n:1":{"services":{"shop":{"web-3":{"web":{}}}}}},"Warnings":[],"Errors":""}');
    assert.equal((await get('/api/v1/tags/pod/%zz')).status, 400);
    assert.equal((await get('/api/v1/tags/pod/%zz', {})).status, 401);
  });

  test('unknown objects: the closest to the stack (404 with its texts; an unknown node in the pod map is a warning)', async () => {
    const unknownNode = await get('/api/v1/tags/pod/nowhere');
    assert.equal(unknownNode.status, 200);
    const parsed = JSON.parse(unknownNode.body) as { Nodes: object; Warnings: string[]; Errors: string };
    assert.deepEqual(parsed.Nodes, {});
    assert.match(parsed.Warnings[0] ?? '', /^Node nowhere could not be added to the metadata map bundle/);
    assert.equal(parsed.Errors, '');

    const notFound: [string, RegExp][] = [
      ['/api/v1/tags/pod/n1/shop/ghost', /^Could not find associated metadata mapped to the pod: shop\/ghost on node: n1/],
      // Bound to another node: not this node's pod.
      ['/api/v1/tags/pod/n1/shop/web-2', /^Could not find associated metadata mapped to the pod: shop\/web-2 on node: n1/],
      ['/api/v1/tags/node/nowhere', /^Could not find labels on the node: nowhere/],
      ['/api/v1/tags/namespace/nope', /^Could not find labels of the namespace: nope/],
      ['/api/v1/nothing', /^404 page not found/],
      ['/api/v1/tags/pod/n1/shop', /^404 page not found/],
      ['/api/v1/tags/pod/', /^404 page not found/],
    ];
    for (const [path, text] of notFound) {
      const r = await get(path);
      assert.equal(r.status, 404, path);
      assert.match(r.body, text, path);
      assert.equal(r.headers['cache-control'], 'no-store', path);
    }
  });

  test('GET and HEAD only: 405 with Allow otherwise', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await get('/api/v1/tags/pod/n1', auth, method);
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD');
    }
    const head = await get('/api/v1/tags/pod/n1', auth, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.ok(Number(head.headers['content-length']) > 0);
  });

  test('the auth table: every malformed Authorization is a 401 or 403, never 200 or 500; the scheme is case-insensitive', async () => {
    const big = 'Bearer ' + 'z'.repeat(10 * 1024);
    const cases: { name: string; lines: (string | Buffer)[]; status: number; text?: string }[] = [
      { name: 'no header', lines: [], status: 401, text: AUTH_FAILURE_TEXT.missing },
      { name: 'empty header', lines: ['Authorization:'], status: 401, text: AUTH_FAILURE_TEXT.missing },
      { name: 'Bearer alone', lines: ['Authorization: Bearer'], status: 401, text: AUTH_FAILURE_TEXT.missing },
      { name: 'Bearer and spaces', lines: ['Authorization: Bearer    '], status: 401, text: AUTH_FAILURE_TEXT.missing },
      { name: 'another scheme', lines: [`Authorization: Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`], status: 401 },
      { name: 'the token without a scheme', lines: [`Authorization: ${TOKEN}`], status: 401 },
      { name: 'a tab instead of the space', lines: [`Authorization: Bearer\t${TOKEN}`], status: 401 },
      { name: 'two spaces', lines: [`Authorization: Bearer  ${TOKEN}`], status: 403, text: AUTH_FAILURE_TEXT.invalid },
      { name: 'wrong token', lines: [`Authorization: Bearer ${WRONG}`], status: 403, text: AUTH_FAILURE_TEXT.invalid },
      { name: 'a prefix of the token', lines: [`Authorization: Bearer ${TOKEN.slice(0, -1)}`], status: 403 },
      { name: 'the token and more', lines: [`Authorization: Bearer ${TOKEN}x`], status: 403 },
      { name: 'a 10 KB header', lines: [`Authorization: ${big}`], status: 403 },
      { name: 'non-ASCII bytes', lines: [Buffer.concat([Buffer.from('Authorization: Bearer '), Buffer.from(`${TOKEN.slice(0, -2)}é`, 'utf8')])], status: 403 },
      { name: 'several headers, both right', lines: [`Authorization: Bearer ${TOKEN}`, `authorization: Bearer ${TOKEN}`], status: 401 },
      { name: 'several headers, the right one first', lines: [`Authorization: Bearer ${TOKEN}`, `Authorization: Bearer ${WRONG}`], status: 401 },
      { name: 'several headers, the right one last', lines: [`Authorization: Basic x`, `Authorization: Bearer ${TOKEN}`], status: 401 },
    ];
    for (const c of cases) {
      const r = await rawRequest({ port: api.port, ca: ca.certPem, path: '/api/v1/tags/pod/n1', headerLines: c.lines });
      assert.equal(r.status, c.status, `${c.name}: ${r.status} ${r.body}`);
      if (c.text) assert.equal(r.body.trim(), c.text, c.name);
      if (r.status === 401) assert.match(r.headers['www-authenticate'] ?? '', /^Bearer/, c.name);
      assert.ok(!r.body.includes(TOKEN) && !r.body.includes(WRONG), c.name);
    }
    // A newline inside the value ends the request for the HTTP parser itself: rejected before any handler.
    const newline = await rawRequest({ port: api.port, ca: ca.certPem, path: '/api/v1/tags/pod/n1', headerLines: [`Authorization: Bearer ${TOKEN}\n`] });
    assert.ok(newline.status === 400 || newline.status === 401 || newline.status === 403, `trailing newline: ${newline.status}`);
    for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
      const r = await rawRequest({ port: api.port, ca: ca.certPem, path: '/api/v1/tags/pod/n1', headerLines: [`Authorization: ${scheme} ${TOKEN}`] });
      assert.equal(r.status, 200, scheme);
    }
  });

  test('every endpoint but /healthz, /readyz and /metrics needs the token, unknown paths included', async () => {
    for (const path of ['/version', '/api/v1/tags/pod/n1', '/api/v1/tags/pod/n1/shop/web-1', '/api/v1/tags/node/n1', '/api/v1/tags/namespace/shop', '/api/v1/cluster/id', '/api/v1/tether/pods/n1', '/nothing']) {
      const r = await get(path, {});
      assert.equal(r.status, 401, path);
      assert.equal(r.headers['www-authenticate'], 'Bearer', path);
    }
    for (const path of ['/healthz', '/readyz', '/metrics']) assert.equal((await get(path, {})).status, 200, path);
  });

  test('/readyz is 503 while a watch is not synced, naming it, and 200 once all are', async () => {
    view.setSync([
      { resource: 'pods', synced: true, objects: 5 },
      { resource: 'services', synced: false, objects: 0 },
      { resource: 'nodes', synced: true, objects: 2, lastError: 'watch: 403 Forbidden' },
    ]);
    const r = await get('/readyz', {});
    assert.equal(r.status, 503);
    assert.match(r.body, /services \(not listed yet\)/);
    assert.match(r.body, /nodes \(failing: watch: 403 Forbidden\)/);
    assert.doesNotMatch(r.body, /pods/);
    // A 404 while not synced says the object may just not be known yet.
    assert.match((await get('/api/v1/tags/node/nowhere')).body, /not synced yet/);
    view.setSync(SYNCED);
    assert.equal((await get('/readyz', {})).status, 200);
    assert.equal((await get('/healthz', {})).body, 'ok\n');
  });

  test('/metrics counts requests by route pattern (never the raw path) and status, and refusals by reason', async () => {
    const before = await get('/metrics', {});
    const count = (text: string, series: string): number => Number(new RegExp(`^${series.replace(/[{}()[\]/.]/g, '\\$&')} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    const podSeries = 'tether_cluster_agent_requests_total{endpoint="/api/v1/tags/pod/{node}",status="200"}';
    const n0 = count(before.body, podSeries);
    const missing0 = count(before.body, 'tether_cluster_agent_auth_failures_total{reason="missing"}');
    const invalid0 = count(before.body, 'tether_cluster_agent_auth_failures_total{reason="invalid"}');
    await get('/api/v1/tags/pod/n1');
    await get('/api/v1/tags/pod/n2');
    await get('/api/v1/tags/pod/metrics-secret-node');
    await get('/api/v1/tags/pod/n1', {});
    await get('/api/v1/tags/pod/n1', { Authorization: `Bearer ${WRONG}` });
    await get('/no/such/path');
    const m = (await get('/metrics', {})).body;
    assert.equal(count(m, podSeries), n0 + 3);
    assert.equal(count(m, 'tether_cluster_agent_auth_failures_total{reason="missing"}'), missing0 + 1);
    assert.equal(count(m, 'tether_cluster_agent_auth_failures_total{reason="invalid"}'), invalid0 + 1);
    assert.ok(count(m, 'tether_cluster_agent_requests_total{endpoint="unknown",status="404"}') >= 1);
    assert.ok(count(m, 'tether_cluster_agent_requests_total{endpoint="/api/v1/tags/pod/{node}",status="403"}') >= 1);
    assert.doesNotMatch(m, /metrics-secret-node|no\/such/);
    api.metrics.setLeader(true);
    api.metrics.setBreakerState('facts', 'open');
    api.metrics.countReconcile('certificate', 'success');
    const m2 = (await get('/metrics', {})).body;
    assert.match(m2, /^tether_leader 1$/m);
    assert.match(m2, /^tether_breaker_state\{breaker="facts",state="open"\} 1$/m);
    assert.match(m2, /^tether_breaker_state\{breaker="facts",state="closed"\} 0$/m);
    assert.match(m2, /^tether_reconciles_total\{controller="certificate",outcome="success"\} 1$/m);
  });

  test('neither the token nor a wrong one appears in any log line; refusals are logged with their reason', async () => {
    await get('/api/v1/tags/pod/n1', { Authorization: `Bearer ${WRONG}` });
    await get('/api/v1/tags/pod/n1');
    const text = logs.text();
    assert.ok(!text.includes(TOKEN), 'the token was logged');
    assert.ok(!text.includes(WRONG), 'a presented token was logged');
    assert.ok(!text.includes(TOKEN.slice(4, 28)), 'part of the token was logged');
    const refusal = logs.lines().find((l) => l.reason === 'invalid');
    assert.ok(refusal, 'a 403 is logged');
    assert.equal(refusal.status, 403);
    assert.equal(refusal.endpoint, '/api/v1/tags/pod/{node}');
  });

  test('a view that throws is a 500 with no detail, never a crash', async () => {
    const original = view.nodeLabels;
    view.nodeLabels = () => {
      throw new Error('boom');
    };
    try {
      const r = await get('/api/v1/tags/node/n1');
      assert.equal(r.status, 500);
      assert.equal(r.body, 'internal error\n');
    } finally {
      view.nodeLabels = original;
    }
    assert.equal((await get('/api/v1/tags/node/n1')).status, 200);
  });
});

describe('cluster agent API configuration', () => {
  test('refuses to start without a token', async () => {
    await assert.rejects(
      startClusterAgentApi({ config: testConfig({}), namespace: 'datadog', view: fakeClusterView(), logger: recordingLogger().logger, host: '127.0.0.1', port: 0 }),
      /cluster_agent\.auth_token/,
    );
  });

  test('shutdown: /readyz fails at once, requests are still answered during the grace period', async () => {
    const ca = await generateCa({ commonName: 'shutdown CA', validityHours: 24 });
    const api = await startClusterAgentApi({ config: testConfig({ 'cluster_agent.auth_token': TOKEN }), namespace: 'datadog', view: fakeClusterView(), logger: recordingLogger().logger, host: '127.0.0.1', port: 0, extraNames: ['127.0.0.1'] });
    await api.setCa(ca.certPem, ca.keyPem);
    assert.equal((await request(api.url + '/readyz', { ca: ca.certPem })).status, 200);
    const done = api.shutdown({ graceMs: 60_000, drainMs: 1_000 });
    const r = await request(api.url + '/readyz', { ca: ca.certPem });
    assert.equal(r.status, 503);
    assert.match(r.body, /shutting down/);
    assert.equal((await request(api.url + '/version', { ca: ca.certPem, headers: auth })).status, 200);
    await api.close({ drainMs: 0 });
    await done;
  });
});

describe('cluster agent API before its watches have synced', () => {
  test('data endpoints answer 503 in the stack shape (never an empty 200) until every watch has listed; /version and /healthz answer; later failures keep answers', async () => {
    const ca = await generateCa({ commonName: 'sync CA', validityHours: 24 });
    const view = cluster();
    view.setSync([
      { resource: 'pods', synced: false, objects: 0 },
      { resource: 'services', synced: true, objects: 3 },
    ]);
    const api = await startClusterAgentApi({ config: testConfig({ 'cluster_agent.auth_token': TOKEN }), namespace: 'datadog', view, logger: recordingLogger().logger, host: '127.0.0.1', port: 0, extraNames: ['127.0.0.1'] });
    try {
      await api.setCa(ca.certPem, ca.keyPem);
      const get = (path: string, headers: Record<string, string> = auth) => request(api.url + path, { ca: ca.certPem, headers });
      const map = await get('/api/v1/tags/pod/n1');
      assert.equal(map.status, 503);
      assert.equal(map.headers['content-type'], 'application/json');
      const parsed = JSON.parse(map.body) as { Nodes: unknown; Warnings: unknown; Errors: string };
      assert.deepEqual(parsed.Nodes, {});
      assert.deepEqual(parsed.Warnings, []);
      assert.match(parsed.Errors, /not synced its watches.*pods \(not listed yet\)/);
      for (const path of ['/api/v1/tether/pods/n1', '/api/v1/tags/pod/n1/shop/web-1', '/api/v1/tags/node/n1', '/api/v1/tags/namespace/shop', '/api/v1/cluster/id']) {
        const r = await get(path);
        assert.equal(r.status, 503, path);
        assert.match(r.body, /pods \(not listed yet\)/, path);
      }
      // Authentication still comes first: without the token, a 401, not a 503.
      assert.equal((await get('/api/v1/tags/pod/n1', {})).status, 401);
      assert.equal((await get('/version')).status, 200);
      assert.equal((await get('/healthz', {})).status, 200);
      const ready = await get('/readyz', {});
      assert.equal(ready.status, 503);
      assert.match(ready.body, /pods \(not listed yet\)/);

      view.setSync(SYNCED);
      assert.equal((await get('/api/v1/tether/pods/n1')).status, 200);
      assert.equal((await get('/readyz', {})).status, 200);
      // A watch failing after the first sync: /readyz says so, the answers (stale, not empty) go on.
      view.setSync([{ resource: 'pods', synced: false, objects: 4, lastError: 'watch: 500' }]);
      assert.equal((await get('/readyz', {})).status, 503);
      assert.equal((await get('/api/v1/tether/pods/n1')).status, 200);
    } finally {
      await api.close({ drainMs: 0 });
    }
  });
});
