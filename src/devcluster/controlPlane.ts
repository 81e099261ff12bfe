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

import { spawn, type ChildProcess } from 'node:child_process';
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as k8s from '@kubernetes/client-node';
import type * as X509 from '../certs/x509.js';

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
  /** service-account issuer configured on the apiserver */
  readonly serviceAccountIssuer: string;
  readonly timings: ControlPlaneTimings;
  /** a fresh admin KubeConfig */
  kubeConfig(): k8s.KubeConfig;
  /** kills the processes and removes `dir`; safe to call more than once */
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

const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';
// First address of the service range: the ClusterIP of the `kubernetes` Service.
const KUBERNETES_SERVICE_IP = '10.0.0.1';

// ---------------------------------------------------------------------------------------
// binaries

/** The checkout or installed package this code runs from: where scripts/ and package.json are. */
export function repoRoot(): string {
  // This file runs as dist/src/devcluster/controlPlane.js from a clone or an installed package;
  // walk up instead of hard-coding the depth.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'scripts', 'control-plane'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find scripts/control-plane above ' + import.meta.url);
    dir = parent;
  }
}

let ensured: Promise<string> | undefined;

/**
 * Runs `scripts/control-plane ensure` (builds the binaries on first use, which takes
 * minutes) and returns the bin dir. TETHER_CONTROL_PLANE_BIN short-circuits it, for
 * binaries obtained some other way.
 */
export function ensureControlPlaneBinaries(): Promise<string> {
  const override = process.env['TETHER_CONTROL_PLANE_BIN'];
  if (override) return Promise.resolve(override);
  ensured ??= new Promise<string>((resolve, reject) => {
    const script = path.join(repoRoot(), 'scripts', 'control-plane');
    // stderr is inherited so that a cold build shows its progress instead of looking hung.
    const child = spawn(script, ['ensure'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last) resolve(last);
      else reject(new Error(`${script} ensure exited with ${code}`));
    });
  });
  // Let a later call retry after a failed build.
  ensured.catch(() => (ensured = undefined));
  return ensured;
}

// ---------------------------------------------------------------------------------------
// certificates (ECDSA P-256: key generation takes milliseconds, unlike RSA)

/** Loaded lazily: only the harness's PKI step needs it. */
let x509Module: Promise<typeof X509> | undefined;
function loadX509(): Promise<typeof X509> {
  return (x509Module ??= import('../certs/x509.js'));
}

const subtle = webcrypto.subtle;
const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const EC_SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

interface KeyPair {
  readonly keys: webcrypto.CryptoKeyPair;
  readonly keyPem: string;
  readonly publicKeyPem: string;
}

interface Issued extends KeyPair {
  readonly cert: X509.X509Certificate;
  readonly certPem: string;
}

async function newKeyPair(): Promise<KeyPair> {
  const keys = (await subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  return {
    keys,
    keyPem: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: KeyObject.from(keys.publicKey).export({ type: 'spki', format: 'pem' }).toString(),
  };
}

// Go (1.23+) rejects certificates with negative serial numbers, and a random DER integer
// is negative half the time; a leading 0x01 byte keeps it positive.
const serial = (): string => '01' + randomBytes(15).toString('hex');

function validity(): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  // Back-dated so that small clock differences never make a fresh cert "not yet valid".
  return { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 7 * 24 * 3600_000) };
}

async function newCA(): Promise<Issued> {
  const x509 = await loadX509();
  const kp = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: 'CN=tether-test-ca',
      ...validity(),
      signingAlgorithm: EC_SIGN,
      keys: kp.keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(kp.keys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );
  return { ...kp, cert, certPem: cert.toString('pem') + '\n' };
}

async function issue(
  ca: Issued,
  subject: X509.JsonName,
  usage: 'server' | 'client',
  sans: X509.JsonGeneralNames = [],
): Promise<Issued> {
  const x509 = await loadX509();
  const kp = await newKeyPair();
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    new x509.ExtendedKeyUsageExtension(
      [usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
      false,
    ),
    await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey, false, webcrypto),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject,
      issuer: ca.cert.subjectName,
      ...validity(),
      signingAlgorithm: EC_SIGN,
      publicKey: kp.keys.publicKey,
      signingKey: ca.keys.privateKey,
      extensions,
    },
    webcrypto,
  );
  return { ...kp, cert, certPem: cert.toString('pem') + '\n' };
}

// ---------------------------------------------------------------------------------------
// processes

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logPath: string;
  readonly exited: Promise<void>;
}

// Safety net for a test that never calls stop() or crashes: kill everything we started
// when this Node process exits. ('exit' handlers must be synchronous.)
const liveProcs = new Set<Proc>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of liveProcs) killGroup(p.child, 'SIGKILL');
    for (const d of liveDirs) {
      if (!keepDirs()) fs.rmSync(d, { recursive: true, force: true });
    }
  });
}

const keepDirs = (): boolean => process.env['TETHER_KEEP_CONTROL_PLANE'] === '1';

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Children are spawned detached (own process group), so signal the whole group.
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

function startProcess(name: string, bin: string, args: readonly string[], dir: string): Proc {
  const logPath = path.join(dir, `${name}.log`);
  const fd = fs.openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(bin, args, {
      cwd: dir,
      // detached: own process group, so a Ctrl-C aimed at the test runner's group does
      // not race our orderly shutdown (the watchdog and exit hook still kill them).
      detached: true,
      stdio: ['ignore', fd, fd],
    });
  } finally {
    fs.closeSync(fd);
  }
  // Do not keep the test process alive just because a component is running.
  child.unref();
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const proc: Proc = { name, child, logPath, exited };
  liveProcs.add(proc);
  void exited.then(() => liveProcs.delete(proc));
  return proc;
}

/**
 * The exit hook does not run when the test process is killed by a signal (e.g. the test
 * runner's timeout, or SIGKILL). This watchdog does: a detached shell that reads pids from
 * a pipe whose write end only we hold; when we die, the pipe hits EOF and it kills them.
 */
class Watchdog {
  private readonly child: ChildProcess;
  constructor(dir: string) {
    const script = [
      'pids=""',
      'while read -r p; do pids="$pids $p"; done',
      // -pid: each component is a process group leader (spawned detached).
      'for p in $pids; do kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null; done',
      '[ "$KEEP" = 1 ] || rm -rf -- "$1"',
    ].join('\n');
    this.child = spawn('/bin/sh', ['-c', script, 'tether-control-plane-watchdog', dir], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', KEEP: keepDirs() ? '1' : '0' },
    });
    this.child.unref();
    (this.child.stdin as net.Socket | null)?.unref();
    this.child.stdin?.on('error', () => {});
  }
  watch(p: Proc): void {
    if (p.child.pid !== undefined) this.child.stdin?.write(`${p.child.pid}\n`);
  }
  /** Disarm: kill it before an orderly shutdown so it cannot signal a recycled pid later. */
  disarm(): void {
    killGroup(this.child, 'SIGKILL');
  }
}

async function stopProcess(p: Proc, graceMs: number): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  killGroup(p.child, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), graceMs);
  });
  const late = await Promise.race([p.exited.then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) {
    killGroup(p.child, 'SIGKILL');
    await p.exited;
  }
}

function tail(file: string, lines = 40): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n');
  } catch (e) {
    return `(cannot read ${file}: ${(e as Error).message})`;
  }
}

class StartError extends Error {}

/** Polls `check` until it returns true; fails early (with the log tail) if `proc` dies. */
async function waitUntil(
  what: string,
  proc: Proc,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  let delay = 50;
  for (;;) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new StartError(
        `${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode}) while waiting for ${what}; ` +
          `last lines of ${proc.logPath}:\n${tail(proc.logPath)}`,
      );
    }
    try {
      if (await check()) return;
    } catch (e) {
      lastError = (e as Error).message;
    }
    if (Date.now() > deadline) {
      throw new StartError(
        `timed out after ${timeoutMs} ms waiting for ${what}` +
          (lastError ? ` (last error: ${lastError})` : '') +
          `; last lines of ${proc.logPath}:\n${tail(proc.logPath)}`,
      );
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 500);
  }
}

export async function freePort(): Promise<number> {
  // Bind to port 0 and release it. Another process could grab the port in between;
  // startControlPlane() retries when a component reports "address already in use".
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function httpsGet(
  url: string,
  tls: { ca: string; cert: string; key: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ...tls, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function statusOf(e: unknown): number | undefined {
  return e instanceof k8s.ApiException ? e.code : undefined;
}

// ---------------------------------------------------------------------------------------
// kubeconfigs

function certKubeConfig(server: string, caPem: string, user: string, id: Issued): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'tether-test', server, caData: b64(caPem), skipTLSVerify: false }],
    users: [{ name: user, certData: b64(id.certPem), keyData: b64(id.keyPem) }],
    contexts: [{ name: 'tether-test', cluster: 'tether-test', user }],
    currentContext: 'tether-test',
  });
  return kc;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/**
 * A KubeConfig that authenticates as the admin but asks the apiserver to impersonate
 * `user` (client-node sends `Impersonate-User`, from the kubeconfig user's `as`). For a
 * service-account name (`system:serviceaccount:NS:NAME`) the apiserver adds the
 * service-account groups itself. Prefer tokenKubeConfigFor() to exercise real
 * service-account authentication.
 */
export function impersonatingKubeConfig(cp: ControlPlane, user: string): k8s.KubeConfig {
  const admin = cp.kubeConfig();
  const adminUser = admin.getCurrentUser();
  if (!adminUser) throw new Error('admin kubeconfig has no user');
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: admin.clusters,
    users: [{ ...adminUser, name: 'impersonator', impersonateUser: user }],
    contexts: [{ name: 'impersonate', cluster: admin.clusters[0]!.name, user: 'impersonator' }],
    currentContext: 'impersonate',
  });
  return kc;
}

/**
 * A KubeConfig authenticated with a real bound service-account token (TokenRequest API),
 * i.e. exactly how a pod's service account talks to the apiserver. Creates the namespace
 * and the ServiceAccount if they do not exist.
 */
export async function tokenKubeConfigFor(
  cp: ControlPlane,
  namespace: string,
  serviceAccountName: string,
  opts: { expirationSeconds?: number } = {},
): Promise<k8s.KubeConfig> {
  const core = cp.kubeConfig().makeApiClient(k8s.CoreV1Api);
  await createIgnoringConflict(() => core.createNamespace({ body: { metadata: { name: namespace } } }));
  await createIgnoringConflict(() =>
    core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: serviceAccountName } } }),
  );
  const tr = await core.createNamespacedServiceAccountToken({
    name: serviceAccountName,
    namespace,
    // No audiences: the token gets the apiserver's own (--api-audiences defaults to the issuer).
    body: { spec: { audiences: [], expirationSeconds: opts.expirationSeconds ?? 3600 } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${serviceAccountName} returned no token`);
  const kc = new k8s.KubeConfig();
  const user = `system:serviceaccount:${namespace}:${serviceAccountName}`;
  kc.loadFromOptions({
    clusters: [{ name: 'tether-test', server: cp.server, caData: b64(cp.caPem), skipTLSVerify: false }],
    users: [{ name: user, token }],
    contexts: [{ name: 'sa', cluster: 'tether-test', user }],
    currentContext: 'sa',
  });
  return kc;
}

async function createIgnoringConflict(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (e) {
    if (statusOf(e) !== 409) throw e;
  }
}

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
  installExitHook();
  const t0 = performance.now();
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tether-cp-'));
  liveDirs.add(dir);
  const procs: Proc[] = [];
  const watchdog = new Watchdog(dir);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      watchdog.disarm();
      // Reverse start order: controller-manager, apiserver, then etcd. Short grace period:
      // nothing here needs a graceful shutdown, the data is thrown away.
      for (const p of procs.slice().reverse()) await stopProcess(p, 3000);
      liveDirs.delete(dir);
      if (!keepDirs()) await fsp.rm(dir, { recursive: true, force: true });
    })());

  const run = (name: string, args: readonly string[]): Proc => {
    const p = startProcess(name, path.join(binDir, name), args, dir);
    procs.push(p);
    watchdog.watch(p);
    return p;
  };

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
    ]);
    // O=system:masters is the group the apiserver grants everything, bypassing RBAC.
    const admin = await issue(ca, [{ CN: ['admin'] }, { O: ['system:masters'] }], 'client');
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
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
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
      // The `kubernetes` Service's Endpoints would point at 127.0.0.1, which Endpoints
      // validation rejects (loopback); nothing in-cluster needs to reach us anyway.
      '--endpoint-reconciler-type=none',
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
        `--controllers=${(opts.controllers ?? DEFAULT_CONTROLLERS).join(',')}`,
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
            if (statusOf(e) === 404) return false;
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
      serviceAccountIssuer: SERVICE_ACCOUNT_ISSUER,
      timings,
      kubeConfig: () => certKubeConfig(server, ca.certPem, 'admin', admin),
      stop,
    };
  } catch (e) {
    // Read the logs into the error before stop() deletes them. StartErrors already
    // carry the relevant log tail; anything else gets the last component's.
    const last = procs[procs.length - 1];
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
