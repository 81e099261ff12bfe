/**
 * The cluster agent's state (clusteragent/state.ts) against a real control plane, as Tether's service
 * account with the RBAC deploy/rbac.yaml ships (impersonated: a permission missing there fails here):
 * pods bound to two nodes, a Deployment whose ReplicaSet and pods kube-controller-manager makes, a
 * Service, a CronJob's Job; each node lists exactly its pods, tags come out of the shared tagger, and
 * updates and deletes are followed. An identity without those rules is never synced, and says why.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { startClusterState, type ClusterState } from '../../src/clusteragent/state.js';
import type { PodView } from '../../src/clusterview/types.js';
import { podTags } from '../../src/tagging/podTags.js';
import { impersonatingKubeConfig, startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { eventually } from '../helpers/eventually.js';
import { logWaiter } from '../helpers/logWaiter.js';
import { applyTetherRbac } from '../helpers/rbac.js';

const TETHER_NS = 'tether-state';
const NS = 'shop';
const IMAGE = 'registry.example/web:1';
const WEB_TAGS = { 'tags.datadoghq.com/env': 'prod', 'tags.datadoghq.com/service': 'web', 'tags.datadoghq.com/version': '1.2.3' };
const BACKUP_TAGS = { 'tags.datadoghq.com/env': 'prod', 'tags.datadoghq.com/service': 'backup' };

let cp: ControlPlane;
let core: k8s.CoreV1Api;
let tether: k8s.KubeConfig;
let state: ClusterState;
let kubeSystemUid: string;

const names = (node: string) => [...state.podsOfNode(node)].map((p) => p.name).sort();
const tagsOf = (p: PodView) => {
  const workload = state.workloadOf(p);
  return podTags({ ...p, services: state.servicesOf(p), ...(workload ? { workload } : {}) });
};
const podOn = (name: string, node: string, labels: Record<string, string> = {}, ownerReferences?: k8s.V1OwnerReference[]): k8s.V1Pod => ({
  metadata: { name, labels, ...(ownerReferences ? { ownerReferences } : {}) },
  spec: { nodeName: node, containers: [{ name: 'app', image: IMAGE }] },
});

before(
  async () => {
    cp = await startControlPlane();
    const admin = cp.kubeConfig();
    core = admin.makeApiClient(k8s.CoreV1Api);
    const apps = admin.makeApiClient(k8s.AppsV1Api);
    const batch = admin.makeApiClient(k8s.BatchV1Api);
    tether = await applyTetherRbac(cp, TETHER_NS);
    kubeSystemUid = (await core.readNamespace({ name: 'kube-system' })).metadata!.uid!;

    await core.createNamespace({ body: { metadata: { name: NS, labels: { team: 'shop' } } } });
    for (const [name, zone] of [['node-a', 'a'], ['node-b', 'b']]) await core.createNode({ body: { metadata: { name: name!, labels: { 'topology.kubernetes.io/zone': zone! } } } });
    // Pods need the namespace's `default` service account (the controller manager creates it).
    await eventually(`the default service account of ${NS}`, () => core.readNamespacedServiceAccount({ name: 'default', namespace: NS }));

    await core.createNamespacedPod({ namespace: NS, body: podOn('a1', 'node-a', { app: 'solo' }) });
    await core.createNamespacedPod({ namespace: NS, body: podOn('b1', 'node-b', { app: 'solo', 'tags.datadoghq.com/version': 'pinned' }) });
    await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } } });
    await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'headless-all' }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } } });
    await apps.createNamespacedDeployment({
      namespace: NS,
      body: {
        metadata: { name: 'web', labels: { ...WEB_TAGS, app: 'web' } },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { nodeName: 'node-a', containers: [{ name: 'app', image: IMAGE }] } },
        },
      },
    });
    // No cronjob controller runs here: the CronJob's Job and its pod are made by hand, owned as it would own them.
    const cron = await batch.createNamespacedCronJob({
      namespace: NS,
      body: {
        metadata: { name: 'backup', labels: BACKUP_TAGS },
        spec: { schedule: '0 3 * * *', suspend: true, jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'app', image: IMAGE }] } } } } },
      },
    });
    const job = await batch.createNamespacedJob({
      namespace: NS,
      body: {
        metadata: { name: 'backup-29000000', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'backup', uid: cron.metadata!.uid!, controller: true }] },
        spec: { suspend: true, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'app', image: IMAGE }] } } },
      },
    });
    await core.createNamespacedPod({
      namespace: NS,
      body: podOn('backup-29000000-x', 'node-b', {}, [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata!.name!, uid: job.metadata!.uid!, controller: true }]),
    });

    // The RBAC authorizer sees new bindings a moment later: wait until Tether's identity may list.
    await eventually('deploy/rbac.yaml in effect', () => tether.makeApiClient(k8s.CoreV1Api).listPodForAllNamespaces({ limit: 1 }));
    state = startClusterState({ kubeConfig: tether, logger: logWaiter().logger });
    // A collection the manifest does not grant never lists: say which instead of waiting for the hour.
    await eventually('every collection listed', async () => assert.ok(state.isSynced(), JSON.stringify(state.syncStatus().filter((s) => !s.synced))));
  },
  // A cold start builds kube-apiserver and friends first (scripts/control-plane).
  { timeout: 60 * 60_000 },
);

after(async () => {
  await state?.stop();
  await cp?.stop();
});

describe('cluster state on a real control plane, as Tether’s service account', () => {
  test('synced: every collection listed with deploy/rbac.yaml’s permissions', () => {
    assert.equal(state.isSynced(), true, JSON.stringify(state.syncStatus()));
    assert.ok(state.syncStatus().every((s) => s.synced && s.lastError === undefined));
    assert.equal(state.clusterId(), kubeSystemUid);
    assert.deepEqual(state.nodeLabels('node-a'), { 'topology.kubernetes.io/zone': 'a' });
    assert.equal(state.namespaceLabels(NS)?.['team'], 'shop');
  });

  test('each node lists exactly its own pods, the Deployment’s included', async () => {
    await eventually('the Deployment’s two pods', async () => assert.equal(names('node-a').length, 3, names('node-a').join(', ')));
    const a = names('node-a');
    assert.ok(a.includes('a1'));
    assert.equal(a.filter((n) => n.startsWith('web-')).length, 2);
    assert.deepEqual(names('node-b'), ['b1', 'backup-29000000-x']);
    assert.ok([...state.nodes()].includes('node-a') && [...state.nodes()].includes('node-b'));
  });

  test('tags: kube_deployment, kube_replica_set, kube_service and env from the Deployment; kube_job, kube_cronjob from the CronJob', async () => {
    const web = [...state.podsOfNode('node-a')].find((p) => p.name.startsWith('web-'))!;
    const rs = web.owner!.name;
    await eventually('the ReplicaSet and the Deployment known', async () => assert.equal(state.workloadOf(web)?.kind, 'Deployment'));
    const tags = tagsOf(web);
    for (const t of [
      'kube_deployment:web',
      `kube_replica_set:${rs}`,
      'kube_ownerref_kind:replicaset',
      'kube_service:web',
      'kube_namespace:shop',
      'kube_node:node-a',
      `pod_name:${web.name}`,
      'env:prod',
      'service:web',
      'version:1.2.3',
    ]) {
      assert.ok(tags.includes(t), `${t} in ${tags.join(' ')}`);
    }
    assert.ok(!tags.some((t) => t.startsWith('kube_service:headless-all')), 'a Service without a selector selects nothing');

    const backup = state.pod(NS, 'backup-29000000-x')!;
    const backupTags = tagsOf(backup);
    for (const t of ['kube_job:backup-29000000', 'kube_cronjob:backup', 'kube_ownerref_kind:job', 'env:prod', 'service:backup']) assert.ok(backupTags.includes(t), `${t} in ${backupTags.join(' ')}`);

    // The pod's own tag label wins as a whole: b1 has only its version.
    assert.deepEqual(tagsOf(state.pod(NS, 'b1')!).filter((t) => /^(env|service|version):/.test(t)), ['version:pinned']);
  });

  test('updates and deletes are followed: labels, phase, Service selection, pod deleted', async () => {
    await core.patchNamespacedPod({ name: 'a1', namespace: NS, body: { metadata: { labels: { app: 'web' } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    await eventually('a1 selected by Service web', async () => assert.deepEqual(state.servicesOf(state.pod(NS, 'a1')!), ['web']));

    const a1 = await core.readNamespacedPod({ name: 'a1', namespace: NS });
    await core.replaceNamespacedPodStatus({ name: 'a1', namespace: NS, body: { ...a1, status: { ...a1.status, phase: 'Running' } } });
    await eventually('a1 running', async () => assert.ok(tagsOf(state.pod(NS, 'a1')!).includes('pod_phase:running')));

    await core.patchNamespacedService(
      { name: 'web', namespace: NS, body: { spec: { selector: { app: 'solo' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await eventually('Service web now selects b1', async () => {
      assert.deepEqual(state.servicesOf(state.pod(NS, 'b1')!), ['web']);
      assert.deepEqual(state.servicesOf(state.pod(NS, 'a1')!), []);
    });

    // No kubelet here to confirm a graceful deletion: delete at once.
    await core.deleteNamespacedPod({ name: 'b1', namespace: NS, gracePeriodSeconds: 0 });
    await eventually('b1 gone from node-b', async () => assert.deepEqual(names('node-b'), ['backup-29000000-x']));
    assert.equal(state.pod(NS, 'b1'), undefined);

    await core.deleteNode({ name: 'node-b' });
    await eventually('node-b’s labels gone', async () => assert.equal(state.nodeLabels('node-b'), undefined));
    assert.ok([...state.nodes()].includes('node-b'), 'still listed while a pod is bound to it');
  });

  test('an identity without deploy/rbac.yaml’s rules is never synced, and says what was forbidden', async () => {
    const logs = logWaiter();
    const stranger = startClusterState({ kubeConfig: impersonatingKubeConfig(cp, `system:serviceaccount:${TETHER_NS}:someone-else`), logger: logs.logger });
    try {
      await logs.next((l) => typeof l['retryInMs'] === 'number' && /403/.test(String(l['problem'])));
      assert.equal(stranger.isSynced(), false);
      const failing = stranger.syncStatus().filter((s) => /403/.test(s.lastError ?? ''));
      assert.ok(failing.length > 0, JSON.stringify(stranger.syncStatus()));
    } finally {
      await stranger.stop();
    }
  });
});
