/**
 * A pod's tags for `/api/v1/tether/pods/{node}`. The API takes the function as a dependency: the
 * cluster agent passes the tagger it shares with the tags webhook (`tagging/`); this default computes the
 * same kinds of tags from the `ClusterView` alone, for tests and until that tagger is wired.
 */
import { UNIFIED_SERVICE_TAGS } from '../../config/conventions.js';
import type { ClusterView, PodView } from '../stateTypes.js';

/** All the tags of `pod`, sorted. */
export type TagsOf = (view: ClusterView, pod: PodView) => string[];

/** Owner kind → tag name (the stack's names). */
const OWNER_TAG: Readonly<Record<string, string>> = {
  Deployment: 'kube_deployment',
  ReplicaSet: 'kube_replica_set',
  StatefulSet: 'kube_stateful_set',
  DaemonSet: 'kube_daemon_set',
  Job: 'kube_job',
  CronJob: 'kube_cronjob',
};

/** `tags.datadoghq.com/env` → `env`... */
const UST_TAGS = UNIFIED_SERVICE_TAGS.map((t) => ({ label: t.label, tag: t.label.slice(t.label.lastIndexOf('/') + 1) }));

export const defaultTagsOf: TagsOf = (view, pod) => {
  const tags = [`kube_namespace:${pod.namespace}`, `pod_name:${pod.name}`];
  if (pod.phase) tags.push(`pod_phase:${pod.phase.toLowerCase()}`);
  if (pod.node) tags.push(`kube_node:${pod.node}`);
  if (pod.owner) {
    tags.push(`kube_ownerref_kind:${pod.owner.kind.toLowerCase()}`);
    const t = OWNER_TAG[pod.owner.kind];
    if (t) tags.push(`${t}:${pod.owner.name}`);
  }
  const workload = view.workloadOf(pod);
  if (workload) {
    const t = OWNER_TAG[workload.kind];
    if (t && workload.name !== pod.owner?.name) tags.push(`${t}:${workload.name}`);
  }
  for (const svc of view.servicesOf(pod)) tags.push(`kube_service:${svc}`);
  // The pod's own labels win over its workload's (as in the tags webhook).
  for (const { label, tag } of UST_TAGS) {
    const value = pod.labels[label] ?? workload?.tagLabels[label];
    if (value) tags.push(`${tag}:${value}`);
  }
  return [...new Set(tags)].sort();
};
