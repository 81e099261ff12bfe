/**
 * A pod's tags as OTLP attributes (pure). The resource of what a pod sent carries its Kubernetes tags
 * twice: under the OpenTelemetry semantic-convention names any OTLP backend understands
 * (`k8s.namespace.name`, `k8s.deployment.name`, `service.name`, ...), and as the tags themselves, one
 * attribute per tag key (`kube_deployment`, `kube_service`, ...), so that whatever searched the stack's
 * tag names finds them unchanged and tags with no convention (`kube_service`, `pod_phase`) are kept.
 * A key the pod has several values of (two Services) becomes a string array; a tag without a value
 * (`beta`) an empty string.
 */
import type { Attributes } from '@opentelemetry/api';
import { OWNER_KIND_TAGS, TAG } from '../../../tagging/podTags.js';
import type { ResolvedOrigin } from '../types.js';

/** The semantic-convention attribute each of the stack's tag keys maps to (one value: the first). */
export const SEMCONV_BY_TAG: Readonly<Record<string, string>> = Object.freeze({
  [TAG.namespace]: 'k8s.namespace.name',
  [TAG.podName]: 'k8s.pod.name',
  [TAG.node]: 'k8s.node.name',
  [OWNER_KIND_TAGS.Deployment!]: 'k8s.deployment.name',
  [OWNER_KIND_TAGS.ReplicaSet!]: 'k8s.replicaset.name',
  [OWNER_KIND_TAGS.StatefulSet!]: 'k8s.statefulset.name',
  [OWNER_KIND_TAGS.DaemonSet!]: 'k8s.daemonset.name',
  [OWNER_KIND_TAGS.Job!]: 'k8s.job.name',
  [OWNER_KIND_TAGS.CronJob!]: 'k8s.cronjob.name',
  service: 'service.name',
  version: 'service.version',
  env: 'deployment.environment.name',
});

export const ATTR = {
  podUid: 'k8s.pod.uid',
  namespace: 'k8s.namespace.name',
  podName: 'k8s.pod.name',
  serviceName: 'service.name',
  serviceVersion: 'service.version',
  environment: 'deployment.environment.name',
} as const;

/** Splits `key:value` at the first colon; a tag without one is a key with an empty value. */
export function splitTag(tag: string): [string, string] {
  const i = tag.indexOf(':');
  return i < 0 ? [tag, ''] : [tag.slice(0, i), tag.slice(i + 1)];
}

/** Tags as attributes, one per key: a single value as a string, several (in order) as a string array. */
export function tagsToAttributes(tags: readonly string[]): Attributes {
  const out: Record<string, string | string[]> = {};
  for (const tag of tags) {
    const [k, v] = splitTag(tag);
    if (!k) continue;
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else if (Array.isArray(prev)) {
      if (!prev.includes(v)) prev.push(v);
    } else if (prev !== v) out[k] = [prev, v];
  }
  return out;
}

/** The semantic-convention attributes the stack's tags map to (the first value of each key). */
export function semconvAttributes(tags: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tag of tags) {
    const [k, v] = splitTag(tag);
    const name = SEMCONV_BY_TAG[k];
    if (name && v && out[name] === undefined) out[name] = v;
  }
  return out;
}

/**
 * The resource attributes of what a pod sent: its tags (as they are, then under the conventions) and
 * its identity from the resolver (`k8s.pod.uid`, namespace and name, which win over tags). Nothing for
 * an unknown origin: its data keeps only its own tags, on its data points or spans.
 */
export function podResourceAttributes(origin: ResolvedOrigin | undefined): Attributes {
  if (!origin) return {};
  return {
    ...tagsToAttributes(origin.tags),
    ...semconvAttributes(origin.tags),
    [ATTR.namespace]: origin.namespace,
    [ATTR.podName]: origin.pod,
    [ATTR.podUid]: origin.uid,
  };
}
