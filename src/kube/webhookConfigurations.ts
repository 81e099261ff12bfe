/**
 * One named MutatingWebhookConfiguration, as the webhook-configuration controller needs it: its entries,
 * read and replaced through a narrow interface (tested in memory; only this file knows client-node).
 * Replacing is conditional on the resourceVersion read, so a concurrent edit is a `Conflict`.
 */
import * as k8s from '@kubernetes/client-node';
import { abortableCall } from './abortable.js';
import { TETHER_FIELD_MANAGER } from '../config/conventions.js';
import { Conflict, describeApiError, isConflict, isNotFound } from './errors.js';

export type WebhookEntry = k8s.V1MutatingWebhook;

export interface WebhookConfigurationRecord {
  readonly webhooks: readonly WebhookEntry[];
  readonly resourceVersion: string;
  readonly createdAt?: Date;
}

export interface WebhookConfigurationStore {
  readonly name: string;
  get(signal: AbortSignal): Promise<WebhookConfigurationRecord | undefined>;
  create(webhooks: readonly WebhookEntry[], signal: AbortSignal): Promise<WebhookConfigurationRecord>;
  /** Replaces the entries if the object is still at `resourceVersion`; else throws `Conflict`. */
  replaceWebhooks(resourceVersion: string, webhooks: readonly WebhookEntry[], signal: AbortSignal): Promise<WebhookConfigurationRecord>;
}

function toRecord(c: k8s.V1MutatingWebhookConfiguration): WebhookConfigurationRecord {
  const created = c.metadata?.creationTimestamp;
  return { webhooks: c.webhooks ?? [], resourceVersion: c.metadata?.resourceVersion ?? '', ...(created ? { createdAt: new Date(created) } : {}) };
}

export function createWebhookConfigurationStore(kubeConfig: k8s.KubeConfig, name: string): WebhookConfigurationStore {
  const api = kubeConfig.makeApiClient(k8s.AdmissionregistrationV1Api);
  const fail = (verb: string) => (e: unknown): never => {
    if (isConflict(e)) throw new Conflict(`MutatingWebhookConfiguration ${name} changed while Tether was ${verb} it`);
    throw new Error(`cannot ${verb} MutatingWebhookConfiguration ${name}: ${describeApiError(e)}`);
  };
  return {
    name,
    async get(signal) {
      try {
        return toRecord(await api.readMutatingWebhookConfiguration({ name }, abortableCall(signal)));
      } catch (e) {
        if (isNotFound(e)) return undefined;
        return fail('read')(e);
      }
    },
    async create(webhooks, signal) {
      const body: k8s.V1MutatingWebhookConfiguration = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name }, webhooks: [...webhooks] };
      return toRecord(await api.createMutatingWebhookConfiguration({ body, fieldManager: TETHER_FIELD_MANAGER }, abortableCall(signal)).catch(fail('create')));
    },
    async replaceWebhooks(resourceVersion, webhooks, signal) {
      // The object's other metadata (labels, annotations, owner references) is kept: read, then replace.
      const current = await api.readMutatingWebhookConfiguration({ name }, abortableCall(signal)).catch(fail('read'));
      if (current.metadata?.resourceVersion !== resourceVersion) throw new Conflict(`MutatingWebhookConfiguration ${name} changed since it was read`);
      return toRecord(await api.replaceMutatingWebhookConfiguration({ name, body: { ...current, webhooks: [...webhooks] }, fieldManager: TETHER_FIELD_MANAGER }, abortableCall(signal)).catch(fail('update')));
    },
  };
}
