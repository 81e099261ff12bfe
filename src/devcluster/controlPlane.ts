// A real Kubernetes control plane for tests and `tether dev`: etcd + kube-apiserver
// (+ kube-controller-manager) on loopback, like controller-runtime's envtest. The binaries are built from the Go module
// proxy by scripts/control-plane (see there for the pinned versions).
//
// Why real binaries instead of a fake client: admission webhooks, RBAC, service-account
// tokens, server-side defaulting/validation and controller behaviour (Deployment ->
// ReplicaSet -> Pods, garbage collection) are exactly what Tether depends on, and a fake
// would only encode our own assumptions about them.
//
// There is no kubelet and no scheduler: Pods are created but stay Pending.

import fsp from 'node:fs/promises';
import path from 'node:path';

import * as k8s from '@kubernetes/client-node';
import { isNotFound } from '../kube/errors.js';
import { ensureControlPlaneBinaries } from './binaries.js';
import { certKubeConfig } from './kubeconfigs.js';
import { issue, newCA, newKeyPair, type Issued } from './pki.js';
import { NODE_IP } from './node/layout.js';
import { httpsGet } from './probes.js';
import { freePort, ProcessGroup, StartError, tail, waitUntil, type ManagedProcess } from './processes.js';

export interface ControlPlaneTimings {
  /** generating keys and certificates */
  readonly certsMs: number;
  /** etcd spawned -> /health ok */
  readonly etcdMs: number;
  /** kube-apiserver spawned -> /readyz ok, default namespace and bootstrap RBAC present */
  readonly apiServerMs: number;
  /** kube-controller-manager spawned -> `default` ServiceAccount exists (0 when not started) */
  readonly controllerManagerMs: number;
  /** whole startControlPlane() call, excluding ensureControlPlaneBinaries() */
  readonly totalMs: number;
}

export interface ControlPlane {
  /** https://127.0.0.1:PORT */
  readonly server: string;
  /** admin kubeconfig (client cert CN=admin, O=system:masters) inside `dir` */
  readonly kubeconfigPath: string;
  /** PEM of the CA that signed the apiserver serving cert and all client certs */
  readonly caPem: string;
  /** temp dir holding certs, kubeconfigs, etcd data and the component logs (*.log) */
  readonly dir: string;
  /**
   * The CA the API server trusts for client certificates (and its serving certificate's issuer):
   * issue() more identities with it (a kubelet's), see pki.ts.
   */
  readonly ca: Issued;
  /**
   * The components' processes (in `dir`): start more with `processes.start()` (a node's
   * containerd and kubelet); stop() stops them first, then the control plane's.
   */
  readonly processes: ProcessGroup;
  /** service-account issuer configured on the apiserver */
  readonly serviceAccountIssuer: string;
  /** --service-cluster-ip-range */
  readonly serviceClusterIpRange: string;
  readonly timings: ControlPlaneTimings;
  /** a fresh admin KubeConfig */
  kubeConfig(): k8s.KubeConfig;
  /** kills the processes (last started first) and removes `dir`; safe to call more than once */
  stop(): Promise<void>;
}

export interface StartControlPlaneOptions {
  /** start kube-controller-manager (default true) */
  controllerManager?: boolean;
  /** kube-controller-manager --controllers (default DEFAULT_CONTROLLERS) */
  controllers?: readonly string[];
  /** appended to kube-apiserver's command line (later flags win) */
  extraApiServerArgs?: readonly string[];
  /** appended to kube-controller-manager's command line */
  extraControllerManagerArgs?: readonly string[];
  /** dir with etcd, kube-apiserver, kube-controller-manager; default: ensureControlPlaneBinaries() */
  binDir?: string;
  /** per-component readiness timeout (default 60 s) */
  readyTimeoutMs?: number;
  /**
   * Serve a real node (node/realNode.ts): the API server also listens on the node's address, which the
   * `kubernetes` Service's endpoints name (pods reach it through its ClusterIP), calls kubelets with a
   * client certificate, and the controllers a node's workloads need run (DaemonSets, EndpointSlices for
   * kube-proxy, PodDisruptionBudgets, Jobs).
   */
  node?: boolean;
}

/**
 * Controllers needed for workloads to materialise as Pods and for namespaces/service
 * accounts to behave like a real cluster. Names as of Kubernetes 1.35
 * (cmd/kube-controller-manager/names).
 */
export const DEFAULT_CONTROLLERS: readonly string[] = [
  'deployment-controller',
  'replicaset-controller',
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
];

/** What a real node's workloads need besides DEFAULT_CONTROLLERS. */
export const NODE_CONTROLLERS: readonly string[] = [
  'daemonset-controller',
  'endpoints-controller',
  'endpointslice-controller',
  'endpointslice-mirroring-controller',
  'disruption-controller',
  'job-controller',
  'pod-garbage-collector-controller',
  // Removes the node.kubernetes.io/not-ready taint once the kubelet reports Ready (TaintNodesByCondition):
  // without it nothing but DaemonSet pods (which tolerate it) is ever scheduled.
  'node-lifecycle-controller',
];

const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
export const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';
// First address of the service range: the ClusterIP of the `kubernetes` Service.
const KUBERNETES_SERVICE_IP = '10.0.0.1';

// ---------------------------------------------------------------------------------------
// startControlPlane

/**
 * Starts etcd, kube-apiserver and (unless disabled) kube-controller-manager on free
 * loopback ports and waits until they work. Always call stop() (e.g. in `after`).
 */
export async function startControlPlane(opts: StartControlPlaneOptions = {}): Promise<ControlPlane> {
  const binDir = opts.binDir ?? (await ensureControlPlaneBinaries());
  // Free ports are picked before the processes bind them; retry the rare lost race.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(binDir, opts);
    } catch (e) {
      if (attempt < 3 && e instanceof StartError && /address already in use/i.test(e.message)) continue;
      throw e;
    }
  }
}

async function startOnce(binDir: string, opts: StartControlPlaneOptions): Promise<ControlPlane> {
  const t0 = performance.now();
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const group = await ProcessGroup.create('tether-cp-');
  const dir = group.dir;
  // Reverse start order: controller-manager, apiserver, then etcd. Short grace period:
  // nothing here needs a graceful shutdown, the data is thrown away.
  const stop = (): Promise<void> => group.stop(3000);
  const run = (name: string, args: readonly string[]): ManagedProcess => group.start(name, path.join(binDir, name), args);

  try {
    // --- certificates ------------------------------------------------------------------
    const ca = await newCA();
    const serving = await issue(ca, [{ CN: ['kube-apiserver'] }], 'server', [
      { type: 'dns', value: 'localhost' },
      { type: 'dns', value: 'kubernetes' },
      { type: 'dns', value: 'kubernetes.default' },
      { type: 'dns', value: 'kubernetes.default.svc' },
      { type: 'dns', value: 'kubernetes.default.svc.cluster.local' },
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: KUBERNETES_SERVICE_IP },
      ...(opts.node ? [{ type: 'ip' as const, value: NODE_IP }] : []),
    ]);
    // O=system:masters is the group the apiserver grants everything, bypassing RBAC.
    const admin = await issue(ca, [{ CN: ['admin'] }, { O: ['system:masters'] }], 'client');
    // The API server's identity towards kubelets (exec, logs): kubelets authorize it like any client.
    const kubeletClient = opts.node ? await issue(ca, [{ CN: ['kube-apiserver-kubelet-client'] }, { O: ['system:masters'] }], 'client') : undefined;
    // Bound by the bootstrap ClusterRoleBinding system:kube-controller-manager.
    const kcm = await issue(ca, [{ CN: ['system:kube-controller-manager'] }], 'client');
    const sa = await newKeyPair();

    const f = (name: string): string => path.join(dir, name);
    await Promise.all([
      fsp.writeFile(f('ca.crt'), ca.certPem),
      fsp.writeFile(f('apiserver.crt'), serving.certPem),
      fsp.writeFile(f('apiserver.key'), serving.keyPem, { mode: 0o600 }),
      fsp.writeFile(f('sa.key'), sa.keyPem, { mode: 0o600 }),
      fsp.writeFile(f('sa.pub'), sa.publicKeyPem),
      ...(kubeletClient
        ? [fsp.writeFile(f('kubelet-client.crt'), kubeletClient.certPem), fsp.writeFile(f('kubelet-client.key'), kubeletClient.keyPem, { mode: 0o600 })]
        : []),
    ]);
    const certsMs = performance.now() - t0;

    // --- etcd --------------------------------------------------------------------------
    const [etcdClientPort, etcdPeerPort, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const tEtcd = performance.now();
    const etcd = run('etcd', [
      '--name=tether-test',
      `--data-dir=${f('etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=tether-test=${peerUrl}`,
      '--initial-cluster-state=new',
      // Throwaway data: skipping fsync makes etcd (and so every API write) much faster.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await waitUntil('etcd /health', etcd, readyTimeoutMs, async () => {
      const res = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(2000) });
      return res.ok && ((await res.json()) as { health?: string }).health === 'true';
    });
    const etcdMs = performance.now() - tEtcd;

    // --- kube-apiserver ----------------------------------------------------------------
    const server = `https://127.0.0.1:${apiPort}`;
    const tApi = performance.now();
    const apiserver = run('kube-apiserver', [
      `--etcd-servers=${etcdUrl}`,
      `--secure-port=${apiPort}`,
      // With a node, also on its address: the `kubernetes` Service's endpoint, which pods reach.
      `--bind-address=${opts.node ? '0.0.0.0' : '127.0.0.1'}`,
      `--advertise-address=${opts.node ? NODE_IP : '127.0.0.1'}`,
      `--cert-dir=${f('apiserver-certs')}`,
      `--tls-cert-file=${f('apiserver.crt')}`,
      `--tls-private-key-file=${f('apiserver.key')}`,
      `--client-ca-file=${f('ca.crt')}`,
      '--authorization-mode=Node,RBAC',
      `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
      `--service-account-key-file=${f('sa.pub')}`,
      `--service-account-signing-key-file=${f('sa.key')}`,
      `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
      // On by default anyway; listed because Tether's tests depend on them.
      '--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,MutatingAdmissionWebhook,ValidatingAdmissionWebhook',
      '--allow-privileged=true',
      ...(opts.node
        ? [
            `--kubelet-client-certificate=${f('kubelet-client.crt')}`,
            `--kubelet-client-key=${f('kubelet-client.key')}`,
            `--kubelet-certificate-authority=${f('ca.crt')}`,
            '--kubelet-preferred-address-types=InternalIP',
          ]
        : // The `kubernetes` Service's Endpoints would point at 127.0.0.1, which Endpoints
          // validation rejects (loopback); nothing in-cluster needs to reach us without a node.
          ['--endpoint-reconciler-type=none']),
      '--profiling=false',
      ...(opts.extraApiServerArgs ?? []),
    ]);
    const adminKc = certKubeConfig(server, ca.certPem, 'admin', admin);
    const kubeconfigPath = f('admin.kubeconfig');
    // exportConfig() is JSON, which is valid YAML for kubectl and client-go.
    await fsp.writeFile(kubeconfigPath, adminKc.exportConfig(), { mode: 0o600 });
    const tls = { ca: ca.certPem, cert: admin.certPem, key: admin.keyPem };
    await waitUntil('kube-apiserver /readyz', apiserver, readyTimeoutMs, async () => {
      const res = await httpsGet(`${server}/readyz`, tls);
      if (res.status !== 200) throw new Error(`/readyz ${res.status}: ${res.body.slice(0, 300)}`);
      return true;
    });
    // /readyz covers the RBAC bootstrap post-start hook, but the `default` namespace is
    // created asynchronously by the system namespaces controller: wait for both explicitly.
    const core = adminKc.makeApiClient(k8s.CoreV1Api);
    const rbac = adminKc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await waitUntil('default namespace and bootstrap RBAC', apiserver, readyTimeoutMs, async () => {
      await core.readNamespace({ name: 'default' });
      await rbac.readClusterRole({ name: 'cluster-admin' });
      await rbac.readClusterRoleBinding({ name: 'system:kube-controller-manager' });
      return true;
    });
    const apiServerMs = performance.now() - tApi;

    // --- kube-controller-manager -------------------------------------------------------
    let controllerManagerMs = 0;
    if (opts.controllerManager ?? true) {
      const kcmKubeconfig = f('controller-manager.kubeconfig');
      await fsp.writeFile(
        kcmKubeconfig,
        certKubeConfig(server, ca.certPem, 'system:kube-controller-manager', kcm).exportConfig(),
        { mode: 0o600 },
      );
      const tKcm = performance.now();
      const cm = run('kube-controller-manager', [
        `--kubeconfig=${kcmKubeconfig}`,
        `--controllers=${(opts.controllers ?? (opts.node ? [...DEFAULT_CONTROLLERS, ...NODE_CONTROLLERS] : DEFAULT_CONTROLLERS)).join(',')}`,
        `--service-account-private-key-file=${f('sa.key')}`,
        `--root-ca-file=${f('ca.crt')}`,
        // One service account per controller, bound to the bootstrap system:controller:*
        // roles, as in kubeadm clusters. The controller manager's own identity
        // (system:kube-controller-manager) is not allowed to do the controllers' work.
        '--use-service-account-credentials=true',
        '--leader-elect=false',
        // No serving endpoint: nothing scrapes it, and it would need delegated authn/authz.
        '--secure-port=0',
        // Faster reaction in tests than the production defaults (20 QPS, 30 s resyncs).
        '--kube-api-qps=100',
        '--kube-api-burst=200',
        ...(opts.extraControllerManagerArgs ?? []),
      ]);
      const wantsSA = (opts.controllers ?? DEFAULT_CONTROLLERS).some(
        (c) => c === 'serviceaccount-controller' || c === '*',
      );
      if (wantsSA) {
        // The serviceaccount controller creating `default` proves the controller manager
        // is authenticated, authorized, and its informers have synced.
        await waitUntil('kube-controller-manager (default ServiceAccount)', cm, readyTimeoutMs, async () => {
          try {
            await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
            return true;
          } catch (e) {
            if (isNotFound(e)) return false;
            throw e;
          }
        });
      } else {
        // Nothing observable to wait for; at least make sure it did not die on its flags.
        await new Promise((r) => setTimeout(r, 1000));
        await waitUntil('kube-controller-manager to stay up', cm, readyTimeoutMs, async () => true);
      }
      controllerManagerMs = performance.now() - tKcm;
    }

    const timings: ControlPlaneTimings = {
      certsMs,
      etcdMs,
      apiServerMs,
      controllerManagerMs,
      totalMs: performance.now() - t0,
    };
    return {
      server,
      kubeconfigPath,
      caPem: ca.certPem,
      dir,
      ca,
      processes: group,
      serviceAccountIssuer: SERVICE_ACCOUNT_ISSUER,
      serviceClusterIpRange: SERVICE_CLUSTER_IP_RANGE,
      timings,
      kubeConfig: () => certKubeConfig(server, ca.certPem, 'admin', admin),
      stop,
    };
  } catch (e) {
    // Read the logs into the error before stop() deletes them. StartErrors already
    // carry the relevant log tail; anything else gets the last component's.
    const last = group.processes.at(-1);
    const err =
      e instanceof StartError || !last
        ? e
        : new StartError(
            `control plane start failed: ${(e as Error).message ?? String(e)}; ` +
              `last lines of ${last.logPath}:\n${tail(last.logPath)}`,
            { cause: e },
          );
    await stop();
    throw err;
  }
}
