/**
 * The CA ConfigMap for node agents (issue 9): `CLUSTER_AGENT_CA_CONFIGMAP` in Tether's namespace holds
 * the webhook Secret's trust bundle (every CA whose certificates a replica may serve, the newest last),
 * under `CLUSTER_AGENT_CA_CONFIGMAP_KEY`. Node agents mount it where `cluster_agent.ca_file` points and
 * verify the cluster agent API with it: the API's certificate is issued by the newest CA of that bundle
 * (clusteragent/api/certificate.ts).
 *
 * It also holds the serving certificate every replica presents (`CLUSTER_AGENT_CA_CONFIGMAP_CERT_KEY`,
 * public): `tether status`, `diagnose` and the console read the certificates from here and only the
 * Secret's metadata, so none of them needs the keys (issue 20).
 *
 * A ConfigMap, not the Secret: it holds no key, so node agents need no access to the Secret. The whole
 * bundle, not only the newest CA: during a rotation replicas still serve certificates of the previous CA.
 * Leader only; reconciled whenever the Secret changes. `desiredCaConfigMap` decides; the reconcile reads
 * and writes only what differs.
 */
import { CLUSTER_AGENT_CA_CONFIGMAP_CERT_KEY, CLUSTER_AGENT_CA_CONFIGMAP_KEY } from '../config/conventions.js';
import type { ConfigMapChanges, ConfigMapRecord, ConfigMapStore } from '../kube/configMaps.js';
import type { Logger } from '../logging/logger.js';

/** Marks the ConfigMap as Tether's (and lets `kubectl get cm -l` find it). */
export const CA_CONFIGMAP_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/part-of': 'tether',
  'app.kubernetes.io/managed-by': 'tether',
};

export interface DesiredCaConfigMap {
  readonly data: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
}

/** Pure: what the ConfigMap must hold for `trustBundlePem` (the Secret's `ca.pem`) and the serving certificate (`cert.pem`). */
export function desiredCaConfigMap(trustBundlePem: string, servingCertPem?: string): DesiredCaConfigMap {
  const data = { [CLUSTER_AGENT_CA_CONFIGMAP_KEY]: trustBundlePem, ...(servingCertPem ? { [CLUSTER_AGENT_CA_CONFIGMAP_CERT_KEY]: servingCertPem } : {}) };
  return { data, labels: CA_CONFIGMAP_LABELS };
}

/** Pure: the changes that bring `current` to `desired` (other keys and labels are left alone); undefined when none. */
export function caConfigMapChanges(current: Pick<ConfigMapRecord, 'data' | 'labels'>, desired: DesiredCaConfigMap): ConfigMapChanges | undefined {
  const data = Object.fromEntries(Object.entries(desired.data).filter(([k, v]) => current.data[k] !== v));
  const labels = Object.fromEntries(Object.entries(desired.labels).filter(([k, v]) => current.labels[k] !== v));
  if (Object.keys(data).length === 0 && Object.keys(labels).length === 0) return undefined;
  return { ...(Object.keys(data).length ? { data } : {}), ...(Object.keys(labels).length ? { labels } : {}) };
}

export type CaConfigMapAction = 'created' | 'updated' | 'unchanged';

/**
 * One reconcile: publishes `bundle` (undefined while the Secret holds no CA: nothing to publish, and
 * an existing ConfigMap is left as it is, still trusted by node agents). A concurrent write is a
 * `Conflict`, for the work queue to retry from a fresh read.
 */
export async function reconcileCaConfigMap(store: ConfigMapStore, bundle: string | undefined, signal: AbortSignal, logger?: Logger, servingCertPem?: string): Promise<CaConfigMapAction> {
  if (bundle === undefined || bundle.trim() === '') return 'unchanged';
  const desired = desiredCaConfigMap(bundle, servingCertPem);
  const current = await store.get(signal);
  if (!current) {
    await store.create(desired, signal);
    logger?.info({ configMap: store.id }, `created the ConfigMap ${store.id} with the cluster agent API's CA bundle for node agents`);
    return 'created';
  }
  const changes = caConfigMapChanges(current, desired);
  if (!changes) return 'unchanged';
  await store.update(current.resourceVersion, changes, signal);
  logger?.info({ configMap: store.id, keys: Object.keys(changes.data ?? {}) }, `updated the ConfigMap ${store.id} with the current CA bundle and serving certificate; node agents read it within a minute or two`);
  return 'updated';
}
