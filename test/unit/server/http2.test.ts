/**
 * HTTP/2 on the webhook port (issue 22): ALPN h2 with HTTP/1.1 still accepted; reviews multiplexed as
 * streams of one connection; the same limits (body size, a whole-review deadline per stream, GOAWAY on
 * shutdown) and certificate rotation (new connections see the new certificate, the open one keeps going).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { CertificatePair } from '../../../src/certs/index.js';
import { startWebhookServer, type WebhookServer } from '../../../src/server/index.js';
import { createHttpsServer, createWebhookTlsServer } from '../../../src/http/httpsServer.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { testConfig } from '../../helpers/config.js';
import { makeCertificate } from '../../helpers/certs.js';
import { postJson } from '../../helpers/https.js';
import { admissionReview, patchOf, responseOf, samplePod } from '../../helpers/reviews.js';

interface H2Answer {
  readonly status: number;
  readonly body: string;
  /** The stream was reset before an answer came. */
  readonly reset?: string;
}

function h2Post(client: http2.ClientHttp2Session, path: string, body: string | undefined, opts: { trickle?: boolean } = {}): Promise<H2Answer> {
  return new Promise((resolve) => {
    const stream = client.request({ ':method': 'POST', ':path': path, 'content-type': 'application/json' });
    let status = 0;
    let text = '';
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (text += c));
    stream.on('end', () => resolve({ status, body: text }));
    stream.on('error', (e) => resolve({ status, body: text, reset: e.message }));
    stream.on('close', () => {
      if (stream.rstCode && status === 0) resolve({ status, body: text, reset: `code ${stream.rstCode}` });
    });
    if (opts.trickle) stream.write('{"apiVersion"');
    else stream.end(body);
  });
}

const connect = (s: WebhookServer, ca: string) =>
  new Promise<http2.ClientHttp2Session>((resolve, reject) => {
    const c = http2.connect(s.url, { ca });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });

describe('the webhook port speaks HTTP/2 and HTTP/1.1', () => {
  let a: CertificatePair;
  let b: CertificatePair;
  let s: WebhookServer;
  before(async () => {
    [a, b] = await Promise.all([makeCertificate(), makeCertificate()]);
    s = await startWebhookServer({
      config: testConfig({ 'admission_controller.webhook_entries': 'single' }),
      tls: a,
      host: '127.0.0.1',
      port: 0,
      logger: silentLogger(),
      tetherNamespace: 'datadog',
      limits: { requestTimeoutMs: 600, headersTimeoutMs: 500 },
    });
  });
  after(() => s.close({ drainMs: 0 }));

  test('ALPN h2: 20 reviews multiplexed on one connection, each answered with its own patch', async () => {
    const client = await connect(s, a.certPem);
    try {
      assert.equal((client.socket as TLSSocket).alpnProtocol, 'h2');
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => h2Post(client, '/inject', JSON.stringify(admissionReview({ object: samplePod(), uid: `uid-${i}` })))),
      );
      answers.forEach((r, i) => {
        assert.equal(r.status, 200, r.body);
        const response = responseOf(r.body);
        assert.equal(response.uid, `uid-${i}`);
        assert.ok(patchOf(response).length > 0);
      });
    } finally {
      client.close();
    }
  });

  test("Nagle's algorithm is off on the webhook port, as on Node's HTTP/1.1 servers", () => {
    // Node's HTTP/2 server leaves it on (its noDelay defaults to false): an answer's DATA frame then waits
    // for the client's ACK of its HEADERS frame. The pod-create bench saw HTTP/2 answers 0.3-0.6 ms slower.
    const listener = () => undefined;
    const noDelay = (server: object) => (server as { noDelay?: boolean }).noDelay;
    assert.equal(noDelay(createHttpsServer(listener)), true);
    assert.equal(noDelay(createWebhookTlsServer(listener)), true);
  });

  test('HTTP/1.1 clients are still answered', async () => {
    const r = await postJson(`${s.url}/inject`, admissionReview({ object: samplePod() }), { ca: a.certPem });
    assert.equal(r.status, 200);
    assert.ok(patchOf(responseOf(r.body)).length > 0);
  });

  test('over HTTP/2 a body over the limit is a 413, and the connection keeps serving other reviews', async () => {
    const client = await connect(s, a.certPem);
    try {
      const big = await h2Post(client, '/inject', 'x'.repeat(4 * 1024 * 1024));
      assert.equal(big.status, 413);
      const ok = await h2Post(client, '/inject', JSON.stringify(admissionReview({ object: samplePod() })));
      assert.equal(ok.status, 200);
    } finally {
      client.close();
    }
  });

  test('a stream whose body never ends is reset at requestTimeoutMs; the connection\'s other reviews go on', async () => {
    const client = await connect(s, a.certPem);
    try {
      const started = Date.now();
      const stalled = h2Post(client, '/inject', undefined, { trickle: true });
      const ok = await h2Post(client, '/inject', JSON.stringify(admissionReview({ object: samplePod() })));
      assert.equal(ok.status, 200);
      const r = await stalled;
      assert.notEqual(r.status, 200);
      assert.ok(r.reset !== undefined || r.status === 0, `no answer, the stream reset: ${JSON.stringify(r)}`);
      assert.ok(Date.now() - started < 5_000);
      assert.ok(!client.destroyed, 'the connection is still open');
    } finally {
      client.close();
    }
  });

  test('a new certificate: new HTTP/2 connections see it, the open one keeps answering', async () => {
    const old = await connect(s, a.certPem);
    try {
      s.setCertificate(b.certPem, b.keyPem);
      const fresh = await connect(s, b.certPem);
      const peer = (c: http2.ClientHttp2Session) => new X509Certificate((c.socket as TLSSocket).getPeerCertificate(true).raw).fingerprint256;
      assert.equal(peer(fresh), new X509Certificate(b.certPem).fingerprint256);
      assert.equal(peer(old), new X509Certificate(a.certPem).fingerprint256);
      const answers = await Promise.all([old, fresh].map((c) => h2Post(c, '/inject', JSON.stringify(admissionReview({ object: samplePod() })))));
      assert.deepEqual(answers.map((r) => r.status), [200, 200]);
      fresh.close();
    } finally {
      old.close();
      s.setCertificate(a.certPem, a.keyPem);
    }
  });

  test('shutdown: an open HTTP/2 connection gets GOAWAY and the server closes', async () => {
    const t = await startWebhookServer({ config: testConfig(), tls: a, host: '127.0.0.1', port: 0, logger: silentLogger(), tetherNamespace: 'datadog' });
    const client = await connect(t, a.certPem);
    const goaway = new Promise<void>((resolve) => client.once('goaway', () => resolve()));
    assert.equal((await h2Post(client, '/injectconfig', JSON.stringify(admissionReview({ object: samplePod() })))).status, 200);
    await Promise.all([t.shutdown({ graceMs: 0, drainMs: 2_000 }), goaway]);
    client.destroy();
  });
});
