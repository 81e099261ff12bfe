/**
 * One named Secret, as the certificate controller needs it: its decoded data and annotations, read and
 * written through a narrow interface, so that the controller's read/assess/write path is tested against
 * an in-memory store and only this file knows client-node. Writes are conditional on the resourceVersion
 * read: a concurrent change makes them fail with `Conflict`, and the caller reconciles again from a
 * fresh read.
 */
import * as k8s from '@kubernetes/client-node';
import { abortableCall } from './abortable.js';
import { applyMapChanges, type MapChanges } from './mapChanges.js';
import { Conflict, describeApiError, isConflict, isNotFound } from './errors.js';

export { Conflict };

export interface SecretRecord {
  /** Data values decoded as UTF-8 (certificates and keys are PEM text). */
  readonly data: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly resourceVersion: string;
  readonly createdAt?: Date;
}

/** Changes to apply: a string sets the key, `null` removes it; unnamed keys are left as they are. */
export interface SecretChanges {
  readonly data?: MapChanges;
  readonly annotations?: MapChanges;
}


export interface SecretStore {
  /** `namespace/name`, for messages. */
  readonly id: string;
  get(signal: AbortSignal): Promise<SecretRecord | undefined>;
  create(changes: SecretChanges, signal: AbortSignal): Promise<SecretRecord>;
  /** Applies `changes` if the Secret is still at `resourceVersion`; else throws `Conflict`. */
  update(resourceVersion: string, changes: SecretChanges, signal: AbortSignal): Promise<SecretRecord>;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');


/** A Secret object as the controllers read it (data decoded). */
export function secretRecordOf(s: k8s.V1Secret): SecretRecord {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
  const created = s.metadata?.creationTimestamp;
  return {
    data,
    annotations: { ...s.metadata?.annotations },
    resourceVersion: s.metadata?.resourceVersion ?? '',
    ...(created ? { createdAt: new Date(created) } : {}),
  };
}

/** The store over the API server (client-node); every call is aborted with `signal`. */
export function createSecretStore(kubeConfig: k8s.KubeConfig, namespace: string, name: string): SecretStore {
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  const id = `${namespace}/${name}`;
  const fail = (verb: string) => (e: unknown): never => {
    if (isConflict(e)) throw new Conflict(`Secret ${id} changed while Tether was ${verb} it`);
    throw new Error(`cannot ${verb} Secret ${id}: ${describeApiError(e)}`);
  };
  return {
    id,
    async get(signal) {
      try {
        return secretRecordOf(await core.readNamespacedSecret({ name, namespace }, abortableCall(signal)));
      } catch (e) {
        if (isNotFound(e)) return undefined;
        return fail('read')(e);
      }
    },
    async create(changes, signal) {
      const body: k8s.V1Secret = {
        metadata: { name, namespace, annotations: applyMapChanges({}, changes.annotations) },
        type: 'Opaque',
        data: applyMapChanges({}, changes.data, b64),
      };
      return secretRecordOf(await core.createNamespacedSecret({ namespace, body }, abortableCall(signal)).catch(fail('create')));
    },
    async update(resourceVersion, changes, signal) {
      // Read-modify-write keeps every field Tether does not manage (labels, other keys, owner references);
      // the resourceVersion sent back makes the API server refuse the write if anyone wrote in between.
      const current = await core.readNamespacedSecret({ name, namespace }, abortableCall(signal)).catch(fail('read'));
      if (current.metadata?.resourceVersion !== resourceVersion) throw new Conflict(`Secret ${id} changed since it was read`);
      const body: k8s.V1Secret = {
        ...current,
        metadata: { ...current.metadata, annotations: applyMapChanges(current.metadata?.annotations, changes.annotations) },
        data: applyMapChanges(current.data, changes.data, b64),
      };
      return secretRecordOf(await core.replaceNamespacedSecret({ name, namespace, body }, abortableCall(signal)).catch(fail('update')));
    },
  };
}
