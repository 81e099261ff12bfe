/**
 * The cluster agent's cluster state, live: one informer per watched collection (`kube/watchedResources.ts`),
 * cluster-wide, whose compact records and events feed one `ClusterStore` (`clusterStore.ts`). A thousand
 * node agents asking for their pods' tags cost the API server nothing more than these watches.
 *
 * The informers (kube/informer.ts) list in pages, watch with bookmarks, cut a watch that went silent and
 * re-list after 410 Gone; each keeps only the store's compact record of an object (its `transform`),
 * never the object. `isSynced()` is false until every collection has been listed, and again whenever
 * one of the watches is failing: the API's `/readyz` says so, since answers are only as fresh as the
 * watches.
 */
import type * as k8s from '@kubernetes/client-node';
import { startInformer, type Informer, type InformerOptions, type KubeObject } from '../kube/informer.js';
import { kubeConfigTransport, type ApiTransport } from '../kube/transport.js';
import type { Logger } from '../logging/logger.js';
import { createClusterStore, type ClusterStore, type CompactRecords } from './clusterStore.js';
import type { InternPoolOptions } from './intern.js';
import type { ClusterChanges, ClusterView } from '../clusterview/types.js';
import { CLUSTER_RESOURCES, WATCHED_RESOURCES, type ClusterResource } from '../kube/watchedResources.js';

export { createClusterStore, type ClusterStore, type ClusterStoreOptions, type CompactRecords, type WatchEventType } from './clusterStore.js';
export { CLUSTER_RESOURCES, WATCHED_RESOURCES, type ClusterResource } from '../kube/watchedResources.js';

/** Informer settings a caller (or a test) may override: timing, page size, clock, timers. */
export type ClusterStateTuning = Partial<
  Pick<
    InformerOptions<KubeObject>,
    'retryBaseMs' | 'retryMaxMs' | 'watchTimeoutSeconds' | 'watchIdleTimeoutMs' | 'watchTimeoutMarginMs' | 'listIdleTimeoutMs' | 'pageSize' | 'now' | 'timers' | 'random'
  >
>;

export interface ClusterStateOptions {
  /** The API server to list and watch; or `kubeConfig`, from which one is made. */
  readonly transport?: ApiTransport;
  readonly kubeConfig?: k8s.KubeConfig;
  readonly logger: Logger;
  /** Stops every watch when aborted, like `stop()`. */
  readonly signal?: AbortSignal;
  readonly tuning?: ClusterStateTuning;
  readonly intern?: InternPoolOptions;
}

export interface ClusterState extends ClusterView, ClusterChanges {
  /** Resolves once every collection has been listed; rejects if stopped before. */
  readonly synced: Promise<void>;
  /** The store the watches feed (tests and the bench read its counters). */
  readonly store: ClusterStore;
  /** Stops every watch; resolves when their requests are over. */
  stop(): Promise<void>;
}

export function startClusterState(opts: ClusterStateOptions): ClusterState {
  const transport = opts.transport ?? (opts.kubeConfig ? kubeConfigTransport(opts.kubeConfig) : undefined);
  if (!transport) throw new Error('startClusterState needs a transport or a kubeConfig to reach the API server');

  const informers = new Map<ClusterResource, Informer<unknown>>();
  const store = createClusterStore({
    ...(opts.intern ? { intern: opts.intern } : {}),
    syncStatus: (s) =>
      CLUSTER_RESOURCES.map((resource) => {
        const st = informers.get(resource)?.status();
        return { resource, synced: st?.synced ?? false, objects: s.count(resource), ...(st?.lastError ? { lastError: st.lastError } : {}) };
      }),
  });

  const start = <R extends ClusterResource>(resource: R): Informer<CompactRecords[R]> =>
    startInformer<KubeObject, CompactRecords[R]>({
      ...opts.tuning,
      transport,
      path: WATCHED_RESOURCES[resource].path,
      logger: opts.logger,
      what: `${resource} (all namespaces)`,
      ...(opts.signal ? { signal: opts.signal } : {}),
      transform: (obj) => store.compact(resource, obj),
      handlers: {
        onAdd: (record, key) => store.put(resource, key, record),
        onUpdate: (record, _old, key) => store.put(resource, key, record),
        onDelete: (_last, key) => store.remove(resource, key),
      },
    });
  for (const resource of CLUSTER_RESOURCES) informers.set(resource, start(resource) as Informer<unknown>);

  const synced = Promise.all([...informers.values()].map((i) => i.synced)).then(() => undefined);
  // A caller that never awaits `synced` must not crash the process when the state stops early.
  synced.catch(() => {});

  return {
    synced,
    store,
    stop: async () => {
      await Promise.all([...informers.values()].map((i) => i.stop()));
    },
    isSynced: () => store.isSynced(),
    syncStatus: () => store.syncStatus(),
    podsOfNode: (node) => store.podsOfNode(node),
    pod: (namespace, name) => store.pod(namespace, name),
    servicesOf: (pod) => store.servicesOf(pod),
    workloadOf: (pod) => store.workloadOf(pod),
    nodeLabels: (node) => store.nodeLabels(node),
    namespaceLabels: (namespace) => store.namespaceLabels(namespace),
    clusterId: () => store.clusterId(),
    nodes: () => store.nodes(),
    allPods: () => store.allPods(),
    hasNode: (node) => store.hasNode(node),
    podCountOfNode: (node) => store.podCountOfNode(node),
    subscribe: (listener) => store.subscribe(listener),
  };
}
