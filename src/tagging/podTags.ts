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

/** `pod_phase:<phase>` (lower-case, as the stack tags it). */
export const phaseTag = (phase: string): string => `${TAG.podPhase}:${phase.toLowerCase()}`;

export interface OwnerRef {
  readonly kind: string;
  readonly name: string;
}

/** What is known of a pod. Structurally a `PodView` plus its workload and Services (clusterview/types.ts). */
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

function ownerTag(out: string[], o: OwnerRef | undefined): void {
  if (o && o.name && Object.hasOwn(OWNER_KIND_TAGS, o.kind)) out.push(`${OWNER_KIND_TAGS[o.kind]}:${o.name}`);
}

/** The labels whose `tags.datadoghq.com/*` decide (SPEC §5, as `unifiedServiceTags`), without allocating. */
function deciding(podLabels: LabelMap | undefined, ownerLabels: LabelMap | undefined): LabelMap | undefined {
  if (podLabels) for (const t of UNIFIED_SERVICE_TAGS) if (typeof podLabels[t.label] === 'string') return podLabels;
  return ownerLabels;
}

/**
 * A pod's tags, `key:value`, sorted, without duplicates. Empty values make no tag (as the stack's tag
 * lists). Written for the cluster agent's hot path (every pod of a node per request): one array, no
 * intermediate objects.
 */
export function podTags(input: PodTagsInput): string[] {
  const out: string[] = [];
  if (input.namespace) out.push(`${TAG.namespace}:${input.namespace}`);
  if (input.name) out.push(`${TAG.podName}:${input.name}`);
  if (input.phase) out.push(phaseTag(input.phase));
  if (input.node) out.push(`${TAG.node}:${input.node}`);
  const owner = input.owner;
  if (owner) {
    if (owner.kind) out.push(`${TAG.ownerKind}:${owner.kind.toLowerCase()}`);
    ownerTag(out, owner);
  }
  const workload = input.workload;
  if (workload) {
    ownerTag(out, workload.via);
    ownerTag(out, workload);
  }
  for (const s of input.services ?? []) if (s) out.push(`${TAG.service}:${s}`);
  const labels = deciding(input.labels, workload?.tagLabels);
  if (labels) {
    for (const t of UNIFIED_SERVICE_TAGS) {
      const v = labels[t.label];
      if (v) out.push(`${t.tag}:${v}`);
    }
  }
  out.sort();
  // Duplicates (an owner that is also the workload, a Service named twice) are adjacent once sorted.
  let n = 0;
  for (let i = 0; i < out.length; i++) if (i === 0 || out[i] !== out[n - 1]) out[n++] = out[i]!;
  out.length = n;
  return out;
}
