/**
 * A real Kubernetes node beside the dev/test control plane: containerd + runc with the CNI bridge,
 * a kubelet that authenticates and authorizes every request through the API server, kube-proxy (Services
 * work: the API server calls the webhook through its Service, pods reach node-local Services), a
 * scheduler, and CoreDNS for Service names. Images are built here and imported into containerd (no
 * registry is reachable).
 *
 * Needs root (network set-up, cgroups, mounts). One node per machine (a lock): its bridge, iptables
 * chains, port 10250 and /var/run/datadog are the host's. containerd and the kubelet share a mount
 * namespace of their own, so the mounts pods make vanish with them even after a killed run; their
 * processes are found by cgroup (cgroups.ts), so containers and shims never outlive the node.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { ControlPlane } from '../controlPlane.js';
import { certKubeConfig } from '../kubeconfigs.js';
import { issue } from '../pki.js';
import { isAlreadyExists } from '../../kube/errors.js';
import { freePort, ProcessGroup, StartError, stopProcess, tail, waitUntil, type ManagedProcess } from '../processes.js';
import { killNodeProcesses, joinNodeCgroup } from './cgroups.js';
import { containerdConfig, cniNetworkList, corefile, kubeletConfig, kubeProxyConfig, nodeResolvConf } from './configFiles.js';
import { sh, shQuiet } from './hostCommands.js';
import { acquireNodeLock } from './lock.js';
import { NODE_IP, NODE_NAME, nodeDirs, SANDBOX_IMAGE } from './layout.js';
import { setUpNodeNetwork, type NodeNetwork } from './network.js';
import { ensureNodeBinaries } from './nodeBinaries.js';
import { checkNodePrerequisites } from './prerequisites.js';

export interface RealNodeOptions {
  /** The archive of the sandbox ("pause") image, SANDBOX_IMAGE (images/, built here: no registry to pull it from). */
  readonly sandboxImage: string;
  /** More image archives to import into containerd before the kubelet starts. */
  readonly images?: readonly string[];
  /** The kubelet's webhook token authentication (default true; false: the seed's 401). */
  readonly kubeletTokenWebhook?: boolean;
  readonly readyTimeoutMs?: number;
}

export interface RealNode {
  readonly name: string;
  /** The node's InternalIP: its kubelet (:10250), host ports and cluster DNS. */
  readonly ip: string;
  readonly dir: string;
  /** Imports an image archive into the node's containerd (namespace k8s.io, where the kubelet looks). */
  importImage(archive: string): Promise<void>;
  /** The images containerd holds, by reference. */
  images(): Promise<string[]>;
  /** The last lines of a component's log (kubelet, containerd, kube-proxy, kube-scheduler, coredns). */
  logTail(component: string, lines?: number): string;
  /** Restarts the kubelet with other settings (e.g. without token authentication), keeping the pods. */
  restartKubelet(opts: { readonly tokenWebhook: boolean }): Promise<void>;
  /** Stops every process and container of the node and removes its network set-up; safe to call twice. */
  stop(): Promise<void>;
}

/** Starts a real node against `cp` (which must have been started with `node: true`). */
export async function startRealNode(cp: ControlPlane, opts: RealNodeOptions): Promise<RealNode> {
  await checkNodePrerequisites();
  const bins = await ensureNodeBinaries();
  const lock = await acquireNodeLock();
  const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
  let network: NodeNetwork | undefined;
  let group: ProcessGroup | undefined;
  const cleanUp = async (): Promise<void> => {
    const kubelet = group?.processes.find((p) => p.name === 'kubelet');
    if (kubelet) await stopProcess(kubelet, 10_000);
    await killNodeProcesses().catch(() => undefined);
    await group?.stop(2000);
    await shQuiet(bins.kubeProxy, ['--cleanup']);
    await network?.down();
    lock.release();
  };
  try {
    // A killed run's containers, shims and cgroups first: they hold the bridge's addresses and ports.
    await killNodeProcesses();
    network = await setUpNodeNetwork(cp.serviceClusterIpRange);
    group = await ProcessGroup.create('tether-node-');
    const g = group;
    const dirs = nodeDirs(g.dir);
    for (const d of [dirs.containerdRoot, dirs.containerdState, dirs.cniConfDir, dirs.cniDataDir, dirs.kubeletRoot, dirs.podLogs]) await mkdir(d, { recursive: true });
    const file = (name: string): string => path.join(g.dir, name);
    const env = { PATH: [path.dirname(bins.containerd), path.dirname(bins.runc), bins.cniBinDir, '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':') };

    // --- identities: the kubelet's serving and client certificates, the daemons' kubeconfigs ----------
    const [kubeletServing, kubeletClient, proxyClient, schedulerClient, dnsClient] = await Promise.all([
      issue(cp.ca, [{ CN: [NODE_NAME] }], 'server', [
        { type: 'dns', value: NODE_NAME },
        { type: 'ip', value: NODE_IP },
      ]),
      // The Node authorizer and NodeRestriction know a kubelet by this name and group.
      issue(cp.ca, [{ CN: [`system:node:${NODE_NAME}`] }, { O: ['system:nodes'] }], 'client'),
      // Bound by the bootstrap ClusterRoleBindings system:node-proxier and system:kube-scheduler.
      issue(cp.ca, [{ CN: ['system:kube-proxy'] }], 'client'),
      issue(cp.ca, [{ CN: ['system:kube-scheduler'] }], 'client'),
      issue(cp.ca, [{ CN: [COREDNS_USER] }], 'client'),
    ]);
    await grantCoreDns(cp.kubeConfig());
    const kubeconfig = async (name: string, user: string, id: typeof kubeletClient): Promise<string> => {
      const p = file(`${name}.kubeconfig`);
      await writeFile(p, certKubeConfig(cp.server, cp.caPem, user, id).exportConfig(), { mode: 0o600 });
      return p;
    };
    const [kubeletKc, proxyKc, schedulerKc, dnsKc] = await Promise.all([
      kubeconfig('kubelet', `system:node:${NODE_NAME}`, kubeletClient),
      kubeconfig('kube-proxy', 'system:kube-proxy', proxyClient),
      kubeconfig('kube-scheduler', 'system:kube-scheduler', schedulerClient),
      kubeconfig('coredns', COREDNS_USER, dnsClient),
    ]);
    await Promise.all([
      writeFile(file('ca.crt'), cp.caPem),
      writeFile(file('kubelet.crt'), kubeletServing.certPem),
      writeFile(file('kubelet.key'), kubeletServing.keyPem, { mode: 0o600 }),
      writeFile(dirs.containerdConfig, containerdConfig(dirs, { runc: bins.runc, cniBinDir: bins.cniBinDir })),
      writeFile(path.join(dirs.cniConfDir, '10-tether.conflist'), cniNetworkList(dirs)),
      writeFile(dirs.resolvConf, nodeResolvConf()),
    ]);

    // --- the mount namespace containerd and the kubelet share -----------------------------------------
    // `--propagation slave`: the host's mounts are seen inside, nothing mounted inside leaks out; when its
    // last process exits, every mount the pods made goes with it.
    const anchor = g.start('mount-namespace', 'unshare', ['--mount', '--propagation', 'slave', '--', 'sleep', 'infinity'], { env });
    await waitUntil('the node mount namespace', anchor, 10_000, async () => anchor.child.pid !== undefined);
    await new Promise((r) => setTimeout(r, 100));
    const inNamespace = (name: string, bin: string, args: readonly string[]): ManagedProcess =>
      g.start(name, 'nsenter', [`--mount=/proc/${anchor.child.pid}/ns/mnt`, '--', bin, ...args], { env });

    // --- containerd -----------------------------------------------------------------------------------
    const containerd = inNamespace('containerd', bins.containerd, ['--config', dirs.containerdConfig, '--log-level', 'warn']);
    // Its shims (and so every container) are found through this cgroup when the node stops.
    await joinNodeCgroup(containerd.child.pid!);
    const ctr = (args: readonly string[]): Promise<string> => sh(bins.ctr, ['--address', dirs.containerdSocket, '--namespace', 'k8s.io', ...args], { env, timeoutMs: 300_000 });
    await waitUntil('containerd to answer', containerd, readyTimeoutMs, async () => {
      await ctr(['version']);
      return true;
    });
    const importImage = async (archive: string): Promise<void> => {
      await ctr(['images', 'import', '--no-unpack=false', archive]).catch((e: Error) => {
        throw new StartError(`importing ${archive} into the node's containerd failed: ${e.message}`);
      });
    };
    const images = async (): Promise<string[]> => (await ctr(['images', 'list', '--quiet'])).split('\n').filter(Boolean);
    for (const archive of [opts.sandboxImage, ...(opts.images ?? [])]) await importImage(archive);
    if (!(await images()).includes(SANDBOX_IMAGE)) throw new StartError(`the sandbox image ${SANDBOX_IMAGE} is not in containerd after importing ${opts.sandboxImage}`);

    // --- kubelet --------------------------------------------------------------------------------------
    const startKubelet = async (tokenWebhook: boolean): Promise<ManagedProcess> => {
      await writeFile(dirs.kubeletConfig, kubeletConfig(dirs, { clientCaFile: file('ca.crt'), tlsCertFile: file('kubelet.crt'), tlsKeyFile: file('kubelet.key'), tokenWebhook }));
      return inNamespace('kubelet', bins.kubelet, [
        `--config=${dirs.kubeletConfig}`,
        `--kubeconfig=${kubeletKc}`,
        `--root-dir=${dirs.kubeletRoot}`,
        `--node-ip=${NODE_IP}`,
        `--hostname-override=${NODE_NAME}`,
        '--v=1',
      ]);
    };
    let kubelet = await startKubelet(opts.kubeletTokenWebhook ?? true);
    const core = cp.kubeConfig().makeApiClient(k8s.CoreV1Api);
    const waitNodeReady = (proc: ManagedProcess): Promise<void> =>
      waitUntil(`node ${NODE_NAME} Ready`, proc, readyTimeoutMs, async () => {
        const node = await core.readNode({ name: NODE_NAME });
        const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
        if (ready?.status !== 'True') throw new Error(`Ready=${ready?.status ?? 'unknown'}: ${ready?.message ?? ''}`);
        return true;
      });

    // --- kube-proxy, kube-scheduler, CoreDNS (host processes) ----------------------------------------
    const [proxyHealthz, proxyMetrics, dnsHealth, dnsReady] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    await writeFile(dirs.kubeProxyConfig, kubeProxyConfig({ kubeconfig: proxyKc, hostnameOverride: NODE_NAME, healthzPort: proxyHealthz, metricsPort: proxyMetrics }));
    const proxy = g.start('kube-proxy', bins.kubeProxy, [`--config=${dirs.kubeProxyConfig}`, '--v=1'], { env });
    const scheduler = g.start('kube-scheduler', bins.kubeScheduler, [`--kubeconfig=${schedulerKc}`, '--leader-elect=false', '--secure-port=0', '--v=1'], { env });
    await writeFile(dirs.corefile, corefile({ kubeconfig: dnsKc, healthPort: dnsHealth, readyPort: dnsReady }));
    const dns = g.start('coredns', bins.coredns, ['-conf', dirs.corefile], { env });

    await waitNodeReady(kubelet);
    await waitUntil('kube-proxy healthz', proxy, readyTimeoutMs, async () => (await fetch(`http://127.0.0.1:${proxyHealthz}/healthz`, { signal: AbortSignal.timeout(2000) })).ok);
    await waitUntil('CoreDNS ready', dns, readyTimeoutMs, async () => (await fetch(`http://127.0.0.1:${dnsReady}/ready`, { signal: AbortSignal.timeout(2000) })).ok);
    await waitUntil('kube-scheduler to stay up', scheduler, 2000, async () => true);

    let stopped: Promise<void> | undefined;
    return {
      name: NODE_NAME,
      ip: NODE_IP,
      dir: g.dir,
      importImage,
      images,
      logTail: (component, lines = 40) => tail(path.join(g.dir, `${component}.log`), lines),
      async restartKubelet(o) {
        await stopProcess(kubelet, 10_000);
        kubelet = await startKubelet(o.tokenWebhook);
        await waitNodeReady(kubelet);
      },
      stop: () => (stopped ??= cleanUp()),
    };
  } catch (e) {
    await cleanUp().catch(() => undefined);
    throw e;
  }
}

const COREDNS_USER = 'tether:coredns';

/** CoreDNS's read access (as kubeadm's system:coredns role): Services, EndpointSlices, Namespaces. */
async function grantCoreDns(kc: k8s.KubeConfig): Promise<void> {
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const name = 'tether:coredns';
  await rbac
    .createClusterRole({
      body: {
        metadata: { name },
        rules: [
          { apiGroups: [''], resources: ['services', 'namespaces', 'pods'], verbs: ['list', 'watch'] },
          { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
        ],
      },
    })
    .catch(ignoreConflict);
  await rbac
    .createClusterRoleBinding({ body: { metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [{ kind: 'User', name: COREDNS_USER, apiGroup: 'rbac.authorization.k8s.io' }] } })
    .catch(ignoreConflict);
}

function ignoreConflict(e: unknown): void {
  if (!isAlreadyExists(e)) throw e;
}

