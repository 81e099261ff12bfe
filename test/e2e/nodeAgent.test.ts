/**
 * The first seed, end to end (issue 9): `tether start` (cluster agent API) and two `tether node-agent`
 * processes, each reading a kubelet test double that authenticates it through the real API server
 * (TokenReview, SubjectAccessReview), every process as its own service account with the RBAC `deploy/`
 * ships. Each node agent lists exactly its own node's pods with the cluster agent's tags; each failure of
 * the seed is found and explained: a 30-character token, a service account without kubelet RBAC (403),
 * an invalid token (401), a plain-HTTP port and a wrong CA (TLS), a token that differs from the cluster
 * agent's (403 `invalid session token`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import http from 'node:http';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { CLUSTER_AGENT_CA_CONFIGMAP } from '../../src/config/index.js';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { eventually } from '../helpers/eventually.js';
import { startKubeletDouble, type KubeletDouble } from '../helpers/kubeletDouble.js';
import { applyTetherRbac, NODE_AGENT_MANIFEST, NODE_AGENT_SERVICE_ACCOUNT } from '../helpers/rbac.js';
import { freePort, spawnTether, type TetherProcess, withStartLog } from '../helpers/tether.js';

const NS = 'datadog';
const APPS = 'apps';
const TOKEN = randomBytes(24).toString('hex');

let cp: ControlPlane;
let core: k8s.CoreV1Api;
let dir: string;
let clusterAgent: TetherProcess;
let apiUrl: string;
let caFile: string;
const kubelets = new Map<string, KubeletDouble>();
const processes: TetherProcess[] = [];
let agentTokenFile: string;

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { headers, rejectUnauthorized: false, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

/** A request to the cluster agent API with `token` (null: no Authorization header). */
const api = (path: string, token: string | null = TOKEN) => get(`${apiUrl}${path}`, token === null ? {} : { Authorization: `Bearer ${token}` });

async function serviceAccountToken(name: string): Promise<string> {
  const r = await core.createNamespacedServiceAccountToken({ name, namespace: NS, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  return r.status!.token;
}

async function writeSecretFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text, { mode: 0o600 });
  return path;
}

interface NodeAgentRun {
  readonly process: TetherProcess;
  readonly url: string;
}

/** A node agent of `node`, as deploy/node-agent.yaml runs it, with `env` on top. */
async function startNodeAgent(node: string, env: Record<string, string> = {}): Promise<NodeAgentRun> {
  const kubelet = kubelets.get(node)!;
  const p = spawnTether(['node-agent', '--port', '0', '--host', '127.0.0.1', '-n', NS], {
    DD_LOG_LEVEL: 'debug',
    DD_KUBERNETES_KUBELET_NODENAME: node,
    DD_KUBERNETES_KUBELET_HOST: kubelet.host,
    DD_KUBERNETES_HTTPS_KUBELET_PORT: String(kubelet.port),
    DD_KUBELET_AUTH_TOKEN_PATH: agentTokenFile,
    DD_KUBELET_CLIENT_CA: await writeSecretFile(`kubelet-${node}-ca.pem`, kubelet.caPem),
    DD_CLUSTER_AGENT_URL: apiUrl,
    DD_CLUSTER_AGENT_AUTH_TOKEN: TOKEN,
    DD_CLUSTER_AGENT_CA_FILE: caFile,
    ...env,
  });
  processes.push(p);
  const line = await p.waitForLog((l) => typeof l['url'] === 'string' && /node agent of node/.test(String(l['msg'])));
  return { process: p, url: line['url'] as string };
}

/** A path of a node agent's status endpoint, with the token it takes (the cluster agent's) for all but the probes and /metrics. */
const fromAgent = (run: NodeAgentRun, path: string, token = TOKEN) => get(`${run.url}${path}`, { Authorization: `Bearer ${token}` });

async function statusOf(run: NodeAgentRun, token = TOKEN): Promise<{ upstreams: Record<string, { state: string; problem: { code: string; summary: string; fix: string } | null }> }> {
  return JSON.parse((await fromAgent(run, '/status', token)).body) as never;
}

function pod(name: string, node: string, labels: Record<string, string>, owner?: k8s.V1OwnerReference): k8s.V1Pod {
  return {
    metadata: { name, labels, ...(owner ? { ownerReferences: [owner] } : {}) },
    spec: { nodeName: node, containers: [{ name: 'app', image: 'registry.example/app:1' }] },
  };
}

before(
  async () => {
    cp = await startControlPlane();
    dir = cp.dir;
    const kc = cp.kubeConfig();
    core = kc.makeApiClient(k8s.CoreV1Api);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const asTether = await applyTetherRbac(cp, NS);
    await applyTetherRbac(cp, NS, NODE_AGENT_MANIFEST, NODE_AGENT_SERVICE_ACCOUNT);
    const kubeconfigFile = await writeSecretFile('tether.kubeconfig', asTether.exportConfig());

    for (const name of ['n1', 'n2']) await core.createNode({ body: { metadata: { name, labels: { 'topology.kubernetes.io/zone': `zone-${name}` } } } });
    await core.createNamespace({ body: { metadata: { name: APPS, labels: { team: 'shop' } } } });
    // A Deployment's pods: the ReplicaSet (owned by the Deployment) owns them. Both at 0 replicas, so the
    // controllers create no pods of their own (nothing schedules them here); the test binds its own.
    const deployment = await apps.createNamespacedDeployment({
      namespace: APPS,
      body: {
        metadata: { name: 'web', labels: { 'tags.datadoghq.com/env': 'prod', 'tags.datadoghq.com/service': 'web', 'tags.datadoghq.com/version': '1.2' } },
        spec: { replicas: 0, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'x' }] } } },
      },
    });
    const rs = await apps.createNamespacedReplicaSet({
      namespace: APPS,
      body: {
        metadata: { name: 'web-abc', labels: { app: 'web', 'pod-template-hash': 'abc' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: deployment.metadata!.uid!, controller: true }] },
        spec: { replicas: 0, selector: { matchLabels: { app: 'web', 'pod-template-hash': 'abc' } }, template: { metadata: { labels: { app: 'web', 'pod-template-hash': 'abc' } }, spec: { containers: [{ name: 'app', image: 'x' }] } } },
      },
    });
    const byRs: k8s.V1OwnerReference = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: rs.metadata!.uid!, controller: true };
    await core.createNamespacedService({ namespace: APPS, body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } } });
    for (const [name, node, owner] of [['web-1', 'n1', byRs], ['solo-1', 'n1', undefined], ['web-2', 'n2', byRs], ['solo-2', 'n2', undefined]] as const) {
      await core.createNamespacedPod({ namespace: APPS, body: pod(name, node, name.startsWith('web') ? { app: 'web', 'pod-template-hash': 'abc' } : { app: 'solo' }, owner) });
    }

    const webhookPort = await freePort();
    const apiPort = await freePort();
    clusterAgent = spawnTether(
      ['start', '--kubeconfig', kubeconfigFile, '--namespace', NS, '--webhook-url', `https://127.0.0.1:${webhookPort}`, '--port', String(webhookPort), '--host', '127.0.0.1', '--api-port', String(apiPort)],
      { DD_LOG_LEVEL: 'debug', DD_LEADER_LEASE_DURATION: '3', DD_CLUSTER_AGENT_AUTH_TOKEN: TOKEN },
    );
    processes.push(clusterAgent);
    apiUrl = `https://127.0.0.1:${apiPort}`;
    await eventually('the cluster agent API to be ready', async () => assert.equal((await get(`${apiUrl}/readyz`)).status, 200), 90_000, 300).catch(withStartLog(clusterAgent));
    // Node agents verify the API with the CA the leader publishes for them.
    const ca = await eventually('the CA ConfigMap', async () => {
      const cm = await core.readNamespacedConfigMap({ name: CLUSTER_AGENT_CA_CONFIGMAP, namespace: NS });
      assert.match(cm.data?.['ca.pem'] ?? '', /BEGIN CERTIFICATE/);
      return cm.data!['ca.pem']!;
    });
    caFile = await writeSecretFile('cluster-agent-ca.pem', ca);
    for (const node of ['n1', 'n2']) kubelets.set(node, await startKubeletDouble({ controlPlane: cp, nodeName: node }));
    agentTokenFile = await writeSecretFile('agent.token', await serviceAccountToken(NODE_AGENT_SERVICE_ACCOUNT));
  },
  { timeout: 10 * 60_000 },
);

after(async () => {
  await Promise.all(processes.map((p) => p.stop(5_000)));
  if (process.env['TETHER_KEEP_CONTROL_PLANE'] === '1' && cp) {
    await Promise.all(processes.map((p, i) => writeFile(join(cp.dir, `tether-${i}.log`), p.stderr())));
  }
  await Promise.all([...kubelets.values()].map((k) => k.stop()));
  await cp?.stop();
});

describe('cluster agent API and node agents (the first seed)', () => {
  test('each node agent lists exactly its own pods, tagged by the cluster agent', async () => {
    for (const [node, mine] of [['n1', ['solo-1', 'web-1']], ['n2', ['solo-2', 'web-2']]] as const) {
      const agent = await startNodeAgent(node);
      const pods = await eventually(`node agent ${node}'s pods with tags`, async () => {
        const body = JSON.parse((await fromAgent(agent, '/pods')).body) as { pods: { name: string; tags: string[]; tagsFrom: string }[] };
        assert.deepEqual(body.pods.map((p) => p.name).sort(), [...mine]);
        assert.ok(body.pods.every((p) => p.tagsFrom === 'cluster-agent'), JSON.stringify(body.pods.map((p) => p.tagsFrom)));
        return body.pods;
      });
      const web = pods.find((p) => p.name.startsWith('web'))!;
      for (const tag of ['kube_namespace:apps', `pod_name:${web.name}`, `kube_node:${node}`, 'kube_service:web', 'kube_deployment:web', 'kube_replica_set:web-abc', 'env:prod', 'service:web', 'version:1.2']) {
        assert.ok(web.tags.includes(tag), `${tag} in ${web.tags.join(',')}`);
      }
      const status = await statusOf(agent);
      assert.equal(status.upstreams['kubelet']?.state, 'ok');
      assert.equal(status.upstreams['cluster-agent']?.state, 'ok');
    }
  });

  test("the stack's wire answers, and its 401/403 texts", async () => {
    assert.equal((await api('/api/v1/tags/pod/n1')).body, '{"Nodes":{"n1":{"services":{"apps":{"web-1":{"web":{}}}}}},"Warnings":[],"Errors":""}');
    assert.deepEqual(JSON.parse((await api('/api/v1/tags/pod/n2/apps/web-2')).body), ['kube_service:web']);
    assert.deepEqual(JSON.parse((await api('/api/v1/tags/node/n1')).body), { 'topology.kubernetes.io/zone': 'zone-n1' });
    assert.equal(JSON.parse((await api('/api/v1/tags/namespace/apps')).body).team, 'shop');
    const kubeSystem = await core.readNamespace({ name: 'kube-system' });
    assert.equal(JSON.parse((await api('/api/v1/cluster/id')).body), kubeSystem.metadata?.uid);
    const version = JSON.parse((await api('/version')).body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(version), ['Major', 'Minor', 'Patch', 'Pre', 'Meta', 'Commit']);

    const none = await api('/api/v1/tags/pod/n1', null);
    assert.equal(none.status, 401);
    assert.match(none.body, /no session token provided/);
    assert.match(String(none.headers['www-authenticate']), /^Bearer/);
    const wrong = await api('/api/v1/tags/pod/n1', 'x'.repeat(40));
    assert.equal(wrong.status, 403);
    assert.match(wrong.body, /invalid session token/);
    assert.equal((await get(`${apiUrl}/api/v1/tags/pod/n1`, { Authorization: `bearer ${TOKEN}` })).status, 200, 'schemes are case-insensitive');
    assert.ok(!clusterAgent.stderr().includes(TOKEN), 'the token is in no log line');

    // The API's and the controllers' metrics (open, like /healthz).
    const metrics = (await get(`${apiUrl}/metrics`)).body;
    assert.match(metrics, /tether_cluster_agent_requests_total\{[^}]*status="200"[^}]*\} [1-9]/);
    assert.match(metrics, /tether_cluster_agent_auth_failures_total\{reason="missing"\} [1-9]/);
    assert.match(metrics, /tether_cluster_agent_auth_failures_total\{reason="invalid"\} [1-9]/);
    assert.match(metrics, /tether_leader 1/, 'the only replica leads');
    assert.match(metrics, /tether_reconciles_total\{[^}]*controller="certificate"[^}]*\} [1-9]/);
  });

  test('a 30-character token: both agents refuse to start and say why, without printing it', async () => {
    const short = randomBytes(15).toString('hex');
    const start = spawnTether(['start', '--kubeconfig', join(dir, 'tether.kubeconfig'), '-n', NS], { DD_CLUSTER_AGENT_AUTH_TOKEN: short });
    const node = spawnTether(['node-agent', '--port', '0'], { DD_CLUSTER_AGENT_AUTH_TOKEN: short, DD_KUBERNETES_KUBELET_NODENAME: 'n1' });
    for (const p of [start, node]) {
      assert.notEqual(await p.exited, 0);
      assert.match(p.stderr(), /cluster agent authentication token length must be at least 32, currently: 30/);
      assert.ok(!p.stderr().includes(short), 'the token is never printed');
    }
  });

  test('a service account without kubelet RBAC: the 403 is explained, naming nodes/pods and the fix', async () => {
    await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: 'no-rbac' } } });
    const agent = await startNodeAgent('n1', { DD_KUBELET_AUTH_TOKEN_PATH: await writeSecretFile('no-rbac.token', await serviceAccountToken('no-rbac')) });
    const problem = await eventually('the kubelet problem', async () => {
      const p = (await statusOf(agent)).upstreams['kubelet']?.problem;
      assert.equal(p?.code, 'forbidden');
      return p!;
    });
    assert.match(problem.summary, /nodes\/pods or nodes\/proxy/);
    assert.match(problem.fix, /--resource=nodes\/pods /);
    assert.match(agent.process.stderr(), /403/);
  });

  test('an invalid kubelet token: the 401 is explained', async () => {
    const agent = await startNodeAgent('n2', { DD_KUBELET_AUTH_TOKEN_PATH: await writeSecretFile('garbage.token', 'not-a-real-token') });
    const problem = await eventually('the kubelet problem', async () => {
      const p = (await statusOf(agent)).upstreams['kubelet']?.problem;
      assert.equal(p?.code, 'unauthorized');
      return p!;
    });
    assert.match(problem.summary, /401/);
  });

  test('the cluster agent API reached over plain HTTP, or verified with the wrong CA: the TLS diagnosis', async () => {
    const plain = await startNodeAgent('n1');
    const viaPlain = await startNodeAgent('n2', { DD_CLUSTER_AGENT_URL: plain.url.replace('http:', 'https:') });
    await eventually('the handshake diagnosis', async () => assert.equal((await statusOf(viaPlain)).upstreams['cluster-agent']?.problem?.code, 'tls-handshake'));
    const wrongCa = await startNodeAgent('n2', { DD_CLUSTER_AGENT_CA_FILE: join(dir, 'kubelet-n1-ca.pem') });
    await eventually('the unknown-CA diagnosis', async () => assert.equal((await statusOf(wrongCa)).upstreams['cluster-agent']?.problem?.code, 'tls-unknown-ca'));
  });

  test("a node agent whose token differs from the cluster agent's: 403 invalid session token, explained", async () => {
    const own = randomBytes(20).toString('hex');
    const agent = await startNodeAgent('n1', { DD_CLUSTER_AGENT_AUTH_TOKEN: own });
    const problem = await eventually('the cluster agent problem', async () => {
      const p = (await statusOf(agent, own)).upstreams['cluster-agent']?.problem;
      assert.equal(p?.code, 'unauthorized');
      return p!;
    });
    assert.match(problem.summary, /invalid session token/);
    // The kubelet still works: its pods are served, with the tags the kubelet alone gives.
    const pods = JSON.parse((await fromAgent(agent, '/pods', own)).body) as { pods: { name: string }[] };
    assert.deepEqual(pods.pods.map((p) => p.name).sort(), ['solo-1', 'web-1']);
  });

  test('the cluster agent, as its own service account, is allowed every watch it runs (no forbidden, no stale API group)', async () => {
    const ready = await get(`${apiUrl}/readyz`);
    assert.equal(ready.status, 200, ready.body);
    assert.ok(!/forbidden/i.test(clusterAgent.stderr()), clusterAgent.logs().filter((l) => /forbidden/i.test(JSON.stringify(l))).map((l) => JSON.stringify(l)).join('\n'));
    assert.ok(!/v1beta1/.test(clusterAgent.logs().map((l) => String(l['what'] ?? '')).join(' ')), 'no watch of a removed API version');
  });
});
