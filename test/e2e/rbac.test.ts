/**
 * Every identity Tether installs, as the real API server sees it (issue 20): each service account of
 * deploy/*.yaml is impersonated, its effective permissions listed (SelfSubjectRulesReview, in Tether's
 * namespace and in another) and each call of its table in kube/apiCalls.ts asked (SelfSubjectAccessReview).
 * A permission the table does not list fails; so does a listed call the identity cannot make, and a call of
 * Tether's namespace it could make in another. And diagnose's pod create: a dry run passes, a real create
 * is refused by the ValidatingAdmissionPolicy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { parseConfig } from '../../src/config/index.js';
import { API_CALLS, resolveApiCalls, type Identity, type ResolvedApiCall } from '../../src/kube/apiCalls.js';
import { impersonatingKubeConfig, startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { eventually } from '../helpers/eventually.js';
import {
  applyTetherRbac,
  CONSOLE_VIEWER_MANIFEST,
  CONSOLE_VIEWER_SERVICE_ACCOUNT,
  DIAGNOSE_MANIFEST,
  DIAGNOSE_SERVICE_ACCOUNT,
  NODE_AGENT_MANIFEST,
  NODE_AGENT_SERVICE_ACCOUNT,
  RBAC_MANIFEST,
  SERVICE_ACCOUNT,
} from '../helpers/rbac.js';

const NS = 'datadog';
const OTHER = 'default';
const config = parseConfig({ env: {} });
const IDENTITIES: Record<Identity, { manifest: string; serviceAccount: string }> = {
  'cluster-agent': { manifest: RBAC_MANIFEST, serviceAccount: SERVICE_ACCOUNT },
  'node-agent': { manifest: NODE_AGENT_MANIFEST, serviceAccount: NODE_AGENT_SERVICE_ACCOUNT },
  diagnose: { manifest: DIAGNOSE_MANIFEST, serviceAccount: DIAGNOSE_SERVICE_ACCOUNT },
  'console-viewer': { manifest: CONSOLE_VIEWER_MANIFEST, serviceAccount: CONSOLE_VIEWER_SERVICE_ACCOUNT },
};

let cp: ControlPlane;
const clients = new Map<Identity, k8s.KubeConfig>();
/** What any service account may do without a binding (self reviews, discovery): not the identity's own. */
let baseline: Set<string>;

interface Grant {
  readonly group: string;
  readonly resource: string;
  readonly verb: string;
  readonly name?: string;
}
const key = (g: Grant) => `${g.verb} ${g.resource}.${g.group} ${g.name ?? '*'}`;

async function rules(kc: k8s.KubeConfig, namespace: string): Promise<Grant[]> {
  const review = await kc.makeApiClient(k8s.AuthorizationV1Api).createSelfSubjectRulesReview({ body: { spec: { namespace } } });
  assert.equal(review.status?.incomplete, false, review.status?.evaluationError);
  return (review.status?.resourceRules ?? []).flatMap((r) =>
    (r.apiGroups ?? []).flatMap((group) =>
      (r.resources ?? []).flatMap((resource) => r.verbs.flatMap((verb) => (r.resourceNames?.length ? r.resourceNames : [undefined]).map((name) => ({ group, resource, verb, ...(name ? { name } : {}) })))),
    ),
  );
}

async function allowed(kc: k8s.KubeConfig, c: Pick<ResolvedApiCall, 'group' | 'resource' | 'name'>, verb: string, namespace?: string): Promise<boolean> {
  const [resource, subresource] = c.resource.split('/') as [string, string | undefined];
  const review = await kc.makeApiClient(k8s.AuthorizationV1Api).createSelfSubjectAccessReview({
    body: { spec: { resourceAttributes: { group: c.group, resource, verb, ...(subresource ? { subresource } : {}), ...(c.name ? { name: c.name } : {}), ...(namespace ? { namespace } : {}) } } },
  });
  return review.status?.allowed === true;
}

const covers = (calls: readonly ResolvedApiCall[], g: Grant, scope: 'cluster' | 'namespace') =>
  calls.some((c) => c.group === g.group && c.resource === g.resource && c.verbs.includes(g.verb as never) && c.name === g.name && (scope === 'namespace' || c.scope === 'cluster'));

before(
  async () => {
    cp = await startControlPlane();
    for (const [identity, { manifest, serviceAccount }] of Object.entries(IDENTITIES) as [Identity, (typeof IDENTITIES)[Identity]][]) {
      clients.set(identity, await applyTetherRbac(cp, NS, manifest, serviceAccount));
    }
    const core = cp.kubeConfig().makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: 'nobody' } } });
    baseline = new Set((await rules(impersonatingKubeConfig(cp, `system:serviceaccount:${NS}:nobody`), NS)).map(key));
    // The probe's pod runs as `default`, which the controller manager creates.
    await eventually('the default service account', () => core.readNamespacedServiceAccount({ name: 'default', namespace: OTHER }));
  },
  { timeout: 30 * 60_000 },
);

after(async () => {
  await cp?.stop();
});

for (const identity of Object.keys(IDENTITIES) as Identity[]) {
  describe(`${identity} (service account ${IDENTITIES[identity].serviceAccount})`, () => {
    const calls = resolveApiCalls(config, API_CALLS[identity]);

    test('has no permission its table does not list (cluster-wide ones listed as cluster-wide)', async () => {
      const kc = clients.get(identity)!;
      const elsewhere = (await rules(kc, OTHER)).filter((g) => !baseline.has(key(g)));
      const here = (await rules(kc, NS)).filter((g) => !baseline.has(key(g)));
      const unused = [
        ...elsewhere.filter((g) => !covers(calls, g, 'cluster')).map((g) => `${key(g)} (in every namespace)`),
        ...here.filter((g) => !covers(calls, g, 'namespace')).map((g) => `${key(g)} (in ${NS})`),
      ];
      assert.deepEqual(unused, [], `${identity} may do what no call of its table needs`);
      assert.ok(here.length > 0, 'the review lists the identity\'s own rules');
    });

    test('may make every call of its table, and those of Tether\'s namespace nowhere else', async () => {
      const kc = clients.get(identity)!;
      const refused: string[] = [];
      const wider: string[] = [];
      for (const c of calls) {
        for (const verb of c.verbs) {
          if (!(await allowed(kc, c, verb, c.scope === 'namespace' ? NS : undefined))) refused.push(`${verb} ${c.resource}.${c.group} ${c.name ?? ''} (${c.why})`);
          if (c.scope === 'namespace' && (await allowed(kc, c, verb, OTHER))) wider.push(`${verb} ${c.resource}.${c.group} ${c.name ?? ''} in ${OTHER}`);
        }
      }
      assert.deepEqual(refused, [], 'calls the identity cannot make');
      assert.deepEqual(wider, [], 'calls of Tether\'s namespace allowed elsewhere');
    });
  });
}

describe('diagnose creates pods only as a dry run', () => {
  const pod = (name: string): k8s.V1Pod => ({ metadata: { name }, spec: { containers: [{ name: 'probe', image: 'tether.invalid/probe' }] } });

  test('a dry run is admitted (nothing stored); a real create, in any namespace, is refused by the ValidatingAdmissionPolicy', async () => {
    const asDiagnose = clients.get('diagnose')!.makeApiClient(k8s.CoreV1Api);
    const dry = await asDiagnose.createNamespacedPod({ namespace: OTHER, dryRun: 'All', body: pod('dry') });
    assert.equal(dry.metadata?.name, 'dry');
    for (const namespace of [OTHER, 'kube-system']) {
      const e = await eventually(
        `the policy to refuse a real create in ${namespace}`,
        async () => {
          const err = await asDiagnose.createNamespacedPod({ namespace, body: pod('real') }).then(
            async () => {
              await cp.kubeConfig().makeApiClient(k8s.CoreV1Api).deleteNamespacedPod({ namespace, name: 'real' });
              throw new Error('a real pod was created');
            },
            (x: unknown) => x,
          );
          assert.ok(err instanceof k8s.ApiException && err.code !== 404, String(err));
          return err;
        },
        20_000,
        500,
      );
      assert.match(String(e.body), /tether-diagnose may create pods only as a server-side dry run/);
    }
    const admin = cp.kubeConfig().makeApiClient(k8s.CoreV1Api);
    assert.equal((await admin.listNamespacedPod({ namespace: OTHER })).items.length, 0, 'nothing stored');
  });

  test('the policy binds diagnose only: an administrator still creates pods', async () => {
    const admin = cp.kubeConfig().makeApiClient(k8s.CoreV1Api);
    await admin.createNamespacedPod({ namespace: OTHER, body: pod('by-admin') });
    await admin.deleteNamespacedPod({ namespace: OTHER, name: 'by-admin' });
  });
});
