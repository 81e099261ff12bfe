/**
 * The whole chain of issue 13, end to end: a labelled Deployment's pod on the real control plane; the
 * env `tether inject` gives that pod, turned into the container's environment as the kubelet does
 * (test/helpers/podEnv.ts: the downward API resolved, `status.hostIP` → 127.0.0.1, `metadata.uid` →
 * the pod's UID, and `$(VAR)` references expanded against earlier variables, which is what makes the
 * injected `DD_EXTERNAL_ENV=it-false,cn-checkout,pu-$(DD_INTERNAL_POD_UID)` name the pod); a small app
 * with the real `dd-trace` tracer and `hot-shots` client started with exactly that env; `tether
 * node-agent` (its kubelet a test double over the same API server, its tags from a real `tether start`)
 * receiving it over UDP/TCP and over the Unix sockets; real OTLP backends behind it, both built from the
 * Go module proxy by scripts/go-tools: the OpenTelemetry Collector (OTLP receiver → file exporter) at
 * `otlp_metrics_endpoint` and `otlp_logs_endpoint` (DogStatsD service checks and events), its file of
 * OTLP JSON lines read back, and Jaeger v2 at
 * `otlp_traces_endpoint`, read back from its query API. Then both backends down for a while, and back.
 *
 * The span's pod: dd-trace 5 sends no `DD_ENTITY_ID`; it forwards `DD_EXTERNAL_ENV` as its
 * `Datadog-External-Env` header, whose `pu-<uid>` the trace receiver maps to the pod. The app runs in
 * no container (or, on a CI host, in one that is no pod's), so that header is the only way its spans
 * can be tied to the pod, on every run, root or not. The container-id path (dd-trace reads the id from
 * /proc/self/cgroup and the pod's status lists it) is checked apart, without `DD_EXTERNAL_ENV`, where
 * the test can put the app in a cgroup named after a container id (root); elsewhere it is skipped.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { CLUSTER_AGENT_CA_CONFIGMAP, ENV_EXTERNAL_ENV } from '../../src/config/index.js';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { eventually } from '../helpers/eventually.js';
import { fileCollectorConfig, startCollectorProcess } from '../helpers/otlpFileCollector.js';
import { startKubeletDouble, type KubeletDouble } from '../helpers/kubeletDouble.js';
import { resolveContainerEnv, type PodEnvVar } from '../helpers/podEnv.js';
import { applyTetherRbac, tetherKubeconfigFile, NODE_AGENT_MANIFEST, NODE_AGENT_SERVICE_ACCOUNT } from '../helpers/rbac.js';
import { cleanEnv, freePort, spawnTether, TETHER_MAIN, type TetherProcess } from '../helpers/tether.js';

const NS = 'datadog';
const APPS = 'shop';
const NODE = 'n1';
const TOKEN = randomBytes(24).toString('hex');
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const APP = join(REPO, 'test/fixtures/intake/app.cjs');
const CONTAINER_ID = randomBytes(32).toString('hex');
/** The fixture app's sample rate on `checkout.orders.sampled` (each line it sends counts 1 / rate). */
const APP_SAMPLE_RATE = 0.25;
/** OTLP JSON's `AGGREGATION_TEMPORALITY_DELTA`. */
const OTLP_DELTA = 1;

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
let bins: { jaeger: string; otelcol: string };
let jaeger: ChildProcess | undefined;
let jaegerConfig: string;
let jaegerQuery: string;
let collector: ChildProcess | undefined;
let collectorConfig: string;
let metricsFile: string;
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

/**
 * `tether inject` of the pod manifest, as a user runs it; the app container's environment built from
 * it as the kubelet builds it (fieldRefs resolved, `$(VAR)` expanded against earlier variables).
 */
async function injectedEnv(args: string[] = [], config?: string): Promise<Record<string, string>> {
  const r = spawnSync(process.execPath, [TETHER_MAIN, 'inject', '-f', join(dir, 'pod.yaml'), ...(config ? ['--config', config] : []), ...args], { encoding: 'utf8', env: cleanEnv() });
  assert.equal(r.status, 0, r.stderr);
  const pod = parseAllDocuments(r.stdout)[0]!.toJS() as { spec: { containers: { env: PodEnvVar[] }[] } };
  const env = resolveContainerEnv(pod.spec.containers[0]!.env, {
    'metadata.uid': podUid,
    'metadata.name': podName,
    'metadata.namespace': APPS,
    'spec.nodeName': NODE,
    'status.hostIP': '127.0.0.1',
  });
  // What the webhook injected must resolve in full: a literal `$(...)` left would reach the tracer.
  assert.equal(env[ENV_EXTERNAL_ENV], `it-false,cn-checkout,pu-${podUid}`, JSON.stringify(env));
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

/** The fixture app with `env` (and the node agent's free ports where the webhook leaves the defaults 8125/8126). */
async function startApp(env: Record<string, string>, run: string, extra: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, [APP], {
    env: { PATH: process.env.PATH ?? '', NODE_PATH: join(REPO, 'node_modules'), ...env, TETHER_TEST_RUN: run, ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: REPO,
  });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const [line] = (await Promise.race([once(child.stdout!, 'data'), once(child, 'exit').then(() => assert.fail(`the app exited: ${err}`))])) as [Buffer];
  const started = JSON.parse(line.toString('utf8')) as { started: boolean; sampleRate: number };
  assert.equal(started.started, true);
  assert.equal(started.sampleRate, APP_SAMPLE_RATE);
  return child;
}

const hostPorts = (): Record<string, string> => ({ DD_DOGSTATSD_PORT: String(intakePorts.dsd), DD_TRACE_AGENT_PORT: String(intakePorts.apm) });

async function stopChild(c: ChildProcess | undefined): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  c.kill('SIGTERM');
  await once(c, 'exit');
}

/** A collector build (Jaeger v2 is one too) started on `config`, resolved once it logs that it is ready. */
const startBackend = (bin: string, config: string, what: string): Promise<ChildProcess> => startCollectorProcess(bin, config, what, (c) => children.push(c));

const startCollector = (): Promise<ChildProcess> => startBackend(bins.otelcol, collectorConfig, 'the OpenTelemetry Collector');
async function startJaeger(): Promise<ChildProcess> {
  const j = await startBackend(bins.jaeger, jaegerConfig, 'Jaeger');
  assert.equal((await fetch(`${jaegerQuery}/api/services`)).status, 200);
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

/** The first trace of `run` in Jaeger, and its root span's process as resource attributes (`service.name` included). */
async function traceOfRun(run: string): Promise<{ trace: JaegerTrace; resource: Record<string, unknown> }> {
  return eventually(`the spans of run ${run} in Jaeger`, async () => {
    const trace = (await jaegerTraces('checkout')).find((tr) => tr.spans.some((s) => tagMap(s.tags)['run'] === run));
    assert.ok(trace, `a trace of run ${run}`);
    const root = trace.spans.find((s) => s.operationName === 'POST /buy');
    assert.ok(root, JSON.stringify(trace.spans.map((s) => s.operationName)));
    const proc = trace.processes[root.processID]!;
    return { trace, resource: { ...tagMap(proc.tags), 'service.name': proc.serviceName } };
  }, 60_000, 300);
}

// ---- the collector's file: one ExportMetricsServiceRequest per line, as OTLP JSON ----

interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values?: OtlpAnyValue[] };
}
interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}
interface OtlpNumberPoint {
  attributes?: OtlpKeyValue[];
  startTimeUnixNano?: string;
  asDouble?: number;
  asInt?: string;
}
interface OtlpHistogramPoint {
  attributes?: OtlpKeyValue[];
  startTimeUnixNano?: string;
  count?: string;
  sum?: number;
  min?: number;
  max?: number;
}
interface OtlpMetric {
  name: string;
  sum?: { dataPoints?: OtlpNumberPoint[]; aggregationTemporality?: number; isMonotonic?: boolean };
  gauge?: { dataPoints?: OtlpNumberPoint[] };
  histogram?: { dataPoints?: OtlpHistogramPoint[]; aggregationTemporality?: number };
}
interface OtlpMetricsRequest {
  resourceMetrics?: { resource?: { attributes?: OtlpKeyValue[] }; scopeMetrics?: { metrics?: OtlpMetric[] }[] }[];
}

/** One data point as the collector wrote it, with its metric's type and its resource. */
interface MetricPoint {
  readonly name: string;
  readonly type: 'sum' | 'gauge' | 'histogram';
  readonly temporality?: number | undefined;
  readonly monotonic?: boolean | undefined;
  readonly resource: Record<string, unknown>;
  readonly attributes: Record<string, unknown>;
  readonly start: string;
  /** sum and gauge points */
  readonly value?: number;
  /** histogram points */
  readonly histogram?: { count: number; sum: number; min: number; max: number };
}

function anyValue(v: OtlpAnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(anyValue);
  return undefined;
}
const attributes = (kvs: OtlpKeyValue[] | undefined): Record<string, unknown> => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, anyValue(kv.value)]));
const numberValue = (p: OtlpNumberPoint): number => p.asDouble ?? Number(p.asInt);

/** The requests in the collector's file, one per line (a line still being written is skipped: it is read again next time). */
async function collectorRequests<T>(): Promise<T[]> {
  const out: T[] = [];
  for (const line of (await readFile(metricsFile, 'utf8').catch(() => '')).split('\n')) {
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // An empty or partial line.
    }
  }
  return out;
}

/** Every point in the collector's file. */
async function collectedMetrics(): Promise<MetricPoint[]> {
  const out: MetricPoint[] = [];
  for (const req of await collectorRequests<OtlpMetricsRequest>()) {
    for (const rm of req.resourceMetrics ?? []) {
      const resource = attributes(rm.resource?.attributes);
      for (const m of (rm.scopeMetrics ?? []).flatMap((s) => s.metrics ?? [])) {
        const base = { name: m.name, resource };
        for (const p of m.sum?.dataPoints ?? []) out.push({ ...base, type: 'sum', temporality: m.sum!.aggregationTemporality, monotonic: m.sum!.isMonotonic, attributes: attributes(p.attributes), start: p.startTimeUnixNano ?? '', value: numberValue(p) });
        for (const p of m.gauge?.dataPoints ?? []) out.push({ ...base, type: 'gauge', attributes: attributes(p.attributes), start: p.startTimeUnixNano ?? '', value: numberValue(p) });
        for (const p of m.histogram?.dataPoints ?? []) {
          out.push({
            ...base,
            type: 'histogram',
            temporality: m.histogram!.aggregationTemporality,
            attributes: attributes(p.attributes),
            start: p.startTimeUnixNano ?? '',
            histogram: { count: Number(p.count ?? 0), sum: p.sum ?? NaN, min: p.min ?? NaN, max: p.max ?? NaN },
          });
        }
      }
    }
  }
  return out;
}

interface OtlpLogsRequest {
  resourceLogs?: { resource?: { attributes?: OtlpKeyValue[] }; scopeLogs?: { logRecords?: { severityText?: string; body?: OtlpAnyValue; eventName?: string; attributes?: OtlpKeyValue[] }[] }[] }[];
}
/** One log record as the collector wrote it (the same file: logs requests are lines too), with its resource. */
interface LogRecordSeen {
  readonly resource: Record<string, unknown>;
  readonly attributes: Record<string, unknown>;
  readonly severityText: string | undefined;
  readonly body: unknown;
  readonly eventName: string | undefined;
}

/** The log records of `run` (DogStatsD service checks and events) once there is one of each. */
async function logRecordsOfRun(run: string): Promise<LogRecordSeen[]> {
  return eventually(`the service checks and events of run ${run} in the collector's file`, async () => {
    const out: LogRecordSeen[] = [];
    for (const req of await collectorRequests<OtlpLogsRequest>()) {
      for (const rl of req.resourceLogs ?? []) {
        for (const r of (rl.scopeLogs ?? []).flatMap((s) => s.logRecords ?? [])) {
          out.push({ resource: attributes(rl.resource?.attributes), attributes: attributes(r.attributes), severityText: r.severityText, body: r.body ? anyValue(r.body) : undefined, eventName: r.eventName });
        }
      }
    }
    const mine = out.filter((r) => r.attributes['run'] === run);
    assert.ok(mine.some((r) => r.eventName === 'dd.service_check') && mine.some((r) => r.eventName === 'dd.event'), `log records of run ${run}: ${JSON.stringify(mine.map((r) => r.eventName))}`);
    return mine;
  }, 60_000, 300);
}

/** The points of `run` once every name in `names` has at least one. */
async function metricsOfRun(run: string, names: readonly string[]): Promise<MetricPoint[]> {
  return eventually(`the metrics of run ${run} in the collector's file`, async () => {
    const mine = (await collectedMetrics()).filter((p) => p.attributes['run'] === run);
    for (const name of names) assert.ok(mine.some((p) => p.name === name), `${name} in ${[...new Set(mine.map((p) => p.name))].join(',') || 'nothing yet'}`);
    return mine;
  }, 60_000, 300);
}

async function nodeAgentMetrics(): Promise<string> {
  return (await fetch(`${nodeAgentUrl}/metrics`)).text();
}
function counter(text: string, name: string, labels: Record<string, string>): number {
  const line = text.split('\n').find((l) => l.startsWith(name + '{') && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** The pod's OTLP resource attributes: the conventions' names and the Datadog tags kept as they are. */
function assertPodResource(resource: Record<string, unknown>, what: string): void {
  const expected: Record<string, unknown> = {
    'k8s.namespace.name': APPS,
    'k8s.pod.name': podName,
    'k8s.pod.uid': podUid,
    'k8s.node.name': NODE,
    'k8s.deployment.name': 'checkout',
    'k8s.replicaset.name': 'checkout-7d9',
    'service.name': 'checkout',
    'service.version': '2.3.1',
    'deployment.environment.name': 'dev',
    kube_namespace: APPS,
    pod_name: podName,
    kube_deployment: 'checkout',
    kube_replica_set: 'checkout-7d9',
    kube_service: 'checkout',
    env: 'dev',
    service: 'checkout',
    version: '2.3.1',
  };
  for (const [k, v] of Object.entries(expected)) assert.equal(resource[k], v, `${what}: ${k} in ${JSON.stringify(resource)}`);
}

before(
  async () => {
    const built = goTools('jaeger', 'otelcol');
    cp = await startControlPlane();
    dir = cp.dir;
    const kc = cp.kubeConfig();
    core = kc.makeApiClient(k8s.CoreV1Api);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    await applyTetherRbac(cp, NS, NODE_AGENT_MANIFEST, NODE_AGENT_SERVICE_ACCOUNT);
    const kubeconfigFile = await tetherKubeconfigFile(cp, NS, dir);
    await core.createNode({ body: { metadata: { name: NODE } } });
    await core.createNamespace({ body: { metadata: { name: APPS } } });

    // The backends, started while the cluster agent comes up: the collector (OTLP in, a file of OTLP
    // JSON out, appended to across restarts) for metrics, Jaeger v2 (memory storage, query API) for traces.
    const backends = (async () => {
      const [jaegerBin, otelcolBin] = await built;
      bins = { jaeger: jaegerBin!, otelcol: otelcolBin! };
      const [collectorOtlp, jaegerOtlp, jaegerHttp, jaegerGrpc] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
      metricsFile = join(dir, 'metrics.jsonl');
      collectorConfig = join(dir, 'otelcol.yaml');
      await writeFile(collectorConfig, fileCollectorConfig(`127.0.0.1:${collectorOtlp}`, metricsFile, ['metrics', 'logs']));
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
`,
      );
      jaegerQuery = `http://127.0.0.1:${jaegerHttp}`;
      [collector, jaeger] = await Promise.all([startCollector(), startJaeger()]);
      return { metrics: `http://127.0.0.1:${collectorOtlp}/v1/metrics`, logs: `http://127.0.0.1:${collectorOtlp}/v1/logs`, traces: `http://127.0.0.1:${jaegerOtlp}/v1/traces` };
    })();
    // A failure there is reported by the await below, not as an unhandled rejection meanwhile.
    backends.catch(() => undefined);

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

    const otlp = await backends;
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
      DD_OTLP_METRICS_ENDPOINT: otlp.metrics,
      DD_OTLP_LOGS_ENDPOINT: otlp.logs,
      DD_OTLP_TRACES_ENDPOINT: otlp.traces,
      // A scaled-down outage: retries at most 1 s apart, a request dropped after failing for 3 s.
      DD_OTLP_RETRY_MAX_INTERVAL_SECONDS: '1',
      DD_OTLP_RETRY_MAX_ELAPSED_SECONDS: '3',
    });
    processes.push(nodeAgent);
    const line = await nodeAgent.waitForLog((l) => typeof l['url'] === 'string' && /node agent of node/.test(String(l['msg'])), 60_000);
    nodeAgentUrl = line['url'] as string;
    await eventually("the node agent's pod, tagged by the cluster agent", async () => {
      const body = (await (await fetch(`${nodeAgentUrl}/pods`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json()) as { pods: { uid: string; tagsFrom: string; tags: string[] }[] };
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
  test('hostip mode: dd-trace over TCP and hot-shots over UDP, with the env tether inject gives the pod; metrics in the collector, spans in Jaeger', async () => {
    const env = await injectedEnv();
    assert.equal(env['DD_AGENT_HOST'], '127.0.0.1');
    assert.equal(env['DD_ENTITY_ID'], podUid);
    assert.equal(env['DD_SERVICE'], 'checkout');
    const run = 'hostip';
    // The webhook sets no port (the agent's are 8125/8126); this node agent listens on free ones.
    const app = await startApp(env, run, hostPorts());

    const names = ['checkout.orders', 'checkout.orders.sampled', 'checkout.cart.size', 'checkout.latency', 'checkout.latency.quantile', 'checkout.payload.bytes'];
    const points = await metricsOfRun(run, names);
    const one = (name: string): MetricPoint => points.find((p) => p.name === name)!;
    for (const name of names) assertPodResource(one(name).resource, `the resource of ${name}`);

    // A count: a delta, monotonic Sum with the client's own tags on the point (the pod's on the resource).
    const orders = one('checkout.orders');
    assert.equal(orders.type, 'sum');
    assert.equal(orders.temporality, OTLP_DELTA);
    assert.equal(orders.monotonic, true);
    assert.equal(orders.attributes['route'], '/buy');
    assert.equal(orders.attributes['kube_deployment'], undefined, 'pod tags are on the resource, not the point');
    assert.ok(orders.value! >= 1);
    // A gauge.
    const cart = one('checkout.cart.size');
    assert.equal(cart.type, 'gauge');
    assert.ok(cart.value! >= 0 && cart.value! <= 6, String(cart.value));
    // A histogram and a distribution: a delta Histogram (count, sum, min, max) and the quantile gauges.
    for (const [name, lo, hi] of [['checkout.latency', 10, 14], ['checkout.payload.bytes', 100, 300]] as const) {
      const h = one(name);
      assert.equal(h.type, 'histogram', name);
      assert.equal(h.temporality, OTLP_DELTA, name);
      const { count, sum, min, max } = h.histogram!;
      assert.ok(count >= 1 && min >= lo && max <= hi && min <= max && sum >= count * lo && sum <= count * hi, `${name}: ${JSON.stringify(h.histogram)}`);
    }
    const p95 = points.find((p) => p.name === 'checkout.latency.quantile' && p.attributes['quantile'] === '0.95');
    assert.ok(p95 && p95.type === 'gauge' && p95.value! >= 10 && p95.value! <= 14, JSON.stringify(p95));

    // hot-shots' service check and event, as OTLP log records with the pod's resource.
    const logs = await logRecordsOfRun(run);
    const check = logs.find((r) => r.eventName === 'dd.service_check')!;
    assertPodResource(check.resource, 'the resource of the service check');
    assert.deepEqual([check.severityText, check.body, check.attributes['dd.service_check.name'], check.attributes['route']], ['WARNING', 'slow database', 'checkout.can_serve', '/buy']);
    const event = logs.find((r) => r.eventName === 'dd.event')!;
    assertPodResource(event.resource, 'the resource of the event');
    assert.deepEqual([event.severityText, event.body, event.attributes['dd.event.title'], event.attributes['dd.event.aggregation_key']], ['SUCCESS', 'version 2.3.1 is out', 'checkout deployed', 'deploy']);

    // The spans in Jaeger, tied to the pod by DD_EXTERNAL_ENV (the app is in no pod's container).
    const { trace, resource } = await traceOfRun(run);
    const root = trace.spans.find((s) => s.operationName === 'POST /buy')!;
    const child = trace.spans.find((s) => s.operationName === 'SELECT cart');
    assert.ok(child, JSON.stringify(trace.spans.map((s) => s.operationName)));
    assert.equal(child.references[0]?.refType, 'CHILD_OF');
    assert.equal(tagMap(root.tags)['span.kind'], 'server');
    assert.equal(tagMap(root.tags)['operation.name'], 'checkout.request');
    assertPodResource(resource, 'the span resource');

    // The sample rate applied: every tick sends `checkout.orders` once and `checkout.orders.sampled`
    // once at @0.25, so a flush window holding both has the sampled count at 4 times the other. (A
    // window may split one tick's two lines: the check asks for one window where they fall together.)
    await eventually('a flush window with both counters', async () => {
      const mine = (await collectedMetrics()).filter((p) => p.attributes['run'] === run);
      const windows = mine.filter((p) => p.name === 'checkout.orders').map((o) => ({ o: o.value!, s: mine.find((p) => p.name === 'checkout.orders.sampled' && p.start === o.start)?.value }));
      assert.ok(windows.some((w) => w.s === w.o / APP_SAMPLE_RATE), `checkout.orders vs checkout.orders.sampled per window: ${JSON.stringify(windows)}`);
    }, 30_000, 300);
    await stopChild(app);
  });

  test('socket mode: over the Unix sockets /var/run/datadog/{apm,dsd}.socket point to', async () => {
    const config = join(dir, 'socket-mode.yaml');
    await writeFile(config, `admission_controller:\n  inject_config:\n    mode: socket\n    trace_agent_socket: unix://${sockets.apm}\n    dogstatsd_socket: unix://${sockets.dsd}\n`);
    const env = await injectedEnv([], config);
    assert.equal(env['DD_TRACE_AGENT_URL'], `unix://${sockets.apm}`);
    assert.equal(env['DD_DOGSTATSD_URL'], `unix://${sockets.dsd}`);
    assert.equal(env['DD_AGENT_HOST'], undefined);
    const run = 'socket';
    const app = await startApp(env, run);
    const [points, { resource }] = await Promise.all([metricsOfRun(run, ['checkout.orders']), traceOfRun(run)]);
    assertPodResource(points[0]!.resource, 'the metric resource (unix socket)');
    assertPodResource(resource, 'the span resource (unix socket)');
    await stopChild(app);
    assert.ok(counter(await nodeAgentMetrics(), 'tether_node_agent_intake_origins_total', { result: 'pod' }) > 0);
  });

  test('without DD_EXTERNAL_ENV, in a container cgroup: the span is tied to its pod by the container id dd-trace reads (root only)', async (t) => {
    if (!cgroupProcs) {
      t.skip('cgroups are not writable here (not root): the app cannot sit in a container cgroup, so dd-trace has no container id to send');
      return;
    }
    const env = await injectedEnv();
    delete env[ENV_EXTERNAL_ENV];
    const run = 'cgroup';
    const app = await startApp(env, run, { ...hostPorts(), TETHER_TEST_CGROUP_PROCS: cgroupProcs });
    const { resource } = await traceOfRun(run);
    assertPodResource(resource, 'the span resource (container id)');
    await stopChild(app);
  });

  test('the backends down for a while: nothing crashes, the queues stay bounded, drops are counted; back up, data flows again', async () => {
    const env = await injectedEnv();
    const app = await startApp(env, 'outage', hostPorts());
    await Promise.all([stopChild(collector), stopChild(jaeger)]);
    // Requests failing for longer than otlp_retry_max_elapsed_seconds (3 s here) are dropped and counted.
    await eventually('spans and metrics dropped while the backends are down', async () => {
      const text = await nodeAgentMetrics();
      const otlp = text.split('\n').filter((l) => l.includes('otlp')).join('\n');
      for (const signal of ['traces', 'metrics']) {
        assert.ok(counter(text, 'tether_node_agent_otlp_dropped_items_total', { signal, reason: 'retries_exhausted' }) > 0, otlp);
        assert.ok(counter(text, 'tether_node_agent_otlp_requests_total', { signal, result: 'network' }) > 0, otlp);
        assert.ok(counter(text, 'tether_node_agent_otlp_queue_bytes', { signal }) <= 16 * 1024 * 1024, otlp);
      }
    }, 90_000, 500);
    assert.equal(nodeAgent.child.exitCode, null, 'the node agent still runs');
    assert.equal((await fetch(`${nodeAgentUrl}/healthz`)).status, 200);
    assert.match(nodeAgent.stderr(), /OTLP export of metrics to .* is failing/);
    assert.match(nodeAgent.stderr(), /OTLP export of traces to .* is failing/);

    [collector, jaeger] = await Promise.all([startCollector(), startJaeger()]);
    await stopChild(app);
    const app2 = await startApp(env, 'after-outage', hostPorts());
    const [points, { resource }] = await Promise.all([metricsOfRun('after-outage', ['checkout.orders']), traceOfRun('after-outage')]);
    assertPodResource(points[0]!.resource, 'the metric resource after the outage');
    assertPodResource(resource, 'the span resource after the outage');
    await eventually('the recovery logged', async () => {
      assert.match(nodeAgent.stderr(), /OTLP export of metrics to .* works again/);
      assert.match(nodeAgent.stderr(), /OTLP export of traces to .* works again/);
    }, 30_000, 300);
    await stopChild(app2);
  });
});
