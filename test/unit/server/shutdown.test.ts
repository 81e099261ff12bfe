/**
 * The webhook server's shutdown (SPEC §6): /readyz fails at once, reviews keep being answered (on new
 * connections too) for the grace period, then the listener closes and in-flight reviews finish; a
 * `close` (what a second signal amounts to) ends it all at once.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { CertificatePair } from '../../../src/certs/index.js';
import { SHUTDOWN_CLOSE_NOTICE_MS } from '../../../src/config/limits.js';
import { startWebhookServer, type FactResolver, type WebhookServer } from '../../../src/server/index.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { testConfig } from '../../helpers/config.js';
import { makeCertificate } from '../../helpers/certs.js';
import { eventually } from '../../helpers/eventually.js';
import { postJson, request } from '../../helpers/https.js';
import { deferred } from '../../helpers/manual.js';
import { admissionReview, patchOf, responseOf, samplePod, untaggedPod } from '../../helpers/reviews.js';

const start = (o: Partial<Parameters<typeof startWebhookServer>[0]> = {}) =>
  startWebhookServer({ config: testConfig(), host: '127.0.0.1', port: 0, logger: silentLogger(), tetherNamespace: 'datadog', ...o });

/** Resolves when a TCP connection to the port is refused (the listener is closed). */
const refused = (port: number) =>
  new Promise<void>((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    c.on('connect', () => (c.destroy(), reject(new Error(`port ${port} still accepts connections`))));
    c.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNREFUSED' ? resolve() : reject(e)));
  });

/** An owner lookup that waits until `release` is called (or the client goes away), telling when it was asked. */
function heldOwner() {
  const asked = deferred<void>();
  const release = deferred<void>();
  const facts: FactResolver = {
    owner: async (_ns, _ref, signal) => {
      asked.resolve();
      await new Promise<void>((resolve, reject) => {
        void release.promise.then(resolve);
        signal.addEventListener('abort', () => reject(new Error('aborted')));
      });
      return { found: true, kind: 'Deployment', name: 'web', labels: { 'tags.datadoghq.com/env': 'prod' } };
    },
    namespaceLabels: async () => undefined,
  };
  return { facts, asked: asked.promise, release: () => release.resolve() };
}

interface KeptReply {
  status: number;
  connection: string | undefined;
  body: string;
  reused: boolean;
  socket: TLSSocket;
}

/** A review POSTed through a keep-alive agent, as the API server sends them. */
function keptAlivePost(url: string, agent: https.Agent, body: unknown): Promise<KeptReply> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', agent, headers: { 'Content-Type': 'application/json' } }, (res) => {
      // Taken now: once the answer is read, the socket goes back to the agent's pool.
      const socket = res.socket as TLSSocket;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: text, reused: req.reusedSocket, socket }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('webhook server shutdown', () => {
  let cert: CertificatePair;
  before(async () => (cert = await makeCertificate()));

  test('/readyz fails at once; reviews are answered during the grace period, on open and new connections, kept alive', async () => {
    const s = await start({ tls: cert });
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: cert.certPem });
    try {
      const first = await keptAlivePost(`${s.url}/injectconfig`, agent, admissionReview({ object: samplePod() }));
      assert.equal(first.status, 200);
      const socketClosed = new Promise<void>((resolve) => first.socket.once('close', () => resolve()));

      const done = s.shutdown({ graceMs: 60_000 });
      const ready = await request(`${s.url}/readyz`, { ca: cert.certPem });
      assert.equal(ready.status, 503);
      assert.equal(ready.body, 'not ready: shutting down\n');

      // A new connection is still accepted, and answered.
      const fresh = await postJson(`${s.url}/injectconfig`, admissionReview({ object: samplePod() }), { ca: cert.certPem });
      assert.equal(fresh.status, 200);
      assert.ok(patchOf(responseOf(fresh.body)).length > 0);

      // The API server's idle keep-alive connection carries on, and is not told to close yet.
      const kept = await keptAlivePost(`${s.url}/injectconfig`, agent, admissionReview({ object: samplePod() }));
      assert.equal(kept.status, 200);
      assert.ok(kept.reused, 'the keep-alive connection was reused');
      assert.notEqual(kept.connection, 'close');
      assert.ok(patchOf(responseOf(kept.body)).length > 0);

      // The grace period ends (here: cut short): the listener closes, and so does the idle connection.
      await s.close();
      await done;
      await refused(s.port);
      await socketClosed;
    } finally {
      agent.destroy();
      await s.close();
    }
  });

  test('near the end of the grace period answers carry Connection: close; then the listener closes by itself', async () => {
    const s = await start({ tls: cert });
    try {
      // A grace period shorter than the notice: all of it is "near the end".
      const graceMs = SHUTDOWN_CLOSE_NOTICE_MS / 2;
      const done = s.shutdown({ graceMs });
      const r = await postJson(`${s.url}/injecttags`, admissionReview({ object: samplePod() }), { ca: cert.certPem });
      assert.equal(r.status, 200);
      assert.equal(r.headers.connection, 'close');
      await done;
      await refused(s.port);
    } finally {
      await s.close();
    }
  });

  test('a review in flight when the listener closes is finished, then the server is closed', async () => {
    const owner = heldOwner();
    const s = await start({ tls: cert, facts: owner.facts, factsBudgetMs: 60_000 });
    try {
      const review = postJson(`${s.url}/injecttags`, admissionReview({ object: untaggedPod() }), { ca: cert.certPem });
      await owner.asked;
      const done = s.shutdown({ graceMs: 50 });
      await eventually('the listener to close', () => refused(s.port), 5_000, 20);
      owner.release();
      const r = await review;
      assert.equal(r.status, 200);
      assert.equal(r.headers.connection, 'close');
      assert.ok(patchOf(responseOf(r.body)).some((op) => JSON.stringify(op).includes('DD_ENV')), 'the in-flight review was completed with its owner');
      await done;
    } finally {
      await s.close();
    }
  });

  test('close({ drainMs: 0 }) during the grace period (a second signal) closes and cuts everything at once', async () => {
    const owner = heldOwner();
    const s = await start({ tls: cert, facts: owner.facts, factsBudgetMs: 60_000 });
    const review = postJson(`${s.url}/injecttags`, admissionReview({ object: untaggedPod() }), { ca: cert.certPem });
    await owner.asked;
    const done = s.shutdown({ graceMs: 60_000 });
    assert.equal((await request(`${s.url}/healthz`, { ca: cert.certPem })).status, 200, 'still serving during the grace period');
    await s.close({ drainMs: 0 });
    await done;
    await assert.rejects(review, /socket hang up|ECONNRESET/);
    await refused(s.port);
  });

  test('grace 0: the listener closes at once', async () => {
    const s = await start({ tls: cert, config: testConfig({ shutdown_grace_seconds: 0 }) });
    const done = s.shutdown();
    await refused(s.port);
    await done;
  });
});
