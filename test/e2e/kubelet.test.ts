/**
 * The node agent's kubelet client against kubelet doubles that decide every request on the real API
 * server (TokenReview, SubjectAccessReview), with real bound service-account tokens (TokenRequest):
 * the first seed's failures, each found and explained, and two nodes each listing exactly their pods.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { generateCa, type CertificatePair } from '../../src/certs/index.js';
import { createKubeletClient, type KubeletClient, type KubeletClientOptions } from '../../src/nodeagent/kubelet.js';
import { KUBELET_READER_RESOURCES, KUBELET_READER_ROLE } from '../../src/kube/kubeletRbac.js';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { tempDir, type TempDir } from '../helpers/certs.js';
import { eventually } from '../helpers/eventually.js';
import { startKubeletDouble, type KubeletDouble, type KubeletDoubleOptions } from '../helpers/kubeletDouble.js';
import { recordingLogger } from '../helpers/logs.js';
import { manualClock } from '../helpers/manual.js';
import { expectUpstreamError } from '../helpers/upstream.js';

const AGENT_NS = 'datadog';
const APPS = 'apps';
const READER = 'node-agent';
const NO_RBAC = 'no-rbac';
const NODES = ['node-a', 'node-b'] as const;
/** Pods bound to each node at creation (there is no scheduler). */
const PODS: Record<string, readonly string[]> = { 'node-a': ['web-a1', 'web-a2'], 'node-b': ['web-b1'] };

let cp: ControlPlane;
let core: k8s.CoreV1Api;
let dir: TempDir;
/** One CA signs both doubles' certificates, as a cluster CA signs every kubelet's (serverTLSBootstrap). */
let ca: CertificatePair;
let caFile: string;
let otherCaFile: string;
let readerTokenFile: string;
let noRbacTokenFile: string;
let garbageTokenFile: string;
const doubles: KubeletDouble[] = [];
const clients: KubeletClient[] = [];
let kubelets: Record<string, KubeletDouble>;

async function double(o: Omit<KubeletDoubleOptions, 'controlPlane' | 'ca'>): Promise<KubeletDouble> {
  const d = await startKubeletDouble({ controlPlane: cp, ca, ...o });
  doubles.push(d);
  return d;
}

function clientOf(d: KubeletDouble, o: Partial<KubeletClientOptions> = {}): KubeletClient {
  const c = createKubeletClient({ nodeName: d.nodeName, host: d.host, port: d.port, tokenPath: readerTokenFile, caFile, ...o });
  clients.push(c);
  return c;
}

async function token(serviceAccount: string): Promise<string> {
  const tr = await core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace: AGENT_NS,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const t = tr.status?.token;
  if (!t) throw new Error(`no token for ${serviceAccount}`);
  return t;
}

const problemOf = expectUpstreamError;

before(
  async () => {
    cp = await startControlPlane();
    const kc = cp.kubeConfig();
    core = kc.makeApiClient(k8s.CoreV1Api);
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    dir = await tempDir('tether-kubelet-e2e-');

    for (const name of [AGENT_NS, APPS]) await core.createNamespace({ body: { metadata: { name } } });
    for (const name of NODES) await core.createNode({ body: { metadata: { name, labels: { 'kubernetes.io/hostname': name } } } });
    for (const name of [READER, NO_RBAC]) await core.createNamespacedServiceAccount({ namespace: AGENT_NS, body: { metadata: { name } } });
    // Exactly what the 403 diagnosis tells to create: proves the fix is enough.
    await rbac.createClusterRole({
      body: { metadata: { name: KUBELET_READER_ROLE }, rules: [{ apiGroups: [''], resources: [...KUBELET_READER_RESOURCES], verbs: ['get'] }] },
    });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: KUBELET_READER_ROLE },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: KUBELET_READER_ROLE },
        subjects: [{ kind: 'ServiceAccount', name: READER, namespace: AGENT_NS }],
      },
    });
    // Pods need the namespace's `default` service account (the controller manager creates it).
    await eventually('the default service account of apps', () => core.readNamespacedServiceAccount({ name: 'default', namespace: APPS }));
    for (const [node, names] of Object.entries(PODS)) {
      for (const name of names) {
        await core.createNamespacedPod({
          namespace: APPS,
          body: { metadata: { name, labels: { app: 'web' } }, spec: { nodeName: node, containers: [{ name: 'app', image: 'registry.example/web:1' }] } },
        });
      }
    }

    ca = await generateCa({ commonName: 'test-cluster-kubelet-ca', validityHours: 24 });
    caFile = join(dir.path, 'ca.crt');
    await writeFile(caFile, ca.certPem);
    otherCaFile = join(dir.path, 'other-ca.crt');
    await writeFile(otherCaFile, (await generateCa({ commonName: 'some-other-ca', validityHours: 24 })).certPem);
    readerTokenFile = join(dir.path, 'reader-token');
    await writeFile(readerTokenFile, await token(READER));
    noRbacTokenFile = join(dir.path, 'no-rbac-token');
    await writeFile(noRbacTokenFile, await token(NO_RBAC));
    garbageTokenFile = join(dir.path, 'garbage-token');
    await writeFile(garbageTokenFile, 'eyJhbGciOiJSUzI1NiJ9.garbage.garbage\n');

    kubelets = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await double({ nodeName: n })] as const)));
  },
  { timeout: 60 * 60_000 },
);

after(async () => {
  for (const c of clients) c.close();
  await Promise.all(doubles.map((d) => d.stop()));
  await dir?.remove();
  await cp?.stop();
});

describe('kubelet client against kubelet doubles on the real API server', () => {
  test('two nodes: each node agent lists exactly its own pods', async () => {
    for (const node of NODES) {
      const kubelet = kubelets[node]!;
      const r = await clientOf(kubelet).pods();
      assert.deepEqual(r.pods.map((p) => p.name).sort(), [...PODS[node]!].sort(), node);
      assert.equal(r.foreign, 0);
      for (const p of r.pods) {
        assert.equal(p.nodeName, node);
        assert.equal(p.namespace, APPS);
        assert.match(p.uid, /^[0-9a-f-]{36}$/);
        assert.deepEqual(p.labels, { app: 'web' });
      }
      // The double asked the API server as the kubelet does.
      assert.deepEqual(kubelet.requests.at(-1), {
        method: 'GET',
        path: '/pods',
        status: 200,
        user: `system:serviceaccount:${AGENT_NS}:${READER}`,
        subresources: ['pods', 'proxy'],
      });
    }
  });

  test('a service account without RBAC: the 403 diagnosis names nodes/pods or nodes/proxy and the fix (nodes/pods)', async () => {
    const e = await problemOf(clientOf(kubelets['node-a']!, { tokenPath: noRbacTokenFile }).pods(), 'forbidden');
    assert.equal(e.problem.status, 403);
    assert.match(e.problem.summary, new RegExp(`refused system:serviceaccount:${AGENT_NS}:${NO_RBAC}: it lacks RBAC permission "get" on nodes/pods or nodes/proxy \\(node node-a\\)`));
    assert.match(e.problem.fix, new RegExp(`--verb=get --resource=nodes/pods .*--serviceaccount=${AGENT_NS}:${NO_RBAC}`));
  });

  test('a kubelet without fine-grained authorization (before 1.33): the 403 names nodes/proxy, the fallback', async () => {
    const kubelet = await double({ nodeName: 'node-a', fineGrainedAuthz: false });
    const e = await problemOf(clientOf(kubelet, { tokenPath: noRbacTokenFile }).pods(), 'forbidden');
    assert.match(e.problem.summary, /"get" on nodes\/proxy \(node node-a\)/);
    assert.match(e.problem.fix, /agents\.rbac\.kubeletProxyFallback=true/);
  });

  test('a kubelet with fine-grained authorization (1.33+): the 403 names nodes/pods or nodes/proxy; the role suffices', async () => {
    const kubelet = await double({ nodeName: 'node-a', fineGrainedAuthz: true });
    const e = await problemOf(clientOf(kubelet, { tokenPath: noRbacTokenFile }).pods(), 'forbidden');
    assert.match(e.problem.summary, /"get" on nodes\/pods or nodes\/proxy/);
    const r = await clientOf(kubelet).pods();
    assert.equal(r.pods.length, PODS['node-a']!.length);
    assert.deepEqual(kubelet.requests.at(-1)?.subresources, ['pods', 'proxy']);
  });

  test('an invalid token: the 401 diagnosis (the seed)', async () => {
    const e = await problemOf(clientOf(kubelets['node-a']!, { tokenPath: garbageTokenFile }).pods(), 'unauthorized');
    assert.equal(e.problem.status, 401);
    assert.match(e.message, /answered 401 Unauthorized: it did not accept the token read from .*garbage-token/);
    assert.match(e.message, /--authentication-token-webhook/);
    assert.ok(!e.message.includes('eyJ'), 'never the token');
  });

  test('a kubelet without token webhook authentication answers 401 to a valid token', async () => {
    const kubelet = await double({ nodeName: 'node-a', mode: 'no-token-webhook' });
    const e = await problemOf(clientOf(kubelet).pods(), 'unauthorized');
    assert.match(e.problem.fix, /--authentication-token-webhook/);
  });

  test('a kubelet with anonymous auth on and token webhook off: 403 as system:anonymous, explained as authentication', async () => {
    const kubelet = await double({ nodeName: 'node-a', mode: 'no-token-webhook', anonymousAuth: true });
    const e = await problemOf(clientOf(kubelet).pods(), 'forbidden');
    assert.match(e.problem.summary, /system:anonymous/);
    assert.match(e.problem.fix, /--authentication-token-webhook/);
    assert.equal(kubelet.requests.at(-1)?.user, 'system:anonymous');
  });

  test('the wrong CA: the TLS diagnosis', async () => {
    const e = await problemOf(clientOf(kubelets['node-a']!, { caFile: otherCaFile }).pods(), 'tls-unknown-ca');
    assert.match(e.message, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);
    assert.match(e.problem.fix, /DD_KUBELET_CLIENT_CA.*DD_KUBELET_TLS_VERIFY=false/);
    // kubelet_tls_verify: false reads it anyway.
    assert.equal((await clientOf(kubelets['node-a']!, { caFile: otherCaFile, tlsVerify: false }).pods()).pods.length, PODS['node-a']!.length);
  });

  test('a kubelet with a self-signed certificate: the TLS diagnosis', async () => {
    const kubelet = await double({ nodeName: 'node-a', mode: 'unknown-ca' });
    const e = await problemOf(clientOf(kubelet).pods(), 'tls-unknown-ca');
    assert.match(e.message, /SELF_SIGNED_CERT_IN_CHAIN/);
  });

  test('plain HTTP on the port: the handshake diagnosis', async () => {
    const kubelet = await double({ nodeName: 'node-a', mode: 'plain-http' });
    const e = await problemOf(clientOf(kubelet).pods(), 'tls-handshake');
    assert.match(e.message, /plain HTTP/);
  });

  test('the TLS handshake cut: the handshake diagnosis (EOF)', async () => {
    const kubelet = await double({ nodeName: 'node-a', mode: 'handshake-eof' });
    const e = await problemOf(clientOf(kubelet).pods(), 'tls-handshake');
    assert.match(e.message, /EOF/);
  });

  test('the token file rotated: the new token is used from the next re-read on', async () => {
    const file = join(dir.path, 'rotating-token');
    await writeFile(file, await token(NO_RBAC));
    const clock = manualClock();
    const c = clientOf(kubelets['node-b']!, { tokenPath: file, now: clock.now, rereadMs: 60_000 });
    await problemOf(c.pods(), 'forbidden');
    await writeFile(file, `${await token(READER)}\n`);
    clock.advance(59_999);
    await problemOf(c.pods(), 'forbidden');
    clock.advance(1);
    assert.deepEqual((await c.pods()).pods.map((p) => p.name), PODS['node-b']);
  });

  test('an address that lists the pods of every node: only this node\'s are kept, the others reported', async () => {
    const kubelet = await double({ nodeName: 'node-a', podsOfAllNodes: true });
    const log = recordingLogger();
    const r = await clientOf(kubelet, { log: log.logger }).pods();
    assert.deepEqual(r.pods.map((p) => p.name).sort(), [...PODS['node-a']!].sort());
    assert.equal(r.foreign, PODS['node-b']!.length);
    assert.deepEqual(r.foreignNodes, ['node-b']);
    assert.ok(log.lines().some((l) => l['level'] === 40 && /returned 1 pod of other nodes \(nodes node-b\); kept only the 2 of node node-a/.test(String(l['msg']))), log.text());
  });

  test('a pod created a moment ago is listed (the double lists at request time)', async () => {
    await core.createNamespacedPod({
      namespace: APPS,
      body: { metadata: { name: 'late-b2' }, spec: { nodeName: 'node-b', containers: [{ name: 'app', image: 'registry.example/web:1' }] } },
    });
    const r = await clientOf(kubelets['node-b']!).pods();
    assert.ok(r.pods.some((p) => p.name === 'late-b2'));
  });
});
