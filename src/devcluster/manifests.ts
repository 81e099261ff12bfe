/**
 * The manifests of `deploy/` applied to the dev cluster as they ship, so `tether dev` runs the cluster
 * agent with exactly the permissions an install gives it (and `tether diagnose` finds it healthy).
 * Only RBAC objects: the dev cluster has no kubelet to run Deployments.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

const RBAC_KINDS = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

/** `deploy/<file>` of the package (dist/src/devcluster → the package root). */
const deployFile = (file: string): string => fileURLToPath(new URL(`../../../deploy/${file}`, import.meta.url));

/**
 * Creates the RBAC objects of `deploy/<file>` in `namespace` (the manifests say `datadog`; objects that
 * already exist are left as they are). Returns how many were created.
 */
export async function applyDeployRbac(kubeConfig: k8s.KubeConfig, file: string, namespace: string): Promise<number> {
  const objects = k8s.KubernetesObjectApi.makeApiClient(kubeConfig);
  let created = 0;
  for (const doc of parseAllDocuments(readFileSync(deployFile(file), 'utf8'))) {
    const o = doc.toJSON() as (k8s.KubernetesObject & { subjects?: { kind: string; namespace?: string }[] }) | null;
    if (!o || !RBAC_KINDS.has(o.kind ?? '')) continue;
    if (o.metadata?.namespace) o.metadata.namespace = namespace;
    for (const s of o.subjects ?? []) if (s.kind === 'ServiceAccount') s.namespace = namespace;
    try {
      await objects.create(o);
      created++;
    } catch (e) {
      if (!(e instanceof k8s.ApiException && e.code === 409)) throw e;
    }
  }
  return created;
}
