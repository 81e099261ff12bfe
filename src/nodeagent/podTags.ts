/**
 * Joins the kubelet's pods (what runs on this node now) with the tags the cluster agent computed (pure).
 * The kubelet is the authority on which pods exist; the cluster agent on their tags. A pod the cluster
 * agent does not know yet (created since it was last asked) gets the tags the kubelet alone can tell,
 * and says so, rather than none.
 */
import type { ServicesByNamespace } from '../agentapi/types.js';
import { podTags } from '../tagging/podTags.js';
import type { KubeletPod } from './kubeletSource.js';

/** Where a pod's tags came from. */
export type TagsSource =
  /** Tether's `/api/v1/tether/pods/{node}`: every tag. */
  | 'cluster-agent'
  /** The stack's `/api/v1/tags/pod/{node}` (a cluster agent without Tether's API): the kubelet's tags plus `kube_service`. */
  | 'cluster-agent-services'
  /** The cluster agent has not answered (yet), or did not know this pod: only what the kubelet says. */
  | 'kubelet';

export interface PodWithTags {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly phase: string;
  readonly containerIds: readonly string[];
  readonly tags: readonly string[];
  readonly tagsFrom: TagsSource;
  /** The kubelet's network facts, for the intake's attestation of TCP/UDP senders (`KubeletPod`). */
  readonly podIps?: readonly string[];
  readonly hostNetwork?: boolean;
  readonly hostIps?: readonly string[];
}

/** The last tags the cluster agent gave, in one of its two answers. */
export type ClusterTags =
  | { readonly kind: 'pods'; readonly byUid: ReadonlyMap<string, readonly string[]> }
  | { readonly kind: 'services'; readonly services: ServicesByNamespace };

/**
 * What the kubelet alone tells about a pod, by the shared tagger: namespace, name, phase, node, its first
 * owner (not resolved through the API: `kube_replica_set` without `kube_deployment`) and its own
 * `tags.datadoghq.com/*` labels. Sorted.
 */
export function kubeletTags(pod: KubeletPod): string[] {
  const owner = pod.ownerReferences[0];
  return podTags({ namespace: pod.namespace, name: pod.name, phase: pod.phase, node: pod.nodeName, labels: pod.labels, ...(owner ? { owner } : {}) });
}

export function joinPodTags(pods: readonly KubeletPod[], tags: ClusterTags | undefined): PodWithTags[] {
  return pods
    .map((pod): PodWithTags => {
      const base = {
        namespace: pod.namespace,
        name: pod.name,
        uid: pod.uid,
        phase: pod.phase,
        containerIds: pod.containerIds,
        ...(pod.podIps ? { podIps: pod.podIps } : {}),
        ...(pod.hostNetwork ? { hostNetwork: true } : {}),
        ...(pod.hostIps ? { hostIps: pod.hostIps } : {}),
      };
      if (tags?.kind === 'pods') {
        const found = tags.byUid.get(pod.uid);
        if (found) return { ...base, tags: found, tagsFrom: 'cluster-agent' };
      } else if (tags?.kind === 'services') {
        const services = Object.keys(tags.services[pod.namespace]?.[pod.name] ?? {}).sort();
        return { ...base, tags: [...kubeletTags(pod), ...services.map((s) => `kube_service:${s}`)].sort(), tagsFrom: 'cluster-agent-services' };
      }
      return { ...base, tags: kubeletTags(pod).sort(), tagsFrom: 'kubelet' };
    })
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}
