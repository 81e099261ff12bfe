/**
 * The admission controller's objects as the webhook checks read them (read-only): the
 * MutatingWebhookConfiguration `webhook_name`, with its managed fields (who wrote it), and the Secret
 * `certificate.secret_name`, decoded as the certificate controller's store decodes it.
 */
import type * as k8s from '@kubernetes/client-node';
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

export interface WebhookSecret {
  readonly namespace: string;
  readonly name: string;
  /** Data values decoded as UTF-8 (PEM text). */
  readonly data: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly createdAt?: string;
}

interface SecretObject {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly creationTimestamp?: string; readonly annotations?: Record<string, string> };
  readonly data?: Record<string, string>;
}

export const webhookConfigurationPath = (name: string): string => `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${encodeURIComponent(name)}`;

export function readWebhookConfiguration(ctx: Pick<DiagnoseContext, 'kube' | 'config' | 'signal'>): Promise<WebhookConfigurationObject | undefined> {
  return ctx.kube.get<WebhookConfigurationObject>(webhookConfigurationPath(ctx.config['admission_controller.webhook_name']), ctx.signal);
}

export function decodeSecret(s: SecretObject, fallback: { namespace: string; name: string }): WebhookSecret {
  const data = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  return {
    namespace: s.metadata?.namespace ?? fallback.namespace,
    name: s.metadata?.name ?? fallback.name,
    data,
    annotations: s.metadata?.annotations ?? {},
    ...(s.metadata?.creationTimestamp ? { createdAt: s.metadata.creationTimestamp } : {}),
  };
}

/** The certificate Secret in Tether's namespace, or undefined when there is none. */
export async function readWebhookSecret(ctx: Pick<DiagnoseContext, 'kube' | 'config' | 'namespace' | 'signal'>): Promise<WebhookSecret | undefined> {
  const name = ctx.config['admission_controller.certificate.secret_name'];
  const s = await ctx.kube.get<SecretObject>(`/api/v1/namespaces/${encodeURIComponent(ctx.namespace)}/secrets/${encodeURIComponent(name)}`, ctx.signal);
  return s ? decodeSecret(s, { namespace: ctx.namespace, name }) : undefined;
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
