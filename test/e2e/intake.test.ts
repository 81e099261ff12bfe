/**
 * The whole chain of issue 13, end to end: a labelled Deployment's pod on the real control plane; the
 * env `tether inject` gives that pod; a small app with the real `dd-trace` tracer and `hot-shots` client
 * started with exactly that env (the downward API resolved as the kubelet would: `status.hostIP` →
 * 127.0.0.1, `metadata.uid` → the pod's UID); `tether node-agent` (its kubelet a test double over the
 * same API server, its tags from a real `tether start`) receiving it over UDP/TCP and over the Unix
 * sockets; a real OTLP backend behind it, Jaeger v2 (built from the Go module proxy by scripts/go-tools),
 * whose OTLP receiver takes both signals at `otlp_endpoint`: the traces into its memory storage, read
 * back from its query API; the metrics through its Prometheus exporter (resource attributes as
 * labels), read back from that endpoint. Then the backend down for a while, and back.
 *
 * (The OpenTelemetry Collector build of scripts/go-tools, meant for the metrics with its file exporter,
 * does not start: `DefaultScheme not found in providers list`, its main.go registers the file config
 * provider only. Jaeger v2 is a collector distribution with a Prometheus exporter, so it serves as both.)
 *
 * The span's pod comes from the container id, as in a pod: dd-trace reads it from /proc/self/cgroup,
 * so the app first moves itself into a cgroup named after a container id, and the pod's status says
 * it runs that container (what a kubelet reports). Where cgroups cannot be written (not root), that
 * one check is skipped, saying why.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { CLUSTER_AGENT_CA_CONFIGMAP } from '../../src/config/index.js';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { eventually } from '../helpers/eventually.js';
import { startKubeletDouble, type KubeletDouble } from '../helpers/kubeletDouble.js';
import { applyTetherRbac, NODE_AGENT_MANIFEST, NODE_AGENT_SERVICE_ACCOUNT } from '../helpers/rbac.js';
import { cleanEnv, freePort, spawnTether, TETHER_MAIN, type TetherProcess } from '../helpers/tether.js';

const NS = 'datadog';
const APPS = 'shop';
const NODE = 'n1';
const TOKEN = randomBytes(24).toString('hex');
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const APP = join(REPO, 'test/fixtures/intake/app.cjs');
const require = createRequire(import.meta.url);
const CONTAINER_ID = randomBytes(32).toString('hex');

let cp: ControlPlane;
let core: k8s.CoreV1Api;
let dir: string;
let kubelet: KubeletDouble;
let podUid: string;
let podName: string;
let nodeAgent: TetherProcess;
let nodeAgentUrl: string;
let intakePorts: { dsd: number; apm: number };
let sockets: { dsd: string; apm: string };
let jaegerQuery: string;
let jaeger: ChildProcess | undefined;
let jaegerConfig: string;
let prometheusUrl: string;
let otlpEndpoint: string;
let cgroupProcs: string | undefined;
let cgroupDir: string | undefined;
const processes: TetherProcess[] = [];
const children: ChildProcess[] = [];

/**
 * The Deployment's pod, as its ReplicaSet creates it. It carries the unified service tags itself (a
 * template that sets them too): offline `tether inject` reads no Deployment, so DD_SERVICE & co come
 * from the pod's own labels; the node agent's tags come from the cluster agent, which follows the owners.
 */
const POD_MANIFEST = (name: string, rsUid: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${APPS}
  labels:
    app: checkout
    pod-template-hash: 7d9
    admission.datadoghq.com/enabled: "true"
    tags.datadoghq.com/env: dev
    tags.datadoghq.com/service: checkout
    tags.datadoghq.com/version: "2.3.1"
  ownerReferences:
    - apiVersion: apps/v1
      kind: ReplicaSet
      name: checkout-7d9
      uid: ${rsUid}
      controller: true
spec:
  nodeName: ${NODE}
  containers:
    - name: checkout
      image: my/checkout:2.3.1
`;

async function goTools(...tools: string[]): Promise<string[]> {
  const { stdout } = await promisify(execFile)(join(REPO, 'scripts/go-tools'), ['ensure', ...tools], { maxBuffer: 1 << 20, timeout: 30 * 60_000 });
  return stdout.trim().split('\n');
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

/** `tether inject` of the pod manifest, as a user runs it; the app container's env with the downward API resolved as the kubelet does. */
function injectedEnv(manifest: string, args: string[] = [], config?: string): Record<string, string> {
  const file = join(dir, `pod-${randomBytes(3).toString('hex')}.yaml`);
  writeFileSync(file, manifest);
  const r = spawnSync(process.execPath, [TETHER_MAIN, 'inject', '-f', file, ...(config ? ['--config', config] : []), ...args], { encoding: 'utf8', env: cleanEnv() });
  assert.equal(r.status, 0, r.stderr);
  const pod = parseAllDocuments(r.stdout)[0]!.toJS() as { spec: { containers: { env: EnvVar[] }[] } };
  const fields: Record<string, string> = { 'status.hostIP': '127.0.0.1', 'metadata.uid': podUid };
  const env: Record<string, string> = {};
  for (const v of pod.spec.containers[0]!.env) {
    const path = v.valueFrom?.fieldRef?.fieldPath;
    const value = v.value ?? (path ? fields[path] : undefined);
    assert.ok(value !== undefined, `cannot resolve injected variable ${v.name}`);
    env[v.name] = value;
  }
  return env;
}

/** A cgroup named after the pod's container id, the app's to move into (cgroup v1 `pids`, or v2). */
function makeContainerCgroup(): string | undefined {
  for (const root of ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    const d = join(root, 'tether-test-kubepods', CONTAINER_ID);
    try {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'cgroup.procs'), String(process.pid));
      // Moved this test process in to check that it may; moved back to the root at once.
      writeFileSync(join(root, 'cgroup.procs'), String(process.pid));
      cgroupDir = d;
      return join(d, 'cgroup.procs');
    } catch {
      try {
        rmdirSync(d);
      } catch {
        // not made
      }
    }
  }
  return undefined;
}

async function startApp(env: Record<string, string>, run: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [APP], {
    env: { PATH: process.env.PATH ?? '', NODE_PATH: join(REPO, 'node_modules'), ...env, TETHER_TEST_RUN: run, ...(cgroupProcs ? { TETHER_TEST_CGROUP_PROCS: cgroupProcs } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: REPO,
  });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const [line] = (await Promise.race([once(child.stdout!, 'data'), once(child, 'exit').then(() => assert.fail(`the app exited: ${err}`))])) as [Buffer];
  assert.match(line.toString('utf8'), /"started":true/);
  return child;
}

async function stopChild(c: ChildProcess | undefined): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  c.kill('SIGTERM');
  await once(c, 'exit');
}

async function startJaeger(): Promise<ChildProcess> {
  const [bin] = await goTools('jaeger');
  const j = spawn(bin!, ['--config', `file:${jaegerConfig}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(j);
  let err = '';
  j.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  await eventually('Jaeger to start', async () => {
    assert.equal(j.exitCode, null, err.slice(-3000));
    assert.equal((await fetch(`${jaegerQuery}/api/services`)).status, 200);
    assert.equal((await fetch(prometheusUrl)).status, 200);
  }, 60_000, 300);
  return j;
}

interface JaegerTag {
  key: string;
  value: unknown;
}
interface JaegerTrace {
  spans: { operationName: string; processID: string; tags: JaegerTag[]; references: { refType: string }[] }[];
  processes: Record<string, { serviceName: string; tags: JaegerTag[] }>;
}

async function jaegerTraces(service: string): Promise<JaegerTrace[]> {
  const res = await fetch(`${jaegerQuery}/api/traces?service=${encodeURIComponent(service)}&limit=50&lookback=1h`);
  if (res.status !== 200) return [];
  return ((await res.json()) as { data: JaegerTrace[] | null }).data ?? [];
}

const tagMap = (tags: JaegerTag[]): Record<string, unknown> => Object.fromEntries(tags.map((t) => [t.key, t.value]));

interface MetricPoint {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Every sample Jaeger's Prometheus exporter serves: what it received as OTLP, resource attributes as labels. */
async function collectedMetrics(): Promise<MetricPoint[]> {
  let text: string;
  try {
    text = await (await fetch(prometheusUrl)).text();
  } catch {
    return [];
  }
  const out: MetricPoint[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

async function nodeAgentMetrics(): Promise<string> {
  return (await fetch(`${nodeAgentUrl}/metrics`)).text();
}
function counter(text: string, name: string, labels: Record<string, string>): number {
  const line = text.split('\n').find((l) => l.startsWith(name + '{') && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** The pod's resource attributes, as OTLP attributes (spans) or as Prometheus labels (dots become underscores). */
function assertPodResource(resource: Record<string, unknown>, what: string, asLabels = false): void {
  const expected: Record<string, unknown> = {
    'k8s.namespace.name': APPS,
    'k8s.pod.name': podName,
    'k8s.pod.uid': podUid,
    'k8s.node.name': NODE,
    'k8s.deployment.name': 'checkout',
    'k8s.replicaset.name': 'checkout-7d9',
    'deployment.environment.name': 'dev',
    'service.version': '2.3.1',
    kube_namespace: APPS,
    pod_name: podName,
    kube_deployment: 'checkout',
    kube_service: 'checkout',
  };
  for (const [k, v] of Object.entries(expected)) {
    const key = asLabels ? k.replaceAll('.', '_') : k;
    assert.equal(resource[key], v, `${what}: ${key} in ${JSON.stringify(resource)}`);
  }
}

before(
  async () => {
    const built = goTools('jaeger');
    cp = await startControlPlane();
    dir = cp.dir;
    const kc = cp.kubeConfig();
    core = kc.makeApiClient(k8s.CoreV1Api);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const asTether = await applyTetherRbac(cp, NS);
    await applyTetherRbac(cp, NS, NODE_AGENT_MANIFEST, NODE_AGENT_SERVICE_ACCOUNT);
    const kubeconfigFile = join(dir, 'tether.kubeconfig');
    await writeFile(kubeconfigFile, asTether.exportConfig(), { mode: 0o600 });
    await core.createNode({ body: { metadata: { name: NODE } } });
    await core.createNamespace({ body: { metadata: { name: APPS } } });

    // examples/deployment.yaml's Deployment (0 replicas: nothing schedules here; the test binds its pod).
    const deployment = await apps.createNamespacedDeployment({
      namespace: APPS,
      body: {
        metadata: { name: 'checkout', labels: { 'tags.datadoghq.com/env': 'dev', 'tags.datadoghq.com/service': 'checkout', 'tags.datadoghq.com/version': '2.3.1' } },
        spec: { replicas: 0, selector: { matchLabels: { app: 'checkout' } }, template: { metadata: { labels: { app: 'checkout', 'admission.datadoghq.com/enabled': 'true' } }, spec: { containers: [{ name: 'checkout', image: 'my/checkout:2.3.1' }] } } },
      },
    });
    const rs = await apps.createNamespacedReplicaSet({
      namespace: APPS,
      body: {
        metadata: { name: 'checkout-7d9', labels: { app: 'checkout', 'pod-template-hash': '7d9' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'checkout', uid: deployment.metadata!.uid!, controller: true }] },
        spec: { replicas: 0, selector: { matchLabels: { app: 'checkout', 'pod-template-hash': '7d9' } }, template: { metadata: { labels: { app: 'checkout', 'pod-template-hash': '7d9' } }, spec: { containers: [{ name: 'checkout', image: 'x' }] } } },
      },
    });
    await core.createNamespacedService({ namespace: APPS, body: { metadata: { name: 'checkout' }, spec: { selector: { app: 'checkout' }, ports: [{ port: 80 }] } } });
    podName = 'checkout-7d9-x4k2p';
    const manifest = POD_MANIFEST(podName, rs.metadata!.uid!);
    const created = await core.createNamespacedPod({ namespace: APPS, body: parseAllDocuments(manifest)[0]!.toJS() as k8s.V1Pod });
    podUid = created.metadata!.uid!;
    // What the kubelet reports once the container runs: its id, which dd-trace finds in its cgroup.
    // (Read again on a conflict: the controllers touch the pod as they see it.)
    await eventually('the pod status written', async () => {
      const latest = await core.readNamespacedPod({ name: podName, namespace: APPS });
      latest.status = { phase: 'Running', hostIP: '127.0.0.1', containerStatuses: [{ name: 'checkout', containerID: `containerd://${CONTAINER_ID}`, image: 'my/checkout:2.3.1', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] };
      await core.replaceNamespacedPodStatus({ name: podName, namespace: APPS, body: latest });
    }, 30_000, 200);
    cgroupProcs = makeContainerCgroup();
    writeFileSync(join(dir, 'pod.yaml'), manifest);

    const webhookPort = await freePort();
    const apiPort = await freePort();
    const clusterAgent = spawnTether(
      ['start', '--kubeconfig', kubeconfigFile, '--namespace', NS, '--webhook-url', `https://127.0.0.1:${webhookPort}`, '--port', String(webhookPort), '--host', '127.0.0.1', '--api-port', String(apiPort)],
      { DD_LEADER_LEASE_DURATION: '3', DD_CLUSTER_AGENT_AUTH_TOKEN: TOKEN },
    );
    processes.push(clusterAgent);
    const apiUrl = `https://127.0.0.1:${apiPort}`;
    const ca = await eventually('the CA ConfigMap', async () => {
      const cm = await core.readNamespacedConfigMap({ name: CLUSTER_AGENT_CA_CONFIGMAP, namespace: NS });
      assert.match(cm.data?.['ca.pem'] ?? '', /BEGIN CERTIFICATE/);
      return cm.data!['ca.pem']!;
    }, 90_000, 300);
    const caFile = join(dir, 'cluster-agent-ca.pem');
    await writeFile(caFile, ca);
    kubelet = await startKubeletDouble({ controlPlane: cp, nodeName: NODE });
    const kubeletCa = join(dir, 'kubelet-ca.pem');
    await writeFile(kubeletCa, kubelet.caPem);
    const token = await core.createNamespacedServiceAccountToken({ name: NODE_AGENT_SERVICE_ACCOUNT, namespace: NS, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    const tokenFile = join(dir, 'agent.token');
    await writeFile(tokenFile, token.status!.token, { mode: 0o600 });

    // The backend: Jaeger v2, its OTLP receiver taking traces (memory storage, query API) and metrics
    // (its Prometheus exporter, resource attributes as labels).
    await built;
    const [jaegerOtlp, jaegerHttp, jaegerGrpc, promPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    jaegerConfig = join(dir, 'jaeger.yaml');
    await writeFile(
      jaegerConfig,
      `service:
  extensions: [jaeger_storage, jaeger_query]
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
    metrics:
      receivers: [otlp]
      exporters: [prometheus]
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${jaegerHttp}
    grpc:
      endpoint: 127.0.0.1:${jaegerGrpc}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${jaegerOtlp}
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
  prometheus:
    endpoint: 127.0.0.1:${promPort}
    resource_to_telemetry_conversion:
      enabled: true
`,
    );
    jaegerQuery = `http://127.0.0.1:${jaegerHttp}`;
    prometheusUrl = `http://127.0.0.1:${promPort}/metrics`;
    otlpEndpoint = `http://127.0.0.1:${jaegerOtlp}`;
    jaeger = await startJaeger();

    intakePorts = { dsd: await freePort(), apm: await freePort() };
    sockets = { dsd: join(dir, 'dsd.socket'), apm: join(dir, 'apm.socket') };
    nodeAgent = spawnTether(['node-agent', '--port', '0', '--host', '127.0.0.1', '-n', NS], {
      DD_KUBERNETES_KUBELET_NODENAME: NODE,
      DD_KUBERNETES_KUBELET_HOST: kubelet.host,
      DD_KUBERNETES_HTTPS_KUBELET_PORT: String(kubelet.port),
      DD_KUBELET_AUTH_TOKEN_PATH: tokenFile,
      DD_KUBELET_CLIENT_CA: kubeletCa,
      DD_CLUSTER_AGENT_URL: apiUrl,
      DD_CLUSTER_AGENT_AUTH_TOKEN: TOKEN,
      DD_CLUSTER_AGENT_CA_FILE: caFile,
      DD_DOGSTATSD_PORT: String(intakePorts.dsd),
      DD_DOGSTATSD_SOCKET: sockets.dsd,
      DD_APM_RECEIVER_PORT: String(intakePorts.apm),
      DD_APM_RECEIVER_SOCKET: sockets.apm,
      DD_OTLP_ENDPOINT: otlpEndpoint,
      // A scaled-down outage: retries at most 1 s apart, a request dropped after failing for 3 s.
      DD_OTLP_RETRY_MAX_INTERVAL_SECONDS: '1',
      DD_OTLP_RETRY_MAX_ELAPSED_SECONDS: '3',
    });
    processes.push(nodeAgent);
    const line = await nodeAgent.waitForLog((l) => typeof l['url'] === 'string' && /node agent of node/.test(String(l['msg'])), 60_000);
    nodeAgentUrl = line['url'] as string;
    await eventually("the node agent's pod, tagged by the cluster agent", async () => {
      const body = (await (await fetch(`${nodeAgentUrl}/pods`)).json()) as { pods: { uid: string; tagsFrom: string; tags: string[] }[] };
      const p = body.pods.find((x) => x.uid === podUid);
      assert.equal(p?.tagsFrom, 'cluster-agent', JSON.stringify(body));
      assert.ok(p!.tags.includes('kube_deployment:checkout'), p!.tags.join(','));
    }, 90_000, 300);
  },
  { timeout: 30 * 60_000 },
);

after(async () => {
  await Promise.all(children.map((c) => stopChild(c)));
  await Promise.all(processes.map((p) => p.stop(5_000)));
  if (process.env['TETHER_KEEP_CONTROL_PLANE'] === '1' && cp) await Promise.all(processes.map((p, i) => writeFile(join(cp.dir, `tether-${i}.log`), p.stderr())));
  await kubelet?.stop();
  await cp?.stop();
  if (cgroupDir) {
    try {
      rmdirSync(cgroupDir);
      rmdirSync(join(cgroupDir, '..'));
    } catch {
      // still in use by an exiting app; the next run reuses the parent
    }
  }
});

describe('what an injected pod sends arrives, tagged with its pod, in OTLP backends', () => {
  test('hostip mode: dd-trace over TCP and hot-shots over UDP, with the env tether inject gives the pod', async (t) => {
    const env = injectedEnv(await readFile(join(dir, 'pod.yaml'), 'utf8'));
    assert.equal(env['DD_AGENT_HOST'], '127.0.0.1');
    assert.equal(env['DD_ENTITY_ID'], podUid);
    assert.equal(env['DD_SERVICE'], 'checkout');
    const run = 'hostip';
    // The webhook sets no port (the agent's are 8125/8126); this node agent listens on free ones.
    const app = await startApp({ ...env, DD_DOGSTATSD_PORT: String(intakePorts.dsd), DD_TRACE_AGENT_PORT: String(intakePorts.apm) }, run);

    const points = await eventually('the metrics in Jaeger', async () => {
      const mine = (await collectedMetrics()).filter((p) => p.labels['run'] === run);
      for (const name of ['checkout_orders_total', 'checkout_cart_size', 'checkout_latency_count', 'checkout_latency_sum', 'checkout_latency_quantile']) assert.ok(mine.some((p) => p.name === name), `${name} in ${[...new Set(mine.map((p) => p.name))].join(',')}`);
      return mine;
    }, 60_000, 500);
    const orders = points.find((p) => p.name === 'checkout_orders_total')!;
    assertPodResource(orders.labels, 'metric resource', true);
    assert.equal(orders.labels['route'], '/buy');
    assert.ok(orders.value >= 1);
    assert.ok(points.some((p) => p.name === 'checkout_latency_quantile' && p.labels['quantile'] === '0.95'));
    const example = { metric: orders.name, labels: orders.labels };

    const traces = await eventually('the spans in Jaeger', async () => {
      const found = (await jaegerTraces('checkout')).filter((tr) => tr.spans.some((s) => tagMap(s.tags)['run'] === run));
      assert.ok(found.length > 0, 'a trace of this run');
      return found;
    }, 60_000, 500);
    const trace = traces[0]!;
    const root = trace.spans.find((s) => s.operationName === 'POST /buy')!;
    const child = trace.spans.find((s) => s.operationName === 'SELECT cart')!;
    assert.ok(root && child, JSON.stringify(trace.spans.map((s) => s.operationName)));
    assert.equal(child.references[0]?.refType, 'CHILD_OF');
    assert.equal(tagMap(root.tags)['span.kind'], 'server');
    assert.equal(tagMap(root.tags)['operation.name'], 'checkout.request');
    const proc = trace.processes[root.processID]!;
    assert.equal(proc.serviceName, 'checkout');
    await stopChild(app);
    if (!cgroupProcs) {
      t.skip('cgroups are not writable here: the app cannot sit in a container cgroup, so dd-trace sends no container id and the span has no pod');
      return;
    }
    assertPodResource(tagMap(proc.tags), 'span resource');
    // For the README: what one span and one metric of the pod look like in the backend.
    if (process.env['TETHER_INTAKE_EXAMPLE']) await writeFile(process.env['TETHER_INTAKE_EXAMPLE'], JSON.stringify({ span: { operationName: root.operationName, tags: tagMap(root.tags), process: { serviceName: proc.serviceName, tags: tagMap(proc.tags) } }, metric: example }, null, 2));
  });

  test('socket mode: over the Unix sockets /var/run/datadog/{apm,dsd}.socket point to', async () => {
    const config = join(dir, 'socket-mode.yaml');
    await writeFile(config, `admission_controller:\n  inject_config:\n    mode: socket\n    trace_agent_socket: unix://${sockets.apm}\n    dogstatsd_socket: unix://${sockets.dsd}\n`);
    const env = injectedEnv(await readFile(join(dir, 'pod.yaml'), 'utf8'), [], config);
    assert.equal(env['DD_TRACE_AGENT_URL'], `unix://${sockets.apm}`);
    assert.equal(env['DD_DOGSTATSD_URL'], `unix://${sockets.dsd}`);
    assert.equal(env['DD_AGENT_HOST'], undefined);
    const run = 'socket';
    const app = await startApp(env, run);
    const points = await eventually('the metrics in Jaeger', async () => {
      const mine = (await collectedMetrics()).filter((p) => p.labels['run'] === run && p.name === 'checkout_orders_total');
      assert.ok(mine.length > 0);
      return mine;
    }, 60_000, 500);
    assertPodResource(points[0]!.labels, 'metric resource (unix socket)', true);
    await eventually('the spans in Jaeger', async () => {
      const found = (await jaegerTraces('checkout')).filter((tr) => tr.spans.some((s) => tagMap(s.tags)['run'] === run));
      assert.ok(found.length > 0);
    }, 60_000, 500);
    await stopChild(app);
    const text = await nodeAgentMetrics();
    assert.ok(counter(text, 'tether_node_agent_intake_origins_total', { result: 'pod' }) > 0);
  });

  test('the backend down for a while: nothing crashes, the queues stay bounded, drops are counted; back up, data flows again', async () => {
    const env = injectedEnv(await readFile(join(dir, 'pod.yaml'), 'utf8'));
    const app = await startApp({ ...env, DD_DOGSTATSD_PORT: String(intakePorts.dsd), DD_TRACE_AGENT_PORT: String(intakePorts.apm) }, 'outage');
    await stopChild(jaeger);
    // Requests failing for longer than otlp_retry_max_elapsed_seconds (3 s here) are dropped and counted.
    await eventually('spans and metrics dropped while the backend is down', async () => {
      const text = await nodeAgentMetrics();
      const otlp = text.split('\n').filter((l) => l.includes('otlp')).join('\n');
      for (const signal of ['traces', 'metrics']) {
        assert.ok(counter(text, 'tether_node_agent_otlp_dropped_items_total', { signal, reason: 'retries_exhausted' }) > 0, otlp);
        assert.ok(counter(text, 'tether_node_agent_otlp_requests_total', { signal, result: 'network' }) > 0, otlp);
        assert.ok(counter(text, 'tether_node_agent_otlp_queue_bytes', { signal }) <= 16 * 1024 * 1024, otlp);
      }
    }, 90_000, 1000);
    assert.equal(nodeAgent.child.exitCode, null, 'the node agent still runs');
    assert.equal((await fetch(`${nodeAgentUrl}/healthz`)).status, 200);
    assert.match(nodeAgent.stderr(), /OTLP export of metrics to .* is failing/);
    assert.match(nodeAgent.stderr(), /OTLP export of traces to .* is failing/);

    jaeger = await startJaeger();
    await stopChild(app);
    const app2 = await startApp({ ...env, DD_DOGSTATSD_PORT: String(intakePorts.dsd), DD_TRACE_AGENT_PORT: String(intakePorts.apm) }, 'after-outage');
    const got = await eventually('metrics after the backend is back', async () => {
      const mine = (await collectedMetrics()).filter((p) => p.labels['run'] === 'after-outage' && p.name === 'checkout_orders_total');
      assert.ok(mine.length > 0);
      return mine;
    }, 90_000, 500);
    assertPodResource(got[0]!.labels, 'metric resource after the outage', true);
    await eventually('spans after the backend is back', async () => {
      assert.ok((await jaegerTraces('checkout')).some((tr) => tr.spans.some((s) => tagMap(s.tags)['run'] === 'after-outage')));
    }, 60_000, 500);
    await eventually('the recovery logged', async () => assert.match(nodeAgent.stderr(), /OTLP export of metrics to .* works again/), 30_000, 300);
    await stopChild(app2);
  });
});
