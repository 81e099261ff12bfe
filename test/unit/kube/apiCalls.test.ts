/**
 * deploy/*.yaml against the tables of kube/apiCalls.ts, the one list of what each identity calls, both
 * ways: every call is granted by a rule of the right scope (a namespace's call by a Role, never wider),
 * and every rule grants a call (nothing broader). The cluster agent's list is derived from the code's own
 * tables. test/e2e/rbac.test.ts asks a real API server the same questions as each service account.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deployManifest, rulesOf, type PolicyRule } from '../../helpers/manifests.js';
import { API_CALLS, CLUSTER_AGENT_CALLS, resolveApiCalls, type Identity } from '../../../src/kube/apiCalls.js';
import { WATCHED_RESOURCES } from '../../../src/kube/watchedResources.js';
import { parseConfig } from '../../../src/config/index.js';
import { OWNER_KINDS } from '../../../src/kube/facts.js';
import { statusPaths } from '../../../src/status/index.js';

const config = parseConfig({ env: {} });
const MANIFESTS: Record<Identity, string> = {
  'cluster-agent': 'rbac.yaml',
  'node-agent': 'node-agent.yaml',
  diagnose: 'diagnose-rbac.yaml',
  'console-viewer': 'console-viewer-rbac.yaml',
};

const grants = (r: PolicyRule, group: string, resource: string, verb: string, name: string | undefined) =>
  r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb) && (!r.resourceNames || (name !== undefined && r.resourceNames.includes(name)));

describe('the cluster agent table is derived from the code', () => {
  const calls = resolveApiCalls(config);
  test('the state watches, the owner kinds, the managed objects', () => {
    for (const w of Object.values(WATCHED_RESOURCES)) assert.ok(calls.some((c) => c.group === w.group && c.resource === w.resource && c.verbs.includes('watch') && c.scope === 'cluster'), w.resource);
    for (const k of Object.values(OWNER_KINDS)) assert.ok(calls.some((c) => c.group === k.group && c.resource === k.resource && c.verbs.includes('get')), k.resource);
    assert.ok(calls.some((c) => c.resource === 'configmaps' && c.name === 'datadog-node-agents'));
    assert.equal(calls.find((c) => c.resource === 'leases' && c.name)?.name, 'datadog-leader-election', 'named by the configuration');
  });
  test('no removed API group anywhere in the list', () => {
    for (const c of CLUSTER_AGENT_CALLS) assert.ok(!['extensions', 'policy'].includes(c.group), c.group);
  });
});

for (const [identity, file] of Object.entries(MANIFESTS) as [Identity, string][]) {
  describe(`${identity}: deploy/${file} and its table`, () => {
    const docs = deployManifest(file);
    const calls = resolveApiCalls(config, API_CALLS[identity]);
    test('every call is granted; a call in Tether\'s namespace by a Role only', () => {
      for (const c of calls) {
        const rules = c.scope === 'cluster' ? rulesOf(docs, 'ClusterRole') : rulesOf(docs, 'Role');
        for (const v of c.verbs) assert.ok(rules.some((r) => grants(r, c.group, c.resource, v, c.name)), `${v} ${c.resource}.${c.group} ${c.name ?? ''}`);
      }
    });
    test('every rule grants only calls of the table, at the scope the table says', () => {
      for (const [kind, scope] of [['ClusterRole', 'cluster'], ['Role', 'namespace']] as const) {
        for (const r of rulesOf(docs, kind))
          for (const g of r.apiGroups)
            for (const res of r.resources)
              for (const v of r.verbs)
                for (const name of r.resourceNames ?? [undefined]) {
                  const needed = calls.some((c) => c.group === g && c.resource === res && c.verbs.includes(v as never) && c.name === name && c.scope === scope);
                  assert.ok(needed, `deploy/${file} (${kind}) grants ${v} ${res}.${g} ${name ?? '(any)'} that the ${identity} table does not list`);
                }
      }
    });
  });
}

test('no identity may read a Secret outside Tether\'s namespace, or a ConfigMap it does not name', () => {
  for (const [identity, calls] of Object.entries(API_CALLS)) {
    for (const c of calls.filter((x) => x.resource === 'secrets' || x.resource === 'configmaps')) {
      assert.equal(c.scope, 'namespace', `${identity}: ${c.resource}`);
      if (c.verbs.some((v) => v !== 'create')) assert.ok(c.name, `${identity}: ${c.verbs.join(',')} ${c.resource} by name only`);
    }
  }
});

// diagnose's identity runs `tether status` from a workstation; the cluster agent's runs it in its pod
// (`kubectl exec <pod> -- agent status`, the pod's service account).
for (const identity of ['diagnose', 'cluster-agent'] as const) test(`${identity} covers every object \`tether status\` reads`, () => {
  const calls = resolveApiCalls(config, API_CALLS[identity]);
  for (const [what, path] of Object.entries(statusPaths(config, 'datadog'))) {
    const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/(namespaces\/[^/]+\/)?([^/]+)(?:\/([^/]+))?$/.exec(path);
    assert.ok(m, `${what}: ${path}`);
    const [group, inNamespace, resource, name] = [m[1] ?? '', m[2] !== undefined, m[3]!, m[4]];
    const verb = name ? 'get' : 'list';
    assert.ok(
      calls.some((c) => c.group === group && c.resource === resource && c.verbs.includes(verb) && (c.name === undefined || c.name === name) && (c.scope === 'cluster' || inNamespace)),
      `${what}: ${verb} ${path}`,
    );
  }
});
