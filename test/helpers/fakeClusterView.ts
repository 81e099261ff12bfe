/**
 * An in-memory `ClusterView` (clusterview/types.ts) that tests and the bench feed directly: pods,
 * Services (with selectors), nodes and namespaces with labels, workloads, and the watches' sync status.
 * Indexed the way the real state is (pods by node, by namespace/name), so the bench measures the API,
 * not a linear scan; Services matched by selector and memoised per pod until a Service changes.
 */
import type { ClusterView, InformerSyncView, PodView, WorkloadView } from '../../src/clusterview/types.js';

export interface FakeService {
  readonly namespace: string;
  readonly name: string;
  /** An empty or absent selector selects nothing (as Kubernetes: such a Service has no endpoints from pods). */
  readonly selector?: Readonly<Record<string, string>>;
}

export interface FakeClusterView extends ClusterView {
  addPod(pod: Partial<PodView> & Pick<PodView, 'namespace' | 'name'>): PodView;
  removePod(namespace: string, name: string): void;
  addService(svc: FakeService): void;
  setNode(name: string, labels?: Record<string, string>): void;
  setNamespace(name: string, labels?: Record<string, string>, uid?: string): void;
  /** The workload of pods owned by `owner` (kind/name of the pod's first owner, in `namespace`). */
  setWorkload(namespace: string, owner: { kind: string; name: string }, workload: WorkloadView): void;
  /** Replaces the sync status (default: every watch synced). */
  setSync(status: InformerSyncView[]): void;
  /** Counts `servicesOf` calls that computed a match (not memoised). */
  readonly stats: { serviceMatches: number };
}

const key = (ns: string, name: string) => `${ns}/${name}`;

function selects(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return false;
  const entries = Object.entries(selector);
  if (entries.length === 0) return false;
  for (const [k, v] of entries) if (labels[k] !== v) return false;
  return true;
}

export const SYNCED: InformerSyncView[] = ['pods', 'nodes', 'namespaces', 'services', 'replicasets'].map((resource) => ({ resource, synced: true, objects: 0 }));

export function fakeClusterView(): FakeClusterView {
  const pods = new Map<string, PodView>();
  const byNode = new Map<string, Map<string, PodView>>();
  const services = new Map<string, FakeService[]>();
  const nodes = new Map<string, Record<string, string>>();
  const namespaces = new Map<string, { labels: Record<string, string>; uid: string }>();
  const workloads = new Map<string, WorkloadView>();
  let memo = new WeakMap<PodView, readonly string[]>();
  let sync: InformerSyncView[] = SYNCED;
  let uidSeq = 0;
  const stats = { serviceMatches: 0 };

  const unbind = (p: PodView) => {
    const m = byNode.get(p.node);
    m?.delete(key(p.namespace, p.name));
    if (m && m.size === 0) byNode.delete(p.node);
  };

  return {
    stats,
    addPod(partial) {
      const pod: PodView = { uid: `uid-${++uidSeq}`, node: '', phase: 'Running', labels: {}, ...partial };
      const k = key(pod.namespace, pod.name);
      const old = pods.get(k);
      if (old) unbind(old);
      pods.set(k, pod);
      if (pod.node) {
        let m = byNode.get(pod.node);
        if (!m) byNode.set(pod.node, (m = new Map()));
        m.set(k, pod);
      }
      return pod;
    },
    removePod(namespace, name) {
      const p = pods.get(key(namespace, name));
      if (!p) return;
      pods.delete(key(namespace, name));
      unbind(p);
    },
    addService(svc) {
      const list = services.get(svc.namespace) ?? [];
      services.set(svc.namespace, [...list.filter((s) => s.name !== svc.name), svc]);
      memo = new WeakMap();
    },
    setNode(name, labels = {}) {
      nodes.set(name, labels);
    },
    setNamespace(name, labels = {}, uid = `ns-uid-${name}`) {
      namespaces.set(name, { labels, uid });
    },
    setWorkload(namespace, owner, workload) {
      workloads.set(`${namespace}/${owner.kind}/${owner.name}`, workload);
    },
    setSync(status) {
      sync = status;
    },

    isSynced: () => sync.every((s) => s.synced && s.lastError === undefined),
    syncStatus: () => sync,
    podsOfNode: (node) => byNode.get(node)?.values() ?? [],
    pod: (namespace, name) => pods.get(key(namespace, name)),
    servicesOf(pod) {
      const hit = memo.get(pod);
      if (hit) return hit;
      stats.serviceMatches++;
      const names = (services.get(pod.namespace) ?? []).filter((s) => selects(s.selector, pod.labels)).map((s) => s.name).sort();
      memo.set(pod, names);
      return names;
    },
    workloadOf: (pod) => (pod.owner ? workloads.get(`${pod.namespace}/${pod.owner.kind}/${pod.owner.name}`) : undefined),
    allPods: () => pods.values(),
    hasNode: (node) => nodes.has(node),
    podCountOfNode: (node) => byNode.get(node)?.size ?? 0,
    nodeLabels: (node) => nodes.get(node),
    namespaceLabels: (ns) => namespaces.get(ns)?.labels,
    clusterId: () => namespaces.get('kube-system')?.uid,
    *nodes() {
      const seen = new Set<string>();
      for (const n of nodes.keys()) {
        seen.add(n);
        yield n;
      }
      for (const n of byNode.keys()) if (!seen.has(n)) yield n;
    },
  };
}
