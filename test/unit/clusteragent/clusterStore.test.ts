/**
 * The cluster state's store (clusteragent/clusterStore.ts) fed watch events directly: indexes follow
 * adds, moves and deletes; Services select as Kubernetes does (an empty selector selects nothing);
 * owners resolve through ReplicaSet → Deployment and Job → CronJob; repeated strings and label maps are
 * shared; and what is kept of a pod is what `PodView` says, never the object.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClusterStore, type ClusterStore } from '../../../src/clusteragent/clusterStore.js';
import { CLUSTER_RESOURCES } from '../../../src/kube/watchedResources.js';
import { podTags } from '../../../src/tagging/podTags.js';

const TAGS = { 'tags.datadoghq.com/env': 'prod', 'tags.datadoghq.com/service': 'web', 'tags.datadoghq.com/version': '1.2' };

interface PodSpec {
  ns?: string;
  name: string;
  node?: string;
  phase?: string;
  labels?: Record<string, string>;
  owner?: { kind: string; name: string; apiVersion?: string };
  uid?: string;
}
function pod(p: PodSpec): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      namespace: p.ns ?? 'shop',
      name: p.name,
      uid: p.uid ?? `uid-${p.name}`,
      resourceVersion: '1',
      labels: p.labels ? { ...p.labels } : undefined,
      annotations: { big: 'x'.repeat(1000) },
      ownerReferences: p.owner ? [{ apiVersion: p.owner.apiVersion ?? 'apps/v1', kind: p.owner.kind, name: p.owner.name, uid: 'u', controller: true }] : undefined,
    },
    spec: { nodeName: p.node, containers: [{ name: 'c', image: 'i' }] },
    status: { phase: p.phase ?? 'Running' },
  };
}
function obj(name: string, extra: { ns?: string; labels?: Record<string, string>; controller?: { apiVersion: string; kind: string; name: string }; spec?: unknown; uid?: string } = {}) {
  return {
    metadata: {
      name,
      ...(extra.ns ? { namespace: extra.ns } : {}),
      ...(extra.uid ? { uid: extra.uid } : {}),
      labels: extra.labels ? { ...extra.labels } : undefined,
      ownerReferences: extra.controller ? [{ ...extra.controller, uid: 'u', controller: true }] : undefined,
    },
    ...(extra.spec ? { spec: extra.spec } : {}),
  };
}
const names = (store: ClusterStore, node: string) => [...store.podsOfNode(node)].map((p) => `${p.namespace}/${p.name}`).sort();

describe('cluster store', () => {
  test('a pod is kept as PodView: the fields the answers need, nothing of the object', () => {
    const store = createClusterStore();
    store.apply('pods', 'ADDED', pod({ name: 'a', node: 'n1', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-1' } }));
    const p = store.pod('shop', 'a');
    assert.deepEqual({ ...p }, { namespace: 'shop', name: 'a', uid: 'uid-a', node: 'n1', phase: 'Running', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-1' } });
    assert.ok(Object.isFrozen(p) && Object.isFrozen(p!.labels));
  });

  test('pods by node follow adds, moves between nodes, and deletes; unscheduled pods are on no node', () => {
    const store = createClusterStore();
    store.apply('pods', 'ADDED', pod({ name: 'a', node: 'n1' }));
    store.apply('pods', 'ADDED', pod({ name: 'b', node: 'n1' }));
    store.apply('pods', 'ADDED', pod({ ns: 'other', name: 'a', node: 'n2' }));
    store.apply('pods', 'ADDED', pod({ name: 'pending' }));
    assert.deepEqual(names(store, 'n1'), ['shop/a', 'shop/b']);
    assert.deepEqual(names(store, 'n2'), ['other/a']);
    assert.deepEqual(names(store, ''), []);
    assert.equal(store.count('pods'), 4);

    // Bound by the scheduler: it appears on its node.
    store.apply('pods', 'MODIFIED', pod({ name: 'pending', node: 'n2' }));
    // A moved pod (a replayed event, a re-list): gone from the old node.
    store.apply('pods', 'MODIFIED', pod({ name: 'b', node: 'n2' }));
    assert.deepEqual(names(store, 'n1'), ['shop/a']);
    assert.deepEqual(names(store, 'n2'), ['other/a', 'shop/b', 'shop/pending']);

    store.apply('pods', 'DELETED', pod({ name: 'a', node: 'n1' }));
    assert.deepEqual(names(store, 'n1'), []);
    assert.equal(store.pod('shop', 'a'), undefined);
    assert.equal(store.pod('other', 'a')?.node, 'n2');
    assert.deepEqual([...store.nodes()].sort(), ['n2'], 'a node with no pod and no Node object is no longer listed');
    store.remove('pods', 'shop/never-existed');
    assert.equal(store.count('pods'), 3);
  });

  test('nodes(): Node objects and nodes that have pods; labels of nodes and namespaces; kube-system is the cluster id', () => {
    const store = createClusterStore();
    store.apply('nodes', 'ADDED', obj('n1', { labels: { zone: 'a' } }));
    store.apply('pods', 'ADDED', pod({ name: 'a', node: 'n9' }));
    store.apply('namespaces', 'ADDED', obj('shop', { labels: { team: 'x' }, uid: 'ns-uid' }));
    store.apply('namespaces', 'ADDED', obj('kube-system', { uid: '1234-abcd' }));
    assert.deepEqual([...store.nodes()].sort(), ['n1', 'n9']);
    assert.deepEqual(store.nodeLabels('n1'), { zone: 'a' });
    assert.equal(store.nodeLabels('n9'), undefined);
    assert.deepEqual(store.namespaceLabels('shop'), { team: 'x' });
    assert.deepEqual(store.namespaceLabels('kube-system'), {});
    assert.equal(store.clusterId(), '1234-abcd');
    store.apply('nodes', 'MODIFIED', obj('n1', { labels: { zone: 'b' } }));
    assert.deepEqual(store.nodeLabels('n1'), { zone: 'b' });
    store.apply('namespaces', 'DELETED', obj('kube-system', { uid: '1234-abcd' }));
    assert.equal(store.clusterId(), undefined);
  });

  test('Services select pods of their namespace whose labels match; an empty or absent selector selects nothing', () => {
    const store = createClusterStore();
    store.apply('pods', 'ADDED', pod({ name: 'a', node: 'n1', labels: { app: 'web', tier: 'front' } }));
    store.apply('pods', 'ADDED', pod({ name: 'b', node: 'n1', labels: { app: 'db' } }));
    store.apply('pods', 'ADDED', pod({ ns: 'other', name: 'c', node: 'n1', labels: { app: 'web' } }));
    store.apply('services', 'ADDED', obj('web', { ns: 'shop', spec: { selector: { app: 'web' } } }));
    store.apply('services', 'ADDED', obj('front', { ns: 'shop', spec: { selector: { tier: 'front', app: 'web' } } }));
    store.apply('services', 'ADDED', obj('all', { ns: 'shop', spec: { selector: {} } }));
    store.apply('services', 'ADDED', obj('external', { ns: 'shop', spec: { type: 'ExternalName', externalName: 'x.example' } }));
    store.apply('services', 'ADDED', obj('mismatch', { ns: 'shop', spec: { selector: { app: 'web', tier: 'back' } } }));
    const a = store.pod('shop', 'a')!;
    assert.deepEqual(store.servicesOf(a), ['front', 'web']);
    assert.deepEqual(store.servicesOf(store.pod('shop', 'b')!), []);
    assert.deepEqual(store.servicesOf(store.pod('other', 'c')!), [], 'a Service selects only in its own namespace');

    // Changes are followed (the answers are cached per label map and namespace).
    store.apply('services', 'MODIFIED', obj('web', { ns: 'shop', spec: { selector: { app: 'db' } } }));
    assert.deepEqual(store.servicesOf(a), ['front']);
    assert.deepEqual(store.servicesOf(store.pod('shop', 'b')!), ['web']);
    store.apply('services', 'DELETED', obj('front', { ns: 'shop' }));
    assert.deepEqual(store.servicesOf(a), []);
    store.apply('pods', 'MODIFIED', pod({ name: 'b', node: 'n1', labels: { app: 'other' } }));
    assert.deepEqual(store.servicesOf(store.pod('shop', 'b')!), []);
    assert.equal(store.count('services'), 4);
  });

  test('owners: ReplicaSet → Deployment, Job → CronJob, bare ones, direct ones, and ones not known yet', () => {
    const store = createClusterStore();
    store.apply('deployments', 'ADDED', obj('web', { ns: 'shop', labels: { ...TAGS, app: 'web' } }));
    store.apply('replicasets', 'ADDED', obj('web-1', { ns: 'shop', labels: { app: 'web', 'pod-template-hash': '1' }, controller: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' } }));
    store.apply('replicasets', 'ADDED', obj('bare', { ns: 'shop', labels: { 'tags.datadoghq.com/env': 'dev' } }));
    store.apply('replicasets', 'ADDED', obj('rollout-1', { ns: 'shop', controller: { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'r' } }));
    store.apply('cronjobs', 'ADDED', obj('backup', { ns: 'shop', labels: { 'tags.datadoghq.com/service': 'backup' } }));
    store.apply('jobs', 'ADDED', obj('backup-1', { ns: 'shop', controller: { apiVersion: 'batch/v1', kind: 'CronJob', name: 'backup' } }));
    store.apply('statefulsets', 'ADDED', obj('db', { ns: 'shop', labels: { 'tags.datadoghq.com/env': 'prod' } }));

    const workload = (owner: { kind: string; name: string } | undefined) => {
      const name = `p-${owner?.kind ?? 'none'}-${owner?.name ?? ''}`;
      store.apply('pods', 'ADDED', pod({ name, node: 'n1', ...(owner ? { owner } : {}) }));
      return store.workloadOf(store.pod('shop', name)!);
    };
    assert.deepEqual(workload({ kind: 'ReplicaSet', name: 'web-1' }), { kind: 'Deployment', name: 'web', via: { kind: 'ReplicaSet', name: 'web-1' }, tagLabels: TAGS });
    assert.deepEqual(workload({ kind: 'ReplicaSet', name: 'bare' }), { kind: 'ReplicaSet', name: 'bare', tagLabels: { 'tags.datadoghq.com/env': 'dev' } });
    assert.deepEqual(workload({ kind: 'ReplicaSet', name: 'rollout-1' }), { kind: 'ReplicaSet', name: 'rollout-1', tagLabels: {} }, "another kind's controller is not followed (as kube/facts.ts)");
    assert.deepEqual(workload({ kind: 'Job', name: 'backup-1' }), { kind: 'CronJob', name: 'backup', via: { kind: 'Job', name: 'backup-1' }, tagLabels: { 'tags.datadoghq.com/service': 'backup' } });
    assert.deepEqual(workload({ kind: 'StatefulSet', name: 'db' }), { kind: 'StatefulSet', name: 'db', tagLabels: { 'tags.datadoghq.com/env': 'prod' } });
    assert.equal(workload({ kind: 'ReplicaSet', name: 'unknown' }), undefined);
    assert.equal(workload({ kind: 'Node', name: 'n1' }), undefined);
    assert.equal(workload(undefined), undefined);

    // Only tags.datadoghq.com/* labels of a workload are kept.
    assert.deepEqual(store.workloadOf(store.pod('shop', 'p-ReplicaSet-web-1')!)?.tagLabels, TAGS);

    // The Deployment deleted: the ReplicaSet still names it, without labels.
    store.apply('deployments', 'DELETED', obj('web', { ns: 'shop' }));
    assert.deepEqual(store.workloadOf(store.pod('shop', 'p-ReplicaSet-web-1')!), { kind: 'Deployment', name: 'web', via: { kind: 'ReplicaSet', name: 'web-1' }, tagLabels: {} });
  });

  test("the tagger over the store: a Deployment's pod gets kube_deployment, kube_replica_set, kube_service and the Deployment's env", () => {
    const store = createClusterStore();
    store.apply('deployments', 'ADDED', obj('web', { ns: 'shop', labels: TAGS }));
    store.apply('replicasets', 'ADDED', obj('web-1', { ns: 'shop', controller: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' } }));
    store.apply('services', 'ADDED', obj('web', { ns: 'shop', spec: { selector: { app: 'web' } } }));
    store.apply('pods', 'ADDED', pod({ name: 'web-1-x', node: 'n1', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-1' } }));
    const p = store.pod('shop', 'web-1-x')!;
    const w = store.workloadOf(p);
    assert.deepEqual(podTags({ ...p, services: store.servicesOf(p), ...(w ? { workload: w } : {}) }), [
      'env:prod',
      'kube_deployment:web',
      'kube_namespace:shop',
      'kube_node:n1',
      'kube_ownerref_kind:replicaset',
      'kube_replica_set:web-1',
      'kube_service:web',
      'pod_name:web-1-x',
      'pod_phase:running',
      'service:web',
      'version:1.2',
    ]);
  });

  test('interning: pods of one ReplicaSet share one label map, one owner ref, one namespace and node string', () => {
    const store = createClusterStore();
    const labels = { app: 'web', 'pod-template-hash': '7c8c589d48', team: 'shop' };
    for (let i = 0; i < 30; i++) store.apply('pods', 'ADDED', JSON.parse(JSON.stringify(pod({ name: `web-${i}`, node: 'n1', labels, owner: { kind: 'ReplicaSet', name: 'web-7c8c589d48' } }))));
    const pods = [...store.podsOfNode('n1')];
    assert.equal(pods.length, 30);
    assert.ok(pods.every((p) => p.labels === pods[0]!.labels), 'one label map');
    assert.ok(pods.every((p) => p.owner === pods[0]!.owner), 'one owner ref');
    assert.deepEqual(pods[0]!.labels, labels);
    // Same labels in another key order: the same map.
    store.apply('pods', 'ADDED', pod({ name: 'reordered', node: 'n1', labels: { team: 'shop', 'pod-template-hash': '7c8c589d48', app: 'web' } }));
    assert.equal(store.pod('shop', 'reordered')!.labels, pods[0]!.labels);
    assert.equal(store.internStats().labelMaps, 1);
  });

  test('a bounded intern pool starts again when full, without changing any answer', () => {
    const store = createClusterStore({ intern: { maxStrings: 8, maxMaps: 2 } });
    for (let i = 0; i < 50; i++) store.apply('pods', 'ADDED', pod({ name: `p${i}`, node: `n${i % 5}`, labels: { app: `a${i % 7}` } }));
    assert.ok(store.internStats().resets > 0);
    assert.ok(store.internStats().strings <= 8 && store.internStats().labelMaps <= 2);
    for (let i = 0; i < 50; i++) assert.deepEqual({ ...store.pod('shop', `p${i}`)!.labels }, { app: `a${i % 7}` });
    assert.equal(names(store, 'n0').length, 10);
    const off = createClusterStore({ intern: { maxStrings: 0, maxMaps: 0 } });
    for (const name of ['a', 'b']) off.apply('pods', 'ADDED', pod({ name, node: 'n1', labels: { app: 'web' } }));
    assert.notEqual(off.pod('shop', 'a')!.labels, off.pod('shop', 'b')!.labels, 'pools of size 0 share nothing');
    assert.deepEqual(off.pod('shop', 'a')!.labels, off.pod('shop', 'b')!.labels);
  });

  test('objects without a name or namespace are refused, naming the resource; odd field types are ignored', () => {
    const store = createClusterStore();
    assert.throws(() => store.apply('pods', 'ADDED', { metadata: {} }), /pods object without metadata.name/);
    assert.throws(() => store.apply('pods', 'ADDED', { metadata: { name: 'x' } }), /pod x without metadata.namespace/);
    assert.throws(() => store.compact('services', null), /services object without metadata.name/);
    store.apply('pods', 'ADDED', { metadata: { name: 'x', namespace: 'n', labels: { ok: 'v', bad: 3 }, ownerReferences: [{ kind: 1 }] }, spec: { nodeName: 7 }, status: 'odd' });
    assert.deepEqual({ ...store.pod('n', 'x') }, { namespace: 'n', name: 'x', uid: '', node: '', phase: '', labels: { ok: 'v' } });
  });

  test('without informers every resource reports synced, with its object count', () => {
    const store = createClusterStore();
    store.apply('pods', 'ADDED', pod({ name: 'a', node: 'n1' }));
    assert.equal(store.isSynced(), true);
    assert.deepEqual(store.syncStatus().map((s) => s.resource), CLUSTER_RESOURCES);
    assert.equal(store.syncStatus().find((s) => s.resource === 'pods')?.objects, 1);
    const failing = createClusterStore({ syncStatus: () => [{ resource: 'pods', synced: false, objects: 0, lastError: 'HTTP 403' }] });
    assert.equal(failing.isSynced(), false);
  });
});
