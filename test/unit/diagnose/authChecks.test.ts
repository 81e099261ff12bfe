/**
 * The pure halves of diagnose's auth checks (issue 10, checks 1–3): what each concludes from what it
 * read. The e2e test (test/e2e/diagnose-auth.test.ts) reads the same facts from a real API server.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeAgentRecord } from '../../../src/agentapi/nodeAgentReport.js';
import { resolveApiCalls } from '../../../src/kube/apiCalls.js';
import { parseConfig } from '../../../src/config/index.js';
import { tokenSourceOf, type AgentWorkload } from '../../../src/diagnose/agentWorkloads.js';
import { assessClusterAgentRbac, grantLines, staleRules, type BoundRole } from '../../../src/diagnose/checks/clusterAgentRbac.js';
import { assessTokens, type TokenSide } from '../../../src/diagnose/checks/clusterAgentToken.js';
import { assessKubeletAccess } from '../../../src/diagnose/checks/nodeAgentKubeletRbac.js';

const NOW = new Date('2025-01-01T12:00:00Z');
const T64 = 'a'.repeat(64);
const deployment: AgentWorkload = { kind: 'Deployment', namespace: 'datadog', name: 'datadog-cluster-agent', podSpec: undefined, selector: { app: 'dca' } };
const daemonSet: AgentWorkload = { kind: 'DaemonSet', namespace: 'datadog', name: 'datadog-agent', podSpec: undefined, selector: { app: 'agent' } };
const fromSecret = (workload: AgentWorkload, token: string | undefined, over: Partial<TokenSide> = {}): TokenSide => ({
  workload,
  source: { kind: 'secret', container: 'c', secret: 'datadog-cluster-agent', key: 'token', optional: false },
  secret: { token, exists: true, changedAt: new Date('2025-01-01T10:00:00Z') },
  pods: [{ name: `${workload.name}-0`, startedAt: new Date('2025-01-01T11:00:00Z') }],
  ...over,
});
const report = (minutesAgo: number, over: Partial<NodeAgentRecord>): NodeAgentRecord => ({
  lastSeen: new Date(NOW.getTime() - minutesAgo * 60_000).toISOString(),
  kubelet: { state: 'ok' },
  clusterAgent: { state: 'ok' },
  ...over,
});

describe('cluster-agent-token', () => {
  test('where the token comes from: the last env entry, a secretKeyRef, envFrom with a prefix', () => {
    assert.deepEqual(tokenSourceOf({ containers: [{ name: 'a', env: [{ name: 'DD_CLUSTER_AGENT_AUTH_TOKEN', value: 'x' }, { name: 'DD_CLUSTER_AGENT_AUTH_TOKEN', value: 'y' }] }] }), { kind: 'value', container: 'a', value: 'y' });
    assert.deepEqual(tokenSourceOf({ containers: [{ name: 'side' }, { name: 'a', env: [{ name: 'DD_CLUSTER_AGENT_AUTH_TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] }] }), {
      kind: 'secret',
      container: 'a',
      secret: 's',
      key: 'k',
      optional: false,
    });
    assert.deepEqual(tokenSourceOf({ containers: [{ name: 'a', envFrom: [{ prefix: 'DD_', secretRef: { name: 's' } }] }] }), { kind: 'secret', container: 'a', secret: 's', key: 'CLUSTER_AGENT_AUTH_TOKEN', optional: false });
    assert.deepEqual(tokenSourceOf({ containers: [{ name: 'a' }] }), { kind: 'none' });
  });

  test('healthy: same Secret, read after it changed', () => {
    const r = assessTokens({ namespace: 'datadog', clusterAgent: fromSecret(deployment, T64), nodeAgents: fromSecret(daemonSet, T64), reports: new Map(), now: NOW });
    assert.equal(r.status, 'ok');
    assert.ok(!JSON.stringify(r).includes(T64));
  });

  test('30 characters: the seed\'s words; a missing Secret; another token; a Secret changed after the pods started (one warning per Secret)', () => {
    const short = 'b'.repeat(30);
    const r = assessTokens({ namespace: 'datadog', clusterAgent: fromSecret(deployment, short), nodeAgents: fromSecret(daemonSet, short), reports: new Map(), now: NOW });
    assert.equal(r.status, 'error');
    assert.match(r.summary, /length must be at least 32, currently: 30/);
    assert.ok(r.evidence.some((e) => e.includes('must be greater than 32, currently: 30')));

    const missing = assessTokens({ namespace: 'datadog', clusterAgent: fromSecret(deployment, undefined, { secret: { token: undefined, exists: false, changedAt: undefined } }), reports: new Map(), now: NOW });
    assert.match(missing.summary, /Secret datadog\/datadog-cluster-agent does not exist.*CreateContainerConfigError/);

    const other = assessTokens({
      namespace: 'datadog',
      clusterAgent: fromSecret(deployment, T64),
      nodeAgents: { workload: daemonSet, source: { kind: 'value', container: 'c', value: 'c'.repeat(64) }, pods: [] },
      reports: new Map(),
      now: NOW,
    });
    assert.match(other.summary, /another token/);
    assert.ok(!JSON.stringify(other).includes('c'.repeat(64)));

    const changed = new Date('2025-01-01T11:30:00Z');
    const stale = assessTokens({
      namespace: 'datadog',
      clusterAgent: fromSecret(deployment, T64, { secret: { token: T64, exists: true, changedAt: changed } }),
      nodeAgents: fromSecret(daemonSet, T64, { secret: { token: T64, exists: true, changedAt: changed } }),
      reports: new Map(),
      now: NOW,
    });
    assert.equal(stale.status, 'warning');
    assert.equal(stale.evidence.filter((e) => / pods started before /.test(e)).length, 2);
    assert.doesNotMatch(stale.summary, /more problem/);
  });

  test('node agents the cluster agent refused lately: 403 another token, 401 no token; old reports ignored', () => {
    const reports = new Map([
      ['n1', report(1, { clusterAgent: { state: 'failing', code: 'forbidden', status: 403 } })],
      ['n2', report(2, { clusterAgent: { state: 'failing', code: 'unauthorized', status: 401 } })],
      ['n3', report(600, { clusterAgent: { state: 'failing', code: 'forbidden', status: 403 } })],
    ]);
    const r = assessTokens({ namespace: 'datadog', reports, now: NOW });
    assert.equal(r.status, 'error');
    assert.match(r.summary, /refused the node agents of 1 node with 403/);
    assert.ok(r.evidence.some((e) => e.startsWith('node n2: 401')));
    assert.ok(!r.evidence.some((e) => e.startsWith('node n3')));
  });
});

describe('node-agent-kubelet-rbac', () => {
  const base = { namespace: 'datadog', serviceAccount: 'datadog-agent', serviceAccountFrom: 'test', node: 'n1', reports: new Map<string, NodeAgentRecord>(), now: NOW };
  test('nodes/pods: ok (with or without the fallback); neither: error with the fix; nodes/proxy only: warning (it opens the whole kubelet API)', () => {
    assert.equal(assessKubeletAccess({ ...base, allowed: { 'nodes/proxy': false, 'nodes/pods': true } }).status, 'ok');
    assert.equal(assessKubeletAccess({ ...base, allowed: { 'nodes/proxy': true, 'nodes/pods': true } }).status, 'ok');
    const denied = assessKubeletAccess({ ...base, allowed: { 'nodes/proxy': false, 'nodes/pods': false } });
    assert.equal(denied.status, 'error');
    assert.match(denied.summary, /may not get nodes\/pods \(nor the fallback nodes\/proxy\)/);
    assert.match(denied.fix, /--resource=nodes\/pods .*--serviceaccount=datadog:datadog-agent/);
    const proxy = assessKubeletAccess({ ...base, allowed: { 'nodes/proxy': true, 'nodes/pods': false } });
    assert.equal(proxy.status, 'warning');
    assert.match(proxy.summary, /nodes\/proxy only/);
    assert.match(proxy.fix, /agents\.rbac\.kubeletProxyFallback=true/);
  });

  test('reports: 401 is authentication, 403 RBAC for the user the kubelet named', () => {
    const reports = new Map([
      ['n1', report(1, { kubelet: { state: 'failing', code: 'unauthorized', status: 401, summary: 'the kubelet answered 401' } })],
      ['n2', report(1, { kubelet: { state: 'failing', code: 'forbidden', status: 403, summary: 'the kubelet refused system:serviceaccount:other:agent: it lacks RBAC' } })],
    ]);
    const r = assessKubeletAccess({ ...base, reports, allowed: { 'nodes/proxy': false, 'nodes/pods': true } });
    assert.equal(r.status, 'error');
    assert.match(r.summary, /401 Unauthorized/);
    assert.match(r.fix, /--authentication-token-webhook/);
    assert.match(r.fix, /--serviceaccount=other:agent/);
  });
});

describe('cluster-agent-rbac', () => {
  const role = (rules: BoundRole['rules']): BoundRole => ({ kind: 'ClusterRole', name: 'r', boundBy: 'ClusterRoleBinding r', rules });
  const served = new Map([
    ['', new Set(['pods', 'nodes'])],
    ['policy', new Set(['poddisruptionbudgets', 'poddisruptionbudgets/status'])],
  ]);

  test('stale rules: a group not served, a resource no served version has; wildcards and served resources are fine', () => {
    const stale = staleRules(
      [
        role([
          { apiGroups: ['policy'], resources: ['podsecuritypolicies', 'poddisruptionbudgets'], verbs: ['use'] },
          { apiGroups: ['extensions'], resources: ['deployments'], verbs: ['list'] },
          { apiGroups: ['*'], resources: ['anything'], verbs: ['get'] },
          { apiGroups: ['policy'], resources: ['*'], verbs: ['get'] },
          { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
        ]),
      ],
      served,
    );
    assert.deepEqual(
      stale.map((s) => [s.group, s.resources]),
      [
        ['policy', ['podsecuritypolicies']],
        ['extensions', ['deployments']],
      ],
    );
    assert.match(stale[0]!.why, /removed in Kubernetes 1\.25/);
    const r = assessClusterAgentRbac({ namespace: 'datadog', serviceAccount: 'sa', asked: 3, denied: [], roles: [], stale });
    assert.equal(r.status, 'warning');
  });

  test('denied calls: one kubectl role per scope, name and verbs', () => {
    const calls = resolveApiCalls(parseConfig({ env: {} }));
    const pick = (resource: string, name?: string) => calls.find((c) => c.resource === resource && c.name === name)!;
    const lines = grantLines(
      [
        { call: pick('replicasets'), verb: 'list' },
        { call: pick('replicasets'), verb: 'watch' },
        { call: pick('pods'), verb: 'list' },
        { call: pick('pods'), verb: 'watch' },
        { call: pick('leases', 'datadog-leader-election'), verb: 'update' },
      ],
      'datadog',
      'sa',
    );
    assert.deepEqual(lines, [
      'kubectl create clusterrole sa-tether-1 --verb=list,watch --resource=replicasets.apps,pods && kubectl create clusterrolebinding sa-tether-1 --clusterrole=sa-tether-1 --serviceaccount=datadog:sa',
      'kubectl -n datadog create role sa-tether-2 --verb=update --resource=leases.coordination.k8s.io --resource-name=datadog-leader-election && kubectl -n datadog create rolebinding sa-tether-2 --role=sa-tether-2 --serviceaccount=datadog:sa',
    ]);
  });
});
