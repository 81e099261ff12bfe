/** deploy/diagnose-rbac.yaml stays read-only (but for its two writes-nothing creates) and covers what status reads. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../../src/config/index.js';
import { statusPaths } from '../../../src/status/index.js';

const MANIFEST = fileURLToPath(new URL('../../../../deploy/diagnose-rbac.yaml', import.meta.url));

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

const docs = parseAllDocuments(readFileSync(MANIFEST, 'utf8')).map((d) => d.toJSON() as { kind: string; metadata: { name: string; namespace?: string }; rules?: Rule[]; subjects?: unknown[]; roleRef?: { name: string } });
const role = docs.find((d) => d.kind === 'ClusterRole' && d.metadata.name === 'tether-diagnose');

test('ClusterRole tether-diagnose: get/list only, but watch on the named webhook configuration and create on subjectaccessreviews and (dry-run) pods', () => {
  assert.ok(role?.rules);
  const others = role.rules.filter((r) => r.verbs.some((v) => v !== 'get' && v !== 'list'));
  assert.deepEqual(
    others.map((r) => [r.apiGroups, r.resources, r.verbs, r.resourceNames ?? []]),
    [
      [['admissionregistration.k8s.io'], ['mutatingwebhookconfigurations'], ['watch'], ['datadog-webhook']],
      [['authorization.k8s.io'], ['subjectaccessreviews'], ['create'], []],
      [[''], ['pods'], ['create'], []],
    ],
  );
  // Secrets only by name: with resourceNames, the API server allows a list only when it is filtered to
  // those names (metadata.name), so no other Secret's data can be read.
  for (const r of role.rules.filter((x) => x.resources.includes('secrets'))) {
    assert.deepEqual(r.verbs, ['get', 'list']);
    assert.deepEqual(r.resourceNames, ['webhook-certificate', 'datadog-cluster-agent']);
  }
  const binding = docs.find((d) => d.kind === 'ClusterRoleBinding');
  assert.equal(binding?.roleRef?.name, 'tether-diagnose');
  assert.deepEqual(binding?.subjects, [{ kind: 'ServiceAccount', name: 'tether-diagnose', namespace: 'datadog' }]);
});

test('grants get on every object `tether status` reads', () => {
  const config = loadConfig({ env: {} });
  const allowed = (group: string, resource: string, name: string) =>
    role!.rules!.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes('get') && (!r.resourceNames || r.resourceNames.includes(name)));
  for (const [what, path] of Object.entries(statusPaths(config, 'datadog'))) {
    const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/(?:namespaces\/[^/]+\/)?([^/]+)(?:\/([^/]+))?$/.exec(path);
    assert.ok(m, `${what}: ${path}`);
    assert.ok(allowed(m[1] ?? '', m[2]!, m[3] ?? ''), `${what}: ${path}`);
  }
});
