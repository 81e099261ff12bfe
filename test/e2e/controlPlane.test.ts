// End-to-end check of the test control plane itself: if these fail, every e2e test built
// on test/harness/controlPlane.ts is suspect.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import * as k8s from '@kubernetes/client-node';

import {
  impersonatingKubeConfig,
  startControlPlane,
  tokenKubeConfigFor,
  type ControlPlane,
} from '../harness/controlPlane.js';
import { eventually } from '../helpers/eventually.js';

let cp: ControlPlane | undefined;

function plane(): ControlPlane {
  if (!cp) throw new Error('control plane not started');
  return cp;
}


async function expectStatus(p: Promise<unknown>, code: number): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof k8s.ApiException, `expected ApiException, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

before(
  async () => {
    cp = await startControlPlane();
    const t = cp.timings;
    console.error(
      `control plane up in ${Math.round(t.totalMs)} ms ` +
        `(certs ${Math.round(t.certsMs)}, etcd ${Math.round(t.etcdMs)}, ` +
        `apiserver ${Math.round(t.apiServerMs)}, controller-manager ${Math.round(t.controllerManagerMs)})`,
    );
  },
  // A cold start compiles kube-apiserver and friends first (scripts/control-plane).
  { timeout: 60 * 60_000 },
);

after(async () => {
  await cp?.stop();
});

test('a namespace can be created', async () => {
  const core = plane().kubeConfig().makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'e2e-ns' } } });
  const ns = await core.readNamespace({ name: 'e2e-ns' });
  assert.equal(ns.status?.phase, 'Active');
});

test('a Deployment with 2 replicas gets 2 Pods through a ReplicaSet', async () => {
  const kc = plane().kubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const namespace = 'e2e-deploy';
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const labels = { app: 'web' };
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: 'web' },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: 'web', image: 'registry.k8s.io/pause:3.10' }] },
        },
      },
    },
  });

  // No scheduler/kubelet: the Pods exist but stay Pending, which is all we need.
  const pods = await eventually('2 pods', async () => {
    const list = await core.listNamespacedPod({ namespace, labelSelector: 'app=web' });
    assert.equal(list.items.length, 2);
    return list.items;
  });
  const rsNames = new Set(
    pods.map((p) => {
      const owner = p.metadata?.ownerReferences?.find((o) => o.controller);
      assert.equal(owner?.kind, 'ReplicaSet');
      return owner.name;
    }),
  );
  assert.equal(rsNames.size, 1);
  const rs = await apps.readNamespacedReplicaSet({ namespace, name: [...rsNames][0]! });
  assert.equal(rs.metadata?.ownerReferences?.[0]?.kind, 'Deployment');
  assert.equal(rs.metadata?.ownerReferences?.[0]?.name, 'web');
});

test('RBAC is enforced for a real service-account token and for impersonation', async () => {
  const namespace = 'e2e-rbac';
  const saName = 'reader';
  const saKc = await tokenKubeConfigFor(plane(), namespace, saName);
  const saCore = saKc.makeApiClient(k8s.CoreV1Api);

  // The token really authenticates as the service account.
  const review = await saKc
    .makeApiClient(k8s.AuthenticationV1Api)
    .createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
  assert.equal(review.status?.userInfo?.username, `system:serviceaccount:${namespace}:${saName}`);
  assert.ok(review.status?.userInfo?.groups?.includes(`system:serviceaccounts:${namespace}`));

  const impCore = impersonatingKubeConfig(plane(), `system:serviceaccount:${namespace}:${saName}`).makeApiClient(
    k8s.CoreV1Api,
  );

  for (const client of [saCore, impCore]) {
    await expectStatus(client.listSecretForAllNamespaces(), 403);
    await expectStatus(client.listNamespacedSecret({ namespace }), 403);
  }

  const rbac = plane().kubeConfig().makeApiClient(k8s.RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name: 'secret-reader' },
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: 'secret-reader' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'secret-reader' },
      subjects: [{ kind: 'ServiceAccount', name: saName, namespace }],
    },
  });

  // The RBAC authorizer works from informer caches, so the grant lands a moment later.
  for (const client of [saCore, impCore]) {
    const secrets = await eventually('namespaced list allowed', () => client.listNamespacedSecret({ namespace }));
    assert.ok(Array.isArray(secrets.items));
    // A Role is namespaced: cluster-wide listing stays forbidden.
    await expectStatus(client.listSecretForAllNamespaces(), 403);
  }
});
