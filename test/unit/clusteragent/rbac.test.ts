/**
 * deploy/rbac.yaml against what the cluster state watches (kube/watchedResources.ts): list and
 * watch cluster-wide on exactly those collections, in their current API groups, and nothing broader;
 * no removed API group (the seed's `policy/v1beta1`, `extensions`) anywhere. The e2e test
 * (test/e2e/clusterState.test.ts) proves the same rules are enough against a real API server.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deployManifest, rulesOf, type PolicyRule } from '../../helpers/manifests.js';
import { WATCHED_RESOURCES, WATCH_VERBS } from '../../../src/kube/watchedResources.js';

const docs = deployManifest('rbac.yaml');
const clusterRules = rulesOf(docs, 'ClusterRole');
const allRules = docs.flatMap((d) => d.rules ?? []);

/** `group/resource` pairs a rule grants `verb` on for every object (no resourceNames). */
function grantedEverywhere(rules: PolicyRule[], verb: string): Set<string> {
  const out = new Set<string>();
  for (const r of rules) {
    if (r.resourceNames || !r.verbs.includes(verb)) continue;
    for (const g of r.apiGroups) for (const res of r.resources) out.add(`${g}/${res}`);
  }
  return out;
}

describe('deploy/rbac.yaml: the cluster state', () => {
  const watched = Object.values(WATCHED_RESOURCES).map((r) => `${r.group}/${r.resource}`).sort();

  for (const verb of WATCH_VERBS) {
    test(`the ClusterRole grants ${verb} on exactly the watched collections, cluster-wide`, () => {
      assert.deepEqual([...grantedEverywhere(clusterRules, verb)].sort(), watched);
    });
  }

  test('no wildcard, no write verb on the watched collections, no removed API group', () => {
    for (const r of allRules) {
      assert.ok(!r.apiGroups.includes('*') && !r.resources.includes('*') && !r.verbs.includes('*'), JSON.stringify(r));
      for (const g of r.apiGroups) assert.ok(!['extensions', 'policy'].includes(g), `stale API group ${g} in ${JSON.stringify(r)}`);
    }
    const written = ['create', 'update', 'patch', 'delete', 'deletecollection'].flatMap((v) => [...grantedEverywhere(allRules, v)]);
    for (const w of watched) assert.ok(!written.includes(w), `${w} must be read-only`);
  });
});
