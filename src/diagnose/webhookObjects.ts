/**
 * The admission controller's objects as the webhook checks read them (read-only): the
 * MutatingWebhookConfiguration `webhook_name`, with its managed fields (who wrote it), and the Secret
 * `certificate.secret_name`: its metadata, and its certificates as published in the CA ConfigMap.
 */
import type * as k8s from '@kubernetes/client-node';
import { CLUSTER_AGENT_CA_CONFIGMAP, CLUSTER_AGENT_CA_CONFIGMAP_CERT_KEY, CLUSTER_AGENT_CA_CONFIGMAP_KEY, SECRET_CA_KEY, SECRET_CERT_KEY } from '../config/index.js';
import { entryEndpoint, entryName, knownEntries } from '../admission/index.js';
import type { TetherConfig } from '../config/index.js';
import type { DiagnoseContext } from './check.js';

/** One writer of an object, as `metadata.managedFields` records it (the wire form: `time` is a string). */
export interface ManagedFieldsEntry {
  readonly manager?: string;
  readonly operation?: string;
  readonly time?: string;
  readonly subresource?: string;
}

export interface WebhookConfigurationObject {
  readonly metadata?: {
    readonly name?: string;
    readonly resourceVersion?: string;
    readonly creationTimestamp?: string;
    readonly managedFields?: readonly ManagedFieldsEntry[];
  };
  readonly webhooks?: k8s.V1MutatingWebhook[];
}

/**
 * The certificate Secret as diagnose sees it: its metadata (read as PartialObjectMetadata: never its
 * keys) and its public half, the trust bundle and the serving certificate, as the leader publishes them
 * in ConfigMap `CLUSTER_AGENT_CA_CONFIGMAP` (controllers/caConfigMap.ts).
 */
export interface WebhookSecret {
  readonly namespace: string;
  readonly name: string;
  /** `ca.pem` and `cert.pem` as PEM text, from the CA ConfigMap (empty when it is not published). */
  readonly data: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly createdAt?: string;
  /** The CA ConfigMap exists (the leader has published the Secret's certificates). */
  readonly published: boolean;
}

export const webhookConfigurationPath = (name: string): string => `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${encodeURIComponent(name)}`;

export function readWebhookConfiguration(ctx: Pick<DiagnoseContext, 'kube' | 'config' | 'signal'>): Promise<WebhookConfigurationObject | undefined> {
  return ctx.kube.get<WebhookConfigurationObject>(webhookConfigurationPath(ctx.config['admission_controller.webhook_name']), ctx.signal);
}

const namespaced = (ns: string, plural: string, name: string) => `/api/v1/namespaces/${encodeURIComponent(ns)}/${plural}/${encodeURIComponent(name)}`;

/** The certificate Secret in Tether's namespace (metadata) with its published certificates, or undefined when there is no Secret. */
export async function readWebhookSecret(ctx: Pick<DiagnoseContext, 'kube' | 'config' | 'namespace' | 'signal'>): Promise<WebhookSecret | undefined> {
  const name = ctx.config['admission_controller.certificate.secret_name'];
  const [meta, cm] = await Promise.all([
    ctx.kube.getMetadata(namespaced(ctx.namespace, 'secrets', name), ctx.signal),
    ctx.kube.get<k8s.V1ConfigMap>(namespaced(ctx.namespace, 'configmaps', CLUSTER_AGENT_CA_CONFIGMAP), ctx.signal),
  ]);
  if (!meta) return undefined;
  const published = cm?.data ?? {};
  const data: Record<string, string> = {};
  if (published[CLUSTER_AGENT_CA_CONFIGMAP_KEY]) data[SECRET_CA_KEY] = published[CLUSTER_AGENT_CA_CONFIGMAP_KEY];
  if (published[CLUSTER_AGENT_CA_CONFIGMAP_CERT_KEY]) data[SECRET_CERT_KEY] = published[CLUSTER_AGENT_CA_CONFIGMAP_CERT_KEY];
  return {
    namespace: ctx.namespace,
    name,
    data,
    annotations: meta.metadata?.annotations ?? {},
    ...(meta.metadata?.creationTimestamp ? { createdAt: meta.metadata.creationTimestamp } : {}),
    published: cm !== undefined,
  };
}

/**
 * The `--webhook-url` a configuration was written with, read back from its entries: the URL of an entry
 * Tether names, without that webhook's endpoint. Undefined when the entries call a Service.
 */
export function webhookUrlOf(webhooks: readonly k8s.V1MutatingWebhook[], config: TetherConfig): string | undefined {
  for (const known of knownEntries(config)) {
    const entry = webhooks.find((w) => w.name === entryName(known, config));
    const url = entry?.clientConfig?.url;
    const endpoint = entryEndpoint(known, config);
    if (url && url.endsWith(endpoint)) return url.slice(0, url.length - endpoint.length);
  }
  // An entry with a URL Tether would not write: still not a Service; the base is the URL's origin.
  const url = webhooks.find((w) => w.clientConfig?.url)?.clientConfig?.url;
  if (!url) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** The entry's caBundle as PEM text ('' when it has none). */
export const entryCaBundlePem = (w: k8s.V1MutatingWebhook): string => (w.clientConfig?.caBundle ? Buffer.from(w.clientConfig.caBundle, 'base64').toString('utf8') : '');
