/**
 * `npm run bench:podcreate` (issue 22): what a pod create pays for Tether, through a real kube-apiserver
 * (startControlPlane, no controller manager) calling Tether by a URL webhook on loopback. In one run, on
 * one API server: pod-create latency p50/p99 for N pods one after another and N pods 16 at a time, with
 * no webhook, with the three separate entries and with the single entry, each with the webhook port
 * speaking HTTP/1.1 only and HTTP/2 (+HTTP/1.1). Figures are reported as the difference and ratio to
 * "no webhook" measured in the same run; the webhook's own counters say how many calls each pod cost
 * (reinvocation included) and which protocol the API server chose. Every created pod is checked for
 * injection.
 *
 *   node dist/bench/podCreate.js [--pods N] [--parallel 16] [--warmup 20] [--reinvocation IfNeeded|Never] [--json]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { asPod, runWebhookChain } from '../src/admission/index.js';
import { generateSelfSignedCertificate } from '../src/certs/index.js';
import { loadConfig } from '../src/config/index.js';
import { startControlPlane } from '../src/devcluster/controlPlane.js';

const SERVER_MAIN = fileURLToPath(new URL('./podCreateServer.js', import.meta.url));
const NAMESPACE = 'bench';

interface Options {
  pods: number;
  parallel: number;
  warmup: number;
  reinvocation: 'IfNeeded' | 'Never';
  json: boolean;
}

function parseFlags(argv: readonly string[]): Options {
  const o: Options = { pods: 200, parallel: 16, warmup: 20, reinvocation: 'IfNeeded', json: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const num = (): number => {
      const n = Number(argv[++i]);
      if (!(n > 0)) throw new Error(`${flag} needs a positive number`);
      return n;
    };
    if (flag === '--pods') o.pods = num();
    else if (flag === '--parallel') o.parallel = num();
    else if (flag === '--warmup') o.warmup = num();
    else if (flag === '--json') o.json = true;
    else if (flag === '--reinvocation') {
      const v = argv[++i];
      if (v !== 'IfNeeded' && v !== 'Never') throw new Error('--reinvocation needs IfNeeded or Never');
      o.reinvocation = v;
    } else throw new Error(`unknown flag ${flag}`);
  }
  return o;
}

interface Scenario {
  readonly name: string;
  /**
   * Tether's entries (`separate`, `single`); `noop`: one entry whose server answers `allowed` and nothing
   * else; `touch`: the same, with a patch adding one annotation (what the API server does for any mutation).
   */
  readonly shape?: 'separate' | 'single' | 'noop' | 'touch';
  readonly http2?: boolean;
  /** No webhook, and the pod is sent already in the form Tether's webhooks give it (`tether inject`'s chain). */
  readonly preInjected?: boolean;
}

/**
 * The first is what every other is compared with. The references after it split what a webhook adds to a
 * create into what no webhook can avoid (the API server's call to a webhook that changes nothing), what no
 * mutating webhook can avoid (the API server applying a patch, here of one annotation, and rerunning its
 * own admission plugins on the changed pod) and what no injection can avoid (storing and validating the
 * bigger pod), against Tether's own.
 */
const SCENARIOS: readonly Scenario[] = [
  { name: 'no webhook' },
  { name: 'reference: injected pod, no webhook', preInjected: true },
  { name: 'reference: no-op webhook, HTTP/2', shape: 'noop', http2: true },
  { name: 'reference: one-annotation webhook, HTTP/2', shape: 'touch', http2: true },
  { name: 'separate, HTTP/1.1', shape: 'separate', http2: false },
  { name: 'separate, HTTP/2', shape: 'separate', http2: true },
  { name: 'single, HTTP/1.1', shape: 'single', http2: false },
  { name: 'single, HTTP/2', shape: 'single', http2: true },
];

const ENTRIES = {
  separate: [
    ['datadog.webhook.config', '/injectconfig'],
    ['datadog.webhook.tags', '/injecttags'],
    ['datadog.webhook.auto.instrumentation', '/injectlib'],
  ],
  single: [['datadog.webhook.inject', '/inject']],
  noop: [['datadog.webhook.inject', '/inject']],
  touch: [['datadog.webhook.inject', '/inject']],
} as const;

interface WebhookProcess {
  readonly url: string;
  stats(): Promise<{ perEntry: Record<string, number>; protocols: Record<string, number> }>;
  stop(): Promise<void>;
}

async function startWebhook(cert: { certPem: string; keyPem: string }, shape: NonNullable<Scenario['shape']>, http2: boolean): Promise<WebhookProcess> {
  const child: ChildProcess = fork(SERVER_MAIN, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = <T>(): Promise<T> => new Promise((resolve) => child.once('message', (m) => resolve(m as T)));
  const ready = next<{ url: string }>();
  const reference = shape === 'noop' || shape === 'touch';
  child.send({ ...cert, http2, ...(reference ? { reference: shape } : {}), env: { DD_ADMISSION_CONTROLLER_WEBHOOK_ENTRIES: reference ? 'single' : shape, DD_LOG_LEVEL: 'error' } });
  const { url } = await ready;
  return {
    url,
    async stats() {
      const answer = next<{ perEntry: Record<string, number>; protocols: Record<string, number> }>();
      child.send('stats');
      return answer;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Calls a webhook process has answered so far, over all its entries. */
async function callsOf(w: WebhookProcess | undefined): Promise<number> {
  return w ? Object.values((await w.stats()).perEntry).reduce((a, b) => a + b, 0) : 0;
}

/** The pod every scenario creates: opted in, with a service tag and a library to inject (all three webhooks act). */
function benchPod(name: string): k8s.V1Pod {
  return {
    metadata: {
      name,
      labels: { 'admission.datadoghq.com/enabled': 'true', 'tags.datadoghq.com/env': 'bench', 'tags.datadoghq.com/service': 'checkout' },
      annotations: { 'admission.datadoghq.com/python-lib.version': 'v2.9.0' },
    },
    spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10', env: [{ name: 'PORT', value: '8080' }] }] },
  };
}

const DEFAULT_CONFIG = loadConfig({ env: {} });

/** The bench pod as Tether's webhooks give it, computed by the same chain (`tether inject`'s), for the no-webhook reference. */
function preInjectedPod(name: string): k8s.V1Pod {
  return runWebhookChain(asPod(benchPod(name)), { config: DEFAULT_CONFIG, namespace: NAMESPACE, tetherNamespace: 'tether' }).pod as unknown as k8s.V1Pod;
}

function injected(p: k8s.V1Pod): boolean {
  const env = (p.spec?.containers[0]?.env ?? []).map((e) => e.name);
  return env.includes('DD_ENTITY_ID') && env.includes('DD_ENV') && (p.spec?.initContainers ?? []).some((c) => c.name === 'datadog-lib-python-init');
}

const percentile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;

interface Latencies {
  readonly p50: number;
  readonly p99: number;
  readonly notInjected: number;
}

/** Milliseconds per create (request to answer) and pods that came back wrong, accumulated over rounds. */
interface Samples {
  readonly times: number[];
  notInjected: number;
}

const samples = (): Samples => ({ times: [], notInjected: 0 });

function latencies(s: Samples): Latencies {
  const sorted = [...s.times].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), notInjected: s.notInjected };
}

/** Creates `count` pods, `parallel` at a time, adding to `into`. */
async function createPods(core: k8s.CoreV1Api, prefix: string, count: number, parallel: number, expectInjected: boolean, into: Samples = samples(), podOf = benchPod): Promise<Samples> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const body = podOf(`${prefix}-${i}`);
      const started = process.hrtime.bigint();
      const p = await core.createNamespacedPod({ namespace: NAMESPACE, body });
      into.times.push(Number(process.hrtime.bigint() - started) / 1e6);
      if (expectInjected !== injected(p)) into.notInjected++;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return into;
}

interface ScenarioResult {
  readonly scenario: string;
  readonly sequential: Latencies;
  readonly parallel: Latencies;
  /** Webhook calls per created pod (warm-up included in neither), reinvocations included. */
  readonly callsPerPod?: number;
  /** TLS connections the API server opened, by ALPN protocol. */
  readonly connections?: Record<string, number>;
}

/** Rounds the N pods of each scenario are split into, scenarios taking turns: load that drifts over the run hits every scenario alike. */
const ROUNDS = 5;

async function main(): Promise<void> {
  const o = parseFlags(process.argv.slice(2));
  const log = (s: string) => process.stderr.write(s + '\n');
  const cert = await generateSelfSignedCertificate({ dnsNames: ['localhost', '127.0.0.1'], validityHours: 24 });
  const cp = await startControlPlane({ controllerManager: false });
  const webhooks = new Map<Scenario, WebhookProcess>();
  const results: ScenarioResult[] = [];
  try {
    const kc = cp.kubeConfig();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
    await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
    // No controller manager: the ServiceAccount admission plugin wants the default account to exist.
    await core.createNamespacedServiceAccount({ namespace: NAMESPACE, body: { metadata: { name: 'default' } } });
    for (const sc of SCENARIOS) if (sc.shape) webhooks.set(sc, await startWebhook(cert, sc.shape, sc.http2 ?? true));

    /** Points the API server at `sc`'s webhook (none for "no webhook") and waits until it uses it. */
    const use = async (sc: Scenario, tag: string): Promise<void> => {
      await admission.deleteMutatingWebhookConfiguration({ name: 'datadog-webhook' }).catch(() => undefined);
      const webhook = webhooks.get(sc);
      if (webhook && sc.shape) {
        const caBundle = Buffer.from(cert.certPem).toString('base64');
        await admission.createMutatingWebhookConfiguration({
          body: {
            metadata: { name: 'datadog-webhook' },
            webhooks: ENTRIES[sc.shape].map(([name, path]) => ({
              name,
              clientConfig: { url: `${webhook.url}${path}`, caBundle },
              rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
              objectSelector: { matchLabels: { 'admission.datadoghq.com/enabled': 'true' } },
              failurePolicy: 'Fail',
              reinvocationPolicy: o.reinvocation,
              matchPolicy: 'Exact',
              sideEffects: 'None',
              timeoutSeconds: 10,
              admissionReviewVersions: ['v1'],
            })),
          },
        });
      }
      // The API server's informer must see the change (this configuration, its URLs) before the timed pods:
      // Tether's entries inject the probe; a reference webhook is seen called, and no webhook is seen not injecting.
      for (let i = 0; ; i++) {
        const reference = sc.shape === 'noop' || sc.shape === 'touch';
        const calledBefore = reference ? await callsOf(webhook) : 0;
        const p = await core.createNamespacedPod({ namespace: NAMESPACE, body: benchPod(`${tag}-probe-${i}`), dryRun: 'All' });
        if (reference ? (await callsOf(webhook)) > calledBefore : injected(p) === (webhook !== undefined)) break;
        if (i > 200) throw new Error(`${sc.name}: the API server did not pick the webhook configuration up`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    const seq = new Map(SCENARIOS.map((sc) => [sc, samples()]));
    const par = new Map(SCENARIOS.map((sc) => [sc, samples()]));
    const calls = new Map<Scenario, number>();
    const perRound = Math.max(1, Math.ceil(o.pods / ROUNDS));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [index, sc] of SCENARIOS.entries()) {
        const tag = `r${round}-s${index}`;
        const webhook = webhooks.get(sc);
        await use(sc, tag);
        const expectInjected = sc.preInjected === true || sc.shape === 'separate' || sc.shape === 'single';
        const podOf = sc.preInjected ? preInjectedPod : benchPod;
        await createPods(core, `${tag}-warm`, Math.ceil(o.warmup / ROUNDS), o.parallel, expectInjected, samples(), podOf);
        const before = await webhook?.stats();
        await createPods(core, `${tag}-seq`, perRound, 1, expectInjected, seq.get(sc), podOf);
        await createPods(core, `${tag}-par`, perRound, o.parallel, expectInjected, par.get(sc), podOf);
        const after = await webhook?.stats();
        if (before && after) calls.set(sc, (calls.get(sc) ?? 0) + Object.entries(after.perEntry).reduce((n, [k, v]) => n + v - (before.perEntry[k] ?? 0), 0));
      }
      log(`round ${round + 1}/${ROUNDS} done`);
    }
    for (const sc of SCENARIOS) {
      const webhook = webhooks.get(sc);
      const sequential = latencies(seq.get(sc)!);
      const parallel = latencies(par.get(sc)!);
      const r: ScenarioResult = {
        scenario: sc.name,
        sequential,
        parallel,
        ...(webhook ? { callsPerPod: (calls.get(sc) ?? 0) / (2 * perRound * ROUNDS), connections: (await webhook.stats()).protocols } : {}),
      };
      results.push(r);
      log(`${sc.name}: sequential p50 ${sequential.p50.toFixed(2)} ms p99 ${sequential.p99.toFixed(2)} ms; ${o.parallel} parallel p50 ${parallel.p50.toFixed(2)} ms p99 ${parallel.p99.toFixed(2)} ms${r.callsPerPod !== undefined ? `; ${r.callsPerPod.toFixed(2)} calls per pod; connections ${JSON.stringify(r.connections)}` : ''}`);
    }
  } finally {
    await Promise.all([...webhooks.values()].map((w) => w.stop()));
    await cp.stop();
  }

  const base = results[0]!;
  const rows = results.map((r) => {
    const d = (a: Latencies, b: Latencies) => ({ p50Ms: +(a.p50 - b.p50).toFixed(2), p99Ms: +(a.p99 - b.p99).toFixed(2), p50Ratio: +(a.p50 / b.p50).toFixed(2), p99Ratio: +(a.p99 / b.p99).toFixed(2) });
    return { ...r, overNoWebhook: { sequential: d(r.sequential, base.sequential), parallel: d(r.parallel, base.parallel) } };
  });
  const table = [
    '| scenario | calls/pod | seq p50 | seq p99 | seq +p50 / +p99 over none | 16∥ p50 | 16∥ p99 | 16∥ +p50 / +p99 | not injected |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.callsPerPod?.toFixed(2) ?? '-'} | ${r.sequential.p50.toFixed(2)} | ${r.sequential.p99.toFixed(2)} | ${r.overNoWebhook.sequential.p50Ms} / ${r.overNoWebhook.sequential.p99Ms} ms | ${r.parallel.p50.toFixed(2)} | ${r.parallel.p99.toFixed(2)} | ${r.overNoWebhook.parallel.p50Ms} / ${r.overNoWebhook.parallel.p99Ms} ms | ${r.sequential.notInjected + r.parallel.notInjected} |`,
    ),
  ];
  process.stdout.write(table.join('\n') + '\n');
  if (o.json) process.stdout.write(JSON.stringify({ pods: o.pods, parallel: o.parallel, reinvocation: o.reinvocation, results: rows }) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
