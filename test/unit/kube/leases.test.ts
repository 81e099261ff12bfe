/**
 * `createLeaseClient` through client-node's real HTTP stack against a loopback fake of the Lease API:
 * the records it reads and writes, MicroTime with six fractional digits, resourceVersion conflicts as
 * `Conflict`, fields it does not know kept on replace, and an aborted call closing its connection;
 * then leader election on it, against an API server that goes silent.
 */
import { once } from 'node:events';
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeApiError } from '../../../src/kube/errors.js';
import { startLeaderElection } from '../../../src/kube/leaderElection.js';
import { createLeaseClient, Conflict, type LeaseClient } from '../../../src/kube/leases.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { startFakeLeaseApi, type FakeLeaseApi } from '../../helpers/fakeLeaseApi.js';
import { deferred } from '../../helpers/manual.js';

const NS = 'tether';
const NAME = 'leader';
const never = new AbortController().signal;
const t1 = new Date(Date.UTC(2025, 0, 1, 12, 0, 0, 123));
const t2 = new Date(Date.UTC(2025, 0, 1, 12, 0, 5, 456));

describe('createLeaseClient over HTTP (fake Lease API)', () => {
  let api: FakeLeaseApi;
  let leases: LeaseClient;

  before(async () => {
    api = await startFakeLeaseApi(NS);
  });
  after(() => api.close());
  beforeEach(() => {
    api.leases.clear();
    api.requests.length = 0;
    api.silent = false;
    api.failWith = undefined;
    leases = createLeaseClient(api.kubeConfig(), NS, NAME);
  });

  test('no Lease: get is undefined', async () => {
    assert.equal(leases.description, `${NS}/${NAME}`);
    assert.equal(await leases.get(never), undefined);
    assert.deepEqual(api.requests.map((r) => `${r.method} ${r.path}`), [`GET /apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${NAME}`]);
  });

  test('create writes the record with MicroTime (six fractional digits) and returns it with its resourceVersion', async () => {
    const created = await leases.create({ holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: t1, renewTime: t1, leaseTransitions: 0 }, never);
    assert.deepEqual(created, { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: t1, renewTime: t1, leaseTransitions: 0, resourceVersion: (api.leases.get(NAME)?.['metadata'] as { resourceVersion: string }).resourceVersion });
    const sent = JSON.parse(api.requests[0]?.body ?? '') as { metadata: unknown; spec: Record<string, unknown> };
    assert.deepEqual(sent.metadata, { name: NAME, namespace: NS });
    assert.equal(sent.spec['renewTime'], '2025-01-01T12:00:00.123000Z');
    assert.equal(sent.spec['acquireTime'], '2025-01-01T12:00:00.123000Z');
    // Read back (times as strings on the wire): the same record.
    assert.deepEqual(await leases.get(never), created);
  });

  test('create of a Lease that exists: Conflict', async () => {
    await leases.create({ holderIdentity: 'a', leaseTransitions: 0 }, never);
    const other = createLeaseClient(api.kubeConfig(), NS, NAME);
    await assert.rejects(other.create({ holderIdentity: 'b', leaseTransitions: 0 }, never), (e: unknown) => e instanceof Conflict && /HTTP 409: .*already exists/.test(e.message));
  });

  test('update is conditional on the resourceVersion read: a stale one is Conflict, the current one wins', async () => {
    const created = await leases.create({ holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: t1, renewTime: t1, leaseTransitions: 0 }, never);
    const other = createLeaseClient(api.kubeConfig(), NS, NAME);
    const seen = await other.get(never);
    assert.ok(seen);
    const renewed = await leases.update({ ...created, renewTime: t2 }, never);
    assert.notEqual(renewed.resourceVersion, created.resourceVersion);
    await assert.rejects(other.update({ ...seen, holderIdentity: 'b', leaseTransitions: 1 }, never), (e: unknown) => e instanceof Conflict && /the object has been modified/.test(e.message));
    const sent = JSON.parse(api.requests.at(-2)?.body ?? '') as { metadata: { resourceVersion: string }; spec: Record<string, unknown> };
    assert.equal(sent.metadata.resourceVersion, created.resourceVersion);
    assert.equal(sent.spec['renewTime'], '2025-01-01T12:00:05.456000Z');
    assert.deepEqual(await other.get(never), { ...renewed });
  });

  test('update keeps what it does not know: labels, annotations, other spec fields', async () => {
    api.leases.set(NAME, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: NAME, namespace: NS, resourceVersion: '7', labels: { team: 'x' }, annotations: { note: 'y' } },
      spec: { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: '2025-01-01T12:00:00.123456Z', leaseTransitions: 2, preferredHolder: 'b', strategy: 'OldestEmulationVersion' },
    });
    const current = await leases.get(never);
    assert.deepEqual(current, { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: t1, leaseTransitions: 2, resourceVersion: '7' });
    await leases.update({ ...current!, holderIdentity: '', leaseDurationSeconds: 1, renewTime: t2, acquireTime: t2 }, never);
    const stored = api.leases.get(NAME) as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
    assert.deepEqual(stored.metadata['labels'], { team: 'x' });
    assert.deepEqual(stored.metadata['annotations'], { note: 'y' });
    assert.equal(stored.spec['preferredHolder'], 'b');
    assert.equal(stored.spec['strategy'], 'OldestEmulationVersion');
    assert.equal(stored.spec['holderIdentity'], '');
  });

  test('other failures are not conflicts, and are worded with the API server message', async () => {
    api.failWith = { code: 403, message: 'leases.coordination.k8s.io "leader" is forbidden: User "system:serviceaccount:tether:tether" cannot get resource "leases"' };
    await assert.rejects(leases.get(never), (e: unknown) => !(e instanceof Conflict) && describeApiError(e).startsWith('HTTP 403: leases.coordination.k8s.io "leader" is forbidden'));
    await assert.rejects(leases.create({ holderIdentity: 'a', leaseTransitions: 0 }, never), (e: unknown) => !(e instanceof Conflict));
  });

  test('a call the API server does not answer is aborted by its signal, and its connection closed', { timeout: 10_000 }, async () => {
    api.silent = true;
    for (const call of [(s: AbortSignal) => leases.get(s), (s: AbortSignal) => leases.create({ holderIdentity: 'a', leaseTransitions: 0 }, s)]) {
      const controller = new AbortController();
      const received = once(api.events, 'request');
      const pending = call(controller.signal);
      await received;
      const abandoned = once(api.events, 'abandoned');
      controller.abort();
      await assert.rejects(pending);
      await abandoned;
    }
  });
});

describe('leader election over HTTP (fake Lease API)', () => {
  let api: FakeLeaseApi;
  before(async () => {
    api = await startFakeLeaseApi(NS);
  });
  after(() => api.close());

  /** A short lease (renew deadline 400 ms) on the real clock; nothing here asserts a duration. */
  function elect(onStarted: () => void, onStopped: () => void) {
    return startLeaderElection({
      leases: createLeaseClient(api.kubeConfig(), NS, NAME),
      identity: 'a',
      leaseDurationMs: 600,
      logger: silentLogger(),
      onStartedLeading: onStarted,
      onStoppedLeading: onStopped,
    });
  }

  test('the API server goes silent after the Lease was won: the leader steps down, its calls are aborted, stop() resolves', { timeout: 20_000 }, async () => {
    api.leases.clear();
    api.silent = false;
    const started = deferred<void>();
    const stopped = deferred<void>();
    const elector = elect(started.resolve, stopped.resolve);
    await started.promise;
    assert.equal(elector.isLeader(), true);
    api.silent = true;
    const abandoned = once(api.events, 'abandoned');
    await stopped.promise;
    assert.equal(elector.isLeader(), false);
    await abandoned;
    await elector.stop();
  });

  test('stop() releases the Lease over HTTP', async () => {
    api.leases.clear();
    api.silent = false;
    const started = deferred<void>();
    const elector = elect(started.resolve, () => {});
    await started.promise;
    await elector.stop();
    const spec = api.leases.get(NAME)?.['spec'] as { holderIdentity: string; leaseDurationSeconds: number };
    assert.equal(spec.holderIdentity, '');
    assert.equal(spec.leaseDurationSeconds, 1);
  });
});
