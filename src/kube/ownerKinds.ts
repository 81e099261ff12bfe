/**
 * The kinds a pod's owner may be that Tether reads, and how an owner reference names one. Pure, and
 * apart from the readers (`facts.ts`) so that what only needs the table (the API-call list `diagnose`
 * checks, the cluster store) does not load @kubernetes/client-node: about 60 MB that `tether serve`
 * without a cluster never needs.
 */

export interface OwnerKind {
  /** API group; the version read is always v1, which every supported Kubernetes serves. */
  readonly group: string;
  readonly kind: string;
  /** Plural resource name, as RBAC rules spell it. */
  readonly resource: string;
  /** The controller kind whose labels are used instead, when the object is controlled by one. */
  readonly follow?: OwnerKindKey;
}

/**
 * The kinds a pod's owner may be that Tether can read (deploy/rbac.yaml grants `get` on exactly these).
 * A ReplicaSet is normally a Deployment's, and a Job may be a CronJob's: their labels are the user's,
 * the intermediate object's are generated.
 */
export type OwnerKindKey = 'apps/ReplicaSet' | 'apps/Deployment' | 'apps/StatefulSet' | 'apps/DaemonSet' | 'batch/Job' | 'batch/CronJob';

export const OWNER_KINDS: Readonly<Record<OwnerKindKey, OwnerKind>> = {
  'apps/ReplicaSet': { group: 'apps', kind: 'ReplicaSet', resource: 'replicasets', follow: 'apps/Deployment' },
  'apps/Deployment': { group: 'apps', kind: 'Deployment', resource: 'deployments' },
  'apps/StatefulSet': { group: 'apps', kind: 'StatefulSet', resource: 'statefulsets' },
  'apps/DaemonSet': { group: 'apps', kind: 'DaemonSet', resource: 'daemonsets' },
  'batch/Job': { group: 'batch', kind: 'Job', resource: 'jobs', follow: 'batch/CronJob' },
  'batch/CronJob': { group: 'batch', kind: 'CronJob', resource: 'cronjobs' },
};

const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? (apiVersion.split('/')[0] ?? '') : '');

/**
 * The supported kind an owner reference names, by API group and kind: the version in the reference is
 * whichever the owner was written with (`apps/v1beta2` in old objects), and v1 reads the same object.
 */
export function ownerKindOf(ref: { readonly apiVersion: string; readonly kind: string }): OwnerKindKey | undefined {
  const key = `${groupOf(ref.apiVersion)}/${ref.kind}`;
  return Object.hasOwn(OWNER_KINDS, key) ? (key as OwnerKindKey) : undefined;
}

export function unsupportedOwnerReason(ref: { readonly apiVersion: string; readonly kind: string }): string {
  const supported = Object.values(OWNER_KINDS).map((k) => k.kind);
  return `owner kind ${ref.kind} (${ref.apiVersion}) is not one Tether reads (${supported.join(', ')})`;
}
