/**
 * The one node of `tether dev`'s cluster, for its node agent. The dev cluster has no scheduler and no
 * kubelet: pods are created (and mutated) for real but never scheduled nor run. So that its node agent
 * has pods to resolve origins against, with the tags the cluster agent gives them (`kube_deployment`...),
 * this:
 * - binds every unscheduled pod to `nodeName` (a Binding, as the scheduler writes it), polling every
 *   `intervalMs`; the pod then stays Pending on that node, as one whose image never pulls;
 * - stands in for that node's kubelet: `pods()` lists the API server's pods bound to it, compacted as the
 *   kubelet client compacts its `/pods` (`compactPod`).
 * Apps started by hand with a pod's injected env (`DD_ENTITY_ID` = its UID) are then tagged with it.
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../logging/logger.js';
import { compactPod } from '../nodeagent/kubelet.js';
import type { KubeletSource } from '../nodeagent/kubeletSource.js';

export const DEV_NODE_NAME = 'tether-dev-node';
const BIND_INTERVAL_MS = 1_000;

export interface DevNode {
  readonly nodeName: string;
  readonly kubelet: KubeletSource;
  stop(): void;
}

export async function startDevNode(opts: { readonly kubeConfig: k8s.KubeConfig; readonly logger: Logger; readonly nodeName?: string; readonly intervalMs?: number }): Promise<DevNode> {
  const nodeName = opts.nodeName ?? DEV_NODE_NAME;
  const log = opts.logger.child({ component: 'dev-node', node: nodeName });
  const core = opts.kubeConfig.makeApiClient(k8s.CoreV1Api);
  await core.createNode({ body: { metadata: { name: nodeName, labels: { 'kubernetes.io/hostname': nodeName } } } }).catch((e: unknown) => {
    if (!(e instanceof k8s.ApiException && e.code === 409)) throw e;
  });

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const bindPending = async () => {
    try {
      const list = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=' });
      for (const p of list.items) {
        const name = p.metadata?.name;
        const namespace = p.metadata?.namespace;
        if (!name || !namespace) continue;
        await core
          .createNamespacedBinding({ namespace, body: { metadata: { name }, target: { apiVersion: 'v1', kind: 'Node', name: nodeName } } })
          .then(() => log.debug({ namespace, pod: name }, `bound ${namespace}/${name} to ${nodeName}`))
          .catch((e: unknown) => log.debug({ err: e, namespace, pod: name }, `could not bind ${namespace}/${name}`));
      }
    } catch (e) {
      log.warn({ err: e }, `dev node: listing unscheduled pods failed: ${(e as Error)?.message ?? String(e)}`);
    }
    if (!stopped) timer = setTimeout(() => void bindPending(), opts.intervalMs ?? BIND_INTERVAL_MS);
  };
  void bindPending();

  return {
    nodeName,
    kubelet: {
      async pods(signal) {
        signal.throwIfAborted();
        const list = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` });
        return { pods: list.items.map((p) => compactPod(p)), foreign: 0 };
      },
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
