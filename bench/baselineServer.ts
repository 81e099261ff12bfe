/**
 * The two baseline webhook servers, each in its own process, on the very HTTPS server Tether uses
 * (`createHttpsServer`: same TLS versions, timeouts, keep-alive, limits), so that only the handler differs:
 *
 * - `noop`: reads the body and answers `allowed: true` without parsing the pod (the uid is picked out of
 *   the bytes): the cost of TLS, HTTP and moving the body, which no webhook can go below;
 * - `decode`: parses the review (`JSON.parse` of the whole body, as any webhook that reads the uid from
 *   the decoded AdmissionReview does) and answers `allowed: true` without looking at the pod: the cost of
 *   the transport plus decoding, which no JavaScript webhook that reads the pod can go below;
 * - `diff`: parses the review, deep-copies the pod, mutates the copy and diffs the two with
 *   fast-json-patch (see `diffWebhook.ts`), answering the same AdmissionReview envelope as Tether.
 *
 * Usage: node dist/bench/baselineServer.js noop|decode|diff CERT_FILE KEY_FILE [WORKERS]
 * Logs one JSON line `{"msg":"listening","url":...}` on stderr once listening on 127.0.0.1 (free port).
 * With WORKERS > 1, that many processes share the port (node:cluster), like `clusterServe.ts`.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebhookKind } from '../src/config/index.js';
import { MAX_REVIEW_BODY_BYTES } from '../src/config/limits.js';
import { createHttpsServer } from '../src/http/httpsServer.js';
import { readBody } from '../src/http/body.js';
import { diffPatch } from './diffWebhook.js';

const ROUTES: Readonly<Record<string, WebhookKind>> = { '/injectconfig': 'config', '/injecttags': 'tags', '/injectlib': 'lib' };

function reply(res: ServerResponse, status: number, body: string, type = 'application/json'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const UID_KEY = Buffer.from('"uid":"');

/** The request's uid without parsing: the API server writes `request.uid` before the object. */
function uidOf(body: Buffer): string {
  const at = body.indexOf(UID_KEY);
  if (at < 0) return '';
  const start = at + UID_KEY.length;
  return body.toString('latin1', start, body.indexOf(0x22, start));
}

function noop(_kind: WebhookKind, body: Buffer): string {
  return `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":${JSON.stringify(uidOf(body))},"allowed":true}}`;
}

function decode(_kind: WebhookKind, body: Buffer): string {
  const review = JSON.parse(body.toString('utf8')) as Review;
  if (typeof review.request?.uid !== 'string') throw new Error('not an AdmissionReview with a request uid');
  return JSON.stringify({ apiVersion: review.apiVersion, kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } });
}

interface Review {
  apiVersion?: string;
  request?: { uid?: string; object?: unknown };
}

function diff(kind: WebhookKind, body: Buffer): string {
  const review = JSON.parse(body.toString('utf8')) as Review;
  const request = review.request;
  if (!request || typeof request.uid !== 'string' || typeof request.object !== 'object' || request.object === null) throw new Error('not an AdmissionReview with a pod');
  const response: Record<string, unknown> = { uid: request.uid, allowed: true };
  const patch = diffPatch(kind, request.object);
  if (patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
  }
  return JSON.stringify({ apiVersion: review.apiVersion, kind: 'AdmissionReview', response });
}

const [mode, certFile, keyFile, workersArg] = process.argv.slice(2);
const workers = workersArg === undefined ? 1 : Number(workersArg);
type Handler = (kind: WebhookKind, body: Buffer) => string;
const HANDLERS: Readonly<Record<string, Handler>> = { noop, decode, diff };
const chosen = mode === undefined ? undefined : HANDLERS[mode];
if (!chosen || !certFile || !keyFile || !(workers >= 1)) {
  process.stderr.write(`usage: baselineServer.js ${Object.keys(HANDLERS).join('|')} CERT_FILE KEY_FILE [WORKERS]\n`);
  process.exit(2);
}
const handle: Handler = chosen;

function serve(): void {
  const server = createHttpsServer(
    (req: IncomingMessage, res: ServerResponse) => {
      const kind = ROUTES[(req.url ?? '/').split('?')[0] ?? '/'];
      if (!kind || req.method !== 'POST') {
        req.resume();
        reply(res, kind ? 405 : 404, 'no\n', 'text/plain');
        return;
      }
      readBody(req, MAX_REVIEW_BODY_BYTES).then(
        (body) => {
          try {
            reply(res, 200, handle(kind, body));
          } catch (e) {
            reply(res, 400, `${(e as Error).message}\n`, 'text/plain');
          }
        },
        () => res.destroy(),
      );
    },
    { certPem: readFileSync(certFile as string, 'utf8'), keyPem: readFileSync(keyFile as string, 'utf8') },
  );
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    // In a cluster the primary says so once every worker listens.
    if (!cluster.isWorker) process.stderr.write(JSON.stringify({ msg: `baseline ${mode} listening`, url: `https://127.0.0.1:${port}` }) + '\n');
  });
  process.on('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
  });
}

if (workers > 1 && cluster.isPrimary) {
  let listening = 0;
  cluster.on('listening', (_worker, address) => {
    if (++listening === workers) process.stderr.write(JSON.stringify({ msg: `baseline ${mode} (${workers} workers) listening`, url: `https://127.0.0.1:${address.port}` }) + '\n');
  });
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  });
} else {
  serve();
}
