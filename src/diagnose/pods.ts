/**
 * What diagnose reads off pods: whether the config webhook went through one (its DD_ENTITY_ID is in the
 * spec the API server stored), and which workload owns it, walking ReplicaSet → Deployment and
 * Job → CronJob as `kubectl rollout restart` needs. Pure; the reads are the checks'.
 */
import type { Container, ObjectMeta, OwnerReference } from '../admission/pod.js';
import { ENV_ENTITY_ID } from '../config/index.js';

/** The parts of a listed pod these checks read. */
export interface ListedPod {
  readonly metadata?: ObjectMeta & { readonly deletionTimestamp?: string };
  readonly spec?: { readonly containers?: readonly Container[]; readonly initContainers?: readonly Container[] };
  readonly status?: { readonly phase?: string };
}

/**
 * Pure: the config webhook went through this pod. Every mode adds `DD_ENTITY_ID` (SPEC §5), and only
 * where no variable of that name exists, so its presence in any container is the mark; a pod whose
 * author set it by hand has what injection gives anyway.
 */
export function carriesConfigInjection(pod: ListedPod): boolean {
  return [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].some((c) => (c.env ?? []).some((e) => e.name === ENV_ENTITY_ID));
}

/** Pure: a pod that no longer runs (finished, or being deleted): recreating its owner is not about it. */
export function isFinished(pod: ListedPod): boolean {
  return pod.metadata?.deletionTimestamp !== undefined || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** The owner that manages an object: the reference marked controller, else the first. */
export function controllerOf(meta: ObjectMeta | undefined): OwnerReference | undefined {
  const refs = meta?.ownerReferences ?? [];
  return refs.find((r) => r.controller === true) ?? refs[0];
}

/** Kinds whose own owner decides what to restart: a Deployment's ReplicaSet, a CronJob's Job. */
export const INTERMEDIATE_OWNER_KINDS: Readonly<Record<string, string>> = { ReplicaSet: 'apps/v1', Job: 'batch/v1' };

/** Key of an object in a namespace, for the map of intermediate owners' own owners. */
export const ownerKey = (namespace: string, kind: string, name: string): string => `${namespace}/${kind}/${name}`;

export interface OwnerGroup {
  readonly namespace: string;
  /** The workload to act on, or `Pod` for a pod nothing owns. */
  readonly kind: string;
  readonly name: string;
  readonly pods: readonly string[];
}

/**
 * Pure: the pods grouped by the workload to act on. `parents` maps an intermediate owner (ReplicaSet,
 * Job; `ownerKey`) to its own controller, or to undefined when it has none or could not be read: then
 * the intermediate owner itself is the workload.
 */
export function groupByOwner(pods: readonly ListedPod[], parents: ReadonlyMap<string, OwnerReference | undefined>): OwnerGroup[] {
  const groups = new Map<string, { namespace: string; kind: string; name: string; pods: string[] }>();
  for (const pod of pods) {
    const namespace = pod.metadata?.namespace ?? '';
    const podName = pod.metadata?.name ?? '';
    let owner: { kind: string; name: string } = { kind: 'Pod', name: podName };
    const direct = controllerOf(pod.metadata);
    if (direct) {
      owner = { kind: direct.kind, name: direct.name };
      const parent = INTERMEDIATE_OWNER_KINDS[direct.kind] ? parents.get(ownerKey(namespace, direct.kind, direct.name)) : undefined;
      if (parent) owner = { kind: parent.kind, name: parent.name };
    }
    const key = ownerKey(namespace, owner.kind, owner.name);
    const group = groups.get(key) ?? { namespace, ...owner, pods: [] };
    group.pods.push(podName);
    groups.set(key, group);
  }
  return [...groups.values()].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
}

/** Kinds `kubectl rollout restart` works on: it replaces every pod through the workload's own rollout. */
const RESTARTABLE = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

/** Pure: the command that recreates a group's pods through the webhook. */
export function recreateCommand(g: OwnerGroup): string {
  if (RESTARTABLE.has(g.kind)) return `kubectl rollout restart ${g.kind.toLowerCase()}/${g.name} -n ${g.namespace}`;
  if (g.kind === 'CronJob') return `nothing to restart: the next Job of cronjob/${g.name} -n ${g.namespace} is created through the webhook (to run one now: kubectl create job --from=cronjob/${g.name} ${g.name}-injected -n ${g.namespace})`;
  if (g.kind === 'Pod') return `kubectl delete pod ${g.pods.join(' ')} -n ${g.namespace}, then create it again from its manifest (nothing recreates a bare pod)`;
  // ReplicaSet, Job, ReplicationController or another controller: it recreates the pods that are deleted.
  return `kubectl delete pod ${g.pods.join(' ')} -n ${g.namespace} (${g.kind.toLowerCase()}/${g.name} recreates them)`;
}
