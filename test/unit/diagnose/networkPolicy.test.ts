/** Whether NetworkPolicies let the control plane reach the webhook port of the cluster agent's pods. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/index.js';
import { assessIngress, networkPolicyCheck, policyPortCovers, type NetworkPolicy } from '../../../src/diagnose/checks/networkPolicy.js';
import { fakeReader } from '../../helpers/fakeKubeReader.js';

const labels = { app: 'datadog-cluster-agent' };
const port = { port: 8000, name: 'webhook' };
const policy = (name: string, spec: NetworkPolicy['spec']): NetworkPolicy => ({ metadata: { name, namespace: 'datadog' }, spec });
const denyAll = policy('deny-all', { podSelector: {}, policyTypes: ['Ingress'] });

describe('policyPortCovers', () => {
  test('number, range, name, absent port; TCP only', () => {
    assert.equal(policyPortCovers({ port: 8000 }, port), true);
    assert.equal(policyPortCovers({ port: 8000, protocol: 'UDP' }, port), false);
    assert.equal(policyPortCovers({ port: 8443 }, port), false);
    assert.equal(policyPortCovers({ port: 7000, endPort: 9000 }, port), true);
    assert.equal(policyPortCovers({ port: 8001, endPort: 9000 }, port), false);
    assert.equal(policyPortCovers({ port: 'webhook' }, port), true);
    assert.equal(policyPortCovers({ port: 'api' }, port), false);
    assert.equal(policyPortCovers({ port: 'webhook' }, { port: 8000 }), false, 'an unnamed container port is not reached by name');
    assert.equal(policyPortCovers({ protocol: 'TCP' }, port), true);
    assert.equal(policyPortCovers({}, port), true);
  });
});

describe('assessIngress', () => {
  test('no policy, or none selecting the pods: open', () => {
    assert.equal(assessIngress([], labels, port).verdict, 'open');
    assert.equal(assessIngress([policy('others', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'] })], labels, port).verdict, 'open');
    assert.equal(assessIngress([policy('egress-only', { podSelector: {}, policyTypes: ['Egress'] })], labels, port).verdict, 'open');
  });
  test('a deny-all (empty podSelector, no ingress rules) blocks; policyTypes absent implies Ingress', () => {
    assert.deepEqual(assessIngress([denyAll], labels, port), { isolating: ['deny-all'], allowing: [], allowingPodsOnly: [], verdict: 'blocked' });
    assert.equal(assessIngress([policy('implied', { podSelector: { matchExpressions: [{ key: 'app', operator: 'Exists' }] } })], labels, port).verdict, 'blocked');
  });
  test('rules for other ports only: blocked', () => {
    const api = policy('api-only', { podSelector: { matchLabels: labels }, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 5005 }] }] });
    assert.equal(assessIngress([api], labels, port).verdict, 'blocked');
  });
  test('policies add up: one allowing the port (by number, name or all ports) is enough', () => {
    for (const ingress of [[{ ports: [{ port: 8000 }] }], [{ ports: [{ port: 'webhook' }] }], [{}], [{ from: [{ ipBlock: { cidr: '172.16.0.0/28' } }], ports: [{ port: 8000 }] }]]) {
      const r = assessIngress([denyAll, policy('allow', { podSelector: { matchLabels: labels }, ingress })], labels, port);
      assert.equal(r.verdict, 'open', JSON.stringify(ingress));
      assert.deepEqual(r.allowing, ['allow']);
    }
  });
  test('allowed only from pods or namespaces: the control plane is not one of them', () => {
    const r = assessIngress([policy('from-pods', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }, { namespaceSelector: {} }], ports: [{ port: 8000 }] }] })], labels, port);
    assert.equal(r.verdict, 'pods-only');
    assert.deepEqual(r.allowingPodsOnly, ['from-pods']);
  });
});

describe('the check over an in-memory API', () => {
  const config = parseConfig({ env: {} });
  const deployment = {
    metadata: { name: 'datadog-cluster-agent', namespace: 'datadog' },
    spec: { template: { metadata: { labels }, spec: { serviceAccountName: 'datadog-cluster-agent', containers: [{ name: 'cluster-agent', ports: [{ name: 'webhook', containerPort: 8000 }] }] } } },
  };
  const ctx = (objects: Record<string, unknown>) => ({
    config,
    namespace: 'datadog',
    serviceAccount: 'datadog-cluster-agent',
    kube: fakeReader(objects),
    platform: () => Promise.reject(new Error('unused')),
    now: () => new Date(),
    signal: new AbortController().signal,
  });
  const DEPLOY = '/apis/apps/v1/namespaces/datadog/deployments/datadog-cluster-agent';
  const NP = '/apis/networking.k8s.io/v1/namespaces/datadog/networkpolicies';

  test('a deny-all policy: an error whose fix is a policy allowing TCP 8000 to those pods', async () => {
    const r = await networkPolicyCheck.run(ctx({ [DEPLOY]: deployment, [`${NP}/deny-all`]: denyAll }));
    assert.equal(r.status, 'error');
    assert.match(r.summary, /NetworkPolicy deny-all selects the cluster agent \(Deployment datadog\/datadog-cluster-agent\) and allows no ingress on the webhook port TCP 8000 \("webhook"\)/);
    assert.match(r.fix, /podSelector: \{matchLabels: \{"app": "datadog-cluster-agent"\}\}/);
    assert.match(r.fix, /ports: \[\{protocol: TCP, port: 8000\}\]/);
  });
  test('no cluster agent found: skipped with why', async () => {
    const r = await networkPolicyCheck.run(ctx({ [`${NP}/deny-all`]: denyAll }));
    assert.equal(r.status, 'skipped');
    assert.match(r.summary, /no Deployment or pod in datadog runs as service account datadog-cluster-agent/);
  });
  test('host network: policies do not apply', async () => {
    const host = structuredClone(deployment) as typeof deployment & { spec: { template: { spec: { hostNetwork?: boolean } } } };
    host.spec.template.spec.hostNetwork = true;
    const r = await networkPolicyCheck.run(ctx({ [DEPLOY]: host, [`${NP}/deny-all`]: denyAll }));
    assert.equal(r.status, 'ok');
  });
});
