/**
 * The cluster agent's in-memory view of the cluster (issue 9, SPEC §9), as the API reads it: what the
 * state module (`clusteragent/state.ts`) keeps from its watches, and only that. The API handlers, the
 * console and `status` take a `ClusterView`; tests and the bench feed one directly.
 *
 * Kept per object: only what an answer needs (never whole objects), with strings interned, so memory
 * stays flat per pod at 150,000 pods (target < 1 KB per pod).
 */

import type { PodInjectionFacts } from './podInjection.js';

/** A pod as the API needs it. */
export interface PodView {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** `spec.nodeName`; empty while unscheduled. */
  readonly node: string;
  /** `status.phase`. */
  readonly phase: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The pod's first owner reference (SPEC §5: the pod's first owner), if any. */
  readonly owner?: { readonly kind: string; readonly name: string };
  /** What Tether's webhooks left in its spec (`podInjection.ts`), shared among equal pods; absent: none. */
  readonly injection?: PodInjectionFacts;
  /** `metadata.creationTimestamp`, whole seconds since the epoch (a small integer), when known. */
  readonly createdS?: number;
}

/** The workload a pod belongs to, resolved through ReplicaSet → Deployment and Job → CronJob. */
export interface WorkloadView {
  /** e.g. `Deployment`, `StatefulSet`, `DaemonSet`, `CronJob`, `Job`, `ReplicaSet` (a bare one). */
  readonly kind: string;
  readonly name: string;
  /** The intermediate owner, when there was one (the ReplicaSet of a Deployment, the Job of a CronJob). */
  readonly via?: { readonly kind: string; readonly name: string };
  /** The workload's `tags.datadoghq.com/*` labels (env/service/version), when it carries any. */
  readonly tagLabels: Readonly<Record<string, string>>;
}

export interface InformerSyncView {
  /** e.g. `pods`, `nodes`, `namespaces`, `services`, `replicasets`, `deployments`... */
  readonly resource: string;
  readonly synced: boolean;
  readonly objects: number;
  readonly lastError?: string;
}

export interface ClusterView {
  /** Every watch has listed once and none is failing now: answers are as fresh as the watches. */
  isSynced(): boolean;
  syncStatus(): readonly InformerSyncView[];
  /** Pods bound to `node` (`spec.nodeName`), in no particular order. */
  podsOfNode(node: string): Iterable<PodView>;
  pod(namespace: string, name: string): PodView | undefined;
  /** Names of the Services in the pod's namespace whose selector matches its labels, sorted. */
  servicesOf(pod: PodView): readonly string[];
  /** The pod's workload through its owners, when its owners are known. */
  workloadOf(pod: PodView): WorkloadView | undefined;
  nodeLabels(node: string): Readonly<Record<string, string>> | undefined;
  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined;
  /** The UID of namespace kube-system: the cluster's id. */
  clusterId(): string | undefined;
  /** Every node that has a Node object or a pod bound to it. */
  nodes(): Iterable<string>;
  /** Every pod, scheduled or not, in no particular order (the console's cluster-wide search). */
  allPods(): Iterable<PodView>;
  /** A Node object of that name exists (not only pods naming it). */
  hasNode(node: string): boolean;
  /** How many pods are bound to `node`. */
  podCountOfNode(node: string): number;
}

/** One change the store applied, as the console's event stream reads them. */
export type ClusterChange =
  | { readonly kind: 'pod'; readonly old: PodView | undefined; readonly pod: PodView | undefined }
  | { readonly kind: 'node'; readonly name: string; readonly exists: boolean };

export interface ClusterChanges {
  /** Calls `listener` after each change to pods and nodes; returns the unsubscribe. */
  subscribe(listener: (change: ClusterChange) => void): () => void;
}
