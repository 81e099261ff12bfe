/**
 * Bench of the cluster agent API's tags endpoint (issue 9): `GET /api/v1/tags/pod/{node}` on a simulated
 * cluster of 150,000 pods on 5,000 nodes (30 per node), the objects fed to an in-memory ClusterView
 * directly and the HTTP path real: HTTPS with keep-alive, bearer authentication, the real handler.
 *
 * The server runs in this process (one core: Node answers on one thread); the load comes from autocannon
 * in a child process, each request for a random node. Not a test: it prints requests/s and latency
 * percentiles, for bench/RESULTS.md.
 *
 *   npm run bench:tags [-- --seconds 10 --connections 16]
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { generateCa } from '../src/certs/index.js';
import { startClusterAgentApi } from '../src/clusteragent/api/index.js';
import { parseConfig } from '../src/config/index.js';
import { silentLogger } from '../src/logging/logger.js';
import { fakeClusterView, type FakeClusterView } from '../test/helpers/fakeClusterView.js';

const PODS = 150_000;
const NODES = 5_000;
const NAMESPACES = 500;
const SERVICES_PER_NAMESPACE = 10;
const TOKEN = 'bench-token-' + 'x'.repeat(32);

interface LoadJob {
  readonly url: string;
  readonly ca: string;
  readonly token: string;
  readonly nodes: number;
  readonly connections: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
}

interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly bytesPerAnswer: number;
}

const nodeName = (i: number) => `node-${String(i).padStart(5, '0')}`;

/** 30 pods per node, spread over namespaces; each pod selected by one or two Services of its namespace. */
export function simulatedCluster(): FakeClusterView {
  const v = fakeClusterView();
  for (let n = 0; n < NODES; n++) v.setNode(nodeName(n), { 'kubernetes.io/hostname': nodeName(n), 'topology.kubernetes.io/zone': `zone-${n % 3}` });
  for (let ns = 0; ns < NAMESPACES; ns++) {
    v.setNamespace(`ns-${ns}`, { team: `team-${ns % 20}` });
    for (let s = 0; s < SERVICES_PER_NAMESPACE; s++) v.addService({ namespace: `ns-${ns}`, name: `svc-${s}`, selector: { app: `app-${s}` } });
    v.addService({ namespace: `ns-${ns}`, name: 'front', selector: { tier: 'front' } });
  }
  v.setNamespace('kube-system', {}, 'bench-cluster-uid');
  for (let p = 0; p < PODS; p++) {
    const app = p % SERVICES_PER_NAMESPACE;
    v.addPod({
      namespace: `ns-${p % NAMESPACES}`,
      name: `app-${app}-${p.toString(36)}-x7k2p`,
      node: nodeName(p % NODES),
      uid: `00000000-0000-4000-8000-${String(p).padStart(12, '0')}`,
      labels: { app: `app-${app}`, ...(p % 4 === 0 ? { tier: 'front' } : {}), 'pod-template-hash': '5d9f7c' },
      owner: { kind: 'ReplicaSet', name: `app-${app}-5d9f7c` },
    });
  }
  return v;
}

async function load(job: LoadJob): Promise<LoadResult> {
  type Result = { requests: { total: number }; latency: { p50: number; p90: number; p99: number; max: number }; duration: number; non2xx: number; errors: number; timeouts: number; throughput: { total: number } };
  const run = (seconds: number) =>
    (autocannon as unknown as (o: Record<string, unknown>) => Promise<Result>)({
      url: job.url,
      connections: job.connections,
      duration: seconds,
      headers: { authorization: `Bearer ${job.token}` },
      tlsOptions: { ca: job.ca },
      requests: [
        {
          method: 'GET',
          setupRequest: (req: Record<string, unknown>) => ({ ...req, path: `/api/v1/tags/pod/${nodeName(Math.floor(Math.random() * job.nodes))}` }),
        },
      ],
    });
  if (job.warmupSeconds > 0) await run(job.warmupSeconds);
  const r = await run(job.seconds);
  return {
    requests: r.requests.total,
    seconds: r.duration,
    rps: r.requests.total / r.duration,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    max: r.latency.max,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    bytesPerAnswer: r.requests.total ? r.throughput.total / r.requests.total : 0,
  };
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const seconds = arg('seconds', 10);
  const connections = arg('connections', 16);
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  const view = simulatedCluster();
  const fedMs = performance.now() - started;
  const heapAfter = process.memoryUsage().heapUsed;

  const ca = await generateCa({ commonName: 'bench CA', validityHours: 24 });
  const api = await startClusterAgentApi({
    config: parseConfig({ env: {}, overrides: { 'cluster_agent.auth_token': [TOKEN, 'bench'] } }),
    namespace: 'datadog',
    view,
    logger: silentLogger(),
    host: '127.0.0.1',
    port: 0,
    extraNames: ['127.0.0.1'],
  });
  await api.setCa(ca.certPem, ca.keyPem);

  const child = fork(fileURLToPath(import.meta.url), ['load'], { stdio: 'inherit' });
  const job: LoadJob = { url: api.url, ca: ca.certPem, token: TOKEN, nodes: NODES, connections, seconds, warmupSeconds: 2 };
  const result = await new Promise<LoadResult>((resolve, reject) => {
    child.once('message', (m) => resolve(m as LoadResult));
    child.once('error', reject);
    child.once('exit', (code) => code !== 0 && reject(new Error(`the load generator exited with ${code}`)));
    child.send(job);
  });
  await api.close({ drainMs: 0 });

  const f = (n: number, d = 0) => n.toFixed(d);
  console.log(`tags API bench: ${PODS} pods on ${NODES} nodes (${PODS / NODES} per node), ${NAMESPACES * (SERVICES_PER_NAMESPACE + 1)} Services; view fed in ${f(fedMs)} ms (fake view: ${f((heapAfter - heapBefore) / PODS)} B/pod of heap, not the real state's)`);
  console.log(`GET /api/v1/tags/pod/{random node} over HTTPS keep-alive, ${connections} connections, ${seconds} s, server on one thread:`);
  console.log(`  ${f(result.rps)} req/s  p50 ${f(result.p50, 2)} ms  p90 ${f(result.p90, 2)} ms  p99 ${f(result.p99, 2)} ms  max ${f(result.max, 2)} ms  (${result.requests} requests, ${f(result.bytesPerAnswer)} B/answer with headers, non-2xx ${result.non2xx}, errors ${result.errors})`);
  if (result.non2xx > 0 || result.errors > 0) process.exitCode = 1;
}

if (process.argv[2] === 'load') {
  process.once('message', (job) => {
    load(job as LoadJob).then(
      (r) => process.send!(r, () => process.exit(0)),
      (e: unknown) => {
        console.error(e);
        process.exit(1);
      },
    );
  });
} else {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
