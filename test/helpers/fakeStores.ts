/**
 * In-memory versions of kube/'s narrow stores, with the API server's write semantics that matter to the
 * controllers: a resourceVersion bumped by every write, a write against an older one a `Conflict`.
 * `writes` counts them, so a test can say "nothing was written".
 */
import { Conflict, type SecretChanges, type SecretRecord, type SecretStore } from '../../src/kube/secrets.js';
import type { WebhookConfigurationRecord, WebhookConfigurationStore, WebhookEntry } from '../../src/kube/webhookConfigurations.js';

let versions = 100;
const nextVersion = () => String(++versions);

function apply(current: Readonly<Record<string, string>>, changes: Readonly<Record<string, string | null>> | undefined): Record<string, string> {
  const out = { ...current };
  for (const [k, v] of Object.entries(changes ?? {})) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

export interface FakeSecretStore extends SecretStore {
  current: SecretRecord | undefined;
  writes: number;
  /** Sets the Secret as a user would (bumps the resourceVersion, not counted as Tether's write). */
  set(data: Record<string, string>, annotations?: Record<string, string>): void;
}

export function fakeSecretStore(id = 'datadog/webhook-certificate'): FakeSecretStore {
  const store: FakeSecretStore = {
    id,
    current: undefined,
    writes: 0,
    set(data, annotations = {}) {
      store.current = { data, annotations, resourceVersion: nextVersion() };
    },
    async get() {
      return store.current;
    },
    async create(changes: SecretChanges) {
      if (store.current) throw new Conflict(`Secret ${id} already exists`);
      store.writes++;
      store.current = { data: apply({}, changes.data), annotations: apply({}, changes.annotations), resourceVersion: nextVersion() };
      return store.current;
    },
    async update(resourceVersion: string, changes: SecretChanges) {
      if (!store.current || store.current.resourceVersion !== resourceVersion) throw new Conflict(`Secret ${id} changed since it was read`);
      store.writes++;
      store.current = { data: apply(store.current.data, changes.data), annotations: apply(store.current.annotations, changes.annotations), resourceVersion: nextVersion() };
      return store.current;
    },
  };
  return store;
}

export interface FakeWebhookStore extends WebhookConfigurationStore {
  current: WebhookConfigurationRecord | undefined;
  writes: number;
}

export function fakeWebhookStore(name = 'datadog-webhook'): FakeWebhookStore {
  const store: FakeWebhookStore = {
    name,
    current: undefined,
    writes: 0,
    async get() {
      return store.current;
    },
    async create(webhooks: readonly WebhookEntry[]) {
      if (store.current) throw new Conflict(`${name} already exists`);
      store.writes++;
      store.current = { webhooks: structuredClone([...webhooks]), resourceVersion: nextVersion() };
      return store.current;
    },
    async replaceWebhooks(resourceVersion: string, webhooks: readonly WebhookEntry[]) {
      if (!store.current || store.current.resourceVersion !== resourceVersion) throw new Conflict(`${name} changed since it was read`);
      store.writes++;
      store.current = { webhooks: structuredClone([...webhooks]), resourceVersion: nextVersion() };
      return store.current;
    },
  };
  return store;
}
