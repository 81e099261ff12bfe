/**
 * Which pod data comes from, when the client's claim (`Origin`: an entity id, a container id) and what the
 * kernel or the network says (`Sender`) are both known (pure). What is attested wins, as in the stack's
 * agent, whose origin detection over Unix sockets takes the peer's credentials over the payload's tags:
 *
 * Unix sockets (the peer's pid → its cgroup, `CgroupFacts`):
 * - the pid's container or pod is one of this node's → that pod, whatever the claim (a claim of another
 *   pod is a mis-attribution: `overridden`);
 * - the pid is in a container this node has not listed yet → that container (resolved once listed); a
 *   claim of a pod that is listed is not taken (`overridden`);
 * - the pid is in no container → a process of the node itself (root on the node can do anything anyway):
 *   its claim is taken (`host`);
 * - the pid cannot be read (0: outside the node agent's pid namespace, i.e. no `hostPID`; or gone) → the
 *   claim, unverified (`unattested`).
 *
 * TCP and UDP (the source address):
 * - the address is a pod's of this node (not on the host network) → that pod (another pod claimed:
 *   `overridden`); a sender may so be tagged without claiming anything;
 * - else a claimed pod is taken only if it could have sent from there: a host-network pod from the node's
 *   own addresses (loopback, the node's IPs), another pod only while the kubelet has not given its IP yet
 *   (a pod just started), or from the node's own addresses (`unattested`): a pod's traffic to the node
 *   agent's host ports (hostip mode) reaches it masqueraded to the node's address by the CNI's portmap
 *   plugin (`snat`, its default, seen on the real node), so there the network no longer says which pod
 *   sent it and the claim is all there is, as in the stack's agent. Socket mode (peer credentials) and
 *   service mode (the source address kept) stay attested. Otherwise the claim is not trusted
 *   (`untrusted`) and the data goes out with no pod's tags.
 */
import type { Origin, ResolvedOrigin } from '../types.js';
import type { PodLookup } from '../origin.js';
import type { CgroupFacts } from './cgroup.js';

export type Outcome =
  /** The claim was what the sender is (or named no pod and nothing better was known). */
  | 'claim'
  /** Attested, and the claim agreed or said nothing. */
  | 'attested'
  /** Attested, and the claim named another pod: a mis-attribution, overridden. */
  | 'overridden'
  /** The claim names a pod the sender's address cannot be: dropped. */
  | 'untrusted'
  /** A process of the node (no container): its claim taken. */
  | 'host'
  /** The sender's pid could not be read, or it came through a host port (the node's address): its claim taken, unverified. */
  | 'unattested';

export const OUTCOMES: readonly Outcome[] = ['claim', 'attested', 'overridden', 'untrusted', 'host', 'unattested'];

export interface Verdict {
  /** The origin to resolve: the claim itself (same object) when it stands. */
  readonly origin: Origin;
  readonly outcome: Outcome;
  /** The pod the claim named, when it was overridden or not trusted (for the log). */
  readonly claimed?: ResolvedOrigin;
}

const NO_ORIGIN: Origin = Object.freeze({});

/** One origin object per pod (and pod list): the DogStatsD intake then finds it by identity, without allocating per datagram. */
const POD_ORIGINS = new WeakMap<ResolvedOrigin, Origin>();

/** `{ entityId: uid }`, or the claim itself when it already says exactly that. */
function podOrigin(claim: Origin, pod: ResolvedOrigin): Origin {
  if (claim.entityId === pod.uid && claim.containerId === undefined) return claim;
  let o = POD_ORIGINS.get(pod);
  if (!o) POD_ORIGINS.set(pod, (o = Object.freeze({ entityId: pod.uid })));
  return o;
}

export function decideBySocket(claim: Origin, facts: CgroupFacts | undefined, pods: PodLookup): Verdict {
  if (facts === undefined) return { origin: claim, outcome: 'unattested' };
  if (facts.containerId === undefined && facts.podUid === undefined) return { origin: claim, outcome: 'host' };
  const attested = (facts.containerId !== undefined ? pods.byContainer(facts.containerId) : undefined) ?? (facts.podUid !== undefined ? pods.byUid(facts.podUid) : undefined);
  const claimed = pods.claimed(claim);
  if (attested) {
    if (claimed && claimed.uid !== attested.uid) return { origin: podOrigin({}, attested), outcome: 'overridden', claimed };
    return { origin: podOrigin(claim, attested), outcome: 'attested' };
  }
  // A container (or pod) this node has not listed yet: it stands for itself, and is looked up again.
  const own: Origin = facts.containerId !== undefined ? { containerId: facts.containerId } : { entityId: facts.podUid as string };
  return claimed ? { origin: own, outcome: 'overridden', claimed } : { origin: own, outcome: 'attested' };
}

export function decideByAddress(claim: Origin, ip: string, pods: PodLookup): Verdict {
  const attested = pods.byIp(ip);
  const claimed = pods.claimed(claim);
  if (attested) {
    if (claimed && claimed.uid !== attested.uid) return { origin: podOrigin({}, attested), outcome: 'overridden', claimed };
    return { origin: podOrigin(claim, attested), outcome: 'attested' };
  }
  if (!claimed) return { origin: claim, outcome: 'claim' };
  const fromNode = pods.isNodeAddress(ip);
  if (claimed.hostNetwork) return fromNode ? { origin: claim, outcome: 'claim' } : { origin: NO_ORIGIN, outcome: 'untrusted', claimed };
  if ((claimed.ips?.length ?? 0) === 0) return { origin: claim, outcome: 'claim' };
  return fromNode ? { origin: claim, outcome: 'unattested' } : { origin: NO_ORIGIN, outcome: 'untrusted', claimed };
}
