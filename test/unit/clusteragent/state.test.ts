/**
 * The live cluster state (clusteragent/state.ts) against a fake API server on loopback: one informer
 * per watched collection, cluster-wide; synced only once every collection has been listed, and not
 * while a watch fails; events followed through the same store code path as `apply`.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startClusterState, WATCHED_RESOURCES, type ClusterState } from '../../../src/clusteragent/state.js';
import { kubeConfigTransport } from '../../../src/kube/transport.js';
import { startFakeApiServer, type FakeApiServer, type FakeObject } from '../../helpers/fakeApiServer.js';
import { eventually } from '../../helpers/eventually.js';
import { logWaiter } from '../../helpers/logWaiter.js';
import { manualTimers } from '../../helpers/manualTimers.js';

const P = WATCHED_RESOURCES;
const pod = (name: string, node: string, labels: Record<string, string> = {}): FakeObject => ({
  metadata: { name, namespace: 'shop', uid: `uid-${name}`, labels, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: 'u', controller: true }] },
  spec: { nodeName: node },
  status: { phase: 'Running' },
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(prepare: (s: FakeApiServer) => void) {
  const server = await startFakeApiServer();
  cleanups.push(() => server.close());
  prepare(server);
  const time = manualTimers();
  const logs = logWaiter();
  const watching = Promise.all(Object.values(P).map((r) => server.nextRequest((q) => q.watch && q.path === r.path)));
  const state: ClusterState = startClusterState({
    transport: kubeConfigTransport(server.kubeConfig()),
    logger: logs.logger,
    tuning: { now: time.now, timers: time.timers, random: () => 0 },
  });
  cleanups.push(() => state.stop());
  return { server, state, logs, time, watching };
}

describe('cluster state over informers', () => {
  test('lists every collection cluster-wide, then answers; follows adds, moves and deletes', async () => {
    const { server, state } = await setup((s) => {
      s.collection(P.pods.path).add(pod('a', 'n1', { app: 'web' }));
      s.collection(P.pods.path).add(pod('b', 'n2'));
      s.collection(P.nodes.path).add({ metadata: { name: 'n1', labels: { zone: 'a' } } });
      s.collection(P.namespaces.path).add({ metadata: { name: 'kube-system', uid: 'cluster-uid' } });
      s.collection(P.services.path).add({ metadata: { name: 'web', namespace: 'shop' }, spec: { selector: { app: 'web' } } });
      s.collection(P.replicasets.path).add({ metadata: { name: 'web-1', namespace: 'shop', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd', controller: true }] } });
      s.collection(P.deployments.path).add({ metadata: { name: 'web', namespace: 'shop', labels: { 'tags.datadoghq.com/env': 'prod', app: 'web' } } });
    });
    assert.equal(state.isSynced(), false, 'not synced before the lists');
    await state.synced;
    assert.equal(state.isSynced(), true);
    const listed = new Set(server.requests.filter((r) => !r.watch).map((r) => r.path));
    assert.deepEqual([...listed].sort(), Object.values(P).map((r) => r.path).sort(), 'one list per watched collection, all namespaces');

    assert.deepEqual([...state.podsOfNode('n1')].map((p) => p.name), ['a']);
    const a = state.pod('shop', 'a')!;
    assert.deepEqual(state.servicesOf(a), ['web']);
    assert.deepEqual(state.workloadOf(a), { kind: 'Deployment', name: 'web', via: { kind: 'ReplicaSet', name: 'web-1' }, tagLabels: { 'tags.datadoghq.com/env': 'prod' } });
    assert.equal(state.clusterId(), 'cluster-uid');
    assert.deepEqual(state.nodeLabels('n1'), { zone: 'a' });
    assert.deepEqual(state.syncStatus().find((s) => s.resource === 'pods'), { resource: 'pods', synced: true, objects: 2 });

    const pods = server.collection(P.pods.path);
    pods.add(pod('c', 'n1'));
    pods.remove('a', 'shop');
    await eventually('the watch events applied', async () => assert.deepEqual([...state.podsOfNode('n1')].map((p) => p.name), ['c']));
    assert.equal(state.pod('shop', 'a'), undefined);
    server.collection(P.services.path).update('web', (s) => ((s.spec as { selector: Record<string, string> }).selector = { app: 'db' }), 'shop');
    pods.update('b', (p) => (p.metadata.labels = { app: 'db' }), 'shop');
    await eventually('the Service and label changes applied', async () => assert.deepEqual(state.servicesOf(state.pod('shop', 'b')!), ['web']));
  });

  test('not synced while any watch fails, with its error; synced again once it is back', async () => {
    const { server, state, logs, time, watching } = await setup(() => {});
    await state.synced;
    await watching;
    assert.equal(state.isSynced(), true);
    server.refuse(403);
    server.endWatches(P.services.path);
    const line = await logs.next((l) => typeof l['retryInMs'] === 'number');
    assert.match(String(line['what']), /^services/);
    assert.equal(state.isSynced(), false);
    const services = state.syncStatus().find((s) => s.resource === 'services')!;
    assert.equal(services.synced, false);
    assert.match(services.lastError ?? '', /403/);
    assert.ok(state.syncStatus().filter((s) => s.resource !== 'services').every((s) => s.synced), 'the other watches are still fine');

    server.refuse(false);
    const back = server.nextRequest((r) => r.watch && r.path === P.services.path);
    time.advance(line['retryInMs'] as number);
    await back;
    await eventually('the services watch back', async () => assert.equal(state.isSynced(), true));
  });

  test('needs a way to reach the API server', () => {
    assert.throws(() => startClusterState({ logger: logWaiter().logger }), /needs a transport or a kubeConfig/);
  });
});
