/**
 * The origin resolver (pure): which of this node's pods a datagram or trace payload came from, and that
 * pod's tags. It answers over the node agent's current pod list (`NodeAgent.pods()`), by two keys:
 *
 * - the entity id (`DD_ENTITY_ID`, the pod's UID from the downward API): as sent in the
 *   `dd.internal.entity_id` tag or the `Datadog-Entity-ID` header. The stack also sends prefixed forms
 *   there: `ci-<container id>` (a tracer or client that read its container id from its cgroup) and
 *   `in-<cgroup inode>` (cgroup v2, where the id is not in the path). `ci-` is looked up as a container;
 *   `in-` is accepted when what follows is a pod UID, and is otherwise an inode this node agent cannot map
 *   (it does not read the host's cgroup tree), counted as such;
 * - the container id (DogStatsD's `|c:`, the `Datadog-Container-ID` header): matched against the
 *   kubelet's `containerStatuses[].containerID`, whose runtime prefix (`containerd://`, `docker://`,
 *   `cri-o://`) is stripped.
 *
 * The entity id wins over the container id: it is what the webhook injected for exactly this pod.
 *
 * The index is rebuilt only when the pod list changes: the node agent replaces its list (a new array)
 * on every kubelet or cluster-agent answer, so comparing the array's identity on each lookup costs
 * nothing and a lookup is two map reads. Resolved origins are shared objects, one per pod and index, so
 * callers may group by identity.
 */
import type { PodWithTags } from '../podTags.js';
import type { Origin, OriginResolver, ResolvedOrigin } from './types.js';

/** Why an origin did not resolve. */
export type UnknownOriginReason =
  /** Neither an entity id nor a container id was sent. */
  | 'no-origin'
  /** An entity id (a pod UID) that is not a pod of this node. */
  | 'unknown-pod'
  /** A container id that is no container of this node's pods. */
  | 'unknown-container'
  /** Only a cgroup inode (`in-<inode>`, `Origin.cgroupInode`), which this node agent does not map to containers. */
  | 'cgroup-inode';

export const UNKNOWN_ORIGIN_REASONS: readonly UnknownOriginReason[] = ['no-origin', 'unknown-pod', 'unknown-container', 'cgroup-inode'];

export interface OriginStats {
  readonly resolved: number;
  readonly unknown: Readonly<Record<UnknownOriginReason, number>>;
  /** Pods in the current index. */
  readonly pods: number;
  /** Times the index was rebuilt (the pod list changed). */
  readonly rebuilds: number;
}

export interface CountingOriginResolver extends OriginResolver, PodLookup {
  /** Like `resolve`, and says why not when it does not (counted the same way). */
  lookup(origin: Origin): ResolvedOrigin | UnknownOriginReason;
  stats(): OriginStats;
}

/** The current pods by what attests a sender (`attest/`): read-only lookups, never counted. */
export interface PodLookup {
  /** The pod `origin` claims, if it names one of this node's (as `resolve`, without counting). */
  claimed(origin: Origin): ResolvedOrigin | undefined;
  byUid(uid: string): ResolvedOrigin | undefined;
  byContainer(id: string): ResolvedOrigin | undefined;
  /** The pod (not on the host network) whose IP this is. */
  byIp(ip: string): ResolvedOrigin | undefined;
  /** The node's own addresses (its pods' host IPs, its host-network pods' IPs) and loopback. */
  isNodeAddress(ip: string): boolean;
}

/** The stack's prefixes in entity ids and `|c:` fields. */
const CONTAINER_PREFIX = 'ci-';
const INODE_PREFIX = 'in-';
/** `containerd://abc`, `docker://abc`, `cri-o://abc`: the kubelet's form of a container id. */
const RUNTIME_PREFIX = /^[a-z0-9.+-]+:\/\//i;

/** A container id as the index keys it: no runtime scheme, no `ci-` prefix, lower case (pure). */
export function normaliseContainerId(id: string): string {
  let s = id.trim().replace(RUNTIME_PREFIX, '');
  if (s.startsWith(CONTAINER_PREFIX)) s = s.slice(CONTAINER_PREFIX.length);
  return s.toLowerCase();
}

interface Index {
  readonly byUid: ReadonlyMap<string, ResolvedOrigin>;
  readonly byContainer: ReadonlyMap<string, ResolvedOrigin>;
  readonly byIp: ReadonlyMap<string, ResolvedOrigin>;
  readonly nodeAddresses: ReadonlySet<string>;
}

const EMPTY_INDEX: Index = { byUid: new Map(), byContainer: new Map(), byIp: new Map(), nodeAddresses: new Set() };

/** An address as compared here: IPv4-mapped IPv6 (`::ffff:10.0.0.5`, what a dual-stack listener reports) as IPv4, lower case. */
export function normaliseIp(ip: string): string {
  const s = ip.trim().toLowerCase();
  return s.startsWith('::ffff:') && s.includes('.') ? s.slice(7) : s;
}

const isLoopback = (ip: string): boolean => ip === '::1' || ip.startsWith('127.');

function buildIndex(pods: readonly PodWithTags[]): Index {
  const byUid = new Map<string, ResolvedOrigin>();
  const byContainer = new Map<string, ResolvedOrigin>();
  const byIp = new Map<string, ResolvedOrigin>();
  const nodeAddresses = new Set<string>();
  for (const p of pods) {
    const ips = p.podIps?.map(normaliseIp);
    const resolved: ResolvedOrigin = { namespace: p.namespace, pod: p.name, uid: p.uid, tags: p.tags, ...(ips ? { ips } : {}), ...(p.hostNetwork ? { hostNetwork: true } : {}) };
    byUid.set(p.uid.toLowerCase(), resolved);
    for (const c of p.containerIds) {
      const id = normaliseContainerId(c);
      if (id) byContainer.set(id, resolved);
    }
    for (const ip of ips ?? []) {
      if (p.hostNetwork) nodeAddresses.add(ip);
      // A finished pod's IP may already be another's: the running one keeps it.
      else if (!byIp.has(ip) || p.phase === 'Running') byIp.set(ip, resolved);
    }
    for (const ip of p.hostIps ?? []) nodeAddresses.add(normaliseIp(ip));
  }
  return { byUid, byContainer, byIp, nodeAddresses };
}

/** Origins that name a pod or container this node may simply not have listed yet (a pod just started). */
const MAY_BE_NEW: ReadonlySet<UnknownOriginReason> = new Set(['unknown-pod', 'unknown-container']);

/**
 * A resolver over `pods()` (the node agent's `pods`, read on each lookup and re-indexed when it returns
 * a different list). `onUnknown` is called when an origin names a pod or container the list does not
 * hold (the caller rate-limits the re-read it starts).
 */
export function createOriginResolver(pods: () => readonly PodWithTags[], onUnknown?: () => void): CountingOriginResolver {
  let source: readonly PodWithTags[] | undefined;
  let index: Index = EMPTY_INDEX;
  let rebuilds = 0;
  let resolvedCount = 0;
  const unknown: Record<UnknownOriginReason, number> = { 'no-origin': 0, 'unknown-pod': 0, 'unknown-container': 0, 'cgroup-inode': 0 };

  const current = (): Index => {
    const list = pods();
    if (list !== source) {
      source = list;
      index = buildIndex(list);
      rebuilds++;
    }
    return index;
  };

  const find = (origin: Origin): ResolvedOrigin | UnknownOriginReason => {
    const idx = current();
    let reason: UnknownOriginReason | undefined;
    const entity = origin.entityId?.trim().toLowerCase();
    if (entity) {
      if (entity.startsWith(CONTAINER_PREFIX)) {
        const found = idx.byContainer.get(entity.slice(CONTAINER_PREFIX.length));
        if (found) return found;
        reason = 'unknown-container';
      } else if (entity.startsWith(INODE_PREFIX)) {
        const found = idx.byUid.get(entity.slice(INODE_PREFIX.length));
        if (found) return found;
        reason = 'cgroup-inode';
      } else {
        const found = idx.byUid.get(entity);
        if (found) return found;
        reason = 'unknown-pod';
      }
    }
    if (origin.containerId) {
      const id = normaliseContainerId(origin.containerId);
      if (id.startsWith(INODE_PREFIX)) return reason ?? 'cgroup-inode';
      const found = id ? idx.byContainer.get(id) : undefined;
      if (found) return found;
      // The entity id's reason is the more telling one when both were sent.
      reason ??= 'unknown-container';
    }
    return reason ?? (origin.cgroupInode ? 'cgroup-inode' : 'no-origin');
  };

  const lookup = (origin: Origin): ResolvedOrigin | UnknownOriginReason => {
    const r = find(origin);
    if (typeof r === 'string') {
      unknown[r]++;
      if (MAY_BE_NEW.has(r)) onUnknown?.();
    } else resolvedCount++;
    return r;
  };

  return {
    lookup,
    resolve(origin) {
      const r = lookup(origin);
      return typeof r === 'string' ? undefined : r;
    },
    notice(origin) {
      const r = find(origin);
      if (typeof r === 'string' && MAY_BE_NEW.has(r)) onUnknown?.();
    },
    claimed(origin) {
      const r = find(origin);
      return typeof r === 'string' ? undefined : r;
    },
    byUid: (uid) => current().byUid.get(uid.toLowerCase()),
    byContainer: (id) => current().byContainer.get(normaliseContainerId(id)),
    byIp: (ip) => current().byIp.get(normaliseIp(ip)),
    isNodeAddress(ip) {
      const a = normaliseIp(ip);
      return isLoopback(a) || current().nodeAddresses.has(a);
    },
    stats() {
      current();
      return { resolved: resolvedCount, unknown: { ...unknown }, pods: index.byUid.size, rebuilds };
    },
  };
}
