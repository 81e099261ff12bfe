/**
 * Joins the kubelet's pods (what runs on this node now) with the tags the cluster agent computed (pure).
 * The kubelet is the authority on which pods exist; the cluster agent on their tags. A pod the cluster
 * agent does not know yet (created since it was last asked) gets the tags the kubelet alone can tell,
 * and says so, rather than none.
 */
import type { ServicesByNamespace } from '../agentapi/types.js';
import { OWNER_KIND_TAGS, phaseTag, podTags, TAG } from '../tagging/podTags.js';
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
 * owner, its own `tags.datadoghq.com/*` labels, and the Deployment behind a ReplicaSet owner when the
 * pod's labels prove it (deploymentOf). Sorted. A new pod's first spans and metrics are tagged with
 * these until the cluster agent's tags arrive (seconds later, on a real node): without the Deployment
 * they would land apart from the rest of its service's telemetry.
 */
export function kubeletTags(pod: KubeletPod): string[] {
  const owner = pod.ownerReferences[0];
  const tags = podTags({ namespace: pod.namespace, name: pod.name, phase: pod.phase, node: pod.nodeName, labels: pod.labels, ...(owner ? { owner } : {}) });
  const deployment = owner?.kind === 'ReplicaSet' ? deploymentOf(owner.name, pod.labels) : undefined;
  if (deployment !== undefined) tags.push(`${OWNER_KIND_TAGS['Deployment']}:${deployment}`);
  return tags;
}

/** The label the Deployment controller puts on its ReplicaSets' pods: the hash that ends the ReplicaSet's name. */
const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

/**
 * A Deployment names its ReplicaSets `<deployment>-<pod-template-hash>` and labels their pods with that
 * hash: when the pod's label ends its ReplicaSet's name, the rest is the Deployment's, with no API call.
 * A ReplicaSet made by hand (no such label, or another value) has no Deployment: undefined.
 */
export function deploymentOf(replicaSet: string, labels: Readonly<Record<string, string>> | undefined): string | undefined {
  const hash = labels?.[POD_TEMPLATE_HASH_LABEL];
  if (!hash || !replicaSet.endsWith(`-${hash}`) || replicaSet.length === hash.length + 1) return undefined;
  return replicaSet.slice(0, -(hash.length + 1));
}

const PHASE_PREFIX = `${TAG.podPhase}:`;

/**
 * The cluster agent's tags with the kubelet's phase: the cluster agent's answer holds the phase of when
 * it was asked, so a pod first listed while starting stayed `pod_phase:pending` on everything it sent
 * (seen on the real node). The kubelet is the authority on what runs now. The same array when they agree.
 */
export function withKubeletPhase(tags: readonly string[], phase: string | undefined): readonly string[] {
  const current = phase ? phaseTag(phase) : undefined;
  const i = tags.findIndex((t) => t.startsWith(PHASE_PREFIX));
  if (i === -1 ? current === undefined : tags[i] === current) return tags;
  const out = tags.filter((t) => !t.startsWith(PHASE_PREFIX));
  if (current) out.push(current);
  return out.sort();
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
        if (found) return { ...base, tags: withKubeletPhase(found, pod.phase), tagsFrom: 'cluster-agent' };
      } else if (tags?.kind === 'services') {
        const services = Object.keys(tags.services[pod.namespace]?.[pod.name] ?? {}).sort();
        return { ...base, tags: [...kubeletTags(pod), ...services.map((s) => `kube_service:${s}`)].sort(), tagsFrom: 'cluster-agent-services' };
      }
      return { ...base, tags: kubeletTags(pod).sort(), tagsFrom: 'kubelet' };
    })
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}
