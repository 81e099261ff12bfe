/**
 * What the node agent needs from its kubelet, as an interface: the real client (`kubelet.ts`,
 * `createKubeletClient`) implements it, tests hand the agent a fake. Only the pod fields the node agent
 * keeps are named; never whole pod objects.
 */
import type { TetherConfig } from '../config/index.js';
import type { Logger } from '../logging/logger.js';

export interface KubeletPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** `spec.nodeName`. */
  readonly nodeName: string;
  /** `status.phase`. */
  readonly phase: string;
  /** `status.containerStatuses[].containerID` (`containerd://…`), for the intake to find a sender's pod. */
  readonly containerIds: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly ownerReferences: readonly { readonly kind: string; readonly name: string; readonly uid?: string; readonly controller?: boolean }[];
}

export interface KubeletSource {
  /**
   * The kubelet's `/pods`: those bound to this node, and how many others it returned (`foreign`: a
   * kubelet answering for another node, a proxy in between). Rejects with an `UpstreamError`
   * explaining the failure, or an `AbortError` when `signal` aborts.
   */
  pods(signal: AbortSignal): Promise<{ pods: KubeletPod[]; foreign: number }>;
}

/** What `tether node-agent` hands `createKubeletClient` (kubelet.ts picks what it needs). */
export interface KubeletClientFactoryOptions {
  readonly config: TetherConfig;
  readonly nodeName: string;
  readonly logger: Logger;
}

/** The shape of `kubelet.ts`, which the CLI loads on demand. */
export interface KubeletModule {
  createKubeletClient(opts: KubeletClientFactoryOptions): KubeletSource;
}
