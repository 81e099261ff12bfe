/** An in-memory ConfigMapStore (kube/configMaps.ts) with the API server's write semantics: resourceVersions, Conflicts, a write count. */
import { applyMapChanges } from '../../src/kube/mapChanges.js';
import type { ConfigMapChanges, ConfigMapRecord, ConfigMapStore } from '../../src/kube/configMaps.js';
import { fakeNamedStore, nextVersion, type FakeNamedStore } from './fakeStores.js';

export type FakeConfigMapStore = ConfigMapStore &
  FakeNamedStore<ConfigMapRecord, ConfigMapChanges> & {
    /** Sets the ConfigMap as a user would (bumps the resourceVersion, not counted as Tether's write). */
    set(data: Record<string, string>, labels?: Record<string, string>): void;
  };

export function fakeConfigMapStore(id = 'datadog/datadog-cluster-agent-ca'): FakeConfigMapStore {
  const store = fakeNamedStore<ConfigMapRecord, ConfigMapChanges>(id, (current, changes, resourceVersion) => ({
    data: applyMapChanges(current?.data, changes.data),
    labels: applyMapChanges(current?.labels, changes.labels),
    resourceVersion,
  }));
  return Object.assign(store, {
    set(data: Record<string, string>, labels: Record<string, string> = {}) {
      store.current = { data, labels, resourceVersion: nextVersion() };
    },
  });
}
