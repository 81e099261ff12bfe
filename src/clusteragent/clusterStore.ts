/**
 * The cluster agent's in-memory cluster state (SPEC §9), without I/O: Kubernetes objects in (as watch
 * events deliver them), compact records and the indexes the API's answers need out (`ClusterView`).
 *
 * Kept, and nothing else (never whole objects, so memory stays flat per pod at 150,000 pods):
 * - pods: namespace, name, uid, node, phase, labels (for Service selectors and the pod's own
 *   `tags.datadoghq.com/*`), first owner, creation time, and what Tether injected (`podInjection.ts`,
 *   one shared record per distinct set of marks, for the console);
 * - ReplicaSets and Jobs: their controller when it is a Deployment / CronJob (the owner walk of SPEC §5,
 *   as `kube/facts.ts` does it against the API), and their `tags.datadoghq.com/*` labels;
 * - Deployments, StatefulSets, DaemonSets, CronJobs: their `tags.datadoghq.com/*` labels;
 * - Services: their selector; nodes and namespaces: their labels; kube-system's uid (the cluster id).
 * Indexes: pods by node, pods by namespace and name, Services by namespace. Strings and label maps are
 * interned (`intern.ts`): the 30 pods of a ReplicaSet share one label map.
 *
 * One code path: `startClusterState` feeds its informers' events through `compact` (the informers'
 * transform) and `put`/`remove` (their handlers), and tests and the bench through `apply`, which is
 * exactly `compact` then `put`, or `remove`.
 */
import { OWNER_KINDS, ownerKindOf } from '../kube/ownerKinds.js';
import { UNIFIED_SERVICE_TAG_PREFIX } from '../config/conventions.js';
import type { LabelMap, OwnerRef } from '../tagging/podTags.js';
import { createInternPool, EMPTY_LABELS, type InternPool, type InternPoolOptions } from './intern.js';
import { creationSeconds, NO_INJECTION, podInjectionFacts } from '../clusterview/podInjection.js';
import type { ClusterChange, ClusterChanges, ClusterView, InformerSyncView, PodView, WorkloadView } from '../clusterview/types.js';
import { CLUSTER_RESOURCES, type ClusterResource } from '../kube/watchedResources.js';

/** A ReplicaSet or Job: the controller followed for tags, when it is of the followed kind. */
export interface ControlledRecord {
  readonly controller?: OwnerRef;
  readonly tagLabels: LabelMap;
}
export interface WorkloadRecord {
  readonly tagLabels: LabelMap;
}
export interface NamespaceRecord {
  readonly labels: LabelMap;
  /** Only kube-system's (the cluster id). */
  readonly uid?: string;
}
export interface ServiceRecord {
  /** Undefined when the selector is absent or empty: such a Service selects no pod (as Kubernetes' endpoints). */
  readonly selector?: LabelMap;
}

/** What the store keeps of one object of each resource. */
export interface CompactRecords {
  pods: PodView;
  nodes: LabelMap;
  namespaces: NamespaceRecord;
  services: ServiceRecord;
  replicasets: ControlledRecord;
  jobs: ControlledRecord;
  deployments: WorkloadRecord;
  statefulsets: WorkloadRecord;
  daemonsets: WorkloadRecord;
  cronjobs: WorkloadRecord;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ClusterStore extends ClusterView, ClusterChanges {
  /** One watch event: `compact` then `put`, or `remove` for DELETED. Throws on an object it cannot key. */
  apply(resource: ClusterResource, type: WatchEventType, obj: unknown): void;
  /** What is kept of `obj`; throws (naming the problem) on an object without a name or with odd fields. */
  compact<R extends ClusterResource>(resource: R, obj: unknown): CompactRecords[R];
  /** Adds or replaces the object `key` (`namespace/name`, or `name` when cluster-scoped). */
  put<R extends ClusterResource>(resource: R, key: string, record: CompactRecords[R]): void;
  remove(resource: ClusterResource, key: string): void;
  /** How many objects of each resource are kept. */
  count(resource: ClusterResource): number;
  internStats(): ReturnType<InternPool['stats']>;
}

export interface ClusterStoreOptions {
  /** Where `isSynced`/`syncStatus` come from (the informers); default: every resource synced. */
  readonly syncStatus?: (store: ClusterStore) => readonly InformerSyncView[];
  readonly intern?: InternPoolOptions;
}

// ---------------------------------------------------------------------------------------------------
// Reading objects at the boundary (they come from the API server as JSON: check, never assume)

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const field = (v: unknown, name: string): unknown => (isObj(v) ? v[name] : undefined);
const optString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function metaOf(resource: ClusterResource, obj: unknown): { meta: Obj; name: string; namespace: string } {
  const meta = field(obj, 'metadata');
  const name = field(meta, 'name');
  if (!isObj(meta) || typeof name !== 'string' || name === '') throw new Error(`a ${resource} object without metadata.name`);
  return { meta, name, namespace: optString(meta.namespace) ?? '' };
}

interface RawOwnerRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly controller?: unknown;
}
function ownerRefs(meta: Obj): RawOwnerRef[] {
  const refs = meta.ownerReferences;
  if (!Array.isArray(refs)) return [];
  return refs.filter((r): r is RawOwnerRef => isObj(r) && typeof r.kind === 'string' && typeof r.name === 'string' && typeof r.apiVersion === 'string');
}

/** `key` as `objectKey` (kube/informer.ts) builds it, split: `namespace/name` or `name`. */
function splitKey(key: string): [namespace: string, name: string] {
  const i = key.indexOf('/');
  return i < 0 ? ['', key] : [key.slice(0, i), key.slice(i + 1)];
}

/** Records by namespace, then name; `set`/`delete` take the informer's key (`namespace/name`). */
class NamespacedMap<V> {
  private readonly byNs = new Map<string, Map<string, V>>();
  size = 0;
  get(namespace: string, name: string): V | undefined {
    return this.byNs.get(namespace)?.get(name);
  }
  set(key: string, value: V, pool: InternPool): void {
    const [namespace, name] = splitKey(key);
    let m = this.byNs.get(namespace);
    if (!m) this.byNs.set(pool.str(namespace), (m = new Map()));
    if (!m.has(name)) this.size++;
    m.set(name, value);
  }
  delete(key: string): void {
    const [namespace, name] = splitKey(key);
    const m = this.byNs.get(namespace);
    if (!m?.delete(name)) return;
    this.size--;
    if (m.size === 0) this.byNs.delete(namespace);
  }
}

const EMPTY_NAMES: readonly string[] = Object.freeze([]);

function selects(selector: LabelMap, labels: LabelMap): boolean {
  for (const k in selector) if (labels[k] !== selector[k]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------------
// The store

export function createClusterStore(opts: ClusterStoreOptions = {}): ClusterStore {
  const pool = createInternPool(opts.intern);

  /** namespace → name → pod: no `namespace/name` string kept per pod. */
  const podsByKey = new Map<string, Map<string, PodView>>();
  /** node → its pods; unscheduled pods (node '') are in no set. */
  const podsByNode = new Map<string, Set<PodView>>();
  let podCount = 0;
  const nodes = new Map<string, LabelMap>();
  const namespaces = new Map<string, NamespaceRecord>();
  let kubeSystemUid: string | undefined;
  /** namespace → Service name → record. */
  const services = new Map<string, Map<string, ServiceRecord>>();
  /**
   * namespace → pod label map → the Services selecting it. Label maps are shared by the pods of a
   * ReplicaSet, so one node's answer mostly hits; dropped for a namespace whenever its Services change.
   */
  const selectedCache = new Map<string, WeakMap<LabelMap, readonly string[]>>();
  /** Workloads by resource, by namespace and name (looked up per pod per answer: no key string built). */
  const controlled = { replicasets: new NamespacedMap<ControlledRecord>(), jobs: new NamespacedMap<ControlledRecord>() };
  const workloads = {
    deployments: new NamespacedMap<WorkloadRecord>(),
    statefulsets: new NamespacedMap<WorkloadRecord>(),
    daemonsets: new NamespacedMap<WorkloadRecord>(),
    cronjobs: new NamespacedMap<WorkloadRecord>(),
  };
  const workloadResourceOfKind: Readonly<Record<string, keyof typeof workloads>> = {
    Deployment: 'deployments',
    StatefulSet: 'statefulsets',
    DaemonSet: 'daemonsets',
    CronJob: 'cronjobs',
  };

  const tagLabelsOf = (meta: Obj): LabelMap => {
    const labels = meta.labels;
    if (!isObj(labels)) return EMPTY_LABELS;
    let tagLabels: Record<string, unknown> | undefined;
    for (const k in labels) {
      if (k.startsWith(UNIFIED_SERVICE_TAG_PREFIX)) (tagLabels ??= {})[k] = labels[k];
    }
    return tagLabels ? pool.labels(tagLabels) : EMPTY_LABELS;
  };

  /** For a ReplicaSet (Job): its controller if it is a Deployment (CronJob), the one kind whose labels are followed. */
  const controlledRecord = (meta: Obj, follows: 'apps/ReplicaSet' | 'batch/Job'): ControlledRecord => {
    const controller = ownerRefs(meta).find((r) => r.controller === true);
    const followed = controller && ownerKindOf(controller) === OWNER_KINDS[follows].follow ? pool.ref(controller.kind, controller.name) : undefined;
    const tagLabels = tagLabelsOf(meta);
    return Object.freeze(followed ? { controller: followed, tagLabels } : { tagLabels });
  };

  const compactors: { [R in ClusterResource]: (obj: unknown) => CompactRecords[R] } = {
    pods(obj) {
      const { meta, name, namespace } = metaOf('pods', obj);
      if (!namespace) throw new Error(`pod ${name} without metadata.namespace`);
      const first = ownerRefs(meta)[0];
      const spec = field(obj, 'spec');
      const seen = podInjectionFacts(spec);
      const createdS = creationSeconds(meta);
      // `injection` only on pods with a mark (shared among equal ones); absent means none.
      const pod: PodView = {
        namespace: pool.str(namespace),
        name,
        uid: optString(meta.uid) ?? '',
        node: pool.str(optString(field(spec, 'nodeName')) ?? ''),
        phase: pool.str(optString(field(field(obj, 'status'), 'phase')) ?? ''),
        labels: pool.labels(meta.labels),
        ...(first ? { owner: pool.ref(first.kind, first.name) } : {}),
        ...(seen.facts === NO_INJECTION ? {} : { injection: pool.shared(`injection\u0000${seen.key}`, () => seen.facts) }),
        ...(createdS !== undefined ? { createdS } : {}),
      };
      return Object.freeze(pod);
    },
    nodes: (obj) => pool.labels(metaOf('nodes', obj).meta.labels),
    namespaces(obj) {
      const { meta, name } = metaOf('namespaces', obj);
      const labels = pool.labels(meta.labels);
      const uid = name === 'kube-system' ? optString(meta.uid) : undefined;
      return Object.freeze(uid ? { labels, uid } : { labels });
    },
    services(obj) {
      metaOf('services', obj);
      const selector = pool.labels(field(field(obj, 'spec'), 'selector'));
      return Object.freeze(selector === EMPTY_LABELS ? {} : { selector });
    },
    replicasets: (obj) => controlledRecord(metaOf('replicasets', obj).meta, 'apps/ReplicaSet'),
    jobs: (obj) => controlledRecord(metaOf('jobs', obj).meta, 'batch/Job'),
    deployments: (obj) => Object.freeze({ tagLabels: tagLabelsOf(metaOf('deployments', obj).meta) }),
    statefulsets: (obj) => Object.freeze({ tagLabels: tagLabelsOf(metaOf('statefulsets', obj).meta) }),
    daemonsets: (obj) => Object.freeze({ tagLabels: tagLabelsOf(metaOf('daemonsets', obj).meta) }),
    cronjobs: (obj) => Object.freeze({ tagLabels: tagLabelsOf(metaOf('cronjobs', obj).meta) }),
  };

  const unindexPod = (pod: PodView): void => {
    if (!pod.node) return;
    const set = podsByNode.get(pod.node);
    if (!set) return;
    set.delete(pod);
    if (set.size === 0) podsByNode.delete(pod.node);
  };
  const indexPod = (pod: PodView): void => {
    if (!pod.node) return;
    let set = podsByNode.get(pod.node);
    if (!set) podsByNode.set(pod.node, (set = new Set()));
    set.add(pod);
  };

  const listeners = new Set<(change: ClusterChange) => void>();
  const notify = (change: ClusterChange): void => {
    for (const l of listeners) l(change);
  };

  const putPod = (pod: PodView): void => {
    let byName = podsByKey.get(pod.namespace);
    if (!byName) podsByKey.set(pod.namespace, (byName = new Map()));
    const old = byName.get(pod.name);
    if (old) unindexPod(old);
    else podCount++;
    byName.set(pod.name, pod);
    indexPod(pod);
    if (listeners.size > 0) notify({ kind: 'pod', old, pod });
  };
  const removePod = (namespace: string, name: string): void => {
    const byName = podsByKey.get(namespace);
    const old = byName?.get(name);
    if (!byName || !old) return;
    byName.delete(name);
    if (byName.size === 0) podsByKey.delete(namespace);
    podCount--;
    unindexPod(old);
    if (listeners.size > 0) notify({ kind: 'pod', old, pod: undefined });
  };

  const putService = (key: string, record: ServiceRecord | undefined): void => {
    const [namespace, name] = splitKey(key);
    let byName = services.get(namespace);
    if (record) {
      if (!byName) services.set(namespace, (byName = new Map()));
      byName.set(name, record);
    } else if (byName?.delete(name) && byName.size === 0) {
      services.delete(namespace);
    }
    selectedCache.delete(namespace);
  };

  const store: ClusterStore = {
    compact: (resource, obj) => compactors[resource](obj),

    put(which, key, record) {
      // Widened, so that the switch narrows it (a type parameter does not narrow).
      const resource: ClusterResource = which;
      switch (resource) {
        case 'pods':
          return putPod(record as PodView);
        case 'nodes': {
          const existed = nodes.has(key);
          nodes.set(pool.str(key), record as LabelMap);
          if (!existed && listeners.size > 0) notify({ kind: 'node', name: key, exists: true });
          return;
        }
        case 'namespaces': {
          const ns = record as NamespaceRecord;
          namespaces.set(pool.str(key), ns);
          if (key === 'kube-system') kubeSystemUid = ns.uid;
          return;
        }
        case 'services':
          return putService(key, record as ServiceRecord);
        case 'replicasets':
        case 'jobs':
          controlled[resource].set(key, record as ControlledRecord, pool);
          return;
        default:
          workloads[resource].set(key, record as WorkloadRecord, pool);
      }
    },

    remove(resource, key) {
      switch (resource) {
        case 'pods':
          return removePod(...splitKey(key));
        case 'nodes':
          if (nodes.delete(key) && listeners.size > 0) notify({ kind: 'node', name: key, exists: false });
          return;
        case 'namespaces':
          namespaces.delete(key);
          if (key === 'kube-system') kubeSystemUid = undefined;
          return;
        case 'services':
          return putService(key, undefined);
        case 'replicasets':
        case 'jobs':
          controlled[resource].delete(key);
          return;
        default:
          workloads[resource].delete(key);
      }
    },

    apply(resource, type, obj) {
      const { name, namespace } = metaOf(resource, obj);
      const key = namespace ? `${namespace}/${name}` : name;
      if (type === 'DELETED') store.remove(resource, key);
      else store.put(resource, key, store.compact(resource, obj));
    },

    count(resource) {
      switch (resource) {
        case 'pods':
          return podCount;
        case 'nodes':
          return nodes.size;
        case 'namespaces':
          return namespaces.size;
        case 'services': {
          let n = 0;
          for (const m of services.values()) n += m.size;
          return n;
        }
        case 'replicasets':
        case 'jobs':
          return controlled[resource].size;
        default:
          return workloads[resource].size;
      }
    },

    internStats: () => pool.stats(),

    syncStatus: () => opts.syncStatus?.(store) ?? CLUSTER_RESOURCES.map((resource) => ({ resource, synced: true, objects: store.count(resource) })),
    isSynced: () => store.syncStatus().every((s) => s.synced),

    podsOfNode: (node) => podsByNode.get(node) ?? [],
    pod: (namespace, name) => podsByKey.get(namespace)?.get(name),

    servicesOf(pod) {
      const inNs = services.get(pod.namespace);
      if (!inNs) return EMPTY_NAMES;
      let cache = selectedCache.get(pod.namespace);
      const hit = cache?.get(pod.labels);
      if (hit) return hit;
      const names: string[] = [];
      for (const [name, svc] of inNs) if (svc.selector && selects(svc.selector, pod.labels)) names.push(name);
      const result = names.length === 0 ? EMPTY_NAMES : Object.freeze(names.sort());
      if (!cache) selectedCache.set(pod.namespace, (cache = new WeakMap()));
      cache.set(pod.labels, result);
      return result;
    },

    workloadOf(pod) {
      const owner = pod.owner;
      if (!owner) return undefined;
      const ns = pod.namespace;
      const viaController = (rec: ControlledRecord | undefined, parents: NamespacedMap<WorkloadRecord>): WorkloadView | undefined => {
        if (!rec) return undefined;
        if (!rec.controller) return { kind: owner.kind, name: owner.name, tagLabels: rec.tagLabels };
        // The controller not (yet) known: its name still tells the workload, its labels not.
        const parent = parents.get(ns, rec.controller.name);
        return { kind: rec.controller.kind, name: rec.controller.name, via: owner, tagLabels: parent?.tagLabels ?? EMPTY_LABELS };
      };
      switch (owner.kind) {
        case 'ReplicaSet':
          return viaController(controlled.replicasets.get(ns, owner.name), workloads.deployments);
        case 'Job':
          return viaController(controlled.jobs.get(ns, owner.name), workloads.cronjobs);
        default: {
          const resource = Object.hasOwn(workloadResourceOfKind, owner.kind) ? workloadResourceOfKind[owner.kind] : undefined;
          const rec = resource && workloads[resource].get(ns, owner.name);
          return rec ? { kind: owner.kind, name: owner.name, tagLabels: rec.tagLabels } : undefined;
        }
      }
    },

    nodeLabels: (node) => nodes.get(node),
    namespaceLabels: (namespace) => namespaces.get(namespace)?.labels,
    clusterId: () => kubeSystemUid,

    *nodes() {
      for (const n of nodes.keys()) yield n;
      for (const n of podsByNode.keys()) if (!nodes.has(n)) yield n;
    },
    *allPods() {
      for (const byName of podsByKey.values()) yield* byName.values();
    },
    hasNode: (node) => nodes.has(node),
    podCountOfNode: (node) => podsByNode.get(node)?.size ?? 0,

    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
  return store;
}
