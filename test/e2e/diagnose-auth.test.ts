/**
 * `diagnose`'s auth checks (issue 10, checks 1–3) on a real control plane, each seeing the broken state
 * created for real and the healthy one pass:
 * - cluster-agent-token: a 30-character token in the Secret the Deployment references; node agents
 *   configured with another token; the Secret changed after the cluster agent's pod started; node agents
 *   a node agent with a wrong token and a real node's name changes nothing in ConfigMap datadog-node-agents;
 * - node-agent-kubelet-rbac: a DaemonSet whose service account lacks nodes/proxy (SubjectAccessReview);
 *   node agents whose kubelet (a test double deciding through the real API server) answers 401 and 403,
 *   reported through `tether start`'s cluster agent API;
 * - cluster-agent-rbac: deploy/rbac.yaml is enough; a service account with part of it is told exactly
 *   what is missing; a bound ClusterRole granting policy podsecuritypolicies and extensions (not served
 *   by 1.35) is named.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { CLUSTER_AGENT_CA_CONFIGMAP, NODE_AGENTS_CONFIGMAP, parseConfig } from '../../src/config/index.js';
import { parseNodeAgentRecords } from '../../src/agentapi/nodeAgentReport.js';
import { NODE_AGENT_REPORT_FLUSH_MS } from '../../src/config/limits.js';
import type { Check, CheckResult, DiagnoseContext } from '../../src/diagnose/check.js';
import { CHECKS } from '../../src/diagnose/checks/index.js';
import { clusterAgentRbac } from '../../src/diagnose/checks/clusterAgentRbac.js';
import { clusterAgentToken } from '../../src/diagnose/checks/clusterAgentToken.js';
import { nodeAgentKubeletRbac } from '../../src/diagnose/checks/nodeAgentKubeletRbac.js';
import { runCheck } from '../../src/diagnose/run.js';
import { createKubeReader } from '../../src/kube/reader.js';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { eventually } from '../helpers/eventually.js';
import { startKubeletDouble, type KubeletDouble } from '../helpers/kubeletDouble.js';
import { applyTetherRbac, DIAGNOSE_MANIFEST, DIAGNOSE_SERVICE_ACCOUNT, NODE_AGENT_MANIFEST, NODE_AGENT_SERVICE_ACCOUNT, SERVICE_ACCOUNT } from '../helpers/rbac.js';
import { freePort, spawnTether, type TetherProcess } from '../helpers/tether.js';

const NS = 'datadog';
const SECRET = 'datadog-cluster-agent';
const NODES = ['n1', 'n2', 'n3', 'n4'];
const TOKEN = randomBytes(32).toString('hex');

let cp: ControlPlane;
let admin: k8s.KubeConfig;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;
let rbac: k8s.RbacAuthorizationV1Api;
let asDiagnose: k8s.KubeConfig;
const processes: TetherProcess[] = [];
const kubelets: KubeletDouble[] = [];

const config = parseConfig({ env: {} });

function contextFor(over: Partial<DiagnoseContext> = {}): DiagnoseContext {
  return {
    config,
    namespace: NS,
    serviceAccount: SERVICE_ACCOUNT,
    // As `tether diagnose` runs: with only what deploy/diagnose-rbac.yaml grants.
    kube: createKubeReader(asDiagnose),
    platform: async () => ({ gkeAutopilot: false, gke: false, eks: false, aks: false, openshift: false, rancher: false, evidence: [] }),
    now: () => new Date(),
    signal: AbortSignal.timeout(60_000),
    ...over,
  };
}

const run = (check: Check, over: Partial<DiagnoseContext> = {}): Promise<CheckResult> => runCheck(check, contextFor(over));
const show = (r: CheckResult): string => JSON.stringify(r, null, 2);

async function setSecretToken(token: string): Promise<void> {
  const body: k8s.V1Secret = { metadata: { name: SECRET, namespace: NS }, stringData: { token } };
  try {
    await core.replaceNamespacedSecret({ name: SECRET, namespace: NS, body });
  } catch (e) {
    if (!(e instanceof k8s.ApiException && e.code === 404)) throw e;
    await core.createNamespacedSecret({ namespace: NS, body });
  }
}

const tokenEnv = (literal?: string): k8s.V1EnvVar =>
  literal === undefined ? { name: 'DD_CLUSTER_AGENT_AUTH_TOKEN', valueFrom: { secretKeyRef: { name: SECRET, key: 'token' } } } : { name: 'DD_CLUSTER_AGENT_AUTH_TOKEN', value: literal };

/** The node agents' DaemonSet as deploy/node-agent.yaml has it, in the parts the checks read. */
async function applyDaemonSet(opts: { serviceAccount?: string; literal?: string } = {}): Promise<void> {
  const body: k8s.V1DaemonSet = {
    metadata: { name: 'datadog-agent', namespace: NS },
    spec: {
      selector: { matchLabels: { app: 'datadog-agent' } },
      template: {
        metadata: { labels: { app: 'datadog-agent' } },
        spec: { serviceAccountName: opts.serviceAccount ?? NODE_AGENT_SERVICE_ACCOUNT, containers: [{ name: 'agent', image: 'tether', env: [tokenEnv(opts.literal)] }] },
      },
    },
  };
  try {
    await apps.replaceNamespacedDaemonSet({ name: 'datadog-agent', namespace: NS, body });
  } catch (e) {
    if (!(e instanceof k8s.ApiException && e.code === 404)) throw e;
    await apps.createNamespacedDaemonSet({ namespace: NS, body });
  }
}

/** The cluster agent's pod as running since `startedAt` (no kubelet here: its status is written as a kubelet would). */
async function podStartedAt(startedAt: Date): Promise<void> {
  const pod = await core.readNamespacedPod({ name: 'dca-0', namespace: NS });
  pod.status = {
    phase: 'Running',
    startTime: startedAt,
    containerStatuses: [{ name: 'cluster-agent', image: 'tether', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt } } }],
  };
  await core.replaceNamespacedPodStatus({ name: 'dca-0', namespace: NS, body: pod });
}

/** Whole seconds after now: managedFields times have second precision. */
const afterNow = () => new Date(Math.ceil((Date.now() + 1) / 1000) * 1000);

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https.get(url, { rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

before(
  async () => {
    cp = await startControlPlane();
    admin = cp.kubeConfig();
    core = admin.makeApiClient(k8s.CoreV1Api);
    apps = admin.makeApiClient(k8s.AppsV1Api);
    rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
    await applyTetherRbac(cp, NS);
    await applyTetherRbac(cp, NS, NODE_AGENT_MANIFEST, NODE_AGENT_SERVICE_ACCOUNT);
    asDiagnose = await applyTetherRbac(cp, NS, DIAGNOSE_MANIFEST, DIAGNOSE_SERVICE_ACCOUNT);
    for (const name of NODES) await core.createNode({ body: { metadata: { name } } });
  },
  { timeout: 10 * 60_000 },
);

after(async () => {
  await Promise.all(processes.map((p) => p.stop(5_000)));
  await Promise.all(kubelets.map((k) => k.stop()));
  await cp?.stop();
});

describe('cluster-agent-token', () => {
  test('skipped while neither agent is deployed', async () => {
    const r = await run(clusterAgentToken);
    assert.equal(r.status, 'skipped', show(r));
  });

  test('healthy: both agents read one Secret of 64 characters, after it was written; the token is never shown', async () => {
    await setSecretToken(TOKEN);
    await apps.createNamespacedDeployment({
      namespace: NS,
      body: {
        metadata: { name: 'datadog-cluster-agent', namespace: NS },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: 'dca' } },
          template: { metadata: { labels: { app: 'dca' } }, spec: { serviceAccountName: SERVICE_ACCOUNT, containers: [{ name: 'cluster-agent', image: 'tether', env: [tokenEnv()] }] } },
        },
      },
    });
    await applyDaemonSet();
    // A pod of the Deployment's selector (without pod-template-hash, so its ReplicaSet leaves it alone).
    await core.createNamespacedPod({ namespace: NS, body: { metadata: { name: 'dca-0', labels: { app: 'dca' } }, spec: { containers: [{ name: 'cluster-agent', image: 'tether' }] } } });
    await podStartedAt(afterNow());
    const r = await run(clusterAgentToken);
    assert.equal(r.status, 'ok', show(r));
    assert.match(r.summary, /same token \(64 characters\)/);
    assert.ok(r.evidence.some((e) => /Secret datadog\/datadog-cluster-agent key token: 64 characters, sha256 [0-9a-f]{8}/.test(e)), show(r));
    assert.ok(!JSON.stringify(r).includes(TOKEN), 'the token is never printed');
  });

  test('a 30-character token: the seed\'s words, a new token of 32+ and a restart of both', async () => {
    const short = randomBytes(15).toString('hex');
    await setSecretToken(short);
    const r = await run(clusterAgentToken);
    assert.equal(r.status, 'error', show(r));
    assert.match(r.summary, /cluster agent authentication token length must be at least 32, currently: 30/);
    assert.ok(r.evidence.some((e) => e.includes('cluster agent authentication token length must be greater than 32, currently: 30')), show(r));
    assert.match(r.fix, /openssl rand -hex 32/);
    assert.match(r.fix, /rollout restart deployment\/datadog-cluster-agent && kubectl -n datadog rollout restart daemonset\/datadog-agent/);
    assert.ok(!JSON.stringify(r).includes(short));
  });

  test('the Secret changed after the cluster agent\'s pod started: a warning to restart both; after the restart, ok', async () => {
    await podStartedAt(new Date(Date.now() - 3_600_000));
    await setSecretToken(TOKEN);
    const r = await run(clusterAgentToken);
    assert.equal(r.status, 'warning', show(r));
    assert.match(r.summary, /Secret datadog\/datadog-cluster-agent changed at .*after pods that read DD_CLUSTER_AGENT_AUTH_TOKEN from it started/);
    assert.ok(r.evidence.some((e) => /the cluster agent: 1 of 1 pods started before \(dca-0 at /.test(e)), show(r));
    assert.match(r.fix, /rollout restart/);
    await podStartedAt(afterNow());
    assert.equal((await run(clusterAgentToken)).status, 'ok');
  });

  test('node agents with another token than the cluster agent: an error, each token by length and digest only', async () => {
    const other = randomBytes(32).toString('hex');
    await applyDaemonSet({ literal: other });
    const r = await run(clusterAgentToken);
    assert.equal(r.status, 'error', show(r));
    assert.match(r.summary, /node agents use another token than the cluster agent.*403 "invalid session token"/);
    assert.match(r.fix, /secretKeyRef name datadog-cluster-agent key token/);
    assert.ok(!JSON.stringify(r).includes(other) && !JSON.stringify(r).includes(TOKEN));
    await applyDaemonSet();
    assert.equal((await run(clusterAgentToken)).status, 'ok');
  });
});

describe('node-agent-kubelet-rbac', () => {
  test('healthy: the DaemonSet\'s service account has deploy/node-agent.yaml\'s ClusterRole', async () => {
    const r = await run(nodeAgentKubeletRbac);
    assert.equal(r.status, 'ok', show(r));
    assert.ok(r.evidence.some((e) => e.includes('get nodes/pods on node n') && e.endsWith('allowed')), show(r));
    assert.ok(r.evidence.some((e) => e.includes('get nodes/proxy on node n') && e.endsWith('denied')), 'no fallback by default: ' + show(r));
  });

  test('a service account without kubelet RBAC: an error with the kubectl lines that grant it', async () => {
    await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: 'no-kubelet-rbac' } } });
    await applyDaemonSet({ serviceAccount: 'no-kubelet-rbac' });
    try {
      const r = await run(nodeAgentKubeletRbac);
      assert.equal(r.status, 'error', show(r));
      assert.match(r.summary, /datadog\/no-kubelet-rbac may not get nodes\/pods \(nor the fallback nodes\/proxy\)/);
      assert.match(r.fix, /kubectl create clusterrole tether-kubelet-reader --verb=get --resource=nodes\/pods && kubectl create clusterrolebinding tether-kubelet-reader --clusterrole=tether-kubelet-reader --serviceaccount=datadog:no-kubelet-rbac/);
    } finally {
      await applyDaemonSet();
    }
  });
});

describe('cluster-agent-rbac', () => {
  test('healthy: deploy/rbac.yaml allows every call Tether makes', async () => {
    const r = await run(clusterAgentRbac);
    assert.equal(r.status, 'ok', show(r));
  });

  test('a service account with part of it: each missing verb and resource, and the kubectl lines', async () => {
    await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: 'partial' } } });
    await rbac.createClusterRole({ body: { metadata: { name: 'partial' }, rules: [{ apiGroups: [''], resources: ['pods', 'nodes', 'namespaces', 'services'], verbs: ['list', 'watch'] }] } });
    await rbac.createClusterRoleBinding({
      body: { metadata: { name: 'partial' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'partial' }, subjects: [{ kind: 'ServiceAccount', name: 'partial', namespace: NS }] },
    });
    const r = await run(clusterAgentRbac, { serviceAccount: 'partial' });
    assert.equal(r.status, 'error', show(r));
    assert.match(r.summary, /datadog\/partial may not make \d+ of the \d+ calls Tether makes/);
    assert.ok(r.evidence.includes("denied: get replicasets in API group apps: the tags webhook reads a pod's owner"), show(r));
    assert.ok(r.evidence.some((e) => e.startsWith('denied: update configmaps in API group "" (core) "datadog-node-agents" in namespace datadog')), show(r));
    assert.ok(!r.evidence.some((e) => /denied: (list|watch) pods /.test(e)), 'what is granted is not listed');
    assert.match(r.fix, /kubectl create clusterrole partial-tether-\d+ --verb=list,watch --resource=replicasets\.apps,deployments\.apps/);
    assert.match(r.fix, /kubectl -n datadog create role partial-tether-\d+ --verb=get,update --resource=configmaps --resource-name=datadog-node-agents/);
  });

  test('a bound ClusterRole granting policy podsecuritypolicies and extensions, which 1.35 does not serve: named, with the fix', async () => {
    await rbac.createClusterRole({
      body: {
        metadata: { name: 'legacy-psp' },
        rules: [
          { apiGroups: ['policy'], resources: ['podsecuritypolicies'], verbs: ['use'], resourceNames: ['privileged'] },
          { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['list'] },
          { apiGroups: ['extensions'], resources: ['deployments'], verbs: ['list', 'watch'] },
        ],
      },
    });
    await rbac.createClusterRoleBinding({
      body: { metadata: { name: 'legacy-psp' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'legacy-psp' }, subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace: NS }] },
    });
    try {
      const r = await run(clusterAgentRbac);
      assert.equal(r.status, 'warning', show(r));
      assert.match(r.summary, /ClusterRole legacy-psp, bound to datadog\/datadog-cluster-agent by ClusterRoleBinding legacy-psp, grants use on podsecuritypolicies in API group policy: no version of API group "policy" this API server serves has podsecuritypolicies \(PodSecurityPolicy \(policy\/v1beta1\) was removed in Kubernetes 1\.25\)/);
      assert.ok(r.evidence.some((e) => /ClusterRole legacy-psp.*API group extensions: this API server does not serve API group "extensions" at all/.test(e)), show(r));
      assert.ok(!r.evidence.some((e) => e.includes('poddisruptionbudgets')), 'a served resource of the same group is fine');
      assert.match(r.fix, /kubectl edit clusterrole legacy-psp/);
      assert.match(r.fix, /pods\.policy is forbidden/);
    } finally {
      await rbac.deleteClusterRoleBinding({ name: 'legacy-psp' });
    }
    assert.equal((await run(clusterAgentRbac)).status, 'ok');
  });
});

describe('node agent reports through the cluster agent API', () => {
  let apiUrl: string;
  let caFile: string;

  const serviceAccountToken = async (name: string): Promise<string> =>
    (await core.createNamespacedServiceAccountToken({ name, namespace: NS, body: { spec: { audiences: [], expirationSeconds: 3600 } } })).status!.token;
  const secretFile = async (name: string, text: string): Promise<string> => {
    const path = join(cp.dir, name);
    await writeFile(path, text, { mode: 0o600 });
    return path;
  };

  async function startNodeAgent(kubelet: KubeletDouble, tokenFile: string, clusterAgentToken = TOKEN): Promise<void> {
    const p = spawnTether(['node-agent', '--port', '0', '--host', '127.0.0.1', '-n', NS], {
      DD_KUBERNETES_KUBELET_NODENAME: kubelet.nodeName,
      DD_KUBERNETES_KUBELET_HOST: kubelet.host,
      DD_KUBERNETES_HTTPS_KUBELET_PORT: String(kubelet.port),
      DD_KUBELET_AUTH_TOKEN_PATH: tokenFile,
      DD_KUBELET_CLIENT_CA: await secretFile(`kubelet-${kubelet.nodeName}-ca.pem`, kubelet.caPem),
      DD_CLUSTER_AGENT_URL: apiUrl,
      DD_CLUSTER_AGENT_AUTH_TOKEN: clusterAgentToken,
      DD_CLUSTER_AGENT_CA_FILE: caFile,
    });
    processes.push(p);
    await p.waitForLog((l) => /node agent of node/.test(String(l['msg'])));
  }

  before(
    async () => {
      const kubeconfigFile = await secretFile('tether.kubeconfig', (await applyTetherRbac(cp, NS)).exportConfig());
      const webhookPort = await freePort();
      const apiPort = await freePort();
      const clusterAgent = spawnTether(
        ['start', '--kubeconfig', kubeconfigFile, '--namespace', NS, '--webhook-url', `https://127.0.0.1:${webhookPort}`, '--port', String(webhookPort), '--host', '127.0.0.1', '--api-port', String(apiPort)],
        { DD_LEADER_LEASE_DURATION: '3', DD_CLUSTER_AGENT_AUTH_TOKEN: TOKEN },
      );
      processes.push(clusterAgent);
      apiUrl = `https://127.0.0.1:${apiPort}`;
      await eventually('the cluster agent API to be ready', async () => assert.equal(await get(`${apiUrl}/readyz`), 200), 90_000, 300).catch((e: Error) => {
        throw new Error(`${e.message}\n${clusterAgent.stderr().slice(-4000)}`);
      });
      const ca = await eventually('the CA ConfigMap', async () => {
        const cm = await core.readNamespacedConfigMap({ name: CLUSTER_AGENT_CA_CONFIGMAP, namespace: NS });
        assert.match(cm.data?.['ca.pem'] ?? '', /BEGIN CERTIFICATE/);
        return cm.data!['ca.pem']!;
      });
      caFile = await secretFile('cluster-agent-ca.pem', ca);
      const agentToken = await secretFile('agent.token', await serviceAccountToken(NODE_AGENT_SERVICE_ACCOUNT));
      // `default` has no kubelet RBAC: its kubelet answers 403.
      const defaultToken = await secretFile('default.token', await eventually('the default service account', () => serviceAccountToken('default')));
      const [n1, n2, n3, n4] = await Promise.all([
        startKubeletDouble({ controlPlane: cp, nodeName: 'n1' }),
        startKubeletDouble({ controlPlane: cp, nodeName: 'n2', mode: 'no-token-webhook' }),
        startKubeletDouble({ controlPlane: cp, nodeName: 'n3' }),
        startKubeletDouble({ controlPlane: cp, nodeName: 'n4' }),
      ]);
      kubelets.push(n1!, n2!, n3!, n4!);
      await startNodeAgent(n1!, agentToken);
      await startNodeAgent(n2!, agentToken);
      await startNodeAgent(n3!, defaultToken);
      await startNodeAgent(n4!, agentToken, randomBytes(32).toString('hex'));
    },
    { timeout: 5 * 60_000 },
  );

  test('the cluster agent records each node agent: kubelet ok, 401, 403; a wrong token with a real node\'s name records nothing', async () => {
    const records = await eventually(
      'four node agent reports',
      async () => {
        const cm = await core.readNamespacedConfigMap({ name: NODE_AGENTS_CONFIGMAP, namespace: NS });
        const r = parseNodeAgentRecords(cm.data);
        assert.equal(r.get('n1')?.kubelet.state, 'ok', JSON.stringify(cm.data));
        assert.equal(r.get('n1')?.clusterAgent.state, 'ok');
        assert.equal(r.get('n2')?.kubelet.code, 'unauthorized', JSON.stringify(cm.data));
        assert.equal(r.get('n3')?.kubelet.code, 'forbidden', JSON.stringify(cm.data));
        return r;
      },
      90_000,
      500,
    );
    assert.match(records.get('n3')!.kubelet.summary!, /system:serviceaccount:datadog:default/);
    assert.ok(!JSON.stringify([...records]).includes(TOKEN));
    // n4's node agent (a wrong token, node n4 real) has been refused every 10 s since before n1..n3 were
    // recorded: the recorder flushes what it has, and n4 is not in it.
    await new Promise((r) => setTimeout(r, NODE_AGENT_REPORT_FLUSH_MS + 1_000));
    const cm = await core.readNamespacedConfigMap({ name: NODE_AGENTS_CONFIGMAP, namespace: NS });
    assert.equal(parseNodeAgentRecords(cm.data).has('n4'), false, JSON.stringify(cm.data));
  });

  test('node-agent-kubelet-rbac: 401 is the token not accepted, 403 the RBAC, each with its fix', async () => {
    const r = await run(nodeAgentKubeletRbac);
    assert.equal(r.status, 'error', show(r));
    assert.ok(r.evidence.some((e) => /^problem: the kubelets of 1 node answer their node agent 401 Unauthorized: they do not accept its token/.test(e)), show(r));
    assert.ok(r.evidence.some((e) => /^problem: the kubelets of 1 node answer their node agent 403 Forbidden: the token is valid/.test(e)), show(r));
    assert.ok(r.evidence.some((e) => e.startsWith('node n2 ')) && r.evidence.some((e) => e.startsWith('node n3 ')), show(r));
    assert.match(r.fix, /--authentication-token-webhook/);
    assert.match(r.fix, /kubectl create clusterrolebinding tether-kubelet-reader --clusterrole=tether-kubelet-reader --serviceaccount=datadog:default/);
  });

  test('cluster-agent-token: an unauthenticated request never makes a node agent look refused', async () => {
    const r = await run(clusterAgentToken);
    assert.ok(!/refused the node agents/.test(r.summary), show(r));
    assert.ok(!r.evidence.some((e) => e.startsWith('node n4')), show(r));
  });

  test('every check of this file is registered', () => {
    for (const c of [clusterAgentToken, nodeAgentKubeletRbac, clusterAgentRbac]) assert.ok(CHECKS.includes(c), c.name);
  });
});
