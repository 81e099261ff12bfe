/**
 * `npm run bench:state`: memory per pod of the cluster agent's state (clusteragent/clusterStore.ts) for
 * a simulated cluster, 150,000 pods on 5,000 nodes by default, and the time to compute one node's tags
 * with the shared tagger (what `/api/v1/tether/pods/{node}` does per request, without the HTTP).
 *
 *   node --expose-gc dist/bench/clusterState.js [--pods N] [--nodes N] [--informers] [--no-intern] [--json]
 *
 * The cluster: 100 namespaces; Deployments of 5 to 25 replicas, each with its current ReplicaSet and an
 * old one scaled to 0 (as `revisionHistoryLimit` keeps them), and a Service selecting it; pods with
 * realistic labels (app, pod-template-hash, team, tags.datadoghq.com/env/service/version) and bodies
 * (containers, probes, status, conditions: what the store must drop), 30 per node; nodes with the usual
 * eight labels. Every object goes through JSON.stringify/JSON.parse first, so its strings are fresh as
 * the API server's answers make them (interning has to earn its keep).
 *
 * Default: objects fed to the store with `apply`. `--informers`: through `startClusterState` and its ten
 * informers over an in-process transport that serves the lists in pages (the informers' own maps, keys
 * and resourceVersions count too: that is what `tether start` holds).
 *
 * Memory is the heap in use after a full GC (and RSS) before the store exists and after it holds the
 * cluster, divided by the number of pods: everything the state keeps (nodes, Services, workloads)
 * is charged to the pods. Target: < 1 KB per pod.
 */
import { performance } from 'node:perf_hooks';
import { createClusterStore, type ClusterStore } from '../src/clusteragent/clusterStore.js';
import { startClusterState, WATCHED_RESOURCES, type ClusterResource } from '../src/clusteragent/state.js';
import type { ClusterView } from '../src/clusterview/types.js';
import type { ApiTransport } from '../src/kube/transport.js';
import { silentLogger } from '../src/logging/logger.js';
import { podTags } from '../src/tagging/podTags.js';

// ---------------------------------------------------------------------------------------------------
// flags

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const PODS = Number(flag('--pods') ?? 150_000);
const NODES = Number(flag('--nodes') ?? 5_000);
const VIA_INFORMERS = process.argv.includes('--informers');
const JSON_OUT = process.argv.includes('--json');
/** For comparison: no interning at all. */
const NO_INTERN = process.argv.includes('--no-intern');
const NAMESPACES = 100;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc (npm run bench:state does)');
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------------
// the simulated cluster (deterministic: object i is the same whoever asks for it)

/** xorshift32 seeded by `seed`: the same stream for the same seed. */
function rng(seed: number): () => number {
  let x = (seed * 2654435761) >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}
const ALNUM = 'bcdfghjklmnpqrstvwxz2456789';
const token = (r: () => number, n: number): string => Array.from({ length: n }, () => ALNUM[Math.floor(r() * ALNUM.length)]).join('');
const hex = (r: () => number, n: number): string => Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join('');
const uuid = (r: () => number): string => `${hex(r, 8)}-${hex(r, 4)}-4${hex(r, 3)}-a${hex(r, 3)}-${hex(r, 12)}`;
const WORDS = [
  'checkout-api',
  'cart-service',
  'payments-worker',
  'search-indexer',
  'catalog-api',
  'user-profile',
  'auth-gateway',
  'order-events',
  'shipping-quotes',
  'inventory-sync',
  'reviews-api',
  'ad-server',
  'email-sender',
  'web-frontend',
  'edge-gateway',
  'recommendations',
];
const NAMESPACE_WORDS = ['commerce', 'platform', 'identity', 'logistics', 'marketing'];
const ZONES = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
const TYPES = ['m6i.2xlarge', 'm6i.4xlarge', 'c6i.4xlarge', 'r6i.2xlarge'];

interface Deployment {
  readonly ns: string;
  readonly name: string;
  readonly hash: string;
  readonly oldHash: string;
  readonly replicas: number;
  readonly team: string;
  readonly version: string;
}

/** Deployments until their replicas add up to `pods` (the last one takes what is left). */
function deployments(pods: number): Deployment[] {
  const out: Deployment[] = [];
  let left = pods;
  for (let i = 0; left > 0; i++) {
    const r = rng(1_000_003 + i);
    const replicas = Math.min(left, 5 + Math.floor(r() * 21));
    left -= replicas;
    const ns = `team-${NAMESPACE_WORDS[i % NAMESPACE_WORDS.length]}-${i % NAMESPACES}`;
    out.push({ ns, name: `${WORDS[i % WORDS.length]}-${Math.floor(i / WORDS.length)}`, hash: token(r, 10), oldHash: token(r, 10), replicas, team: ns, version: `1.${Math.floor(r() * 40)}.${Math.floor(r() * 10)}` });
  }
  return out;
}

const nodeName = (i: number) => `ip-10-${(i >> 8) & 255}-${i & 255}-${(i * 7) % 250}.ec2.internal`;
const tagLabels = (d: Deployment) => ({ 'tags.datadoghq.com/env': 'production', 'tags.datadoghq.com/service': d.name, 'tags.datadoghq.com/version': d.version });

function makeNode(i: number): object {
  const r = rng(7 + i);
  const name = nodeName(i);
  return {
    metadata: {
      name,
      uid: uuid(r),
      resourceVersion: String(100 + i),
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'topology.kubernetes.io/zone': ZONES[i % 3],
        'topology.kubernetes.io/region': 'us-east-1',
        'node.kubernetes.io/instance-type': TYPES[i % 4],
        'eks.amazonaws.com/nodegroup': `ng-${i % 12}`,
        'eks.amazonaws.com/capacityType': i % 5 === 0 ? 'SPOT' : 'ON_DEMAND',
      },
    },
    status: { capacity: { cpu: '8', memory: '32Gi', pods: '110' }, addresses: [{ type: 'InternalIP', address: `10.0.${i >> 8}.${i & 255}` }] },
  };
}

function makePod(d: Deployment, replica: number, podIndex: number, nodes: number): object {
  const r = rng(31 + podIndex);
  const name = `${d.name}-${d.hash}-${token(r, 5)}`;
  return {
    metadata: {
      name,
      namespace: d.ns,
      uid: uuid(r),
      resourceVersion: String(1_000_000 + podIndex),
      generateName: `${d.name}-${d.hash}-`,
      creationTimestamp: '2024-05-01T10:00:00Z',
      labels: { app: d.name, 'pod-template-hash': d.hash, team: d.team, ...tagLabels(d) },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2024-05-01T09:59:00Z' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${d.name}-${d.hash}`, uid: uuid(r), controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      // 30 per node: pod i on node i mod nodes.
      nodeName: nodeName(podIndex % nodes),
      serviceAccountName: 'default',
      containers: [
        {
          name: 'app',
          image: `registry.example/${d.name}:${d.version}`,
          ports: [{ containerPort: 8080, protocol: 'TCP' }],
          env: [{ name: 'DD_ENV', value: 'prod' }, { name: 'DD_SERVICE', value: d.name }],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
          readinessProbe: { httpGet: { path: '/ready', port: 8080 } },
        },
      ],
    },
    status: {
      phase: replica % 50 === 49 ? 'Pending' : 'Running',
      hostIP: `10.0.${(podIndex % nodes) >> 8}.${podIndex & 255}`,
      podIP: `10.1.${(podIndex >> 8) & 255}.${podIndex & 255}`,
      conditions: [{ type: 'Ready', status: 'True' }, { type: 'ContainersReady', status: 'True' }],
      containerStatuses: [{ name: 'app', ready: true, restartCount: 0, containerID: `containerd://${hex(r, 64)}`, image: `registry.example/${d.name}:${d.version}` }],
    },
  };
}

/** Every object of the cluster, by resource, as the API server would list them (fresh strings). */
function* cluster(resource: ClusterResource, deps: readonly Deployment[]): Generator<object> {
  const fresh = (o: object): object => JSON.parse(JSON.stringify(o)) as object;
  switch (resource) {
    case 'nodes':
      for (let i = 0; i < NODES; i++) yield fresh(makeNode(i));
      return;
    case 'namespaces':
      yield fresh({ metadata: { name: 'kube-system', uid: uuid(rng(3)), labels: { 'kubernetes.io/metadata.name': 'kube-system' } } });
      for (const ns of new Set(deps.map((d) => d.ns))) yield fresh({ metadata: { name: ns, uid: uuid(rng(ns.length)), labels: { 'kubernetes.io/metadata.name': ns, team: ns } } });
      return;
    case 'services':
      for (const d of deps) yield fresh({ metadata: { name: d.name, namespace: d.ns, labels: { app: d.name } }, spec: { selector: { app: d.name }, ports: [{ port: 80, targetPort: 8080 }], clusterIP: '10.100.0.1' } });
      return;
    case 'deployments':
      for (const d of deps) yield fresh({ metadata: { name: d.name, namespace: d.ns, labels: { app: d.name, team: d.team, ...tagLabels(d) } }, spec: { replicas: d.replicas } });
      return;
    case 'replicasets':
      for (const d of deps) {
        for (const [hash, replicas] of [[d.hash, d.replicas], [d.oldHash, 0]] as const) {
          yield fresh({
            metadata: {
              name: `${d.name}-${hash}`,
              namespace: d.ns,
              labels: { app: d.name, 'pod-template-hash': hash, team: d.team, ...tagLabels(d) },
              ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: d.name, uid: 'x', controller: true }],
            },
            spec: { replicas },
          });
        }
      }
      return;
    case 'pods': {
      let i = 0;
      for (const d of deps) for (let k = 0; k < d.replicas; k++, i++) yield fresh(makePod(d, k, i, NODES));
      return;
    }
    default:
      return; // no StatefulSets, DaemonSets, Jobs or CronJobs in this cluster
  }
}

// ---------------------------------------------------------------------------------------------------
// feeding: directly, or through the informers over an in-process transport

function feedStore(deps: readonly Deployment[]): ClusterStore {
  const store = createClusterStore(NO_INTERN ? { intern: { maxStrings: 0, maxMaps: 0 } } : {});
  for (const resource of Object.keys(WATCHED_RESOURCES) as ClusterResource[]) for (const o of cluster(resource, deps)) store.apply(resource, 'ADDED', o);
  return store;
}

/** Lists served in pages of `limit` from the generators; watches that stay open and say nothing. */
function simulatedApiServer(deps: readonly Deployment[]): ApiTransport {
  const byPath = new Map<string, ClusterResource>(Object.entries(WATCHED_RESOURCES).map(([r, w]) => [w.path, r as ClusterResource]));
  const lists = new Map<string, Generator<object>>();
  const body = (text: string) => (async function* () {
    yield text;
  })();
  return {
    async get(path, query, signal) {
      const resource = byPath.get(path);
      if (!resource) return { status: 404, body: body('{}') };
      if (query.get('watch') === 'true') {
        return {
          status: 200,
          body: (async function* () {
            await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
          })(),
        };
      }
      const limit = Number(query.get('limit') ?? 500);
      let gen = lists.get(path);
      if (!query.get('continue') || !gen) lists.set(path, (gen = cluster(resource, deps)));
      const items: object[] = [];
      for (let i = 0; i < limit; i++) {
        const n = gen.next();
        if (n.done) break;
        items.push(n.value);
      }
      const more = items.length === limit;
      return { status: 200, body: body(JSON.stringify({ metadata: { resourceVersion: '1', ...(more ? { continue: 'next' } : {}) }, items })) };
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// measures

function settle(): NodeJS.MemoryUsage {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage();
}

function nodeTags(view: ClusterView, node: string): number {
  let n = 0;
  for (const pod of view.podsOfNode(node)) {
    const workload = view.workloadOf(pod);
    n += podTags({ ...pod, services: view.servicesOf(pod), ...(workload ? { workload } : {}) }).length;
  }
  return n;
}

async function main(): Promise<void> {
  const deps = deployments(PODS);
  const before = settle();
  const t0 = performance.now();
  let view: ClusterView;
  let counts: ClusterStore;
  let stop = async (): Promise<void> => {};
  if (VIA_INFORMERS) {
    const state = startClusterState({ transport: simulatedApiServer(deps), logger: silentLogger(), ...(NO_INTERN ? { intern: { maxStrings: 0, maxMaps: 0 } } : {}) });
    await state.synced;
    view = state;
    counts = state.store;
    stop = () => state.stop();
  } else {
    view = counts = feedStore(deps);
  }
  const loadMs = performance.now() - t0;
  const after = settle();
  const pods = counts.count('pods');
  const heapPerPod = (after.heapUsed - before.heapUsed) / pods;
  const rssPerPod = (after.rss - before.rss) / pods;

  // One node's tags: warm up, then every node once, in order.
  const nodes = [...view.nodes()];
  for (const n of nodes.slice(0, 200)) nodeTags(view, n);
  const times: number[] = [];
  let tags = 0;
  for (const n of nodes) {
    const s = performance.now();
    tags += nodeTags(view, n);
    times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!;
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  await stop();

  const result = {
    feed: VIA_INFORMERS ? 'informers' : 'store',
    pods,
    nodes: nodes.length,
    podsPerNode: pods / nodes.length,
    deployments: deps.length,
    replicaSets: counts.count('replicasets'),
    services: counts.count('services'),
    loadSeconds: +(loadMs / 1000).toFixed(1),
    heapBytesPerPod: Math.round(heapPerPod),
    rssBytesPerPod: Math.round(rssPerPod),
    heapMiB: +((after.heapUsed - before.heapUsed) / 2 ** 20).toFixed(1),
    rssMiB: +((after.rss - before.rss) / 2 ** 20).toFixed(1),
    intern: counts.internStats(),
    nodeTagsMicros: { mean: +(mean * 1000).toFixed(1), p50: +(q(0.5) * 1000).toFixed(1), p99: +(q(0.99) * 1000).toFixed(1) },
    tagsPerPod: +(tags / pods).toFixed(1),
  };
  if (JSON_OUT) {
    console.log(JSON.stringify(result));
    return;
  }
  console.log(`cluster state, fed ${VIA_INFORMERS ? 'through the informers' : 'to the store directly'}${NO_INTERN ? ', without interning' : ''} (node ${process.version})`);
  console.log(`  ${pods} pods on ${result.nodes} nodes (${result.podsPerNode} per node), ${result.deployments} Deployments, ${result.replicaSets} ReplicaSets, ${result.services} Services; loaded in ${result.loadSeconds} s`);
  console.log(`  memory per pod: heap ${result.heapBytesPerPod} B, RSS ${result.rssBytesPerPod} B (heap +${result.heapMiB} MiB, RSS +${result.rssMiB} MiB); target < 1024 B`);
  console.log(`  interned: ${result.intern.strings} strings, ${result.intern.labelMaps} label maps, ${result.intern.refs} owner refs (${result.intern.resets} resets)`);
  console.log(`  one node's tags (${result.podsPerNode} pods, ${result.tagsPerPod} tags each): mean ${result.nodeTagsMicros.mean} µs, p50 ${result.nodeTagsMicros.p50} µs, p99 ${result.nodeTagsMicros.p99} µs`);
}

await main();
