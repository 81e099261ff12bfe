/**
 * One named coordination.k8s.io Lease, as leader election needs it: read it, create it, replace it
 * conditionally on its resourceVersion. A narrow interface with a plain record instead of k8s.V1Lease,
 * so that leader election is tested against an in-memory fake, and every call takes an AbortSignal,
 * so that a silent API server cannot hold a renewal past the renew deadline.
 */
import * as k8s from '@kubernetes/client-node';
import { abortableCall } from './abortable.js';
import { Conflict, describeApiError, isConflict, isNotFound } from './errors.js';

export { Conflict };

/** The Lease's spec as leader election reads and writes it. */
export interface LeaseRecord {
  /** Who holds the Lease; '' when it was released. */
  readonly holderIdentity: string;
  readonly leaseDurationSeconds?: number;
  readonly acquireTime?: Date;
  readonly renewTime?: Date;
  /** How many times the Lease changed hands. */
  readonly leaseTransitions: number;
}

/** A record as the API server holds it: writes are conditional on `resourceVersion`. */
export interface StoredLease extends LeaseRecord {
  readonly resourceVersion: string;
}


export interface LeaseClient {
  /** `namespace/name`, for logs. */
  readonly description: string;
  /** The Lease, or undefined when it does not exist. */
  get(signal: AbortSignal): Promise<StoredLease | undefined>;
  /** Creates the Lease; rejects with `Conflict` when it exists already. */
  create(record: LeaseRecord, signal: AbortSignal): Promise<StoredLease>;
  /** Replaces the Lease if it is still at `record.resourceVersion`; rejects with `Conflict` if not. */
  update(record: StoredLease, signal: AbortSignal): Promise<StoredLease>;
}

/**
 * Lease times are MicroTime, which the API server parses only with six fractional digits; client-node
 * 1.4 writes that form only for its V1MicroTime class (a plain Date gets three), and what it reads back
 * is the string as sent (V1MicroTime is not in its deserializer's type map).
 */
const microTime = (d: Date): k8s.V1MicroTime => new k8s.V1MicroTime(d.getTime());

function readTime(v: unknown): Date | undefined {
  if (!(v instanceof Date) && typeof v !== 'string') return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function recordOf(lease: k8s.V1Lease, description: string): StoredLease {
  const resourceVersion = lease.metadata?.resourceVersion;
  // Without it a replace would be unconditional: two candidates could both win.
  if (!resourceVersion) throw new Error(`the API server returned Lease ${description} without a resourceVersion`);
  const spec = lease.spec ?? {};
  const acquireTime = readTime(spec.acquireTime);
  const renewTime = readTime(spec.renewTime);
  return {
    holderIdentity: spec.holderIdentity ?? '',
    ...(typeof spec.leaseDurationSeconds === 'number' ? { leaseDurationSeconds: spec.leaseDurationSeconds } : {}),
    ...(acquireTime ? { acquireTime } : {}),
    ...(renewTime ? { renewTime } : {}),
    leaseTransitions: spec.leaseTransitions ?? 0,
    resourceVersion,
  };
}

/** `record` as a Lease spec over `base` (fields of the spec this module does not know are kept). */
function specOf(record: LeaseRecord, base: k8s.V1LeaseSpec = {}): k8s.V1LeaseSpec {
  const spec: k8s.V1LeaseSpec = { ...base, holderIdentity: record.holderIdentity, leaseTransitions: record.leaseTransitions };
  delete spec.leaseDurationSeconds;
  delete spec.acquireTime;
  delete spec.renewTime;
  if (record.leaseDurationSeconds !== undefined) spec.leaseDurationSeconds = record.leaseDurationSeconds;
  if (record.acquireTime) spec.acquireTime = microTime(record.acquireTime);
  if (record.renewTime) spec.renewTime = microTime(record.renewTime);
  return spec;
}

/** A conflict becomes `Conflict`; anything else is rethrown as client-node raised it. */
function conflictOr(e: unknown, what: string): unknown {
  return isConflict(e) ? new Conflict(`${what}: ${describeApiError(e)}`, { cause: e }) : e;
}

/** The Lease `namespace/name` over client-node 1.x; each call's signal aborts its HTTP request. */
export function createLeaseClient(kubeConfig: k8s.KubeConfig, namespace: string, name: string): LeaseClient {
  const api = kubeConfig.makeApiClient(k8s.CoordinationV1Api);
  const description = `${namespace}/${name}`;
  // The object last read or written: a replace sends it back with the new spec, so that labels,
  // annotations and spec fields Tether does not know survive (client-go's LeaseLock does the same).
  let last: k8s.V1Lease | undefined;
  const remember = (lease: k8s.V1Lease): StoredLease => {
    const record = recordOf(lease, description);
    last = lease;
    return record;
  };

  return {
    description,
    async get(signal) {
      try {
        return remember(await api.readNamespacedLease({ name, namespace }, abortableCall(signal)));
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    async create(record, signal) {
      const body: k8s.V1Lease = { metadata: { name, namespace }, spec: specOf(record) };
      try {
        return remember(await api.createNamespacedLease({ namespace, body }, abortableCall(signal)));
      } catch (e) {
        throw conflictOr(e, `Lease ${description} was created by someone else first`);
      }
    },
    async update(record, signal) {
      if (!record.resourceVersion) throw new Error(`a replace of Lease ${description} needs the resourceVersion it was read at`);
      const base = last?.metadata?.resourceVersion === record.resourceVersion ? last : undefined;
      const body: k8s.V1Lease = {
        ...base,
        metadata: { ...base?.metadata, name, namespace, resourceVersion: record.resourceVersion },
        spec: specOf(record, base?.spec),
      };
      try {
        return remember(await api.replaceNamespacedLease({ name, namespace, body }, abortableCall(signal)));
      } catch (e) {
        throw conflictOr(e, `Lease ${description} was written by someone else since it was read`);
      }
    },
  };
}
