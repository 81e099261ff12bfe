/**
 * Tether in real pods on a real node (issue 21): the control plane, a kubelet with containerd and runc,
 * kube-proxy, a scheduler and CoreDNS on this machine (src/devcluster/node/), the Tether image built here
 * and loaded into the node, and the chart installed by `helm install` (src/devcluster/realCluster.ts).
 * Nothing runs outside the cluster but the control plane, the node's daemons and an OpenTelemetry
 * Collector the node agent pod exports to: the webhook is called through its Service, the node agent is
 * the DaemonSet's pod reading its kubelet with its own token, the injected app runs the test app image.
 *
 * Needs root (the node's network, cgroups and mounts): without it, the suite fails with that reason.
 * One node for the whole file, as for the suite (the machine holds one; a lock says so).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { CLUSTER_AGENT_CA_CONFIGMAP, CLUSTER_AGENT_CA_CONFIGMAP_KEY, CLUSTER_AGENT_DEPLOYMENT, CLUSTER_AGENT_TOKEN_SECRET, CLUSTER_AGENT_TOKEN_SECRET_KEY, CONFIG_MODE_LABEL, ENABLED_LABEL, NODE_AGENT_NAME, type InjectionMode } from '../../src/config/index.js';
import type { NodesPage } from '../../src/console/types.js';
import { NODE_IP } from '../../src/devcluster/node/layout.js';
import { startRealCluster, type RealCluster } from '../../src/devcluster/realCluster.js';
import { eventually } from '../helpers/eventually.js';
import { startOtlpFileCollector, type OtlpFileCollector, type ReceivedResource } from '../helpers/otlpFileCollector.js';
import { execInPod } from '../helpers/podExec.js';
import { appDeploymentOf, diagnoseAs, isReady, podsOf as podsIn, problemsOf, type CheckResult } from '../helpers/realClusterChecks.js';
import { cleanEnv, TETHER_MAIN } from '../helpers/tether.js';

const run = promisify(execFile);

const NS = 'datadog';
const APPS = 'shop';
/** The collector listens on the node's address, where the node agent pod reaches it. */
const OTLP_PORT = 4318;
/** Every way in at once, so each pod can pick its mode with the config.mode label; `service` by default. */
const VALUES = {
  datadog: { apm: { portEnabled: true, socketEnabled: true }, dogstatsd: { useSocketVolume: true, useHostPort: true } },
  clusterAgent: { admissionController: { configMode: 'service' } },
  agents: { otlp: { endpoint: `http://${NODE_IP}:${OTLP_PORT}` } },
  diagnose: { rbac: { create: true } },
};
const NODE_AGENT_SELECTOR = 'app.kubernetes.io/name=datadog-agent';
const CLUSTER_AGENT_SELECTOR = 'app=datadog-cluster-agent';
const NODE_AGENT_STATUS_PORT = 5001;
const CLUSTER_AGENT_API_SERVICE = 'datadog-cluster-agent';

let cluster: RealCluster;
let collector: OtlpFileCollector | undefined;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;
/** The pod of each mode's Deployment (test b), for the tests after it. */
const appPods = new Map<InjectionMode, string>();

const podsOf = (namespace: string, labelSelector: string): Promise<k8s.V1Pod[]> => podsIn(core, namespace, labelSelector);

/** A path of the node agent pod's status port (on the pod's address), as JSON. */
async function fromNodeAgent<T>(path: '/status' | '/pods' | '/intake'): Promise<T> {
  const [pod] = (await podsOf(NS, NODE_AGENT_SELECTOR)).filter(isReady);
  assert.ok(pod?.status?.podIP, 'a Ready node agent pod');
  // The status port answers the cluster agent token only (the chart's Secret, as the probes' and tether status' callers hold it).
  const secret = await core.readNamespacedSecret({ name: CLUSTER_AGENT_TOKEN_SECRET, namespace: NS });
  const token = Buffer.from(secret.data?.[CLUSTER_AGENT_TOKEN_SECRET_KEY] ?? '', 'base64').toString();
  const res = await fetch(`http://${pod.status.podIP}:${NODE_AGENT_STATUS_PORT}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  return (await res.json()) as T;
}

/** The node agent pod's own status. */
const nodeAgentStatus = () => fromNodeAgent<{ upstreams: { kubelet: { state: string; problem: { code?: string; status?: number; summary?: string } | null } } }>('/status');

/**
 * The web console's node list, as a browser on this machine gets it: the cluster agent API Service's
 * ClusterIP (kube-proxy's rules), its certificate checked against the CA ConfigMap, the admin login from
 * the chart's console Secret.
 */
async function consoleNodes(): Promise<NodesPage> {
  const svc = await core.readNamespacedService({ name: CLUSTER_AGENT_API_SERVICE, namespace: NS });
  const base = `https://${svc.spec!.clusterIP}:${svc.spec!.ports![0]!.port}`;
  const ca = (await core.readNamespacedConfigMap({ name: CLUSTER_AGENT_CA_CONFIGMAP, namespace: NS })).data![CLUSTER_AGENT_CA_CONFIGMAP_KEY]!;
  const secret = await core.readNamespacedSecret({ name: 'datadog-cluster-agent-console', namespace: NS });
  const admin = Buffer.from(secret.data!['admin-token']!, 'base64').toString();
  const call = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    new Promise<{ status: number; cookie?: string; body: string }>((resolve, reject) => {
      const req = https.request(`${base}${path}`, { method, ca, servername: `${CLUSTER_AGENT_API_SERVICE}.${NS}.svc`, headers, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, ...(res.headers['set-cookie'] ? { cookie: res.headers['set-cookie'][0]!.split(';')[0]! } : {}) }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const login = await call('POST', '/api/v1/console/login', { 'content-type': 'application/json' }, JSON.stringify({ token: admin }));
  assert.equal(login.status, 200, login.body);
  const nodes = await call('GET', '/api/v1/console/nodes', { cookie: login.cookie! });
  assert.equal(nodes.status, 200, nodes.body);
  return JSON.parse(nodes.body) as NodesPage;
}

const diagnose = (): Promise<CheckResult[]> => diagnoseAs(cluster, NS);

/** The app Deployment of one injection mode: the test app image, restricted security context, labelled. */
function appDeployment(mode: InjectionMode): k8s.V1Deployment {
  return appDeploymentOf(`checkout-${mode}`, APPS, {
    labels: {
      [ENABLED_LABEL]: 'true',
      [CONFIG_MODE_LABEL]: mode,
      'tags.datadoghq.com/service': 'checkout',
      'tags.datadoghq.com/env': 'real-node',
      'tags.datadoghq.com/version': '1.0.0',
    },
    spec: {
      // The restricted profile's settings: the injected env and volumes must work under them.
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'app',
          image: cluster.images.intakeApp.ref,
          imagePullPolicy: 'Never',
          env: [{ name: 'TETHER_TEST_RUN', value: mode }],
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1 },
        },
      ],
    },
  });
}

/** What the collector holds from pod `pod`: its spans' and its metrics' names, under its resource. */
async function receivedFrom(pod: string, signal: ReceivedResource['signal']): Promise<ReceivedResource[]> {
  return (await collector!.received()).filter((r) => r.signal === signal && r.attributes['k8s.pod.name'] === pod);
}

before(
  async () => {
    const t0 = performance.now();
    cluster = await startRealCluster({ namespace: NS, values: VALUES, log: (l) => process.stderr.write(`# ${l}\n`) });
    kc = cluster.cp.kubeConfig();
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    collector = await startOtlpFileCollector(NODE_IP, OTLP_PORT);
    await core.createNamespace({ body: { metadata: { name: APPS } } });
    process.stderr.write(
      `# real cluster up in ${((performance.now() - t0) / 1000).toFixed(1)} s: images ${cluster.timings.imagesSeconds.toFixed(1)} s, node ${cluster.timings.nodeSeconds.toFixed(1)} s, helm install → all Ready ${cluster.timings.installSeconds.toFixed(1)} s\n`,
    );
  },
  { timeout: 20 * 60_000 },
);

after(async () => {
  await collector?.stop();
  await cluster?.stop();
});

describe('a. helm install with the image built here', () => {
  test('both cluster agent replicas and the node agent pod run the image, Running and Ready through their own probes', async () => {
    const agents = await podsOf(NS, CLUSTER_AGENT_SELECTOR);
    assert.equal(agents.filter(isReady).length, 2, JSON.stringify(agents.map((p) => p.status?.conditions)));
    const nodeAgents = await podsOf(NS, NODE_AGENT_SELECTOR);
    assert.equal(nodeAgents.filter(isReady).length, 1);
    for (const p of [...agents, ...nodeAgents]) {
      const c = p.spec!.containers[0]!;
      assert.equal(c.image, cluster.images.tether.ref);
      assert.ok(c.readinessProbe?.httpGet, `${p.metadata?.name}: a readiness probe of its own`);
      assert.equal(p.status?.containerStatuses?.[0]?.restartCount, 0, `${p.metadata?.name} never restarted`);
    }
    // The restricted context really ran: non-root, read-only root filesystem.
    const ca = agents[0]!.spec!.containers[0]!;
    assert.equal(ca.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(agents[0]!.spec!.securityContext?.runAsNonRoot ?? ca.securityContext?.runAsNonRoot, true);
  });

  test('the webhook configuration calls the cluster agent through its Service, not a URL', async () => {
    const mwc = await kc.makeApiClient(k8s.AdmissionregistrationV1Api).readMutatingWebhookConfiguration({ name: 'datadog-webhook' });
    assert.ok((mwc.webhooks?.length ?? 0) > 0);
    for (const w of mwc.webhooks ?? []) {
      assert.equal(w.clientConfig.url, undefined, w.name);
      assert.equal(w.clientConfig.service?.namespace, NS, w.name);
    }
  });

  test('`agent status` in a cluster agent pod (the seed\'s kubectl exec) prints every section, nothing refused', async () => {
    const [pod] = (await podsOf(NS, CLUSTER_AGENT_SELECTOR)).filter(isReady);
    // The node agent reports to the cluster agent API every few seconds after it starts.
    const r = await eventually('agent status to show the node agent\'s report', async () => {
      const out = await execInPod(kc, NS, pod!.metadata!.name!, 'cluster-agent', ['agent', 'status']);
      assert.match(out.stdout, /Kubelet: ok/, out.stdout);
      return out;
    }, 60_000, 2000);
    assert.equal(r.code, 0, r.stderr);
    for (const section of ['Admission Controller', 'Leader Election', 'Cluster Agent API', 'Node Agents']) assert.match(r.stdout, new RegExp(section), r.stdout);
    assert.doesNotMatch(r.stdout, /forbidden|HTTP 40[13]/i, r.stdout);
    assert.match(r.stdout, /Kubelet: ok/);
  });

  test('tether status and tether diagnose, run from outside as users run them, find nothing wrong', async () => {
    const status = await run(process.execPath, [TETHER_MAIN, 'status', '--kubeconfig', cluster.cp.kubeconfigPath, '-n', NS], { env: cleanEnv(), timeout: 60_000 }).catch((e: { code?: number; stdout?: string; stderr?: string }) => assert.fail(`tether status exited ${e.code}: ${e.stdout} ${e.stderr}`));
    assert.match(status.stdout, /Kubelet: ok/, status.stdout);
    assert.doesNotMatch(status.stdout, /forbidden|not found/i, status.stdout);
    const problems = problemsOf(await eventually('diagnose to find nothing wrong', async () => {
      const results = await diagnose();
      assert.deepEqual(problemsOf(results), []);
      return results;
    }, 60_000, 2000));
    assert.deepEqual(problems, []);
  });
});

describe('b. an injected app in each mode, its telemetry exported with its pod\'s tags', () => {
  const MODES: readonly InjectionMode[] = ['service', 'hostip', 'socket'];
  for (const mode of MODES) {
    test(`${mode}: the Deployment starts with the injected env, its DogStatsD and traces reach the node agent pod`, async (t) => {
      const created = performance.now();
      await apps.createNamespacedDeployment({ namespace: APPS, body: appDeployment(mode) });
      const pod = await eventually(`a Ready pod of checkout-${mode}`, async () => {
        const [p] = (await podsOf(APPS, `app=checkout-${mode}`)).filter(isReady);
        assert.ok(p, JSON.stringify((await podsOf(APPS, `app=checkout-${mode}`)).map((x) => x.status)));
        return p;
      }, 120_000, 500);
      const name = pod.metadata!.name!;
      appPods.set(mode, name);
      const env = new Map((pod.spec!.containers[0]!.env ?? []).map((e) => [e.name, e]));
      if (mode === 'hostip') assert.equal(env.get('DD_AGENT_HOST')?.valueFrom?.fieldRef?.fieldPath, 'status.hostIP');
      if (mode === 'service') assert.equal(env.get('DD_AGENT_HOST')?.value, `datadog.${NS}.svc.cluster.local`);
      if (mode === 'socket') {
        assert.equal(env.get('DD_TRACE_AGENT_URL')?.value, 'unix:///var/run/datadog/apm.socket');
        assert.equal(env.get('DD_DOGSTATSD_URL')?.value, 'unix:///var/run/datadog/dsd.socket');
      }
      const spans = await eventually(`spans of ${name} in the collector`, async () => {
        const r = await receivedFrom(name, 'traces');
        // The app's root span (operation checkout.request) is exported under its resource's name.
        assert.ok(r.some((x) => x.names.includes('POST /buy')), JSON.stringify(r.slice(0, 3)));
        return r;
      }, 120_000, 500);
      t.diagnostic(`${mode}: Deployment created → first exported span of its pod: ${((performance.now() - created) / 1000).toFixed(1)} s`);
      const resource = spans[0]!.attributes;
      assert.equal(resource['k8s.namespace.name'], APPS);
      assert.equal(resource['k8s.deployment.name'], `checkout-${mode}`);
      assert.equal(resource['service.name'], 'checkout');
      assert.equal(resource['deployment.environment.name'], 'real-node', JSON.stringify(resource));
      await eventually(`DogStatsD metrics of ${name} in the collector`, async () => {
        const r = await receivedFrom(name, 'metrics');
        assert.ok(r.some((x) => x.names.includes('checkout.orders')), JSON.stringify(r.slice(0, 3)));
      }, 60_000, 500);
      // Once the node agent knows the pod's IP, the address is checked against the claim: its data must
      // still carry the pod's tags. (In hostip mode the host port's masquerade hides that IP: on CI, the
      // spans went out without the pod's tags as soon as the kubelet had reported it.)
      await eventually(`the node agent to list ${name} with its IP`, async () => {
        const listed = await fromNodeAgent<{ pods: { name: string; podIps?: string[] }[] }>('/pods');
        assert.ok(listed.pods.some((p) => p.name === name && (p.podIps?.length ?? 0) > 0));
      }, 30_000, 500);
      const [spansBefore, metricsBefore] = [(await receivedFrom(name, 'traces')).length, (await receivedFrom(name, 'metrics')).length];
      await eventually(`more spans and metrics of ${name}, still with its pod's tags`, async () => {
        assert.ok((await receivedFrom(name, 'traces')).length > spansBefore);
        assert.ok((await receivedFrom(name, 'metrics')).length > metricsBefore);
      }, 30_000, 500);
      if (mode === 'hostip') {
        const { attestation } = await fromNodeAgent<{ attestation: { verdicts: Record<string, Record<string, number>> } }>('/intake');
        assert.ok((attestation.verdicts['traces-tcp']?.unattested ?? 0) > 0, `through the host port, the claim taken unattested: ${JSON.stringify(attestation.verdicts)}`);
      }
    });
  }
});

describe('c. the first seed on a real kubelet', () => {
  test('the node agent reads /pods with its own token; without its ClusterRoleBinding the kubelet\'s real 403 shows in /status, diagnose and the console, with the fix', async () => {
    assert.equal((await nodeAgentStatus()).upstreams.kubelet.state, 'ok');
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    const binding = await rbac.readClusterRoleBinding({ name: NODE_AGENT_NAME });
    await rbac.deleteClusterRoleBinding({ name: NODE_AGENT_NAME });
    try {
      const kubelet = await eventually('the node agent to see the 403', async () => {
        const k = (await nodeAgentStatus()).upstreams.kubelet;
        assert.equal(k.problem?.code, 'forbidden', JSON.stringify(k));
        return k.problem;
      }, 90_000, 1000);
      assert.equal(kubelet.status, 403);
      assert.match(kubelet.summary ?? "", /refused .*nodes\/pods/);
      const found = await eventually('diagnose to name the 403', async () => {
        const results = await diagnose();
        const check = results.find((r) => r.name === 'node-agent-kubelet-rbac');
        assert.equal(check?.status, 'error', JSON.stringify(check));
        return check!;
      }, 60_000, 2000);
      assert.match(`${found.summary} ${found.fix ?? ''}`, /nodes\/pods/);
      const row = await eventually('the console to show the 403', async () => {
        const r = (await consoleNodes()).rows.find((n) => n.name === cluster.node.name);
        assert.equal(r?.agent?.kubelet.code, 'forbidden', JSON.stringify(r));
        return r!;
      }, 60_000, 2000);
      assert.match(row.agent!.kubelet.fix ?? '', /nodes\/pods/);
    } finally {
      const { metadata, ...rest } = binding;
      await rbac.createClusterRoleBinding({ body: { ...rest, metadata: { name: metadata!.name!, labels: metadata!.labels ?? {} } } });
    }
    await eventually('the kubelet to answer again', async () => assert.equal((await nodeAgentStatus()).upstreams.kubelet.state, 'ok'), 90_000, 1000);
  });

  test('a kubelet without token authentication answers 401, and diagnose explains it', async () => {
    await cluster.node.restartKubelet({ tokenWebhook: false });
    try {
      await eventually('the node agent to see the 401', async () => {
        const k = (await nodeAgentStatus()).upstreams.kubelet;
        assert.equal(k.problem?.code, 'unauthorized', JSON.stringify(k));
        assert.equal(k.problem.status, 401);
      }, 90_000, 1000);
      const check = await eventually('diagnose to name the 401', async () => {
        const c = (await diagnose()).find((r) => r.name === 'node-agent-kubelet-rbac');
        assert.match(c?.summary ?? '', /401/, JSON.stringify(c));
        return c!;
      }, 60_000, 2000);
      assert.match(check.fix ?? '', /authentication-token-webhook/);
    } finally {
      await cluster.node.restartKubelet({ tokenWebhook: true });
    }
    await eventually('the kubelet to answer again', async () => assert.equal((await nodeAgentStatus()).upstreams.kubelet.state, 'ok'), 90_000, 1000);
  });
});

describe('d. upgrades, evictions and restarts while pods come', () => {
  test('helm upgrade rolls the cluster agent while pods are created in a loop: none uninjected', async (t) => {
    let created = 0;
    const uninjected: string[] = [];
    const failed: string[] = [];
    let stop = false;
    const loop = (async () => {
      for (let i = 0; !stop; i++) {
        const name = `rolling-${i}`;
        try {
          // Bound to no node: admitted and stored like any pod, never run (the node's two cores stay for Tether).
          const pod = await core.createNamespacedPod({
            namespace: APPS,
            body: { metadata: { name, labels: { [ENABLED_LABEL]: 'true' } }, spec: { nodeName: 'nowhere', containers: [{ name: 'app', image: cluster.images.intakeApp.ref }] } },
          });
          created++;
          if (!pod.spec?.containers[0]?.env?.some((e) => e.name === 'DD_AGENT_HOST')) uninjected.push(`${name}: ${JSON.stringify(pod.metadata?.annotations ?? {})}`);
        } catch (e) {
          failed.push(`${name}: ${(e as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const before = (await podsOf(NS, CLUSTER_AGENT_SELECTOR)).map((p) => p.metadata!.name!);
    let seconds: number;
    try {
      await new Promise((r) => setTimeout(r, 2000));
      seconds = await cluster.upgrade({ datadog: { logLevel: 'debug' } });
      await new Promise((r) => setTimeout(r, 2000));
    } finally {
      stop = true;
      await loop;
    }
    const afterPods = (await podsOf(NS, CLUSTER_AGENT_SELECTOR)).filter(isReady).map((p) => p.metadata!.name!);
    assert.equal(afterPods.filter((n) => before.includes(n)).length, 0, 'both replicas were replaced');
    t.diagnostic(`rolling update: ${created} pods created in ${seconds.toFixed(1)} s of helm upgrade (+4 s), ${uninjected.length} uninjected, ${failed.length} refused`);
    assert.ok(created > 20, `pods were created during the rollout (${created})`);
    assert.deepEqual(failed, []);
    assert.deepEqual(uninjected, []);
    await core.deleteCollectionNamespacedPod({ namespace: APPS, fieldSelector: 'spec.nodeName=nowhere', gracePeriodSeconds: 0 });
  });

  test('an eviction respects the PodDisruptionBudget: one replica may go, not both', async () => {
    const pods = (await podsOf(NS, CLUSTER_AGENT_SELECTOR)).filter(isReady);
    assert.equal(pods.length, 2);
    const evict = (name: string) => core.createNamespacedPodEviction({ name, namespace: NS, body: { metadata: { name, namespace: NS } } });
    await evict(pods[0]!.metadata!.name!);
    await assert.rejects(evict(pods[1]!.metadata!.name!), (e: unknown) => e instanceof k8s.ApiException && e.code === 429 && /disruption budget/i.test(String(e.body)));
    await eventually('the Deployment to be whole again', async () => {
      const d = await apps.readNamespacedDeployment({ name: CLUSTER_AGENT_DEPLOYMENT, namespace: NS });
      assert.equal(d.status?.readyReplicas, 2);
    }, 120_000, 1000);
  });

  test('a node agent pod restart keeps the socket intake: the socket-mode app is heard again', async () => {
    const app = appPods.get('socket');
    assert.ok(app, 'the socket-mode app of test b runs');
    const [old] = await podsOf(NS, NODE_AGENT_SELECTOR);
    await core.deleteNamespacedPod({ name: old!.metadata!.name!, namespace: NS });
    await eventually('a new node agent pod Ready', async () => {
      const pods = (await podsOf(NS, NODE_AGENT_SELECTOR)).filter(isReady);
      assert.equal(pods.length, 1);
      assert.notEqual(pods[0]!.metadata!.name, old!.metadata!.name);
    }, 120_000, 500);
    const since = { traces: (await receivedFrom(app, 'traces')).length, metrics: (await receivedFrom(app, 'metrics')).length };
    await eventually('spans and metrics of the socket-mode app after the restart', async () => {
      assert.ok((await receivedFrom(app, 'traces')).length > since.traces, 'new spans');
      assert.ok((await receivedFrom(app, 'metrics')).length > since.metrics, 'new metrics');
    }, 90_000, 1000);
  });
});
