/** An in-memory ConfigMapStore (kube/configMaps.ts) with the API server's write semantics: resourceVersions, Conflicts, a write count. */
import { applyConfigMapChanges, Conflict, type ConfigMapChanges, type ConfigMapRecord, type ConfigMapStore } from '../../src/kube/configMaps.js';

let versions = 500;
const nextVersion = () => String(++versions);

export interface FakeConfigMapStore extends ConfigMapStore {
  current: ConfigMapRecord | undefined;
  writes: number;
  /** Sets the ConfigMap as a user would (bumps the resourceVersion, not counted as Tether's write). */
  set(data: Record<string, string>, labels?: Record<string, string>): void;
}

export function fakeConfigMapStore(id = 'datadog/datadog-cluster-agent-ca'): FakeConfigMapStore {
  const store: FakeConfigMapStore = {
    id,
    current: undefined,
    writes: 0,
    set(data, labels = {}) {
      store.current = { data, labels, resourceVersion: nextVersion() };
    },
    async get() {
      return store.current;
    },
    async create(changes: ConfigMapChanges) {
      if (store.current) throw new Conflict(`ConfigMap ${id} already exists`);
      store.writes++;
      store.current = { data: applyConfigMapChanges({}, changes.data), labels: applyConfigMapChanges({}, changes.labels), resourceVersion: nextVersion() };
      return store.current;
    },
    async update(resourceVersion: string, changes: ConfigMapChanges) {
      if (!store.current || store.current.resourceVersion !== resourceVersion) throw new Conflict(`ConfigMap ${id} changed since it was read`);
      store.writes++;
      store.current = { data: applyConfigMapChanges(store.current.data, changes.data), labels: applyConfigMapChanges(store.current.labels, changes.labels), resourceVersion: nextVersion() };
      return store.current;
    },
  };
  return store;
}
