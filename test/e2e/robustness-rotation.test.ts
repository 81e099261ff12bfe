/**
 * Certificate rotation under load: while clients keep posting reviews to `tether serve`, its certificate
 * files change four times, as a Kubernetes Secret volume changes (symlink swap) and by plain renames.
 * No request may fail, and new connections must end up seeing each new certificate (the clients trust
 * all of them, as the API server trusts the caBundle it is given, old and new alike during a rotation).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import type { CertificatePair } from '../../src/certs/index.js';
import { CERT_POLL_INTERVAL_MS } from '../../src/config/limits.js';
import { makeCertificate, tempDir, type CertificateFiles, type TempDir } from '../helpers/certs.js';
import { postJson } from '../helpers/https.js';
import { admissionReview, patchOf, responseOf, samplePod } from '../helpers/reviews.js';
import { ENDPOINTS } from '../helpers/reviewFuzz.js';
import { createSecretVolume, replaceFiles, updateSecretVolume } from '../helpers/secretVolume.js';
import { startServe, type ServeProcess } from '../helpers/serveProcess.js';
import { sleep } from '../helpers/slowClients.js';

/** Each certificate is served for this long: the poll interval, and time for new connections to see it. */
const HOLD_MS = CERT_POLL_INTERVAL_MS + 1_000;
const KEEP_ALIVE_CLIENTS = 6;
const FRESH_CLIENTS = 2;

interface Failure {
  readonly client: string;
  readonly at: number;
  readonly problem: string;
}

/** Checks one answer: 200, same uid, allowed, a patch. `undefined` when right. */
function problemWith(status: number, body: string, uid: string): string | undefined {
  if (status !== 200) return `status ${status}: ${body.slice(0, 200)}`;
  try {
    const r = responseOf(body);
    if (r.uid !== uid || r.allowed !== true || patchOf(r).length === 0) return `unexpected response ${body.slice(0, 200)}`;
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

describe('certificate rotation under load', () => {
  let dir: TempDir;
  let certs: CertificatePair[];
  let fingerprints: string[];
  let files: CertificateFiles;
  let s: ServeProcess;

  before(async () => {
    dir = await tempDir('tether-rotation-');
    // Distinct subjects: OpenSSL looks a trusted certificate up by subject, and the clients trust all five.
    certs = await Promise.all([0, 1, 2, 3, 4].map((i) => makeCertificate([`rotation-${i}.tether.test`, '127.0.0.1', 'localhost'])));
    fingerprints = certs.map((c) => new X509Certificate(c.certPem).fingerprint256);
    files = await createSecretVolume(dir.path, certs[0]!);
    s = await startServe(files);
  });
  after(async () => {
    await s?.kill();
    await dir?.remove();
  });

  test('four rotations (two Secret-volume swaps, two renames) while 8 clients post reviews: no request fails, new connections see each new certificate', { timeout: 60_000 }, async (t) => {
    const ca = certs.map((c) => c.certPem).join('');
    const failures: Failure[] = [];
    let answered = 0;
    let stopping = false;
    const started = Date.now();

    // Keep-alive clients, as the API server's: their connections outlive the rotations. One in two also
    // reconnects every 20 requests (TLS session resumption across a rotation).
    const keepAlive = async (n: number) => {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca });
      try {
        for (let i = 0; !stopping; i++) {
          const uid = `ka-${n}-${i}`;
          const reconnect = n % 2 === 1 && i % 20 === 19;
          const result = await new Promise<string | undefined>((resolve) => {
            const req = https.request(`${s.url}${ENDPOINTS[i % ENDPOINTS.length]}`, { method: 'POST', agent, headers: { 'Content-Type': 'application/json', ...(reconnect ? { Connection: 'close' } : {}) }, timeout: 10_000 }, (res) => {
              let body = '';
              res.setEncoding('utf8');
              res.on('data', (d: string) => (body += d));
              res.on('end', () => resolve(problemWith(res.statusCode ?? 0, body, uid)));
            });
            req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
            req.on('error', (e) => resolve(`${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`));
            req.end(JSON.stringify(admissionReview({ uid, object: samplePod() })));
          });
          if (result) failures.push({ client: `keep-alive ${n}`, at: Date.now() - started, problem: result });
          else answered++;
        }
      } finally {
        agent.destroy();
      }
    };

    // Clients that open a new connection for every review, and note which certificate they were shown.
    const seen: { client: number; start: number; fingerprint: string }[] = [];
    const fresh = async (n: number) => {
      for (let i = 0; !stopping; i++) {
        const uid = `fresh-${n}-${i}`;
        const start = Date.now();
        try {
          const r = await postJson(`${s.url}/injectconfig`, admissionReview({ uid, object: samplePod() }), { ca });
          const problem = problemWith(r.status, r.body, uid);
          if (problem) failures.push({ client: `fresh ${n}`, at: start - started, problem });
          else answered++;
          if (r.peerCertificate?.fingerprint256) seen.push({ client: n, start, fingerprint: r.peerCertificate.fingerprint256 });
        } catch (e) {
          failures.push({ client: `fresh ${n}`, at: start - started, problem: (e as Error).message });
        }
        await sleep(25);
      }
    };

    const clients = [...Array.from({ length: KEEP_ALIVE_CLIENTS }, (_, n) => keepAlive(n)), ...Array.from({ length: FRESH_CLIENTS }, (_, n) => fresh(n))];

    // The rotations, each held for HOLD_MS; `changedAt[i]` is when certificate i was on disk.
    const changedAt = [started];
    const rotate = [
      (p: CertificatePair) => updateSecretVolume(dir.path, p),
      (p: CertificatePair) => updateSecretVolume(dir.path, p),
      (p: CertificatePair) => replaceFiles(files, p),
      (p: CertificatePair) => replaceFiles(files, p),
    ];
    await sleep(HOLD_MS / 2);
    for (const [i, how] of rotate.entries()) {
      await how(certs[i + 1]!);
      changedAt.push(Date.now());
      await sleep(HOLD_MS);
    }
    stopping = true;
    await Promise.all(clients);
    const ended = Date.now();

    t.diagnostic(`${answered} reviews answered in ${ended - started} ms, ${failures.length} failed; rotations at ${changedAt.slice(1).map((c) => c - started).join(', ')} ms`);
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} requests failed`);
    assert.ok(answered >= 300, `the load ran: ${answered} reviews`);

    // Each certificate was shown to new connections while it was the current one, and once a client saw
    // it, it never saw an older one again.
    for (let i = 0; i < certs.length; i++) {
      const from = changedAt[i]!;
      const to = changedAt[i + 1] ?? ended;
      const during = seen.filter((o) => o.start >= from && o.start < to);
      assert.ok(during.some((o) => o.fingerprint === fingerprints[i]), `certificate ${i} seen by a new connection between ${from - started} and ${to - started} ms; seen: ${[...new Set(during.map((o) => fingerprints.indexOf(o.fingerprint)))].join(', ')}`);
    }
    for (let n = 0; n < FRESH_CLIENTS; n++) {
      const order = seen.filter((o) => o.client === n).map((o) => fingerprints.indexOf(o.fingerprint));
      assert.ok(!order.includes(-1), 'only our certificates');
      assert.ok(order.every((c, i) => i === 0 || c >= order[i - 1]!), `client ${n} never went back to an older certificate: ${order.join('')}`);
      assert.equal(order[order.length - 1], certs.length - 1, `client ${n} ends on the last certificate`);
    }
    const reloads = s.messages().filter((m) => /reloaded the TLS certificate/.test(m)).length;
    assert.ok(reloads >= 4, `${reloads} reloads logged`);
    assert.ok(s.alive());
  });
});
