/**
 * In-memory versions of kube/'s narrow stores, with the API server's write semantics that matter to the
 * controllers: a resourceVersion bumped by every write, a write against an older one a `Conflict`.
 * `writes` counts them, so a test can say "nothing was written".
 */
import { applyMapChanges } from '../../src/kube/mapChanges.js';
import { Conflict, type SecretChanges, type SecretRecord, type SecretStore } from '../../src/kube/secrets.js';
import type { WebhookConfigurationRecord, WebhookConfigurationStore, WebhookEntry } from '../../src/kube/webhookConfigurations.js';

let versions = 100;
/** A resourceVersion no other fake object has. */
export const nextVersion = (): string => String(++versions);

/** What the in-memory stores share: a current record, conditional writes, a write count. */
export interface FakeNamedStore<R extends { readonly resourceVersion: string }, C> {
  readonly id: string;
  current: R | undefined;
  writes: number;
  get(signal?: AbortSignal): Promise<R | undefined>;
  create(changes: C, signal?: AbortSignal): Promise<R>;
  update(resourceVersion: string, changes: C, signal?: AbortSignal): Promise<R>;
}

/** A store of one named object whose next state `build` makes from the current one and the changes. */
export function fakeNamedStore<R extends { readonly resourceVersion: string }, C>(id: string, build: (current: R | undefined, changes: C, resourceVersion: string) => R): FakeNamedStore<R, C> {
  const store: FakeNamedStore<R, C> = {
    id,
    current: undefined,
    writes: 0,
    async get() {
      return store.current;
    },
    async create(changes) {
      if (store.current) throw new Conflict(`${id} already exists`);
      store.writes++;
      return (store.current = build(undefined, changes, nextVersion()));
    },
    async update(resourceVersion, changes) {
      if (!store.current || store.current.resourceVersion !== resourceVersion) throw new Conflict(`${id} changed since it was read`);
      store.writes++;
      return (store.current = build(store.current, changes, nextVersion()));
    },
  };
  return store;
}

export type FakeSecretStore = SecretStore &
  FakeNamedStore<SecretRecord, SecretChanges> & {
    /** Sets the Secret as a user would (bumps the resourceVersion, not counted as Tether's write). */
    set(data: Record<string, string>, annotations?: Record<string, string>): void;
  };

export function fakeSecretStore(id = 'datadog/webhook-certificate'): FakeSecretStore {
  const store = fakeNamedStore<SecretRecord, SecretChanges>(id, (current, changes, resourceVersion) => ({
    data: applyMapChanges(current?.data, changes.data),
    annotations: applyMapChanges(current?.annotations, changes.annotations),
    resourceVersion,
  }));
  return Object.assign(store, {
    set(data: Record<string, string>, annotations: Record<string, string> = {}) {
      store.current = { data, annotations, resourceVersion: nextVersion() };
    },
  });
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
