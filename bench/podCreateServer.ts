/**
 * The webhook server for `npm run bench:podcreate` (podCreate.ts), in a process of its own so that it does
 * not share an event loop with the load. Started with `fork`; told its certificate and configuration by
 * IPC, answers `{ url }`, then on each `stats` message the requests it served per entry and the
 * connections it accepted per protocol (ALPN), so the bench can count calls per pod and see HTTP/2 used.
 */
import type { TLSSocket } from 'node:tls';
import { loadConfig } from '../src/config/index.js';
import { MAX_REVIEW_BODY_BYTES } from '../src/config/limits.js';
import { readBody } from '../src/http/body.js';
import { createWebhookTlsServer } from '../src/http/httpsServer.js';
import { silentLogger } from '../src/logging/logger.js';
import { startWebhookServer } from '../src/server/index.js';

interface Start {
  readonly certPem: string;
  readonly keyPem: string;
  readonly env: Record<string, string>;
  readonly http2: boolean;
  /**
   * A reference webhook instead of Tether's, on the same HTTPS server: parses the review and answers
   * `allowed`, with no patch (`noop`) or a patch adding one annotation (`touch`).
   */
  readonly reference?: 'noop' | 'touch';
}

const send = (m: unknown): void => void process.send?.(m);

/** The bench pods carry annotations, so one more is a single `add` (`~1` is `/` in a JSON Pointer). */
const TOUCH_PATCH = Buffer.from(JSON.stringify([{ op: 'add', path: '/metadata/annotations/bench.tether.dev~1touched', value: 'true' }])).toString('base64');

/** A webhook that changes nothing, or one annotation: what the API server's call to any (mutating) webhook costs a create. */
function startReferenceWebhook(m: Start): void {
  let calls = 0;
  const protocols: Record<string, number> = {};
  const server = createWebhookTlsServer(
    (req, res) => {
      readBody(req, MAX_REVIEW_BODY_BYTES).then(
        (body) => {
          const review = JSON.parse(body.toString('utf8')) as { apiVersion: string; request: { uid: string } };
          const patch = m.reference === 'touch' ? { patchType: 'JSONPatch', patch: TOUCH_PATCH } : {};
          const answer = JSON.stringify({ apiVersion: review.apiVersion, kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true, ...patch } });
          calls++;
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(answer) });
          res.end(answer);
        },
        () => res.destroy(),
      );
    },
    { certPem: m.certPem, keyPem: m.keyPem },
  );
  server.on('secureConnection', (socket: TLSSocket) => {
    const p = socket.alpnProtocol || 'http/1.1';
    protocols[p] = (protocols[p] ?? 0) + 1;
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    send({ url: `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` });
  });
  process.on('message', (q: string) => {
    if (q === 'stats') send({ perEntry: { [m.reference as string]: calls }, protocols });
  });
  process.on('SIGTERM', () => process.exit(0));
}

process.once('message', async (m: Start) => {
  if (m.reference) return startReferenceWebhook(m);
  const config = loadConfig({ env: m.env });
  const server = await startWebhookServer({ config, tls: { certPem: m.certPem, keyPem: m.keyPem }, host: '127.0.0.1', port: 0, logger: silentLogger(), tetherNamespace: 'tether', http2: m.http2 });
  process.on('message', async (q: string) => {
    if (q !== 'stats') return;
    const requests = await server.metrics.registry.getSingleMetric('tether_admission_requests_total')?.get();
    const perEntry: Record<string, number> = {};
    for (const v of requests?.values ?? []) perEntry[String(v.labels['webhook'])] = (perEntry[String(v.labels['webhook'])] ?? 0) + v.value;
    const conns = await server.metrics.registry.getSingleMetric('tether_webhook_connections_total')?.get();
    const protocols = Object.fromEntries((conns?.values ?? []).map((v) => [String(v.labels['protocol']), v.value]));
    send({ perEntry, protocols });
  });
  process.on('SIGTERM', () => void server.close({ drainMs: 0 }).then(() => process.exit(0)));
  send({ url: server.url });
});
