/** Tether's own namespace: where its Secret, Service and Lease live, and whose pods it never mutates. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_NAMESPACE, SERVICE_ACCOUNT_DIR, type TetherConfig } from '../config/index.js';

/** `--namespace`, else `kube_resources_namespace` (DD_KUBE_RESOURCES_NAMESPACE), else the pod's, else `default`. */
export function resolveTetherNamespace(flag: string | undefined, config: TetherConfig, serviceAccountDir = SERVICE_ACCOUNT_DIR): string {
  if (flag) return flag;
  if (config.kube_resources_namespace) return config.kube_resources_namespace;
  try {
    const ns = readFileSync(join(serviceAccountDir, 'namespace'), 'utf8').trim();
    if (ns) return ns;
  } catch {
    // Not in a pod: fall through.
  }
  return DEFAULT_NAMESPACE;
}
