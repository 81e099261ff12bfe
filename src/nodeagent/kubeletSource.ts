/**
 * What the node agent needs from its kubelet, as an interface: the real client (`kubelet.ts`,
 * `createKubeletClient`) implements it, tests hand the agent a fake. Only the pod fields the node agent
 * keeps are named (`KubeletPod`); never whole pod objects.
 */
import type { KubeletPod } from './kubelet.js';

export type { KubeletPod };

export interface KubeletSource {
  /**
   * The kubelet's `/pods`: those bound to this node, and how many others it returned (`foreign`: a
   * kubelet answering for another node, a proxy in between). Rejects with an `UpstreamError`
   * explaining the failure, or with the signal's reason when `signal` aborts.
   */
  pods(signal: AbortSignal): Promise<{ readonly pods: readonly KubeletPod[]; readonly foreign: number }>;
}
