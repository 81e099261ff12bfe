/** What is measured: one scenario per webhook and pod size, the figures each gives, and the checks that the servers answer alike before measuring. */

import https from 'node:https';
import fastJsonPatch from 'fast-json-patch';
import { deepEqual, type JsonPatchOp } from '../../src/admission/jsonpatch.js';
import type { WebhookKind } from '../../src/config/index.js';
import { admissionReview, makePod } from '../pods.js';
import type { Server } from './load.js';

export const WEBHOOKS: readonly { kind: WebhookKind; path: string }[] = [
  { kind: 'config', path: '/injectconfig' },
  { kind: 'tags', path: '/injecttags' },
  { kind: 'lib', path: '/injectlib' },
];
export const CONTAINERS = [1, 10, 100] as const;

export interface Scenario {
  readonly name: string;
  readonly kind: WebhookKind;
  readonly path: string;
  readonly containers: number;
  readonly body: Buffer;
  readonly bodyFile: string;
}

export interface Servers {
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
export async function checkScenario(s: Scenario, servers: Servers, ca: string): Promise<{ tetherOps: number; diffOps: number }> {
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

