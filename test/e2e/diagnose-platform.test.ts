/**
 * The platform and injection checks of `tether diagnose` (issue 10, checks 6 and 8–12) against a real
 * etcd + kube-apiserver + kube-controller-manager. Each check sees a healthy state pass and a broken one
 * found, both created in the real API server; a platform is faked only by creating the objects that
 * reveal it (nodes with a provider's labels and IDs, a CRD in an OpenShift API group, Rancher's
 * namespace). The webhook is a real `tether start` (--webhook-url); "unreachable" is that process
 * stopped, or the configuration pointed at a port that drops what it receives.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { CONFIG_MODE_LABEL, ENABLED_LABEL, type ConfigKey } from '../../src/config/index.js';
import type { Check, CheckResult, DiagnoseContext, Platform } from '../../src/diagnose/check.js';
import { CHECKS } from '../../src/diagnose/checks/index.js';
import { aksSelectors } from '../../src/diagnose/checks/aksSelectors.js';
import { labelOnWorkload } from '../../src/diagnose/checks/labelOnWorkload.js';
import { serviceModeLocalService } from '../../src/diagnose/checks/serviceModeLocalService.js';
import { socketModePlatform } from '../../src/diagnose/checks/socketModePlatform.js';
import { uninjectedPods } from '../../src/diagnose/checks/uninjectedPods.js';
import { PROBE_WAIT_MS, webhookReachable } from '../../src/diagnose/checks/webhookReachable.js';
import { detectPlatform } from '../../src/diagnose/platform.js';
import { runCheck } from '../../src/diagnose/run.js';
import { createKubeReader, type KubeReader } from '../../src/kube/reader.js';
import { impersonatingKubeConfig, startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { testConfig } from '../helpers/config.js';
import { eventually } from '../helpers/eventually.js';
import { applyTetherRbac, tetherKubeconfigFile, DIAGNOSE_MANIFEST, DIAGNOSE_SERVICE_ACCOUNT } from '../helpers/rbac.js';
import { freePort, spawnTether, type TetherProcess, withStartLog } from '../helpers/tether.js';

const NS = 'datadog';
const APPS = 'apps';
const WEBHOOK = 'datadog-webhook';

let cp: ControlPlane;
let kube: KubeReader;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;
let batch: k8s.BatchV1Api;
let admission: k8s.AdmissionregistrationV1Api;
let crds: k8s.ApiextensionsV1Api;
let tether: TetherProcess | undefined;

function ctx(values: Partial<Record<ConfigKey, unknown>> = {}, extra: Partial<DiagnoseContext> = {}): DiagnoseContext {
  const signal = AbortSignal.timeout(120_000);
  let platform: Promise<Platform> | undefined;
  return {
    config: testConfig(values),
    namespace: NS,
    serviceAccount: 'datadog-cluster-agent',
    kube,
    platform: () => (platform ??= detectPlatform(kube, signal)),
    now: () => new Date(),
    signal,
    ...extra,
  };
}

const run = (check: Check, values: Partial<Record<ConfigKey, unknown>> = {}, extra: Partial<DiagnoseContext> = {}): Promise<CheckResult> => runCheck(check, ctx(values, extra));

/** The result, shown when an assertion on it fails. */
function expectStatus(r: CheckResult, status: CheckResult['status']): void {
  assert.equal(r.status, status, JSON.stringify(r, null, 2));
}

const envNames = (c: k8s.V1Container): string[] => (c.env ?? []).map((e) => e.name);

async function createNode(name: string, labels: Record<string, string> = {}, providerID?: string): Promise<void> {
  await core.createNode({ body: { metadata: { name, labels }, ...(providerID ? { spec: { providerID } } : {}) } });
}

/** Runs `fn` with these nodes in the cluster, and removes them after. */
async function withNodes<T>(nodes: [string, Record<string, string>, string?][], fn: () => Promise<T>): Promise<T> {
  for (const [n, l, p] of nodes) await createNode(n, l, p);
  try {
    return await fn();
  } finally {
    for (const [n] of nodes) await core.deleteNode({ name: n });
  }
}

/** Runs `fn` with namespace `name` in the cluster (Rancher's cattle-system), and waits until it is gone after. */
async function withNamespace<T>(name: string, fn: () => Promise<T>): Promise<T> {
  await core.createNamespace({ body: { metadata: { name } } });
  try {
    return await fn();
  } finally {
    await core.deleteNamespace({ name });
    await eventually(`namespace ${name} gone`, async () => assert.equal(await kube.get(`/api/v1/namespaces/${name}`, AbortSignal.timeout(5_000)), undefined), 60_000);
  }
}

const OPENSHIFT_CRD = 'clusterresourcequotas.quota.openshift.io';

/** OpenShift, as discovery shows it: the quota.openshift.io group served (here by a CRD). */
async function withOpenShift<T>(fn: () => Promise<T>): Promise<T> {
  await crds.createCustomResourceDefinition({
    body: {
      metadata: { name: OPENSHIFT_CRD },
      spec: {
        group: 'quota.openshift.io',
        scope: 'Cluster',
        names: { plural: 'clusterresourcequotas', singular: 'clusterresourcequota', kind: 'ClusterResourceQuota' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } } }],
      },
    },
  });
  const served = async () => ((await kube.get<{ groups: { name: string }[] }>('/apis', AbortSignal.timeout(5_000)))?.groups ?? []).some((g) => g.name === 'quota.openshift.io');
  await eventually('quota.openshift.io in discovery', async () => assert.ok(await served()), 30_000);
  try {
    return await fn();
  } finally {
    await crds.deleteCustomResourceDefinition({ name: OPENSHIFT_CRD });
    await eventually('quota.openshift.io gone from discovery', async () => assert.ok(!(await served())), 60_000);
  }
}

async function labelledPod(namespace: string, name: string, labels: Record<string, string> = {}, ownerReferences?: k8s.V1OwnerReference[]): Promise<k8s.V1Pod> {
  return core.createNamespacedPod({
    namespace,
    body: { metadata: { name, labels: { [ENABLED_LABEL]: 'true', ...labels }, ...(ownerReferences ? { ownerReferences } : {}) }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] } },
  });
}

function deployment(name: string, own: Record<string, string>, template: Record<string, string>): k8s.V1Deployment {
  return {
    metadata: { name, labels: own },
    spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name, ...template } }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] } } },
  };
}

/** The pods a Deployment's ReplicaSet created, once there are `n`. */
async function podsOf(namespace: string, app: string, n = 1): Promise<k8s.V1Pod[]> {
  return eventually(`${n} pod(s) of ${app}`, async () => {
    const pods = (await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items;
    assert.equal(pods.length, n);
    return pods;
  });
}

/** Rewrites the webhook configuration's entries (Tether stopped, so nothing repairs it). */
async function editWebhookConfiguration(edit: (w: k8s.V1MutatingWebhook) => void, fieldManager?: string): Promise<void> {
  const mwc = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
  for (const w of mwc.webhooks ?? []) edit(w);
  await admission.replaceMutatingWebhookConfiguration({ name: WEBHOOK, body: mwc, ...(fieldManager ? { fieldManager } : {}) });
}

before(
  async () => {
    cp = await startControlPlane();
    const admin = cp.kubeConfig();
    core = admin.makeApiClient(k8s.CoreV1Api);
    apps = admin.makeApiClient(k8s.AppsV1Api);
    batch = admin.makeApiClient(k8s.BatchV1Api);
    admission = admin.makeApiClient(k8s.AdmissionregistrationV1Api);
    crds = admin.makeApiClient(k8s.ApiextensionsV1Api);
    // As `tether diagnose` runs: with only what deploy/diagnose-rbac.yaml grants.
    kube = createKubeReader(await applyTetherRbac(cp, NS, DIAGNOSE_MANIFEST, DIAGNOSE_SERVICE_ACCOUNT));
    const kubeconfigFile = await tetherKubeconfigFile(cp, NS);
    await core.createNamespace({ body: { metadata: { name: APPS } } });
    const port = await freePort();
    tether = spawnTether(['start', '--kubeconfig', kubeconfigFile, '--namespace', NS, '--webhook-url', `https://127.0.0.1:${port}`, '--port', String(port), '--host', '127.0.0.1'], {
      // Stopping it is part of the test: no need to keep answering while a Service drops the pod.
      DD_SHUTDOWN_GRACE_SECONDS: '0',
    });
    // `default` has its service account once the controller manager made it; the probe goes there.
    await eventually('the default service account', () => core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' }));
    await eventually(
      'the webhook to mutate a dry-run pod',
      async () => {
        const pod = await core.createNamespacedPod({ namespace: APPS, dryRun: 'All', body: { metadata: { name: 'warm', labels: { [ENABLED_LABEL]: 'true' } }, spec: { containers: [{ name: 'a', image: 'x' }] } } });
        assert.ok(envNames(pod.spec!.containers[0]!).includes('DD_ENTITY_ID'));
      },
      60_000,
      300,
    ).catch(withStartLog(tether));
  },
  { timeout: 60 * 60_000 },
);

after(async () => {
  await tether?.stop(5_000);
  await cp?.stop();
});

describe('platform detection from the objects the API shows', () => {
  test('a cluster with nothing telling is no platform', async () => {
    const p = await detectPlatform(kube, AbortSignal.timeout(10_000));
    assert.deepEqual([p.gke, p.gkeAutopilot, p.eks, p.aks, p.openshift, p.rancher], [false, false, false, false, false, false]);
    assert.match(p.evidence.join('\n'), /no nodes and no platform API group seen/);
  });

  test('GKE Autopilot, EKS with Rancher, AKS and OpenShift from nodes, namespaces and API groups', async () => {
    await withNodes([['gk3-shop-pool-1-9a8b7c6d-x1y2', { 'cloud.google.com/gke-nodepool': 'pool-1' }, 'gce://proj/us-central1-a/gk3-shop-pool-1-9a8b7c6d-x1y2']], async () => {
      const p = await detectPlatform(kube, AbortSignal.timeout(10_000));
      assert.ok(p.gke && p.gkeAutopilot && !p.eks, JSON.stringify(p));
    });
    await withNamespace('cattle-system', () =>
      withNodes([['ip-10-0-1-17.ec2.internal', { 'eks.amazonaws.com/nodegroup': 'ng-1' }, 'aws:///us-east-1a/i-0abc']], async () => {
        const p = await detectPlatform(kube, AbortSignal.timeout(10_000));
        assert.ok(p.eks && p.rancher && !p.gke, JSON.stringify(p));
        assert.ok(p.evidence.includes('Rancher: namespace cattle-system exists'));
      }),
    );
    await withNodes([['aks-nodepool1-12345678-vmss000000', { 'kubernetes.azure.com/cluster': 'MC_rg_c_westeurope' }, 'azure:///subscriptions/s/resourceGroups/mc_rg/providers/Microsoft.Compute/virtualMachineScaleSets/aks-nodepool1/virtualMachines/0']], async () => {
      assert.equal((await detectPlatform(kube, AbortSignal.timeout(10_000))).aks, true);
    });
    await withOpenShift(async () => {
      const p = await detectPlatform(kube, AbortSignal.timeout(10_000));
      assert.ok(p.openshift, JSON.stringify(p));
      assert.ok(p.evidence.includes('OpenShift: API group quota.openshift.io served'));
    });
  });
});

describe('healthy: Tether running and reachable', () => {
  test('every check of this file is registered', () => {
    for (const c of [webhookReachable, uninjectedPods, labelOnWorkload, socketModePlatform, aksSelectors, serviceModeLocalService]) assert.ok(CHECKS.includes(c), c.name);
  });

  test('webhook-reachable: the dry-run probe comes back mutated by every entry', async () => {
    const r = await run(webhookReachable);
    expectStatus(r, 'ok');
    assert.match(r.summary, /called every webhook entry for a dry-run probe pod in namespace default/);
    assert.match(r.evidence.join('\n'), /datadog.webhook.config mutated it; datadog.webhook.tags mutated it; datadog.webhook.auto.instrumentation mutated it/);
    // Nothing was stored.
    assert.deepEqual((await core.listNamespacedPod({ namespace: 'default' })).items.map((p) => p.metadata?.name), []);
  });

  test('uninjected-pods: pods created through the webhook pass; a labelled pod in Tether\'s own namespace is not counted', async () => {
    await apps.createNamespacedDeployment({ namespace: APPS, body: deployment('injected', {}, { [ENABLED_LABEL]: 'true' }) });
    const [pod] = await podsOf(APPS, 'injected');
    assert.ok(envNames(pod!.spec!.containers[0]!).includes('DD_ENTITY_ID'));
    await labelledPod(NS, 'never-mutated');
    const r = await run(uninjectedPods);
    expectStatus(r, 'ok');
  });

  test('label-on-workload: the label on the pod template passes', async () => {
    expectStatus(await run(labelOnWorkload), 'ok');
  });

  test('socket-mode-platform: socket mode where hostPath is allowed passes', async () => {
    const r = await run(socketModePlatform, { 'admission_controller.inject_config.mode': 'socket' });
    expectStatus(r, 'ok');
    assert.match(r.summary, /hostPath volumes are not refused/);
  });

  test('aks-selectors: not AKS passes', async () => {
    const r = await run(aksSelectors);
    expectStatus(r, 'ok');
    assert.equal(r.summary, 'not an AKS cluster');
  });

  test('service-mode-local-service: service mode with a node-local Service passes; not using service mode passes', async () => {
    expectStatus(await run(serviceModeLocalService), 'ok');
    await core.createNamespacedService({
      namespace: NS,
      body: { metadata: { name: 'datadog' }, spec: { selector: { 'app.kubernetes.io/name': 'datadog-agent' }, internalTrafficPolicy: 'Local', ports: [{ name: 'traceport', port: 8126, protocol: 'TCP' }] } },
    });
    const r = await run(serviceModeLocalService, { 'admission_controller.inject_config.mode': 'service' });
    expectStatus(r, 'ok');
    assert.match(r.summary, /Service datadog\/datadog keeps traffic on the node/);
  });
});

describe('broken: each failure created in the API server and found', () => {
  test('webhook-reachable: Tether stopped, the probe comes back without injection (failing open); the fix is the platform\'s', async () => {
    assert.equal(await tether!.stop(), 0);
    const generic = await run(webhookReachable);
    expectStatus(generic, 'error');
    assert.match(generic.summary, /control plane cannot reach the webhook: a dry-run pod in namespace default came back without injection/);
    assert.match(generic.evidence.join('\n'), /entry datadog.webhook.config: URL https:\/\/127.0.0.1:\d+\/injectconfig, failurePolicy Ignore/);
    assert.match(generic.evidence.join('\n'), /datadog.webhook.config did not mutate it; datadog.webhook.tags did not mutate it; datadog.webhook.auto.instrumentation did not mutate it/);
    assert.match(generic.fix, /Check what stands between the API server and the webhook/);

    const gke = await withNodes([['gke-shop-default-pool-1a2b3c4d-wxyz', { 'cloud.google.com/gke-nodepool': 'default-pool' }, 'gce://proj/us-central1-a/gke-shop-default-pool-1a2b3c4d-wxyz']], () => run(webhookReachable));
    expectStatus(gke, 'error');
    assert.match(gke.fix, /gcloud compute firewall-rules create allow-datadog-webhook .*--allow tcp:8000 --source-ranges <CONTROL_PLANE_CIDR>/);
    assert.ok(gke.evidence.includes('platform: GKE'));

    const eks = await withNodes([['ip-10-0-1-17.ec2.internal', { 'eks.amazonaws.com/nodegroup': 'ng-1' }, 'aws:///us-east-1a/i-0abc']], () => run(webhookReachable));
    assert.match(eks.fix, /aws ec2 authorize-security-group-ingress .*--port 8000 --source-group <CLUSTER_SECURITY_GROUP>/);
    assert.match(eks.fix, /custom CNI \(Calico, Cilium\)/);

    const rancher = await withNamespace('cattle-system', () => withNodes([['ip-10-0-1-18.ec2.internal', {}, 'aws:///us-east-1a/i-0abd']], () => run(webhookReachable)));
    assert.ok(rancher.evidence.includes('platform: Rancher on EKS'));
    assert.match(rancher.fix, /^The entries call https:\/\/127.0.0.1:\d+: .* Rancher on EKS: run the cluster agent on the host network/);
  });

  test('webhook-reachable: with failurePolicy Fail the API server refuses the probe and its message is the evidence', async () => {
    await editWebhookConfiguration((w) => (w.failurePolicy = 'Fail'));
    try {
      const r = await run(webhookReachable);
      expectStatus(r, 'error');
      assert.match(r.summary, /could not call the webhook: a dry-run pod in namespace default was refused \(failurePolicy Fail\)/);
      assert.match(r.evidence.join('\n'), /dry-run create refused: .*failed calling webhook "datadog.webhook.config".*connection refused/);
    } finally {
      await editWebhookConfiguration((w) => (w.failurePolicy = 'Ignore'));
    }
  });

  test('webhook-reachable: an address that drops what it receives (a firewall) keeps the API server waiting, which is found', async () => {
    // Accepts connections and never answers, as a security group dropping packets would look from the API server.
    const sockets = new Set<net.Socket>();
    const sink = net.createServer((s) => sockets.add(s));
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const sinkPort = (sink.address() as net.AddressInfo).port;
    const original = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
    await editWebhookConfiguration((w) => {
      w.clientConfig.url = w.clientConfig.url!.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${sinkPort}`);
      w.timeoutSeconds = 10;
    });
    try {
      const started = Date.now();
      const r = await run(webhookReachable);
      expectStatus(r, 'error');
      assert.match(r.summary, new RegExp(`got no answer within ${PROBE_WAIT_MS / 1000} s, the API server waiting on the webhook`));
      assert.ok(r.evidence.includes('entry datadog.webhook.config: timeoutSeconds 10'), r.evidence.join('\n'));
      assert.ok(Date.now() - started >= PROBE_WAIT_MS);
    } finally {
      await editWebhookConfiguration((w) => {
        w.clientConfig.url = original.webhooks!.find((o) => o.name === w.name)!.clientConfig.url!;
      });
      for (const s of sockets) s.destroy();
      await new Promise((r) => sink.close(r));
    }
  });

  test('webhook-reachable: a probe namespace that the webhook is not sent is refused up front', async () => {
    const r = await run(webhookReachable, {}, { probeNamespace: NS });
    expectStatus(r, 'skipped');
    assert.match(r.summary, /namespace datadog is never mutated \(Tether's own\)/);
  });

  test('uninjected-pods: pods created while the webhook was down are found, grouped by Deployment, CronJob and bare pod, one command each', async () => {
    const LATE = 'late';
    await core.createNamespace({ body: { metadata: { name: LATE } } });
    await eventually('the late service account', () => core.readNamespacedServiceAccount({ name: 'default', namespace: LATE }));
    await apps.createNamespacedDeployment({ namespace: LATE, body: deployment('web', {}, { [ENABLED_LABEL]: 'true' }) });
    await podsOf(LATE, 'web');
    const cron = await batch.createNamespacedCronJob({
      namespace: LATE,
      body: { metadata: { name: 'report' }, spec: { schedule: '0 * * * *', jobTemplate: { spec: { template: { metadata: { labels: { [ENABLED_LABEL]: 'true' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'r', image: 'x' }] } } } } } },
    });
    const job = await batch.createNamespacedJob({
      namespace: LATE,
      body: {
        metadata: { name: 'report-29000000', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'report', uid: cron.metadata!.uid!, controller: true }] },
        spec: { template: { metadata: { labels: { [ENABLED_LABEL]: 'true' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'r', image: 'x' }] } } },
      },
    });
    await labelledPod(LATE, 'report-29000000-abcde', {}, [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata!.name!, uid: job.metadata!.uid!, controller: true }]);
    await labelledPod(LATE, 'lonely');

    const r = await run(uninjectedPods);
    expectStatus(r, 'warning');
    assert.match(r.summary, /^3 running pods labelled admission.datadoghq.com\/enabled=true carry no injection .* in 3 workloads$/);
    assert.deepEqual(r.evidence.map((l) => l.replace(/\(web-[^)]*\)/, '(web-…)')), [
      'cronjob/report -n late: 1 pod without DD_ENTITY_ID (report-29000000-abcde)',
      'deployment/web -n late: 1 pod without DD_ENTITY_ID (web-…)',
      'pod/lonely -n late: 1 pod without DD_ENTITY_ID (lonely)',
    ]);
    assert.match(r.fix, /kubectl rollout restart deployment\/web -n late/);
    assert.match(r.fix, /kubectl delete pod lonely -n late, then create it again/);
    assert.match(r.fix, /cronjob\/report -n late/);
    // The pods injected while Tether ran (apps/injected) are not named.
    assert.doesNotMatch(r.evidence.join('\n'), /injected|never-mutated/);
    await core.deleteNamespace({ name: LATE });
  });

  test('label-on-workload: the label on the Deployment itself is found, and the fix it gives makes the check pass', async () => {
    await apps.createNamespacedDeployment({ namespace: APPS, body: deployment('wrong-place', { [ENABLED_LABEL]: 'true' }, {}) });
    const r = await run(labelOnWorkload);
    expectStatus(r, 'warning');
    assert.deepEqual(r.evidence, ['deployment/wrong-place -n apps: metadata has admission.datadoghq.com/enabled=true, spec.template.metadata.labels does not']);
    const patch = /-p '([^']+)'/.exec(r.fix)![1]!;
    assert.match(r.fix, /kubectl patch deployment\/wrong-place -n apps --type merge/);
    await apps.patchNamespacedDeployment({ name: 'wrong-place', namespace: APPS, body: JSON.parse(patch) }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    expectStatus(await run(labelOnWorkload), 'ok');
    await apps.deleteNamespacedDeployment({ name: 'wrong-place', namespace: APPS });
  });

  test('socket-mode-platform: socket mode on OpenShift (configured) and on GKE Autopilot (a pod template label) is an error; hostip there passes', async () => {
    await withOpenShift(async () => {
      const r = await run(socketModePlatform, { 'admission_controller.inject_config.mode': 'socket' });
      expectStatus(r, 'error');
      assert.match(r.summary, /socket injection mode is used on OpenShift: OpenShift's restricted SCC refuses pods with hostPath volumes/);
      assert.ok(r.evidence.includes('admission_controller.inject_config.mode is socket (DD_ADMISSION_CONTROLLER_INJECT_CONFIG_MODE)'));
      assert.match(r.fix, /DD_ADMISSION_CONTROLLER_INJECT_CONFIG_MODE=hostip/);
      expectStatus(await run(socketModePlatform, { 'admission_controller.inject_config.mode': 'hostip' }), 'ok');
    });
    await apps.createNamespacedDeployment({ namespace: APPS, body: deployment('socket-app', {}, { [CONFIG_MODE_LABEL]: 'socket' }) });
    try {
      await withNodes([['gk3-shop-pool-1-9a8b7c6d-x1y2', {}, 'gce://proj/us-central1-a/gk3-shop-pool-1-9a8b7c6d-x1y2']], async () => {
        const r = await run(socketModePlatform);
        expectStatus(r, 'error');
        assert.match(r.summary, /on GKE Autopilot: GKE Autopilot refuses pods with hostPath volumes/);
        assert.ok(r.evidence.includes('deployment/socket-app -n apps: spec.template.metadata.labels has admission.datadoghq.com/config.mode=socket'), r.evidence.join('\n'));
        assert.match(r.fix, /change the admission.datadoghq.com\/config.mode label to hostip \(or service\) in deployment\/socket-app -n apps/);
      });
    } finally {
      await apps.deleteNamespacedDeployment({ name: 'socket-app', namespace: APPS });
    }
  });

  test("aks-selectors: AKS without add_aks_selectors is an error, with the enforcer's rewrite as evidence; the setting or the opt-out passes", async () => {
    await withNodes([['aks-nodepool1-12345678-vmss000000', { 'kubernetes.azure.com/cluster': 'MC_rg_c_westeurope' }, 'azure:///subscriptions/s/resourceGroups/mc_rg/providers/Microsoft.Compute/virtualMachineScaleSets/aks-nodepool1/virtualMachines/0']], async () => {
      const before = await run(aksSelectors);
      expectStatus(before, 'error');
      assert.ok(before.evidence.includes(`MutatingWebhookConfiguration ${WEBHOOK} shows no rewrite yet`));
      assert.match(before.fix, /kubectl set env deployment\/datadog-cluster-agent -n datadog DD_ADMISSION_CONTROLLER_ADD_AKS_SELECTORS=true/);

      // What AKS's admissions enforcer does to every webhook configuration.
      await editWebhookConfiguration((w) => {
        w.namespaceSelector = {
          matchExpressions: [
            ...(w.namespaceSelector?.matchExpressions ?? []),
            { key: 'control-plane', operator: 'NotIn', values: ['true'] },
            { key: 'kubernetes.azure.com/managedby', operator: 'NotIn', values: ['aks'] },
          ],
        };
      }, 'admissionsenforcer');
      const rewritten = await run(aksSelectors);
      expectStatus(rewritten, 'error');
      assert.ok(rewritten.evidence.includes("entry datadog.webhook.config: namespaceSelector has the enforcer's control-plane notin (true),kubernetes.azure.com/managedby notin (aks)"), rewritten.evidence.join('\n'));
      assert.ok(rewritten.evidence.some((l) => /^field manager admissionsenforcer wrote the configuration \(Update at /.test(l)));

      expectStatus(await run(aksSelectors, { 'admission_controller.add_aks_selectors': true }), 'ok');
      const mwc = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
      mwc.metadata!.annotations = { ...mwc.metadata!.annotations, 'admissions.enforcer/disabled': 'true' };
      await admission.replaceMutatingWebhookConfiguration({ name: WEBHOOK, body: mwc });
      const optedOut = await run(aksSelectors);
      expectStatus(optedOut, 'ok');
      assert.match(optedOut.summary, /opts out of the admissions enforcer/);
    });
  });

  test('service-mode-local-service: the Service missing is an error, one without internalTrafficPolicy Local a warning; a pod label is enough to need it', async () => {
    await core.deleteNamespacedService({ name: 'datadog', namespace: NS });
    const missing = await run(serviceModeLocalService, { 'admission_controller.inject_config.mode': 'service' });
    expectStatus(missing, 'error');
    assert.match(missing.summary, /Service datadog\/datadog does not exist: injected pods send traces and metrics to datadog.datadog.svc.cluster.local/);
    assert.match(missing.fix, /kubectl apply -f -/);
    // Apply the fix's manifest as given, with the policy changed, to see the warning.
    const manifest = JSON.parse(/echo '([^']+)'/.exec(missing.fix)![1]!) as k8s.V1Service;
    manifest.spec!.internalTrafficPolicy = 'Cluster';
    await core.createNamespacedService({ namespace: NS, body: manifest });
    await labelledPod(APPS, 'service-mode-pod', { [CONFIG_MODE_LABEL]: 'service' });
    const cluster = await run(serviceModeLocalService);
    expectStatus(cluster, 'warning');
    assert.ok(cluster.evidence.includes('pod/service-mode-pod -n apps: labelled admission.datadoghq.com/config.mode=service'), cluster.evidence.join('\n'));
    assert.equal(cluster.fix, `kubectl patch service/datadog -n datadog -p '{"spec":{"internalTrafficPolicy":"Local"}}'`);
    await core.patchNamespacedService({ name: 'datadog', namespace: NS, body: { spec: { internalTrafficPolicy: 'Local' } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    expectStatus(await run(serviceModeLocalService), 'ok');
  });
});

describe('permissions', () => {
  /** What these checks read, and the dry-run create: the rules deploy/diagnose-rbac.yaml must hold for them. */
  const RULES: k8s.V1PolicyRule[] = [
    { apiGroups: [''], resources: ['nodes', 'namespaces', 'pods', 'services'], verbs: ['get', 'list'] },
    // webhook-reachable's probe: always with dryRun=All, which RBAC cannot express.
    { apiGroups: [''], resources: ['pods'], verbs: ['create'] },
    { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'], verbs: ['get', 'list'] },
    { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['get', 'list'] },
    { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'], verbs: ['get', 'list'] },
  ];

  test('every check of this file runs with only these read rules (and create pods for the dry run)', async () => {
    const rbac = cp.kubeConfig().makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createClusterRole({ body: { metadata: { name: 'diagnose-platform-test' }, rules: RULES } });
    await rbac.createClusterRoleBinding({
      body: { metadata: { name: 'diagnose-platform-test' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'diagnose-platform-test' }, subjects: [{ kind: 'User', name: 'diagnose-tester', apiGroup: 'rbac.authorization.k8s.io' }] },
    });
    const limited = createKubeReader(impersonatingKubeConfig(cp, 'diagnose-tester'));
    const checks = [webhookReachable, uninjectedPods, labelOnWorkload, socketModePlatform, aksSelectors, serviceModeLocalService];
    await eventually('the role to take effect', async () => {
      const results = await Promise.all(checks.map((c) => runCheck(c, { ...ctx({ 'admission_controller.inject_config.mode': 'service' }), kube: limited, platform: () => detectPlatform(limited, AbortSignal.timeout(10_000)) })));
      for (const r of results) assert.doesNotMatch(`${r.summary} ${r.evidence.join(' ')}`, /not allowed|forbidden|could not read/i, JSON.stringify(r));
    });
    // Without the create rule the probe is refused, and says which permission it lacked.
    await rbac.replaceClusterRole({ name: 'diagnose-platform-test', body: { metadata: { name: 'diagnose-platform-test' }, rules: RULES.filter((r) => !r.verbs.includes('create')) } });
    await eventually('the create rule to be gone', async () => {
      const r = await runCheck(webhookReachable, { ...ctx(), kube: limited });
      expectStatus(r, 'skipped');
      assert.match(r.summary, /not allowed to read what this check needs: .*pods is forbidden: User "diagnose-tester" cannot create resource "pods"/);
    });
  });
});
