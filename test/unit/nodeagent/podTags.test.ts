import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deploymentOf, joinPodTags, kubeletTags } from '../../../src/nodeagent/podTags.js';
import type { KubeletPod } from '../../../src/nodeagent/kubelet.js';

const pod = (over: Partial<KubeletPod> = {}): KubeletPod => ({
  namespace: 'shop',
  name: 'checkout-7d9c5b6f4-x2x8q',
  uid: 'u1',
  nodeName: 'n1',
  phase: 'Running',
  containerIds: [],
  labels: { app: 'checkout', 'pod-template-hash': '7d9c5b6f4' },
  ownerReferences: [{ kind: 'ReplicaSet', name: 'checkout-7d9c5b6f4' }],
  ...over,
});

test('deploymentOf: the ReplicaSet name without the pod-template-hash its pods carry; nothing without that proof', () => {
  assert.equal(deploymentOf('checkout-7d9c5b6f4', { 'pod-template-hash': '7d9c5b6f4' }), 'checkout');
  assert.equal(deploymentOf('my-app-v2-66b7d56', { 'pod-template-hash': '66b7d56' }), 'my-app-v2');
  assert.equal(deploymentOf('checkout-7d9c5b6f4', {}), undefined, 'a ReplicaSet made by hand');
  assert.equal(deploymentOf('checkout-7d9c5b6f4', { 'pod-template-hash': 'abc' }), undefined, 'another hash');
  assert.equal(deploymentOf('-abc', { 'pod-template-hash': 'abc' }), undefined, 'no name left');
  assert.equal(deploymentOf('checkoutabc', { 'pod-template-hash': 'abc' }), undefined, 'no dash');
});

test('a pod the cluster agent has not tagged yet carries its Deployment from the kubelet alone', () => {
  const tags = kubeletTags(pod());
  assert.ok(tags.includes('kube_deployment:checkout'), tags.join(','));
  assert.ok(tags.includes('kube_replica_set:checkout-7d9c5b6f4'));
  assert.ok(!kubeletTags(pod({ ownerReferences: [{ kind: 'StatefulSet', name: 'db' }], labels: { 'pod-template-hash': 'x' } })).some((t) => t.startsWith('kube_deployment:')));
  const [joined] = joinPodTags([pod()], undefined);
  assert.equal(joined?.tagsFrom, 'kubelet');
  assert.ok(joined?.tags.includes('kube_deployment:checkout'));
  assert.deepEqual(joined?.tags, [...joined!.tags].sort(), 'sorted');
});

test("the cluster agent's tags carry the kubelet's phase: a pod first tagged while Pending is running once it runs", () => {
  const caTags = ['kube_deployment:checkout', 'kube_namespace:shop', 'pod_name:checkout-7d9c5b6f4-x2x8q', 'pod_phase:pending'];
  const [running] = joinPodTags([pod()], { kind: 'pods', byUid: new Map([['u1', caTags]]) });
  assert.equal(running?.tagsFrom, 'cluster-agent');
  assert.deepEqual(running?.tags, ['kube_deployment:checkout', 'kube_namespace:shop', 'pod_name:checkout-7d9c5b6f4-x2x8q', 'pod_phase:running']);
  const agreeing = [...caTags.slice(0, 3), 'pod_phase:running'];
  const [same] = joinPodTags([pod()], { kind: 'pods', byUid: new Map([['u1', agreeing]]) });
  assert.equal(same?.tags, agreeing, 'the same array when they agree');
  const [noPhase] = joinPodTags([pod({ phase: '' })], { kind: 'pods', byUid: new Map([['u1', caTags]]) });
  assert.ok(!noPhase?.tags.some((t) => t.startsWith('pod_phase:')), 'the kubelet says no phase: none');
});
