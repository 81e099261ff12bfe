/**
 * The one tagger (ARCHITECTURE: "one tagger computes a pod's tags"): a pod's tags from what is known of
 * it, and the unified-service-tag choice the tags webhook injects as DD_ENV/DD_SERVICE/DD_VERSION. Pure:
 * the cluster agent's API, the tags webhook and the node agent hand it facts they already hold, so the
 * three can never disagree on a tag's name or on whose labels win.
 *
 * Tag names and values are the stack's (its kubernetes tagger): `kube_namespace`, `pod_name`,
 * `pod_phase` (lower-case: `running`), `kube_node`, one tag per owner kind (`kube_deployment`,
 * `kube_replica_set`...), `kube_ownerref_kind` (the lower-case kind of the pod's first owner:
 * `replicaset`), `kube_service`, and `env`/`service`/`version`.
 */
import { UNIFIED_SERVICE_TAGS } from '../config/conventions.js';

export type LabelMap = Readonly<Record<string, string>>;

/** The tag an owner of each kind gives its pods (the stack's names). Other kinds give none. */
export const OWNER_KIND_TAGS: Readonly<Record<string, string>> = Object.freeze({
  Deployment: 'kube_deployment',
  ReplicaSet: 'kube_replica_set',
  StatefulSet: 'kube_stateful_set',
  DaemonSet: 'kube_daemon_set',
  Job: 'kube_job',
  CronJob: 'kube_cronjob',
  ReplicationController: 'kube_replication_controller',
});

export const TAG = {
  namespace: 'kube_namespace',
  podName: 'pod_name',
  podPhase: 'pod_phase',
  node: 'kube_node',
  ownerKind: 'kube_ownerref_kind',
  service: 'kube_service',
} as const;

export interface OwnerRef {
  readonly kind: string;
  readonly name: string;
}

/** What is known of a pod. Structurally a `PodView` plus its workload and Services (clusteragent/stateTypes.ts). */
export interface PodTagsInput {
  readonly namespace: string;
  readonly name: string;
  /** `status.phase`; absent or empty: no `pod_phase` tag. */
  readonly phase?: string;
  /** `spec.nodeName`; absent or empty (unscheduled): no `kube_node` tag. */
  readonly node?: string;
  readonly labels?: LabelMap;
  /** The pod's first owner reference. */
  readonly owner?: OwnerRef;
  /** The workload through the owners (ReplicaSet → Deployment, Job → CronJob), when known. */
  readonly workload?: { readonly kind: string; readonly name: string; readonly via?: OwnerRef; readonly tagLabels: LabelMap };
  /** Names of the Services selecting the pod. */
  readonly services?: readonly string[];
}

/** One unified service tag the labels carry. */
export interface ServiceTagValue {
  /** `tags.datadoghq.com/env`... */
  readonly label: string;
  /** `DD_ENV`... */
  readonly env: string;
  /** `env`... */
  readonly tag: string;
  readonly value: string;
}

/** The unified service tags `labels` carry, in the order env, service, version. */
export function serviceTagValues(labels: LabelMap | undefined): ServiceTagValue[] {
  if (!labels) return [];
  const out: ServiceTagValue[] = [];
  for (const t of UNIFIED_SERVICE_TAGS) {
    const value = labels[t.label];
    if (typeof value === 'string') out.push({ label: t.label, env: t.env, tag: t.tag, value });
  }
  return out;
}

/** Whether the pod's own labels decide its unified service tags (it carries at least one of them). */
export function podDecidesServiceTags(podLabels: LabelMap | undefined): boolean {
  return serviceTagValues(podLabels).length > 0;
}

export interface UnifiedServiceTags {
  /** Whose labels they are: the pod's, its owner's (workload's), or nobody carries any. */
  readonly from: 'pod' | 'owner' | 'none';
  readonly values: readonly ServiceTagValue[];
}

/**
 * SPEC §5: the pod's own `tags.datadoghq.com/*` labels if it carries any of them, else its owner's.
 * As a whole: a pod with only `version` does not take `env` from its Deployment (the pod's labels are
 * deliberate; mixing would tag a canary with the stable version's env, or the reverse).
 */
export function unifiedServiceTags(podLabels: LabelMap | undefined, ownerLabels: LabelMap | undefined): UnifiedServiceTags {
  const own = serviceTagValues(podLabels);
  if (own.length > 0) return { from: 'pod', values: own };
  const owner = serviceTagValues(ownerLabels);
  return owner.length > 0 ? { from: 'owner', values: owner } : { from: 'none', values: [] };
}

/** A pod's tags, `key:value`, sorted, without duplicates. Empty values make no tag (as the stack's tag lists). */
export function podTags(input: PodTagsInput): string[] {
  const tags = new Set<string>();
  const add = (key: string, value: string | undefined): void => {
    if (value) tags.add(`${key}:${value}`);
  };
  add(TAG.namespace, input.namespace);
  add(TAG.podName, input.name);
  add(TAG.podPhase, input.phase?.toLowerCase());
  add(TAG.node, input.node);
  const ownerTag = (o: OwnerRef | undefined): void => {
    const key = o && Object.hasOwn(OWNER_KIND_TAGS, o.kind) ? OWNER_KIND_TAGS[o.kind] : undefined;
    if (key) add(key, o!.name);
  };
  if (input.owner) {
    add(TAG.ownerKind, input.owner.kind.toLowerCase());
    ownerTag(input.owner);
  }
  if (input.workload) {
    ownerTag(input.workload.via);
    ownerTag(input.workload);
  }
  for (const s of input.services ?? []) add(TAG.service, s);
  for (const v of unifiedServiceTags(input.labels, input.workload?.tagLabels).values) add(v.tag, v.value);
  return [...tags].sort();
}
