import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import { InvalidCertificate, type CertificatePair } from '../../../src/certs/index.js';
import { startWebhookServer, type FactResolver, type WebhookServer } from '../../../src/server/index.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { testConfig } from '../../helpers/config.js';
import { makeCertificate, tempDir, writeCertificateFiles, type TempDir } from '../../helpers/certs.js';
import { postJson, request } from '../../helpers/https.js';
import { patchOf, responseOf, samplePod, untaggedPod, admissionReview } from '../../helpers/reviews.js';

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
const start = (o: Partial<Parameters<typeof startWebhookServer>[0]> = {}) =>
  startWebhookServer({ config: testConfig(), host: '127.0.0.1', port: 0, logger: silentLogger(), tetherNamespace: 'datadog', ...o });

describe('webhook server over TLS', () => {
  let a: CertificatePair;
  let b: CertificatePair;
  let dir: TempDir;
  before(async () => {
    [a, b] = await Promise.all([makeCertificate(), makeCertificate()]);
    dir = await tempDir();
  });
  after(() => dir.remove());

  test('serves reviews, health and metrics; TLS 1.3 preferred, 1.2 accepted, 1.1 refused', async () => {
    const s = await start({ tls: a });
    try {
      assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const ready = await request(`${s.url}/readyz`, { ca: a.certPem });
      assert.equal(ready.status, 200);
      const r = await postJson(`${s.url}/injectconfig`, admissionReview({ object: samplePod() }), { ca: a.certPem });
      assert.ok(patchOf(responseOf(r.body)).length > 0);

      const protocol = (o: https.RequestOptions) =>
        new Promise<string>((resolve, reject) => {
          const req = https.get(`${s.url}/healthz`, { ca: a.certPem, agent: false, ...o }, (res) => {
            resolve((res.socket as import('node:tls').TLSSocket).getProtocol() ?? '');
            res.resume();
          });
          req.on('error', reject);
        });
      assert.equal(await protocol({}), 'TLSv1.3');
      assert.equal(await protocol({ maxVersion: 'TLSv1.2' }), 'TLSv1.2');
      await assert.rejects(protocol({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }), /protocol|version/i);

      const expiry = await s.metrics.registry.getSingleMetricAsString('tether_certificate_expiry_timestamp_seconds');
      assert.match(expiry, new RegExp(`tether_certificate_expiry_timestamp_seconds ${s.certificate()!.notAfter.getTime() / 1000}`));
    } finally {
      await s.close();
    }
  });

  test('setCertificate: new connections see the new certificate; a bad pair is refused and the old one kept', async () => {
    const s = await start({ tls: a });
    try {
      assert.equal((await request(`${s.url}/healthz`, { ca: a.certPem })).peerCertificate?.fingerprint256, fingerprint(a.certPem));
      assert.throws(() => s.setCertificate(b.certPem, a.keyPem), InvalidCertificate);
      assert.equal((await request(`${s.url}/healthz`, { ca: a.certPem })).peerCertificate?.fingerprint256, fingerprint(a.certPem));
      s.setCertificate(b.certPem, b.keyPem);
      assert.equal((await request(`${s.url}/healthz`, { ca: b.certPem })).peerCertificate?.fingerprint256, fingerprint(b.certPem));
      await assert.rejects(request(`${s.url}/healthz`, { ca: a.certPem }), /self-signed|unable to verify|certificate/i);
    } finally {
      await s.close();
    }
  });

  test('without a certificate: not ready, no handshake, until one is set', async () => {
    const s = await start();
    try {
      assert.equal(s.certificate(), undefined);
      await assert.rejects(request(`${s.url}/readyz`, { ca: a.certPem, timeoutMs: 2000 }));
      s.setCertificate(a.certPem, a.keyPem);
      assert.equal((await request(`${s.url}/readyz`, { ca: a.certPem })).status, 200);
    } finally {
      await s.close();
    }
  });

  test('certificate files are reloaded when they change', async () => {
    const files = await writeCertificateFiles(dir.path, a);
    const s = await start({ tls: files, certPollIntervalMs: 60_000 });
    try {
      assert.equal((await request(`${s.url}/healthz`, { ca: a.certPem })).peerCertificate?.fingerprint256, fingerprint(a.certPem));
      await writeFile(files.certFile, b.certPem);
      await writeFile(files.keyFile, b.keyPem);
      await s.reloadCertificateFiles();
      assert.equal((await request(`${s.url}/healthz`, { ca: b.certPem })).peerCertificate?.fingerprint256, fingerprint(b.certPem));
    } finally {
      await s.close();
    }
  });

  test('startup fails clearly on unreadable files and busy ports', async () => {
    await assert.rejects(start({ tls: { certFile: `${dir.path}/missing.pem`, keyFile: `${dir.path}/missing.key` } }), InvalidCertificate);
    const s = await start({ tls: a });
    try {
      await assert.rejects(start({ tls: a, port: s.port }), /EADDRINUSE/);
    } finally {
      await s.close();
    }
  });
});

describe('graceful shutdown', () => {
  let a: CertificatePair;
  before(async () => (a = await makeCertificate()));

  /** A resolver that answers after `ms` unless aborted, recording that it was asked. */
  const slowOwner = (ms: number, asked: () => void): FactResolver => ({
    owner: (_ns, _ref, signal) => {
      asked();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => resolve({ found: true, kind: 'Deployment', name: 'web', labels: { 'tags.datadoghq.com/env': 'late' } }), ms);
        // As a real resolver should: stop when nobody waits any more (here: the connection was cut).
        signal.addEventListener('abort', () => (clearTimeout(t), reject(new Error('aborted'))));
      });
    },
    namespaceLabels: async () => undefined,
  });

  test('in-flight reviews finish; new connections are refused; idle keep-alive sockets do not hold it open', async () => {
    let asked!: () => void;
    const inFlight = new Promise<void>((r) => (asked = r));
    const s: WebhookServer = await start({ tls: a, facts: slowOwner(300, asked), factsBudgetMs: 5_000 });
    // An idle keep-alive connection, as the API server keeps them.
    const agent = new https.Agent({ keepAlive: true, ca: a.certPem });
    await new Promise<void>((resolve, reject) => https.get(`${s.url}/healthz`, { agent }, (res) => (res.resume(), res.on('end', resolve))).on('error', reject));

    const review = postJson(`${s.url}/injecttags`, admissionReview({ object: untaggedPod() }), { ca: a.certPem });
    await inFlight;
    const started = Date.now();
    const closed = s.close();
    const r = await review;
    assert.equal(r.status, 200);
    assert.equal(r.headers.connection, 'close');
    assert.ok(patchOf(responseOf(r.body)).length > 0, 'the in-flight review was completed');
    await closed;
    assert.ok(Date.now() - started < 3_000, 'idle connections did not delay shutdown');
    await assert.rejects(
      new Promise((resolve, reject) => net.connect(s.port, '127.0.0.1').on('connect', resolve).on('error', reject)),
      /ECONNREFUSED/,
    );
    agent.destroy();
  });

  test('reviews still running at the drain deadline are cut', async () => {
    let asked!: () => void;
    const inFlight = new Promise<void>((r) => (asked = r));
    const s = await start({ tls: a, facts: slowOwner(60_000, asked), factsBudgetMs: 60_000 });
    const review = postJson(`${s.url}/injecttags`, admissionReview({ object: untaggedPod() }), { ca: a.certPem });
    await inFlight;
    const started = Date.now();
    await s.close({ drainMs: 100 });
    assert.ok(Date.now() - started < 2_000);
    await assert.rejects(review, /socket hang up|ECONNRESET/);
  });
});
