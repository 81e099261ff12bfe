/**
 * `npm run bench`: throughput, latency and memory of `tether serve` under the load of a rollout, next to
 * two baselines measured in the same run on the same machine with the same TLS server settings:
 * a no-op webhook (the transport's cost) and the copy-mutate-diff approach most webhooks take; and a third,
 * a no-op that decodes the review (the transport plus JSON.parse), to show where the rest goes.
 *
 *   node dist/bench/run.js [--duration S] [--warmup S] [--connections N] [--sweep 1,4,16,64]
 *                          [--workers N] [--quick] [--json]
 *
 * Without --workers the server under test is the real `tether serve`. With --workers N it is Tether's
 * webhook server (the same `startWebhookServer`) in N cluster processes (clusterServe.ts), and each
 * baseline runs in N processes too: that is how scaling with cores is measured.
 *
 * Every server and the load generator are separate processes (see loadgen.ts). For each scenario
 * (webhook x containers per pod): peak throughput of the four servers at `--connections`, then
 * Tether's p50/p99 at a fixed rate of half its peak, and the largest RSS of Tether's process tree
 * while under load. Then a concurrency sweep on one scenario. With `--json` the last line of stdout
 * is one JSON object with every figure.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastJsonPatch from 'fast-json-patch';
import { deepEqual, type JsonPatchOp } from '../src/admission/jsonpatch.js';
import { generateSelfSignedCertificate } from '../src/certs/index.js';
import type { WebhookKind } from '../src/config/index.js';
import type { LoadJob, LoadResult } from './loadgen.js';
import { admissionReview, makePod } from './pods.js';
import { machineBusySeconds, sampleTree } from './procStats.js';

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const TETHER_MAIN = here('../src/cli/main.js');
const BASELINE_MAIN = here('./baselineServer.js');
const CLUSTER_MAIN = here('./clusterServe.js');
const LOADGEN_MAIN = here('./loadgen.js');

const WEBHOOKS: readonly { kind: WebhookKind; path: string }[] = [
  { kind: 'config', path: '/injectconfig' },
  { kind: 'tags', path: '/injecttags' },
  { kind: 'lib', path: '/injectlib' },
];
const CONTAINERS = [1, 10, 100] as const;

// ---------------------------------------------------------------------------------------------------
// flags

interface Options {
  durationSec: number;
  warmupSec: number;
  connections: number;
  sweep: number[];
  /** undefined: `tether serve`; N: the server in N cluster workers, baselines likewise. */
  workers: number | undefined;
  /** Longest wait, before each run, for the machine to be quiet (other processes under 0.25 core). */
  quietWaitSec: number;
  json: boolean;
}

function parseFlags(argv: readonly string[]): Options {
  const o: Options = { durationSec: 5, warmupSec: 1, connections: 32, sweep: [1, 4, 16, 64, 128], workers: undefined, quietWaitSec: 60, json: false };
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const num = (): number => {
      const n = Number(value());
      if (!(n > 0)) throw new Error(`${flag} needs a positive number`);
      return n;
    };
    switch (flag) {
      case '--duration':
        o.durationSec = num();
        break;
      case '--warmup':
        o.warmupSec = Number(value());
        break;
      case '--connections':
        o.connections = Math.round(num());
        break;
      case '--sweep':
        o.sweep = value().split(',').map(Number).filter((n) => n > 0);
        break;
      case '--workers':
        o.workers = Math.round(num());
        break;
      case '--quiet-wait':
        o.quietWaitSec = Number(value());
        break;
      case '--quick':
        quick = true;
        break;
      case '--json':
        o.json = true;
        break;
      case '--help':
        process.stdout.write('usage: node dist/bench/run.js [--duration S] [--warmup S] [--connections N] [--sweep 1,4,16,64] [--workers N] [--quiet-wait S] [--quick] [--json]\n');
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default:
        throw new Error(`unknown flag ${flag}`);
    }
  }
  if (quick) {
    o.durationSec = Math.min(o.durationSec, 2);
    o.warmupSec = Math.min(o.warmupSec, 0.5);
    o.sweep = [1, 16, 64];
  }
  return o;
}

// ---------------------------------------------------------------------------------------------------
// processes

interface Server {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
}

/** Starts a server process and waits for its JSON "listening" line (with `url`) on stderr. */
function startServer(name: string, args: readonly string[]): Promise<Server> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start listening within 20 s:\n${buffered}`)), 20_000);
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      for (const line of buffered.split('\n')) {
        try {
          const entry = JSON.parse(line) as { url?: string; msg?: string };
          if (entry.url && entry.msg?.includes('listening')) {
            clearTimeout(timer);
            child.stderr?.off('data', onData);
            // Keep draining stderr so the server never blocks on a full pipe; show its errors.
            child.stderr?.on('data', (c: Buffer) => {
              for (const l of c.toString('utf8').split('\n')) if (/"level":(50|60)|Error/.test(l)) process.stderr.write(`[${name}] ${l}\n`);
            });
            resolve({ name, url: entry.url, child });
            return;
          }
        } catch {
          // not JSON (yet)
        }
      }
    };
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before listening:\n${buffered}`));
    });
  });
}

function stopServer(s: Server): Promise<void> {
  return new Promise((resolve) => {
    if (s.child.exitCode !== null) return resolve();
    const kill = setTimeout(() => s.child.kill('SIGKILL'), 5000);
    s.child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    s.child.kill('SIGTERM');
  });
}

interface LoadRun extends LoadResult {
  readonly serverCpu: number;
  readonly generatorCpu: number;
  /** CPU used meanwhile by everything else on the machine (other users' work), in cores. */
  readonly otherCpu: number;
  readonly maxRssBytes: number;
}

/** A run during which other processes used more CPU than this (cores) is repeated... */
const NOISY_CPU = 0.3;
/** ...this many times at most. */
const RETRIES = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The machine is shared (other people's builds and tests may run): before a run, wait until the rest of
 * the machine has used under a quarter of a core for a second, at most `maxSec`. Returns the load seen.
 */
async function waitQuiet(maxSec: number): Promise<number> {
  const deadline = Date.now() + maxSec * 1000;
  let said = false;
  for (;;) {
    const b0 = machineBusySeconds();
    await sleep(1000);
    const busy = machineBusySeconds() - b0;
    if (busy < 0.25 || Date.now() >= deadline) {
      if (said) log(busy < 0.25 ? '  quiet again' : `  still busy (${busy.toFixed(2)} cores); measuring anyway`);
      return busy;
    }
    if (!said) log(`  the machine is busy (${busy.toFixed(2)} cores used by other processes); waiting up to ${maxSec} s`);
    said = true;
  }
}

/** Runs one job in a fresh load-generator process, sampling the server's and the generator's CPU. */
function runLoad(server: Server, job: Omit<LoadJob, 'url'>): Promise<LoadRun> {
  const gen = fork(LOADGEN_MAIN, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const serverSampler = sampleTree(server.child.pid as number);
  const genSampler = sampleTree(gen.pid as number, 1000);
  const started = process.hrtime.bigint();
  const busy0 = machineBusySeconds();
  return new Promise<LoadRun>((resolve, reject) => {
    let genCpu = 0;
    let finished = false;
    const timer = setInterval(() => (genCpu = Math.max(genCpu, genSampler.cpu())), 200);
    gen.once('message', (m: { ok: boolean; result?: LoadResult; error?: string }) => {
      finished = true;
      genCpu = Math.max(genCpu, genSampler.cpu());
      const wall = Number(process.hrtime.bigint() - started) / 1e9;
      clearInterval(timer);
      serverSampler.stop();
      genSampler.stop();
      if (!m.ok || !m.result) return reject(new Error(`load generator: ${m.error ?? 'no result'}`));
      // CPU as a fraction of one core over the whole job (warm-up included, on both sides).
      const serverCpu = serverSampler.cpu() / wall;
      const generatorCpu = genCpu / wall;
      const otherCpu = Math.max(0, (machineBusySeconds() - busy0) / wall - serverCpu - generatorCpu);
      resolve({ ...m.result, serverCpu, generatorCpu, otherCpu, maxRssBytes: serverSampler.maxRss() });
    });
    gen.once('exit', (code) => {
      if (!finished) {
        clearInterval(timer);
        serverSampler.stop();
        genSampler.stop();
        reject(new Error(`load generator exited with ${code}`));
      }
    });
    gen.send({ ...job, url: server.url });
  });
}

// ---------------------------------------------------------------------------------------------------
// Tether's own view of its latency

function get(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, servername: 'localhost' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      })
      .on('error', reject);
  });
}

/** Cumulative counts of `tether_admission_request_duration_seconds` for one webhook, by bucket bound. */
async function durationBuckets(server: Server, webhook: WebhookKind, ca: string): Promise<Map<number, number>> {
  const text = await get(server.url + '/metrics', ca);
  const buckets = new Map<number, number>();
  const re = /^tether_admission_request_duration_seconds_bucket\{le="([^"]+)",webhook="([^"]+)"\} (\d+)/gm;
  for (const m of text.matchAll(re)) if (m[2] === webhook) buckets.set(m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[3]));
  return buckets;
}

/**
 * The server-side p99 between two scrapes of Tether's histogram: the upper bound (ms) of the bucket that
 * holds the 99th percentile. It covers receiving the body to writing the answer, not TLS, the kernel
 * or the load generator. Only for a single `tether serve` process (each cluster worker has its own).
 */
function bucketP99(before: Map<number, number>, after: Map<number, number>): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  for (const le of bounds) if ((after.get(le) ?? 0) - (before.get(le) ?? 0) >= 0.99 * total) return le * 1000;
  return NaN;
}

// ---------------------------------------------------------------------------------------------------
// checks before measuring

function post(url: string, path: string, body: Buffer, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url + path, { method: 'POST', ca, servername: 'localhost', headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Response {
  uid: string;
  allowed: boolean;
  patchType?: string;
  patch?: string;
}

function responseOf(what: string, answer: { status: number; body: string }, uid: string): Response {
  if (answer.status !== 200) throw new Error(`${what}: HTTP ${answer.status}: ${answer.body.slice(0, 300)}`);
  const review = JSON.parse(answer.body) as { response?: Response };
  const r = review.response;
  if (!r || r.uid !== uid || r.allowed !== true) throw new Error(`${what}: not an allowed AdmissionReview response for uid ${uid}: ${answer.body.slice(0, 300)}`);
  return r;
}

function patchOf(what: string, r: Response): JsonPatchOp[] {
  if (r.patchType !== 'JSONPatch' || !r.patch) throw new Error(`${what}: the response has no JSONPatch`);
  return JSON.parse(Buffer.from(r.patch, 'base64').toString('utf8')) as JsonPatchOp[];
}

/**
 * One request of the scenario to each server: all three answer 200 with the request's uid; Tether and
 * the diff baseline both answer with a patch, and the two patches produce the same pod.
 */
async function checkScenario(s: Scenario, servers: Servers, ca: string): Promise<{ tetherOps: number; diffOps: number }> {
  const uid = (admissionReview({}) as { request: { uid: string } }).request.uid;
  const what = (server: string) => `${server} ${s.path} with ${s.containers} container(s)`;
  responseOf(what('noop'), await post(servers.noop.url, s.path, s.body, ca), uid);
  responseOf(what('decode'), await post(servers.decode.url, s.path, s.body, ca), uid);
  const tether = patchOf(what('tether'), responseOf(what('tether'), await post(servers.tether.url, s.path, s.body, ca), uid));
  const diff = patchOf(what('diff'), responseOf(what('diff'), await post(servers.diff.url, s.path, s.body, ca), uid));
  const pod = makePod(s.containers, s.kind);
  const apply = (ops: JsonPatchOp[]) => fastJsonPatch.applyPatch(structuredClone(pod), ops as fastJsonPatch.Operation[], true, false).newDocument;
  const byTether = apply(tether);
  if (deepEqual(byTether, pod)) throw new Error(`${what('tether')}: the patch changes nothing`);
  if (!deepEqual(byTether, apply(diff))) throw new Error(`${what('diff')}: the baseline's patch does not give the pod Tether's patch gives`);
  return { tetherOps: tether.length, diffOps: diff.length };
}

// ---------------------------------------------------------------------------------------------------
// the run

interface Scenario {
  readonly name: string;
  readonly kind: WebhookKind;
  readonly path: string;
  readonly containers: number;
  readonly body: Buffer;
  readonly bodyFile: string;
}

interface Servers {
  readonly tether: Server;
  readonly noop: Server;
  readonly decode: Server;
  readonly diff: Server;
}

export interface ScenarioFigures {
  name: string;
  webhook: string;
  containers: number;
  connections: number;
  body_kb: number;
  /** Tether's peak throughput (closed loop, `connections` connections). */
  rps: number;
  /** Tether's latency at a fixed rate of half its peak (open loop). */
  p50_ms: number;
  p99_ms: number;
  /** Largest RSS of Tether's process tree during the scenario's runs, MiB. */
  rss_mb: number;
  noop_rps: number;
  diff_rps: number;
  /** The no-op that decodes the review (JSON.parse) before answering. */
  decode_rps: number;
  /** Tether's p99 at peak (closed loop, autocannon's histogram, whole milliseconds). */
  peak_p99_ms: number;
  half_rate_rps: number;
  /** Tether's own histogram at half peak: bound of the bucket holding the p99 (server side only). */
  server_p99_ms: number;
  /** The no-op baseline's latency at the same fixed rate. */
  noop_p50_ms: number;
  noop_p99_ms: number;
  /** CPU used during Tether's peak run, in cores: the server tree, the load generator, everything else. */
  server_cpu: number;
  generator_cpu: number;
  other_cpu: number;
  /** `tether serve`, or N cluster workers (Tether's server and the baselines alike). */
  server: string;
  patch_ops: number;
  diff_patch_ops: number;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const mib = (bytes: number) => round(bytes / 1024 / 1024, 1);

function log(msg: string): void {
  process.stderr.write(msg + '\n');
}

function bad(what: string, r: LoadResult): void {
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${what}: ${r.non2xx} non-2xx answers and ${r.errors} errors under load`);
}

async function main(): Promise<void> {
  const opts = parseFlags(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'tether-bench-'));
  const pair = await generateSelfSignedCertificate({ dnsNames: ['localhost', '127.0.0.1'], validityHours: 24 });
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  writeFileSync(certFile, pair.certPem);
  writeFileSync(keyFile, pair.keyPem, { mode: 0o600 });

  const scenarios: Scenario[] = [];
  for (const w of WEBHOOKS) {
    for (const containers of CONTAINERS) {
      const body = Buffer.from(JSON.stringify(admissionReview(makePod(containers, w.kind))));
      const bodyFile = join(dir, `${w.kind}-${containers}.json`);
      writeFileSync(bodyFile, body);
      scenarios.push({ name: `${w.kind}-${containers}c`, kind: w.kind, path: w.path, containers, body, bodyFile });
    }
  }

  // The real `tether serve`; with --workers N, the same server in N cluster workers (clusterServe.ts).
  const tetherArgs =
    opts.workers === undefined
      ? [TETHER_MAIN, 'serve', '--tls-cert', certFile, '--tls-key', keyFile, '--port', '0', '--host', '127.0.0.1', '-n', 'tether']
      : [CLUSTER_MAIN, String(opts.workers), certFile, keyFile];
  const baselineArgs = (mode: string) => [BASELINE_MAIN, mode, certFile, keyFile, String(opts.workers ?? 1)];
  const started: Server[] = [];
  const exit = async () => {
    await Promise.all(started.map(stopServer));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const tether = await startServer('tether', tetherArgs);
    started.push(tether);
    const noop = await startServer('noop', baselineArgs('noop'));
    started.push(noop);
    const decode = await startServer('decode', baselineArgs('decode'));
    started.push(decode);
    const diff = await startServer('diff', baselineArgs('diff'));
    started.push(diff);
    const servers: Servers = { tether, noop, decode, diff };

    const ops = new Map<string, { tetherOps: number; diffOps: number }>();
    for (const s of scenarios) ops.set(s.name, await checkScenario(s, servers, pair.certPem));
    log(`checked: every scenario answers 200 with a patch, and the diff baseline's patch gives the same pod as Tether's`);

    const base = { caFile: certFile, durationSec: opts.durationSec, warmupSec: opts.warmupSec };
    /**
     * One measurement on a quiet machine if possible: waits for quiet, and repeats the run (up to
     * `RETRIES` times) when other processes used more than `NOISY_CPU` cores meanwhile; keeps the
     * quietest. What others used during the kept run is reported (`other_cpu`).
     */
    const quietly = async (what: string, run: () => Promise<LoadRun>): Promise<LoadRun> => {
      let best: LoadRun | undefined;
      for (let attempt = 0; attempt <= RETRIES; attempt++) {
        await waitQuiet(opts.quietWaitSec);
        const r = await run();
        bad(what, r);
        if (!best || r.otherCpu < best.otherCpu) best = r;
        if (r.otherCpu < NOISY_CPU) break;
        if (attempt < RETRIES) log(`  ${what}: other processes used ${r.otherCpu.toFixed(2)} cores meanwhile; measuring again`);
      }
      return best as LoadRun;
    };
    const peakOf = (server: Server, s: Scenario, connections: number) =>
      quietly(`${server.name} ${s.name} at ${connections} connections`, () => runLoad(server, { ...base, mode: 'peak', path: s.path, bodyFile: s.bodyFile, connections }));

    const results: ScenarioFigures[] = [];
    const measure = async (s: Scenario, connections: number, name: string, withRate: boolean): Promise<ScenarioFigures> => {
      log(`${name}: ${s.path}, ${s.containers} container(s), ${connections} connections`);
      const t = await peakOf(tether, s, connections);
      const n = await peakOf(noop, s, connections);
      const d = await peakOf(diff, s, connections);
      const j = await peakOf(decode, s, connections);
      let half: LoadRun | undefined;
      let noopHalf: LoadRun | undefined;
      let serverP99 = NaN;
      if (withRate) {
        const rateJob = { ...base, mode: 'rate' as const, rate: Math.max(1, Math.round(t.rps / 2)), path: s.path, bodyFile: s.bodyFile, connections };
        half = await quietly(`tether ${s.name} at half its peak`, async () => {
          const before = opts.workers === undefined ? await durationBuckets(tether, s.kind, pair.certPem) : undefined;
          const r = await runLoad(tether, rateJob);
          if (before) serverP99 = bucketP99(before, await durationBuckets(tether, s.kind, pair.certPem));
          return r;
        });
        // The same rate against the no-op: the latency floor of this generator, transport and machine.
        noopHalf = await quietly(`noop ${s.name} at Tether's half peak`, () => runLoad(noop, rateJob));
      }
      const o = ops.get(s.name);
      const f: ScenarioFigures = {
        name,
        webhook: s.path,
        containers: s.containers,
        connections,
        body_kb: round(s.body.length / 1024, 1),
        rps: Math.round(t.rps),
        p50_ms: half ? round(half.p50Ms, 3) : NaN,
        p99_ms: half ? round(half.p99Ms, 3) : NaN,
        rss_mb: mib(Math.max(t.maxRssBytes, half?.maxRssBytes ?? 0)),
        noop_rps: Math.round(n.rps),
        diff_rps: Math.round(d.rps),
        decode_rps: Math.round(j.rps),
        peak_p99_ms: t.p99Ms,
        half_rate_rps: half ? Math.round(half.rps) : NaN,
        server_p99_ms: round(serverP99, 3),
        noop_p50_ms: noopHalf ? round(noopHalf.p50Ms, 3) : NaN,
        noop_p99_ms: noopHalf ? round(noopHalf.p99Ms, 3) : NaN,
        server_cpu: round(t.serverCpu),
        generator_cpu: round(t.generatorCpu),
        other_cpu: round(Math.max(t.otherCpu, n.otherCpu, d.otherCpu, j.otherCpu, half?.otherCpu ?? 0, noopHalf?.otherCpu ?? 0)),
        server: opts.workers === undefined ? 'tether serve' : `${opts.workers} cluster worker(s)`,
        patch_ops: o?.tetherOps ?? 0,
        diff_patch_ops: o?.diffOps ?? 0,
      };
      log(
        `  tether ${f.rps} rps (noop ${f.noop_rps}, decode ${f.decode_rps}, diff ${f.diff_rps}); at ${f.half_rate_rps} rps p50 ${f.p50_ms} ms p99 ${f.p99_ms} ms (noop ${f.noop_p99_ms}); rss ${f.rss_mb} MiB; other load ${f.other_cpu}`,
      );
      return f;
    };

    for (const s of scenarios) results.push(await measure(s, opts.connections, s.name, true));
    const sweepScenario = scenarios.find((s) => s.kind === 'config' && s.containers === 10) as Scenario;
    for (const c of opts.sweep) results.push(await measure(sweepScenario, c, `sweep-${sweepScenario.name}-c${c}`, false));

    report(results, opts);
  } finally {
    await exit();
  }
}

// ---------------------------------------------------------------------------------------------------
// output

function table(rows: ScenarioFigures[]): string {
  const head = ['scenario', 'conns', 'body KiB', 'tether rps', 'noop rps', 'decode rps', 'diff rps', 'vs noop', 'vs decode', 'vs diff', 'p50 ms @½', 'p99 ms @½', 'srv p99 ≤', 'noop p99 @½', 'RSS MiB', 'cpu srv/gen', 'other'];
  const lines = rows.map((r) => [
    r.name,
    String(r.connections),
    r.body_kb.toFixed(1),
    String(r.rps),
    String(r.noop_rps),
    String(r.decode_rps),
    String(r.diff_rps),
    `${Math.round((100 * r.rps) / r.noop_rps)}%`,
    `${Math.round((100 * r.rps) / r.decode_rps)}%`,
    `${(r.rps / r.diff_rps).toFixed(2)}x`,
    Number.isNaN(r.p50_ms) ? '-' : r.p50_ms.toFixed(2),
    Number.isNaN(r.p99_ms) ? '-' : r.p99_ms.toFixed(2),
    Number.isNaN(r.server_p99_ms) ? '-' : r.server_p99_ms.toFixed(2),
    Number.isNaN(r.noop_p99_ms) ? '-' : r.noop_p99_ms.toFixed(2),
    r.rss_mb.toFixed(1),
    `${r.server_cpu.toFixed(2)}/${r.generator_cpu.toFixed(2)}`,
    r.other_cpu.toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const fmt = (cells: string[]) => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ') + ' |';
  return [fmt(head), '|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 1) + '-' : '-'.repeat(w + 1) + ':')).join('|') + '|', ...lines.map(fmt)].join('\n');
}

interface Target {
  readonly what: string;
  /** `undefined`: a figure for context, not one of the issue's targets. */
  readonly met: boolean | undefined;
  readonly detail: string;
}

function targets(rows: ScenarioFigures[]): Target[] {
  const main = rows.filter((r) => !r.name.startsWith('sweep-'));
  const list = (rs: ScenarioFigures[], f: (r: ScenarioFigures) => string) => rs.map(f).join(', ');
  const vsNoop = main.filter((r) => r.containers === 1 || r.containers === 10);
  const vsDiff = main.filter((r) => r.containers === 10 || r.containers === 100);
  const maxRss = Math.max(...rows.map((r) => r.rss_mb));
  return [
    {
      what: 'throughput >= 75% of the no-op baseline (1 and 10 containers)',
      met: vsNoop.every((r) => r.rps >= 0.75 * r.noop_rps),
      detail: list(vsNoop, (r) => `${r.name} ${Math.round((100 * r.rps) / r.noop_rps)}%`),
    },
    {
      what: 'throughput >= 2x the diff baseline (10 and 100 containers)',
      met: vsDiff.every((r) => r.rps >= 2 * r.diff_rps),
      detail: list(vsDiff, (r) => `${r.name} ${(r.rps / r.diff_rps).toFixed(2)}x`),
    },
    {
      what: 'p99 < 5 ms at half of peak throughput',
      met: main.every((r) => r.p99_ms < 5),
      detail: list(main, (r) => `${r.name} ${r.p99_ms.toFixed(2)} ms (no-op ${r.noop_p99_ms.toFixed(2)}, server side <= ${r.server_p99_ms})`),
    },
    { what: 'RSS < 150 MB under load', met: maxRss < 150 * 1e6 / 1024 / 1024, detail: `max ${maxRss} MiB` },
    {
      what: 'throughput vs the no-op that decodes the review (1 and 10 containers)',
      met: undefined,
      detail: list(vsNoop, (r) => `${r.name} ${Math.round((100 * r.rps) / r.decode_rps)}%`),
    },
  ];
}

function report(rows: ScenarioFigures[], opts: Options): void {
  const out: string[] = [];
  const cpu = cpus();
  out.push(
    `Tether webhook benchmark on ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, Node ${process.version}; ${opts.workers === undefined ? 'tether serve (one process) against single-process baselines' : `Tether's server and each baseline in ${opts.workers} cluster worker(s)`}`,
  );
  out.push(`${opts.durationSec} s per run after ${opts.warmupSec} s of warm-up; peak = closed loop (autocannon); p50/p99 = open loop at half of Tether's peak; RSS = max of Tether's process tree`);
  out.push('');
  out.push(table(rows));
  out.push('');
  for (const t of targets(rows)) out.push(`${t.met === undefined ? 'INFO   ' : t.met ? 'MET    ' : 'MISSED '} ${t.what}: ${t.detail}`);
  process.stdout.write(out.join('\n') + '\n');
  if (opts.json) {
    const json = { scenarios: rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' && Number.isNaN(v) ? null : v]))) };
    process.stdout.write(JSON.stringify(json) + '\n');
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
