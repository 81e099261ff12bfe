/**
 * One named ConfigMap, as the CA ConfigMap controller needs it (controllers/caConfigMap.ts): its data and
 * labels, read and written through a narrow interface, the same pattern as kube/secrets.ts. Writes are
 * conditional on the resourceVersion read: a concurrent change makes them fail with `Conflict`, and the
 * caller reconciles again from a fresh read.
 */
import * as k8s from '@kubernetes/client-node';
import { abortableCall } from './abortable.js';
import { applyMapChanges, type MapChanges } from './mapChanges.js';
import { describeApiError, isConflict, isNotFound } from './errors.js';
import { Conflict } from './errors.js';

export { Conflict };

export interface ConfigMapRecord {
  readonly data: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly resourceVersion: string;
}

/** Changes to apply: a string sets the key, `null` removes it; unnamed keys are left as they are. */
export interface ConfigMapChanges {
  readonly data?: MapChanges;
  readonly labels?: MapChanges;
}

export interface ConfigMapStore {
  /** `namespace/name`, for messages. */
  readonly id: string;
  get(signal: AbortSignal): Promise<ConfigMapRecord | undefined>;
  create(changes: ConfigMapChanges, signal: AbortSignal): Promise<ConfigMapRecord>;
  /** Applies `changes` if the ConfigMap is still at `resourceVersion`; else throws `Conflict`. */
  update(resourceVersion: string, changes: ConfigMapChanges, signal: AbortSignal): Promise<ConfigMapRecord>;
}

/** `current` with `changes` applied (pure; the fake store uses it too). */
export const applyConfigMapChanges = applyMapChanges;

export function configMapRecordOf(c: k8s.V1ConfigMap): ConfigMapRecord {
  return { data: { ...c.data }, labels: { ...c.metadata?.labels }, resourceVersion: c.metadata?.resourceVersion ?? '' };
}

/** The store over the API server (client-node); every call is aborted with `signal`. */
export function createConfigMapStore(kubeConfig: k8s.KubeConfig, namespace: string, name: string): ConfigMapStore {
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  const id = `${namespace}/${name}`;
  const fail = (verb: string) => (e: unknown): never => {
    if (isConflict(e)) throw new Conflict(`ConfigMap ${id} changed while Tether was ${verb} it`);
    throw new Error(`cannot ${verb} ConfigMap ${id}: ${describeApiError(e)}`);
  };
  return {
    id,
    async get(signal) {
      try {
        return configMapRecordOf(await core.readNamespacedConfigMap({ name, namespace }, abortableCall(signal)));
      } catch (e) {
        if (isNotFound(e)) return undefined;
        return fail('read')(e);
      }
    },
    async create(changes, signal) {
      const body: k8s.V1ConfigMap = {
        metadata: { name, namespace, labels: applyConfigMapChanges({}, changes.labels) },
        data: applyConfigMapChanges({}, changes.data),
      };
      return configMapRecordOf(await core.createNamespacedConfigMap({ namespace, body }, abortableCall(signal)).catch(fail('create')));
    },
    async update(resourceVersion, changes, signal) {
      // Read-modify-write keeps every field Tether does not manage (annotations, other keys); the
      // resourceVersion sent back makes the API server refuse the write if anyone wrote in between.
      const current = await core.readNamespacedConfigMap({ name, namespace }, abortableCall(signal)).catch(fail('read'));
      if (current.metadata?.resourceVersion !== resourceVersion) throw new Conflict(`ConfigMap ${id} changed since it was read`);
      const body: k8s.V1ConfigMap = {
        ...current,
        metadata: { ...current.metadata, labels: applyConfigMapChanges(current.metadata?.labels, changes.labels) },
        data: applyConfigMapChanges(current.data, changes.data),
      };
      return configMapRecordOf(await core.replaceNamespacedConfigMap({ name, namespace, body }, abortableCall(signal)).catch(fail('update')));
    },
  };
}
