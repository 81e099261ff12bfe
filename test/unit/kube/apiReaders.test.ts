/**
 * `createApiFactResolver` through client-node's real HTTP stack, against loopback servers: a fake API
 * server (canned objects and Status errors), a closed port, and a server that accepts and never answers.
 * Checks what the fake readers of facts.test.ts cannot: that requests are aborted (the socket closes),
 * that client-node's errors are worded right, and that the credentials never leak.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import * as k8s from '@kubernetes/client-node';
import type { OwnerReference } from '../../../src/admission/pod.js';
import { createApiFactResolver } from '../../../src/kube/facts.js';
import { recordingLogger } from '../../helpers/logs.js';

const TOKEN = 's3cr3t-token-never-shown';
const TAGS = { 'tags.datadoghq.com/env': 'prod', 'tags.datadoghq.com/service': 'web', 'tags.datadoghq.com/version': '1.2.3' };
const rsRef: OwnerReference = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', controller: true };
const never = new AbortController().signal;

function kubeConfigFor(server: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    // Plain HTTP needs skipTLSVerify in client-node; the TLS path is covered by the e2e tests.
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: TOKEN }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return kc;
}

const status = (code: number, message: string) => ({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code });

describe('createApiFactResolver over HTTP (fake API server)', () => {
  let server: http.Server;
  let url: string;
  const requests: { path: string; authorized: boolean }[] = [];

  before(async () => {
    const objects: Record<string, { code: number; body: unknown }> = {
      '/apis/apps/v1/namespaces/apps/replicasets/web-1': {
        code: 200,
        body: { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web-1', namespace: 'apps', labels: { app: 'web' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'u1', controller: true }] } },
      },
      '/apis/apps/v1/namespaces/apps/deployments/web': { code: 200, body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'apps', labels: TAGS } } },
      '/apis/apps/v1/namespaces/apps/statefulsets/db': { code: 200, body: { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: 'apps' } } },
      '/apis/batch/v1/namespaces/apps/jobs/secret': { code: 403, body: status(403, 'jobs.batch "secret" is forbidden: User "system:serviceaccount:datadog:datadog-cluster-agent" cannot get resource "jobs" in API group "batch" in the namespace "apps"') },
      '/api/v1/namespaces/apps': { code: 200, body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } } },
    };
    server = http.createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      requests.push({ path, authorized: req.headers.authorization === `Bearer ${TOKEN}` });
      const o = objects[path] ?? { code: 404, body: status(404, `${path} not found`) };
      res.writeHead(o.code, { 'Content-Type': 'application/json' }).end(JSON.stringify(o.body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });

  after(() => new Promise<void>((r) => server.close(() => r())));

  test("a ReplicaSet's Deployment labels, one request each, with the kubeconfig's credentials; then from the cache", async () => {
    const facts = createApiFactResolver({ kubeConfig: kubeConfigFor(url), ownerCacheTtlMs: 60_000 });
    requests.length = 0;
    const got = await Promise.all(Array.from({ length: 20 }, () => facts.owner('apps', rsRef, never)));
    for (const g of got) assert.deepEqual(g, { found: true, kind: 'Deployment', name: 'web', labels: TAGS });
    assert.deepEqual(requests, [
      { path: '/apis/apps/v1/namespaces/apps/replicasets/web-1', authorized: true },
      { path: '/apis/apps/v1/namespaces/apps/deployments/web', authorized: true },
    ]);
    await facts.owner('apps', rsRef, never);
    assert.equal(requests.length, 2);
  });

  test('an owner without labels: found, with no labels', async () => {
    const facts = createApiFactResolver({ kubeConfig: kubeConfigFor(url), ownerCacheTtlMs: 0 });
    assert.deepEqual(await facts.owner('apps', { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db' }, never), { found: true, kind: 'StatefulSet', name: 'db', labels: {} });
  });

  test('404 and 403 from the API server: found false with the reason; the token appears nowhere', async () => {
    const rec = recordingLogger('debug');
    const facts = createApiFactResolver({ kubeConfig: kubeConfigFor(url), ownerCacheTtlMs: 0, logger: rec.logger });
    assert.deepEqual(await facts.owner('apps', { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'gone' }, never), { found: false, reason: 'DaemonSet apps/gone not found' });
    const denied = await facts.owner('apps', { apiVersion: 'batch/v1', kind: 'Job', name: 'secret' }, never);
    assert.deepEqual(denied, { found: false, reason: `forbidden to read Job apps/secret: Tether's RBAC lacks verb "get" on resource "jobs" in API group "batch"` });
    assert.doesNotMatch(rec.text(), new RegExp(TOKEN));
  });

  test('namespace labels', async () => {
    const facts = createApiFactResolver({ kubeConfig: kubeConfigFor(url), ownerCacheTtlMs: 0 });
    assert.deepEqual(await facts.namespaceLabels('apps', never), { 'pod-security.kubernetes.io/enforce': 'restricted' });
    await assert.rejects(facts.namespaceLabels('nope', never), /^Error: namespace nope not found$/);
  });
});

describe('createApiFactResolver, API server unreachable', () => {
  test('a closed port: found false, "cannot reach the API server", quickly', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const facts = createApiFactResolver({ kubeConfig: kubeConfigFor(`https://127.0.0.1:${port}`), ownerCacheTtlMs: 60_000 });
    const started = Date.now();
    const got = await facts.owner('apps', rsRef, never);
    assert.ok(Date.now() - started < 2_000);
    assert.equal(got.found, false);
    assert.equal(got.found ? '' : got.reason, `cannot reach the API server to read ReplicaSet apps/web-1: connect ECONNREFUSED 127.0.0.1:${port}`);
    await assert.rejects(facts.namespaceLabels('apps', never), /cannot reach the API server to read namespace apps: connect ECONNREFUSED/);
  });

  describe('a server that accepts connections and never answers', () => {
    let silent: net.Server;
    let port: number;
    const open = new Set<net.Socket>();
    let accepted = 0;

    before(async () => {
      silent = net.createServer((s) => {
        accepted++;
        open.add(s);
        // Read (and drop) what arrives, so that the client closing the connection is noticed.
        s.resume();
        s.on('close', () => open.delete(s));
        s.on('error', () => {});
      });
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      port = (silent.address() as net.AddressInfo).port;
    });

    after(() => {
      for (const s of open) s.destroy();
      return new Promise<void>((r) => silent.close(() => r()));
    });

    const closedWithin = async (ms: number) => {
      const deadline = Date.now() + ms;
      while (open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      return open.size === 0;
    };

    test("the caller's signal ends the wait, and the HTTP request is aborted (its connection closes)", async () => {
      const facts = createApiFactResolver({ kubeConfig: kubeConfigFor(`https://127.0.0.1:${port}`), ownerCacheTtlMs: 60_000 });
      const before = accepted;
      const started = Date.now();
      await assert.rejects(facts.owner('apps', rsRef, AbortSignal.timeout(200)));
      const took = Date.now() - started;
      assert.ok(took < 1_000, `gave up after ${took} ms`);
      assert.equal(accepted, before + 1, 'one connection was made');
      assert.ok(await closedWithin(1_000), `${open.size} connection(s) still open`);
    });

    test('several callers giving up one after the other: one connection, closed when the last gives up', async () => {
      const facts = createApiFactResolver({ kubeConfig: kubeConfigFor(`https://127.0.0.1:${port}`), ownerCacheTtlMs: 60_000 });
      const before = accepted;
      const waits = [100, 200, 300].map((ms) => assert.rejects(facts.owner('apps', rsRef, AbortSignal.timeout(ms))));
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(open.size, 1, 'still wanted by the other callers');
      await Promise.all(waits);
      assert.equal(accepted, before + 1);
      assert.ok(await closedWithin(1_000));
    });

    test('without a caller deadline, the read ends after readTimeoutMs, its connection closed', async () => {
      const facts = createApiFactResolver({ kubeConfig: kubeConfigFor(`https://127.0.0.1:${port}`), ownerCacheTtlMs: 60_000, readTimeoutMs: 200 });
      assert.deepEqual(await facts.owner('apps', rsRef, never), { found: false, reason: 'the API server did not answer within 200 ms' });
      assert.ok(await closedWithin(1_000));
    });
  });
});
