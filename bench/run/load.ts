/** The servers under test and the load generator, each its own process; Tether's own latency histogram. */

import { fork, spawn, type ChildProcess } from 'node:child_process';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import type { WebhookKind } from '../../src/config/index.js';
import type { LoadJob, LoadResult } from '../loadgen.js';
import { machineBusySeconds, sampleTree } from '../procStats.js';

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
export const TETHER_MAIN = here('../../src/cli/main.js');
export const BASELINE_MAIN = here('../baselineServer.js');
export const CLUSTER_MAIN = here('../clusterServe.js');
const LOADGEN_MAIN = here('../loadgen.js');

// ---------------------------------------------------------------------------------------------------
// processes

export interface Server {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
}

/** Starts a server process and waits for its JSON "listening" line (with `url`) on stderr. */
export function startServer(name: string, args: readonly string[]): Promise<Server> {
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

export function stopServer(s: Server): Promise<void> {
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

export interface LoadRun extends LoadResult {
  readonly serverCpu: number;
  readonly generatorCpu: number;
  /** CPU used meanwhile by everything else on the machine (other users' work), in cores. */
  readonly otherCpu: number;
  readonly maxRssBytes: number;
}

/** A run during which other processes used more CPU than this (cores) is repeated... */
export const NOISY_CPU = 0.3;
/** ...this many times at most. */
export const RETRIES = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The machine is shared (other people's builds and tests may run): before a run, wait until the rest of
 * the machine has used under a quarter of a core for a second, at most `maxSec` (under a second: no
 * wait at all). Returns the load seen, `undefined` when it did not look.
 */
export async function waitQuiet(maxSec: number): Promise<number | undefined> {
  if (maxSec < 1) return undefined;
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
    if (!said) log(`  the machine is busy (${busy.toFixed(2)} cores used by other processes); waiting up to ${Math.round(maxSec)} s`);
    said = true;
  }
}

/** Runs one job in a fresh load-generator process, sampling the server's and the generator's CPU. */
export function runLoad(server: Server, job: Omit<LoadJob, 'url'>): Promise<LoadRun> {
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
export async function durationBuckets(server: Server, webhook: WebhookKind, ca: string): Promise<Map<number, number>> {
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
export function bucketP99(before: Map<number, number>, after: Map<number, number>): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  for (const le of bounds) if ((after.get(le) ?? 0) - (before.get(le) ?? 0) >= 0.99 * total) return le * 1000;
  return NaN;
}

/** Progress goes to stderr: stdout is the report (and with --json, its last line the JSON). */
export function log(msg: string): void {
  process.stderr.write(msg + '\n');
}
