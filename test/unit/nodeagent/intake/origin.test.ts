import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOriginResolver, normaliseContainerId } from '../../../../src/nodeagent/intake/origin.js';
import type { PodWithTags } from '../../../../src/nodeagent/podTags.js';

const UID = '6f1c2a5e-1111-4222-8333-944455556666';
const CID = 'a'.repeat(64);

function pod(name: string, uid: string, containerIds: string[] = []): PodWithTags {
  return { namespace: 'shop', name, uid, phase: 'Running', containerIds, tags: [`kube_namespace:shop`, `pod_name:${name}`], tagsFrom: 'cluster-agent' };
}

test('an entity id that is a pod UID resolves to that pod with its tags; case and spaces do not matter', () => {
  const r = createOriginResolver(() => [pod('web-1', UID)]);
  const got = r.resolve({ entityId: ` ${UID.toUpperCase()} ` });
  assert.deepEqual(got, { namespace: 'shop', pod: 'web-1', uid: UID, tags: ['kube_namespace:shop', 'pod_name:web-1'] });
  assert.equal(r.stats().resolved, 1);
});

test('the stack prefixed forms: ci-<container id> is looked up as a container, in-<uid> as a pod, in-<inode> is counted as a cgroup inode', () => {
  const r = createOriginResolver(() => [pod('web-1', UID, [`containerd://${CID}`])]);
  assert.equal(r.resolve({ entityId: `ci-${CID}` })?.pod, 'web-1');
  assert.equal(r.resolve({ entityId: `in-${UID}` })?.pod, 'web-1');
  assert.equal(r.lookup({ entityId: 'in-4026531835' }), 'cgroup-inode');
  assert.equal(r.lookup({ entityId: `ci-${'b'.repeat(64)}` }), 'unknown-container');
});

test('a container id resolves through the kubelet container ids, whatever runtime prefix either side has', () => {
  const r = createOriginResolver(() => [pod('a', 'uid-a', [`containerd://${CID}`]), pod('b', 'uid-b', ['docker://ABC123', 'cri-o://def'])]);
  assert.equal(r.resolve({ containerId: CID })?.pod, 'a');
  assert.equal(r.resolve({ containerId: `ci-${CID}` })?.pod, 'a');
  assert.equal(r.resolve({ containerId: 'abc123' })?.pod, 'b');
  assert.equal(r.resolve({ containerId: 'containerd://def' })?.pod, 'b');
  assert.equal(normaliseContainerId(' cri-o://DEF '), 'def');
});

test('the entity id wins over the container id; an unknown entity id falls back to the container id', () => {
  const r = createOriginResolver(() => [pod('a', 'uid-a'), pod('b', 'uid-b', [CID])]);
  assert.equal(r.resolve({ entityId: 'uid-a', containerId: CID })?.pod, 'a');
  assert.equal(r.resolve({ entityId: 'uid-gone', containerId: CID })?.pod, 'b');
});

test('unknown origins are counted by reason and resolve to undefined', () => {
  const r = createOriginResolver(() => [pod('a', 'uid-a', [CID])]);
  assert.equal(r.resolve({}), undefined);
  assert.equal(r.resolve({ entityId: 'uid-gone' }), undefined);
  assert.equal(r.resolve({ entityId: 'uid-gone', containerId: 'nope' }), undefined);
  assert.equal(r.resolve({ containerId: 'nope' }), undefined);
  assert.equal(r.resolve({ containerId: 'in-12345' }), undefined);
  assert.equal(r.resolve({ cgroupInode: '12345' }), undefined);
  assert.deepEqual(r.stats().unknown, { 'no-origin': 1, 'unknown-pod': 2, 'unknown-container': 1, 'cgroup-inode': 2 });
  assert.equal(r.stats().resolved, 0);
});

test('the index is rebuilt when the pod list changes, not per lookup', () => {
  let list: PodWithTags[] = [pod('a', 'uid-a')];
  const r = createOriginResolver(() => list);
  for (let i = 0; i < 100; i++) r.resolve({ entityId: 'uid-a' });
  assert.equal(r.stats().rebuilds, 1);
  assert.equal(r.resolve({ entityId: 'uid-b' }), undefined);
  list = [pod('a', 'uid-a'), pod('b', 'uid-b')];
  assert.equal(r.resolve({ entityId: 'uid-b' })?.pod, 'b');
  assert.equal(r.stats().rebuilds, 2);
  assert.equal(r.stats().pods, 2);
  // One object per pod and index: callers can group series by origin identity.
  assert.equal(r.resolve({ entityId: 'uid-b' }), r.resolve({ entityId: 'uid-b' }));
});

test('a pod or container the list does not hold yet asks for a refresh (lookups and notices); no origin or a cgroup inode does not, nor does a known pod', () => {
  let refreshes = 0;
  const pods = [pod('web-1', UID, [CID])];
  const r = createOriginResolver(() => pods, () => refreshes++);
  r.resolve({ entityId: UID });
  r.resolve({ containerId: CID });
  r.resolve({});
  r.resolve({ entityId: 'in-4026531835' });
  assert.equal(refreshes, 0);
  r.resolve({ entityId: 'uid-new' });
  r.resolve({ containerId: 'b'.repeat(64) });
  assert.equal(refreshes, 2);
  const before = r.stats();
  r.notice?.({ entityId: 'uid-new' });
  assert.equal(refreshes, 3);
  assert.deepEqual(r.stats(), before, 'a notice is not a lookup');
});
