/**
 * deploy/rbac.yaml against TETHER_API_CALLS (kube/apiCalls.ts), the one list of what the cluster
 * agent calls, both ways: every call is granted by a rule of the right scope, and every rule grants a
 * call (nothing broader). The list itself is derived from the code's tables.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deployManifest, rulesOf, type PolicyRule } from '../../helpers/manifests.js';
import { resolveApiCalls, TETHER_API_CALLS } from '../../../src/kube/apiCalls.js';
import { WATCHED_RESOURCES } from '../../../src/kube/watchedResources.js';
import { parseConfig } from '../../../src/config/index.js';
import { OWNER_KINDS } from '../../../src/kube/facts.js';

const docs = deployManifest('rbac.yaml');
const calls = resolveApiCalls(parseConfig({ env: {} }));

const grants = (r: PolicyRule, group: string, resource: string, verb: string, name: string | undefined) =>
  r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb) && (!r.resourceNames || (name !== undefined && r.resourceNames.includes(name)));

describe('TETHER_API_CALLS and deploy/rbac.yaml', () => {
  test('derived from the tables the code runs from', () => {
    for (const w of Object.values(WATCHED_RESOURCES)) assert.ok(calls.some((c) => c.group === w.group && c.resource === w.resource && c.verbs.includes('watch') && c.scope === 'cluster'), w.resource);
    for (const k of Object.values(OWNER_KINDS)) assert.ok(calls.some((c) => c.group === k.group && c.resource === k.resource && c.verbs.includes('get')), k.resource);
    assert.ok(calls.some((c) => c.resource === 'configmaps' && c.name === 'datadog-node-agents'));
    assert.equal(calls.find((c) => c.resource === 'leases' && c.name)?.name, 'datadog-leader-election', 'named by the configuration');
  });

  test('every call is granted, cluster-wide calls by the ClusterRole', () => {
    for (const c of calls) {
      const rules = c.scope === 'cluster' ? rulesOf(docs, 'ClusterRole') : [...rulesOf(docs, 'Role'), ...rulesOf(docs, 'ClusterRole')];
      for (const v of c.verbs) assert.ok(rules.some((r) => grants(r, c.group, c.resource, v, c.name)), `${v} ${c.resource}.${c.group} ${c.name ?? ''}`);
    }
  });

  test('every rule grants only calls of the list', () => {
    for (const r of [...rulesOf(docs, 'ClusterRole'), ...rulesOf(docs, 'Role')]) {
      for (const g of r.apiGroups)
        for (const res of r.resources)
          for (const v of r.verbs)
            for (const name of r.resourceNames ?? [undefined]) {
              const needed = calls.some((c) => c.group === g && c.resource === res && c.verbs.includes(v as never) && c.name === name);
              assert.ok(needed, `deploy/rbac.yaml grants ${v} ${res}.${g} ${name ?? '(any)'} that Tether never calls`);
            }
    }
  });

  test('no removed API group anywhere in the list', () => {
    for (const c of TETHER_API_CALLS) assert.ok(!['extensions', 'policy'].includes(c.group), c.group);
  });
});
