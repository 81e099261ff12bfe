/**
 * Tether's own RBAC (deploy/rbac.yaml) applied to a test control plane, and a client that acts as
 * Tether's service account (impersonation), so a permission missing from the manifest fails a test.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { impersonatingKubeConfig, type ControlPlane } from '../harness/controlPlane.js';

export const RBAC_MANIFEST = fileURLToPath(new URL('../../../deploy/rbac.yaml', import.meta.url));
/** `tether status` and `diagnose`'s read-only identity. */
export const DIAGNOSE_MANIFEST = fileURLToPath(new URL('../../../deploy/diagnose-rbac.yaml', import.meta.url));
export const DIAGNOSE_SERVICE_ACCOUNT = 'tether-diagnose';
/** The node agent's manifest: its ServiceAccount and kubelet RBAC next to the DaemonSet. */
export const NODE_AGENT_MANIFEST = fileURLToPath(new URL('../../../deploy/node-agent.yaml', import.meta.url));
/** The service account deploy/rbac.yaml grants the permissions to. */
export const SERVICE_ACCOUNT = 'datadog-cluster-agent';
/** The node agent's service account (deploy/node-agent.yaml). */
export const NODE_AGENT_SERVICE_ACCOUNT = 'datadog-agent';
/** `tether console`'s read-only identity (deploy/console-viewer-rbac.yaml). */
export const CONSOLE_VIEWER_MANIFEST = fileURLToPath(new URL('../../../deploy/console-viewer-rbac.yaml', import.meta.url));
export const CONSOLE_VIEWER_SERVICE_ACCOUNT = 'tether-console-viewer';

/** What the RBAC manifests hold: identities, roles, and the policy that keeps diagnose's probe a dry run. */
const RBAC_KINDS = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);

interface ManifestObject extends k8s.KubernetesObject {
  subjects?: { kind: string; name: string; namespace?: string }[];
}

/** The manifest's RBAC objects, moved to `namespace` (objects and service-account subjects alike). */
export function rbacObjects(namespace: string, manifest = RBAC_MANIFEST): ManifestObject[] {
  return parseAllDocuments(readFileSync(manifest, 'utf8'))
    .map((d) => d.toJSON() as ManifestObject | null)
    .filter((o): o is ManifestObject => o !== null && RBAC_KINDS.has(o.kind ?? ''))
    .map((o) => {
      const copy = structuredClone(o);
      if (copy.metadata?.namespace) copy.metadata.namespace = namespace;
      // Cluster-scoped objects are shared by every test namespace: give them the namespace's name.
      if (!copy.metadata?.namespace && copy.metadata?.name) copy.metadata.name = `${copy.metadata.name}-${namespace}`;
      const ref = (copy as { roleRef?: { kind: string; name: string } }).roleRef;
      if (ref?.kind === 'ClusterRole') ref.name = `${ref.name}-${namespace}`;
      const policy = (copy as { spec?: { policyName?: string } }).spec;
      if (copy.kind === 'ValidatingAdmissionPolicyBinding' && policy?.policyName) policy.policyName = `${policy.policyName}-${namespace}`;
      for (const s of copy.subjects ?? []) if (s.kind === 'ServiceAccount') s.namespace = namespace;
      // A policy's CEL names the service account's user, namespace included.
      return JSON.parse(JSON.stringify(copy).replaceAll('system:serviceaccount:datadog:', `system:serviceaccount:${namespace}:`)) as ManifestObject;
    });
}

/**
 * Applies deploy/rbac.yaml into `namespace` and writes a kubeconfig file (mode 0600) that impersonates
 * the cluster agent's service account, as `tether start --kubeconfig` takes it; returns its path.
 */
export async function tetherKubeconfigFile(cp: ControlPlane, namespace: string, dir: string = cp.dir): Promise<string> {
  const file = join(dir, 'tether.kubeconfig');
  await writeFile(file, (await applyTetherRbac(cp, namespace)).exportConfig(), { mode: 0o600 });
  return file;
}

/**
 * Creates `namespace` and applies deploy/rbac.yaml into it; returns a KubeConfig that impersonates
 * `system:serviceaccount:<namespace>:datadog-cluster-agent`.
 */
export async function applyTetherRbac(cp: ControlPlane, namespace: string, manifest = RBAC_MANIFEST, serviceAccount = SERVICE_ACCOUNT): Promise<k8s.KubeConfig> {
  const admin = cp.kubeConfig();
  const core = admin.makeApiClient(k8s.CoreV1Api);
  try {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  } catch (e) {
    if (!(e instanceof k8s.ApiException && e.code === 409)) throw e;
  }
  const objects = k8s.KubernetesObjectApi.makeApiClient(admin);
  for (const o of rbacObjects(namespace, manifest)) {
    try {
      await objects.create(o);
    } catch (e) {
      if (!(e instanceof k8s.ApiException && e.code === 409)) throw e;
    }
  }
  return impersonatingKubeConfig(cp, `system:serviceaccount:${namespace}:${serviceAccount}`);
}
