/** Platform detection from what the API shows: fixtures of nodes, API groups, versions and objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectPlatform, platformFrom, platformName, type PlatformFacts } from '../../../src/diagnose/platform.js';
import { ApiError, type KubeReader } from '../../../src/kube/reader.js';

const none: PlatformFacts = { nodes: [], apiGroups: ['apps', 'batch'], namespaces: [], validatingWebhooks: [], unreadable: [] };
const facts = (f: Partial<PlatformFacts>): PlatformFacts => ({ ...none, ...f });
const flags = (f: PlatformFacts) => {
  const p = platformFrom(f);
  return { gke: p.gke, gkeAutopilot: p.gkeAutopilot, eks: p.eks, aks: p.aks, openshift: p.openshift, rancher: p.rancher };
};
const NO = { gke: false, gkeAutopilot: false, eks: false, aks: false, openshift: false, rancher: false };

test('a cluster with no provider is no platform, and says what was seen', () => {
  const p = platformFrom(facts({ nodes: [{ name: 'kind-control-plane', labels: {}, providerID: 'kind://docker/kind/kind-control-plane' }] }));
  assert.deepEqual(flags(facts({})), NO);
  assert.match(p.evidence.join('\n'), /no provider seen on 1 node \(provider IDs: kind:\/\/\)/);
  assert.equal(platformName(p), 'a cluster on no platform Tether recognises');
});

test('GKE Standard from provider ID or node-pool label; Autopilot from gk3- node names, labels or its webhook', () => {
  assert.deepEqual(flags(facts({ nodes: [{ name: 'gke-c-default-pool-1', labels: {}, providerID: 'gce://p/us-central1-a/gke-c-default-pool-1' }] })), { ...NO, gke: true });
  assert.deepEqual(flags(facts({ nodes: [{ name: 'n', labels: { 'cloud.google.com/gke-nodepool': 'default-pool' } }] })), { ...NO, gke: true });
  // The provisioning label is on Standard nodes too (standard, spot): only its autopilot value counts.
  assert.deepEqual(flags(facts({ nodes: [{ name: 'gke-c-pool-2', labels: { 'cloud.google.com/gke-provisioning': 'spot' }, providerID: 'gce://p/z/gke-c-pool-2' }] })), { ...NO, gke: true });
  assert.deepEqual(flags(facts({ nodes: [{ name: 'gk3-c-pool-1-abc', labels: {}, providerID: 'gce://p/z/gk3-c-pool-1-abc' }] })), { ...NO, gke: true, gkeAutopilot: true });
  assert.deepEqual(flags(facts({ nodes: [{ name: 'n', labels: { 'cloud.google.com/gke-autopilot': 'true' } }] })), { ...NO, gke: true, gkeAutopilot: true });
  // Autopilot scaled to zero nodes.
  const zero = platformFrom(facts({ validatingWebhooks: ['policycontrollerv2.config.common-webhooks.networking.gke.io'] }));
  assert.equal(zero.gkeAutopilot, true);
  assert.equal(platformName(zero), 'GKE Autopilot');
  assert.match(zero.evidence.join('\n'), /ValidatingWebhookConfiguration policycontrollerv2/);
  assert.deepEqual(flags(facts({ gitVersion: 'v1.30.4-gke.1348000' })), { ...NO, gke: true });
});

test('EKS, AKS from provider IDs, labels and versions, with evidence naming the nodes', () => {
  const nodes = Array.from({ length: 5 }, (_, i) => ({ name: `ip-10-0-0-${i}.ec2.internal`, labels: {}, providerID: `aws:///us-east-1a/i-0${i}` }));
  const eks = platformFrom(facts({ nodes }));
  assert.deepEqual(flags(facts({ nodes })), { ...NO, eks: true });
  assert.match(eks.evidence[0]!, /^EKS: nodes ip-10-0-0-0.ec2.internal, ip-10-0-0-1.ec2.internal, ip-10-0-0-2.ec2.internal \(\+2 more\) with spec.providerID aws:\/\//);
  assert.deepEqual(flags(facts({ nodes: [{ name: 'n', labels: { 'eks.amazonaws.com/nodegroup': 'ng' } }] })), { ...NO, eks: true });
  assert.deepEqual(flags(facts({ gitVersion: 'v1.29.8-eks-a737599' })), { ...NO, eks: true });
  assert.deepEqual(flags(facts({ nodes: [{ name: 'aks-nodepool1-1-vmss000000', labels: {}, providerID: 'azure:///subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachineScaleSets/x/virtualMachines/0' }] })), { ...NO, aks: true });
  assert.deepEqual(flags(facts({ nodes: [{ name: 'n', labels: { 'kubernetes.azure.com/cluster': 'MC_rg' } }] })), { ...NO, aks: true });
});

test('OpenShift and Rancher from API groups and namespaces, on top of a cloud', () => {
  assert.deepEqual(flags(facts({ apiGroups: ['apps', 'quota.openshift.io'] })), { ...NO, openshift: true });
  assert.deepEqual(flags(facts({ apiGroups: ['security.openshift.io'] })), { ...NO, openshift: true });
  assert.deepEqual(flags(facts({ apiGroups: ['management.cattle.io'] })), { ...NO, rancher: true });
  const rancherEks = platformFrom(facts({ namespaces: ['cattle-system'], nodes: [{ name: 'n', labels: {}, providerID: 'aws:///z/i-1' }] }));
  assert.equal(platformName(rancherEks), 'Rancher on EKS');
  assert.equal(platformName(platformFrom(facts({ apiGroups: ['quota.openshift.io'], nodes: [{ name: 'n', labels: {}, providerID: 'azure:///x' }] }))), 'OpenShift on AKS');
});

test('detectPlatform reads one page of nodes, discovery, the version and the telling objects; an unreadable source is evidence, not a failure', async () => {
  const asked: string[] = [];
  const kube: KubeReader = {
    async get<T>(path: string, _signal: AbortSignal, query?: Record<string, string>) {
      asked.push(`${path}${query ? '?' + new URLSearchParams(query).toString() : ''}`);
      if (path === '/api/v1/nodes') throw new ApiError(403, 'GET /api/v1/nodes: HTTP 403: nodes is forbidden');
      if (path === '/apis') return { groups: [{ name: 'apps' }, { name: 'security.openshift.io' }] } as T;
      if (path === '/version') return { gitVersion: 'v1.31.0' } as T;
      return undefined;
    },
    getMetadata: async () => undefined,
    list: async () => [],
    watch: async () => {},
    create: async () => {
      throw new Error('no writes');
    },
  };
  const p = await detectPlatform(kube, AbortSignal.timeout(5_000));
  assert.equal(p.openshift, true);
  assert.ok(asked.includes('/api/v1/nodes?limit=50'));
  assert.match(p.evidence.join('\n'), /could not read nodes: GET \/api\/v1\/nodes: HTTP 403/);
});
