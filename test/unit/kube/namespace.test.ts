/**
 * Where `tether status` (and `agent status` in a pod) finds Tether's namespace and the API server: in a
 * pod with no flags, the pod's own namespace and its service account.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, SERVICE_ACCOUNT_DIR } from '../../../src/config/index.js';
import { loadKubeConfig } from '../../../src/kube/client.js';
import { resolveTetherNamespace } from '../../../src/kube/namespace.js';

const root = mkdtempSync(join(tmpdir(), 'tether-sa-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A pod's filesystem as the kubelet mounts the service account into it. */
function podRoot(namespace: string): string {
  const fs = mkdtempSync(join(root, 'pod-'));
  const sa = join(fs, SERVICE_ACCOUNT_DIR);
  mkdirSync(sa, { recursive: true });
  writeFileSync(join(sa, 'namespace'), namespace);
  writeFileSync(join(sa, 'token'), 'a-token');
  writeFileSync(join(sa, 'ca.crt'), '');
  return fs;
}

describe('resolveTetherNamespace', () => {
  const none = loadConfig({ env: {} });
  test('in a pod, with no flag and no DD_KUBE_RESOURCES_NAMESPACE: the pod\'s namespace', () => {
    assert.equal(resolveTetherNamespace(undefined, none, join(podRoot('monitoring'), SERVICE_ACCOUNT_DIR)), 'monitoring');
  });

  test('--namespace, then DD_KUBE_RESOURCES_NAMESPACE, win over the pod\'s', () => {
    const sa = join(podRoot('monitoring'), SERVICE_ACCOUNT_DIR);
    const set = loadConfig({ env: { DD_KUBE_RESOURCES_NAMESPACE: 'datadog' } });
    assert.equal(resolveTetherNamespace('mine', set, sa), 'mine');
    assert.equal(resolveTetherNamespace(undefined, set, sa), 'datadog');
  });

  test('outside a pod (no service account file, or an empty one): default', () => {
    assert.equal(resolveTetherNamespace(undefined, none, join(root, 'nowhere')), 'default');
    assert.equal(resolveTetherNamespace(undefined, none, join(podRoot('  \n'), SERVICE_ACCOUNT_DIR)), 'default');
  });
});

describe('loadKubeConfig in a pod', () => {
  test('the service account, with the API server from KUBERNETES_SERVICE_HOST/PORT, when no kubeconfig is named', () => {
    const saved = { host: process.env['KUBERNETES_SERVICE_HOST'], port: process.env['KUBERNETES_SERVICE_PORT'] };
    // @kubernetes/client-node's loadFromCluster reads these from process.env.
    process.env['KUBERNETES_SERVICE_HOST'] = '10.96.0.1';
    process.env['KUBERNETES_SERVICE_PORT'] = '443';
    try {
      const fsRoot = podRoot('datadog');
      const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443', HOME: join(root, 'no-home') };
      const loaded = loadKubeConfig({ env, fsRoot });
      assert.equal(loaded.source, 'in-cluster service account');
      assert.equal(loaded.server, 'https://10.96.0.1:443');
      assert.equal(loaded.kubeConfig.getCurrentCluster()?.caFile, join(fsRoot, SERVICE_ACCOUNT_DIR, 'ca.crt'));
      // Without the token file it is not a pod: the error says where Tether looked.
      assert.throws(() => loadKubeConfig({ env, fsRoot: join(root, 'nowhere') }), /run in a pod with a service account/);
    } finally {
      for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
