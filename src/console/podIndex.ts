/**
 * The console's counts, kept as the cluster state changes rather than recounted per request: per node,
 * its pods, injected and missed (opted in, not injected); cluster-wide totals. A 5,000-node list or the
 * overview on 150,000 pods reads these in O(nodes), and the event stream knows which nodes' counts moved.
 *
 * Fed by the store's change listener (`ClusterChanges`), built once from the view; rebuilt whole when the
 * classification's context changes (the webhook configuration's creation time, the platform), which is
 * rare. Nothing per pod is kept here.
 */
import type { ClusterChange, ClusterView, PodView } from '../clusterview/types.js';
import { classifyPod, isMissed, type InjectionContext } from './injection.js';
import type { OverviewCounts } from './types.js';

export interface NodeCounts {
  pods: number;
  injected: number;
  missed: number;
}

export interface PodIndex {
  /** Applies one change of the store; returns the nodes whose counts moved (the pod's old and new node). */
  apply(change: ClusterChange): readonly string[];
  /** The counts of `node` (zeros when it has no pod). */
  countsOf(node: string): Readonly<NodeCounts>;
  totals(): OverviewCounts;
  context(): InjectionContext;
  /** A new context: every count is recomputed (returns true when it changed anything that matters). */
  setContext(ctx: InjectionContext): boolean;
}

const ZERO: Readonly<NodeCounts> = Object.freeze({ pods: 0, injected: 0, missed: 0 });

export function createPodIndex(view: ClusterView, initial: InjectionContext): PodIndex {
  let ctx = initial;
  let byNode = new Map<string, NodeCounts>();
  let unscheduled = 0;
  let pods = 0;
  let injected = 0;
  let missed = 0;
  const namespaces = new Map<string, number>();

  const add = (pod: PodView, sign: 1 | -1): void => {
    const reason = classifyPod(pod, ctx);
    const inj = reason === 'injected' ? 1 : 0;
    const miss = isMissed(reason) ? 1 : 0;
    pods += sign;
    injected += sign * inj;
    missed += sign * miss;
    const n = (namespaces.get(pod.namespace) ?? 0) + sign;
    if (n > 0) namespaces.set(pod.namespace, n);
    else namespaces.delete(pod.namespace);
    if (!pod.node) {
      unscheduled += sign;
      return;
    }
    let c = byNode.get(pod.node);
    if (!c) byNode.set(pod.node, (c = { pods: 0, injected: 0, missed: 0 }));
    c.pods += sign;
    c.injected += sign * inj;
    c.missed += sign * miss;
    if (c.pods <= 0) byNode.delete(pod.node);
  };

  const rebuild = (): void => {
    byNode = new Map();
    namespaces.clear();
    unscheduled = pods = injected = missed = 0;
    for (const pod of view.allPods()) add(pod, 1);
  };
  rebuild();

  return {
    apply(change) {
      if (change.kind === 'node') return [change.name];
      const moved: string[] = [];
      if (change.old) {
        add(change.old, -1);
        if (change.old.node) moved.push(change.old.node);
      }
      if (change.pod) {
        add(change.pod, 1);
        if (change.pod.node && change.pod.node !== change.old?.node) moved.push(change.pod.node);
      }
      return moved;
    },
    countsOf: (node) => byNode.get(node) ?? ZERO,
    totals() {
      let nodes = 0;
      for (const _ of view.nodes()) nodes++;
      return { nodes, pods, unscheduledPods: unscheduled, injectedPods: injected, missedPods: missed, namespaces: namespaces.size };
    },
    context: () => ctx,
    setContext(next) {
      const same =
        next.webhookSinceS === ctx.webhookSinceS && next.hostPathRefused === ctx.hostPathRefused && next.tetherNamespace === ctx.tetherNamespace && next.config === ctx.config;
      if (same) return false;
      ctx = next;
      rebuild();
      return true;
    },
  };
}
