/**
 * Where the real node of `tether dev --node real` and the e2e tests lives: its addresses, interfaces and
 * directories, defined once. The node runs in the host's network namespace (as a kubelet does), on a
 * bridge of its own whose address is the node's IP: pods reach the node (its kubelet, host ports, cluster
 * DNS) through it, the API server reaches pods through it, and nothing a pod sends leaves the machine
 * (see network.ts).
 */
import { join } from 'node:path';
import { PAUSE_IMAGE_REF } from '../images/catalogue.js';

export const NODE_NAME = 'tether-node';
/** The bridge the CNI bridge plugin attaches pods to; created before the kubelet starts, with NODE_IP. */
export const NODE_BRIDGE = 'tether0';
/** Pods' addresses: one /24 on the bridge (host-local IPAM). */
export const POD_CIDR = '10.214.0.0/24';
export const POD_PREFIX_LENGTH = 24;
/** The bridge's address: the node's InternalIP, its kubelet, host ports and cluster DNS. */
export const NODE_IP = '10.214.0.1';
/** The iptables chain that keeps pods' traffic on the machine (see network.ts). */
export const EGRESS_CHAIN = 'TETHER-NODE-EGRESS';
export const KUBELET_PORT = 10250;
export const CLUSTER_DOMAIN = 'cluster.local';
/** The images the node needs before any pod: its sandbox ("pause") image. */
export const SANDBOX_IMAGE = PAUSE_IMAGE_REF;
/** One real node per machine: its ports, bridge, iptables chains and /var/run/datadog are the host's. */
export const NODE_LOCK_FILE = '/run/tether-real-node.lock';

/** The node's directories under one base dir (removed when the node stops). */
export function nodeDirs(base: string) {
  return {
    base,
    containerdRoot: join(base, 'containerd', 'root'),
    containerdState: join(base, 'containerd', 'state'),
    containerdSocket: join(base, 'containerd', 'containerd.sock'),
    containerdConfig: join(base, 'containerd', 'config.toml'),
    cniConfDir: join(base, 'cni', 'net.d'),
    cniDataDir: join(base, 'cni', 'ipam'),
    kubeletRoot: join(base, 'kubelet'),
    kubeletConfig: join(base, 'kubelet-config.yaml'),
    podLogs: join(base, 'pod-logs'),
    resolvConf: join(base, 'resolv.conf'),
    corefile: join(base, 'Corefile'),
    kubeProxyConfig: join(base, 'kube-proxy-config.yaml'),
  } as const;
}
export type NodeDirs = ReturnType<typeof nodeDirs>;
