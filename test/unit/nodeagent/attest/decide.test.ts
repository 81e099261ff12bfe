import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decideByAddress, decideBySocket } from '../../../../src/nodeagent/intake/attest/decide.js';
import { createOriginResolver } from '../../../../src/nodeagent/intake/origin.js';
import type { PodWithTags } from '../../../../src/nodeagent/podTags.js';

const ID_A = 'a'.repeat(64);
const ID_B = 'b'.repeat(64);
const pod = (name: string, over: Partial<PodWithTags> = {}): PodWithTags => ({
  namespace: 'shop',
  name,
  uid: `uid-${name}`,
  phase: 'Running',
  containerIds: [],
  tags: [`pod_name:${name}`],
  tagsFrom: 'cluster-agent',
  hostIps: ['10.0.0.1'],
  ...over,
});
const PODS = [
  pod('a', { containerIds: [`containerd://${ID_A}`], podIps: ['10.1.0.10'] }),
  pod('b', { containerIds: [`containerd://${ID_B}`], podIps: ['10.1.0.11', 'fd00::11'] }),
  pod('hostnet', { hostNetwork: true, podIps: ['10.0.0.1'] }),
  pod('new'),
];
const pods = createOriginResolver(() => PODS);

describe('attested origins over Unix sockets: the peer\'s cgroup wins over the claim', () => {
  test('the container says pod a, the claim says pod b: pod a, overridden (a mis-attribution)', () => {
    const v = decideBySocket({ entityId: 'uid-b' }, { containerId: ID_A }, pods);
    assert.deepEqual(v.origin, { entityId: 'uid-a' });
    assert.equal(v.outcome, 'overridden');
    assert.equal(v.claimed?.pod, 'b');
  });
  test('the claim agrees: attested, and the claim object itself is used', () => {
    const claim = { entityId: 'uid-a' };
    const v = decideBySocket(claim, { containerId: ID_A, podUid: 'uid-a' }, pods);
    assert.equal(v.origin, claim);
    assert.equal(v.outcome, 'attested');
  });
  test('no claim: attested from the cgroup alone', () => assert.deepEqual(decideBySocket({}, { containerId: ID_B }, pods), { origin: { entityId: 'uid-b' }, outcome: 'attested' }));
  test('a container not listed yet, in a listed pod: the pod from the cgroup path', () => assert.deepEqual(decideBySocket({}, { containerId: 'c'.repeat(64), podUid: 'uid-new' }, pods), { origin: { entityId: 'uid-new' }, outcome: 'attested' }));
  test('a container no listed pod has, claiming pod a: the container stands for itself, overridden', () => {
    const v = decideBySocket({ entityId: 'uid-a' }, { containerId: 'd'.repeat(64) }, pods);
    assert.deepEqual(v.origin, { containerId: 'd'.repeat(64) });
    assert.equal(v.outcome, 'overridden');
  });
  test('a process of the node (no container): its claim, as host', () => assert.deepEqual(decideBySocket({ entityId: 'uid-b' }, {}, pods), { origin: { entityId: 'uid-b' }, outcome: 'host' }));
  test('pid not readable (0: no hostPID; gone): its claim, unattested', () => assert.deepEqual(decideBySocket({ entityId: 'uid-b' }, undefined, pods), { origin: { entityId: 'uid-b' }, outcome: 'unattested' }));
});

describe('TCP/UDP: a claimed pod whose IP is not the sender\'s is not trusted', () => {
  test("from pod a's IP claiming pod b: pod a, overridden", () => {
    const v = decideByAddress({ entityId: 'uid-b' }, '10.1.0.10', pods);
    assert.deepEqual(v.origin, { entityId: 'uid-a' });
    assert.equal(v.outcome, 'overridden');
  });
  test("from pod b's IPv6 address and its IPv4-mapped IPv4 one, claiming itself: attested", () => {
    assert.equal(decideByAddress({ entityId: 'uid-b' }, 'FD00::11', pods).outcome, 'attested');
    assert.equal(decideByAddress({ containerId: ID_B }, '::ffff:10.1.0.11', pods).outcome, 'attested');
  });
  test("from pod a's IP, no claim: tagged as pod a", () => assert.deepEqual(decideByAddress({}, '10.1.0.10', pods), { origin: { entityId: 'uid-a' }, outcome: 'attested' }));
  test('from an address of no pod, claiming pod a (whose IP is known): not trusted, no origin', () => {
    const v = decideByAddress({ entityId: 'uid-a' }, '10.9.9.9', pods);
    assert.deepEqual(v.origin, {});
    assert.equal(v.outcome, 'untrusted');
  });
  test("from the node (its IP, loopback), claiming pod a: taken, unattested (a host port's masquerade hides the pod); claiming a host-network pod: taken", () => {
    assert.deepEqual(decideByAddress({ entityId: 'uid-a' }, '10.0.0.1', pods), { origin: { entityId: 'uid-a' }, outcome: 'unattested' });
    assert.equal(decideByAddress({ entityId: 'uid-a' }, '127.0.0.1', pods).outcome, 'unattested');
    assert.equal(decideByAddress({ entityId: 'uid-a' }, '::ffff:10.0.0.1', pods).outcome, 'unattested');
    assert.equal(decideByAddress({ entityId: 'uid-hostnet' }, '10.0.0.1', pods).outcome, 'claim');
    assert.equal(decideByAddress({ entityId: 'uid-hostnet' }, '::1', pods).outcome, 'claim');
    assert.equal(decideByAddress({ entityId: 'uid-hostnet' }, '10.1.0.99', pods).outcome, 'untrusted');
  });
  test('a pod whose IP the kubelet has not given yet (just started): its claim is taken', () => assert.equal(decideByAddress({ entityId: 'uid-new' }, '10.1.0.77', pods).outcome, 'claim'));
  test('a claim of no pod of this node: left as it is (resolved, or counted unknown, later)', () => assert.equal(decideByAddress({ entityId: 'uid-elsewhere' }, '10.9.9.9', pods).outcome, 'claim'));
});
