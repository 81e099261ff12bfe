/**
 * The real node's configuration files, as pure functions of its layout and binaries: containerd's
 * config.toml, the CNI network list, the kubelet's KubeletConfiguration, kube-proxy's
 * KubeProxyConfiguration and CoreDNS's Corefile. Written by realNode.ts; unit-tested alone.
 */
import { stringify } from 'yaml';
import { CLUSTER_DOMAIN, KUBELET_PORT, NODE_BRIDGE, NODE_IP, POD_CIDR, SANDBOX_IMAGE, type NodeDirs } from './layout.js';

/** A TOML basic string: JSON's escapes are TOML's for the paths and names written here. */
const toml = (s: string): string => JSON.stringify(s);

/**
 * containerd 2.x (config version 3): its own root, state and socket (never the host's
 * /var/lib/containerd), the CRI plugin with runc (cgroupfs: no systemd here, cgroup v1), the CNI
 * binaries and config of this node, and the locally built sandbox image (no registry is reachable).
 */
export function containerdConfig(dirs: NodeDirs, bins: { readonly runc: string; readonly cniBinDir: string }): string {
  return `version = 3
root = ${toml(dirs.containerdRoot)}
state = ${toml(dirs.containerdState)}

[grpc]
  address = ${toml(dirs.containerdSocket)}

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = ${toml(SANDBOX_IMAGE)}

[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  # The kubelet asks for -998 for sandboxes and down to -997 for Guaranteed pods; lowering an
  # oom_score_adj needs CAP_SYS_RESOURCE in the initial user namespace, which these machines' root does
  # not have (runc init: "failed to update /proc/self/oom_score_adj: Permission denied"): never ask
  # below containerd's own score, as rootless and nested nodes (kind in a container) do.
  restrict_oom_score_adj = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = ${toml(bins.runc)}
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = [${toml(bins.cniBinDir)}]
    conf_dir = ${toml(dirs.cniConfDir)}
    max_conf_num = 1

[plugins.'io.containerd.grpc.v1.cri']
  # kubectl exec/logs go through the kubelet to this stream server: loopback only.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`;
}

/**
 * The pod network: the bridge plugin on NODE_BRIDGE (the node's address is its gateway), host-local
 * addresses from POD_CIDR, portmap for host ports (hostip mode's 8125/8126) with hairpin SNAT so a pod
 * reaches a host port of its own node. No IP masquerade: pod traffic has nowhere to go off the machine.
 */
export function cniNetworkList(dirs: NodeDirs): string {
  return (
    JSON.stringify(
      {
        cniVersion: '1.0.0',
        name: 'tether',
        plugins: [
          {
            type: 'bridge',
            bridge: NODE_BRIDGE,
            isGateway: true,
            ipMasq: false,
            hairpinMode: true,
            ipam: { type: 'host-local', ranges: [[{ subnet: POD_CIDR, gateway: NODE_IP }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: dirs.cniDataDir },
          },
          { type: 'portmap', capabilities: { portMappings: true }, snat: true },
        ],
      },
      null,
      2,
    ) + '\n'
  );
}

/**
 * How long the kubelet trusts the API server's answer about a token or a permission. Not 0s: the kubelet
 * reads 0 as "unset" and caches allowed answers for 5 minutes (tokens for 2), so a ClusterRoleBinding
 * removed or restored would show on /pods only minutes later (as on real clusters: worth knowing when a
 * fix "does not work" at once).
 */
const WEBHOOK_CACHE_TTL = '1s';

/**
 * The kubelet as a cluster's: webhook token authentication and webhook authorization against the API
 * server (so a node agent's token gets the real 401/403), its serving certificate signed by the
 * cluster's CA (node agents verify it), cgroupfs on cgroup v1 (kubelet 1.35 refuses v1 unless told).
 */
export function kubeletConfig(dirs: NodeDirs, opts: { readonly clientCaFile: string; readonly tlsCertFile: string; readonly tlsKeyFile: string; readonly tokenWebhook?: boolean }): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    containerRuntimeEndpoint: `unix://${dirs.containerdSocket}`,
    address: '0.0.0.0',
    port: KUBELET_PORT,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 0,
    authentication: {
      anonymous: { enabled: false },
      // Off only for the test of the seed's 401 (a kubelet that does not check tokens with the API server).
      webhook: { enabled: opts.tokenWebhook ?? true, cacheTTL: WEBHOOK_CACHE_TTL },
      x509: { clientCAFile: opts.clientCaFile },
    },
    authorization: { mode: 'Webhook', webhook: { cacheAuthorizedTTL: WEBHOOK_CACHE_TTL, cacheUnauthorizedTTL: WEBHOOK_CACHE_TTL } },
    tlsCertFile: opts.tlsCertFile,
    tlsPrivateKeyFile: opts.tlsKeyFile,
    clusterDNS: [NODE_IP],
    clusterDomain: CLUSTER_DOMAIN,
    // Pods never get the host's resolvers: nothing they look up should leave the machine.
    resolvConf: dirs.resolvConf,
    failSwapOn: false,
    podLogsDir: dirs.podLogs,
    // A shared test machine's disk is not the node's to guard: no eviction or image GC for disk use.
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    // Status reported fast: tests wait on readiness.
    nodeStatusUpdateFrequency: '4s',
    syncFrequency: '10s',
    fileCheckFrequency: '5s',
    shutdownGracePeriod: '0s',
    registerNode: true,
    maxPods: 110,
  });
}

/** kube-proxy in iptables mode for this node; it never touches the machine's conntrack limits. */
export function kubeProxyConfig(opts: { readonly kubeconfig: string; readonly hostnameOverride: string; readonly healthzPort: number; readonly metricsPort: number }): string {
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig: opts.kubeconfig },
    hostnameOverride: opts.hostnameOverride,
    clusterCIDR: POD_CIDR,
    bindAddress: '0.0.0.0',
    healthzBindAddress: `127.0.0.1:${opts.healthzPort}`,
    metricsBindAddress: `127.0.0.1:${opts.metricsPort}`,
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    iptables: { syncPeriod: '5s', minSyncPeriod: '0s' },
    nodePortAddresses: [`${NODE_IP}/32`],
  });
}

/**
 * Cluster DNS on the node's address: Service and pod names from the API server, and nothing else (no
 * `forward`): a name outside the cluster gets no answer rather than a query to the internet.
 */
export function corefile(opts: { readonly kubeconfig: string; readonly healthPort: number; readonly readyPort: number }): string {
  return `.:53 {
    bind ${NODE_IP}
    errors
    health 127.0.0.1:${opts.healthPort}
    ready 127.0.0.1:${opts.readyPort}
    cache 5
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        kubeconfig ${opts.kubeconfig}
        pods insecure
        ttl 5
    }
}
`;
}

/** The resolv.conf the kubelet gives `dnsPolicy: Default` pods: no resolver off the machine. */
export function nodeResolvConf(): string {
  return `nameserver ${NODE_IP}\noptions ndots:1\n`;
}
