import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateCa, isIssuedBy, type CertificateInfo } from '../../../src/certs/index.js';
import { createApiCertificates, decideCertificate, renewalTime, signingCaOf, type ServedCertificate, type SigningCa } from '../../../src/clusteragent/api/certificate.js';
import { SERVING_CERT_MAX_HOURS } from '../../../src/config/limits.js';
import { recordingLogger } from '../../helpers/logs.js';
import { manualTimers } from '../../helpers/manualTimers.js';

const HOUR = 3_600_000;
const NAMES = ['datadog-cluster-agent', 'datadog-cluster-agent.datadog.svc'];

const info = (notBefore: number, notAfter: number): CertificateInfo => ({ notBefore: new Date(notBefore), notAfter: new Date(notAfter), dnsNames: [], ipAddresses: [], subject: 'CN=x' });
const ca = (fingerprint: string, bundle: string[]): SigningCa => ({ pair: { certPem: '', keyPem: '' }, fingerprint, info: info(0, 1000 * HOUR), bundle: new Set(bundle) });
const served = (issuer: string, notBefore: number, notAfter: number): ServedCertificate => ({ pair: { certPem: '', keyPem: '' }, info: info(notBefore, notAfter), issuer });

describe('decideCertificate (pure)', () => {
  const T = 100 * HOUR;
  test('issues when nothing is served', () => {
    assert.equal(decideCertificate(undefined, ca('A', ['A']), 0, T, 1000).action, 'issue');
  });
  test('keeps a certificate of the same CA until its renewal time, then renews', () => {
    const s = served('A', T - HOUR, T + 8 * HOUR);
    const keep = decideCertificate(s, ca('A', ['A']), 0, T, 1000);
    assert.deepEqual(keep, { action: 'keep', recheckAt: renewalTime(s.info) });
    assert.equal(decideCertificate(s, ca('A', ['A']), 0, renewalTime(s.info), 1000).action, 'issue');
  });
  test('a new CA: waits for the switch delay while the served issuer is still in the bundle', () => {
    const s = served('A', T - HOUR, T + 100 * HOUR);
    const d = decideCertificate(s, ca('B', ['A', 'B']), T, T, 180_000);
    assert.equal(d.action, 'wait');
    assert.equal(d.action === 'wait' && d.until, T + 180_000);
    assert.equal(decideCertificate(s, ca('B', ['A', 'B']), T, T + 180_000, 180_000).action, 'issue');
  });
  test('a new CA: switches at once when the served issuer left the bundle, or the certificate expired', () => {
    assert.equal(decideCertificate(served('A', T - HOUR, T + 100 * HOUR), ca('B', ['B']), T, T, 180_000).action, 'issue');
    assert.equal(decideCertificate(served('A', T - 10 * HOUR, T - HOUR), ca('B', ['A', 'B']), T, T, 180_000).action, 'issue');
  });
});

describe('signingCaOf', () => {
  test('the newest CA of the bundle whose key the Secret holds; a key of none is refused', async () => {
    const a = await generateCa({ commonName: 'A', validityHours: 10 });
    const b = await generateCa({ commonName: 'B', validityHours: 10 });
    const s = signingCaOf(a.certPem + b.certPem, b.keyPem, Date.now());
    assert.equal(s.info.subject, 'CN=B');
    assert.equal(s.bundle.size, 2);
    assert.equal(signingCaOf(a.certPem + b.certPem, a.keyPem, Date.now()).info.subject, 'CN=A');
    const c = await generateCa({ commonName: 'C', validityHours: 10 });
    assert.throws(() => signingCaOf(a.certPem + b.certPem, c.keyPem, Date.now()), /does not belong to any of the 2/);
    assert.throws(() => signingCaOf('', c.keyPem, Date.now()), /no PEM certificate/);
  });
});

describe('the API certificate over time', () => {
  test('issued from the CA, renewed before expiry, switched to a new CA after the delay', async () => {
    const clock = manualTimers(Date.now());
    const applied: { certPem: string; info: CertificateInfo }[] = [];
    const certs = createApiCertificates({
      names: NAMES,
      apply: (pair, i) => applied.push({ certPem: pair.certPem, info: i }),
      logger: recordingLogger().logger,
      switchDelayMs: 180_000,
      now: clock.now,
      timers: clock.timers,
    });
    const a = await generateCa({ commonName: 'CA A', validityHours: 24 * 365 });
    const first = await certs.setCa(a.certPem, a.keyPem);
    assert.ok(first);
    assert.equal(applied.length, 1);
    assert.ok(isIssuedBy(applied[0]!.certPem, a.certPem));
    assert.deepEqual(first.dnsNames, NAMES);
    assert.ok(Math.abs(first.notAfter.getTime() - (clock.now() + SERVING_CERT_MAX_HOURS * HOUR)) < 2000);

    // The same Secret again (another key changed): nothing new.
    await certs.setCa(a.certPem, a.keyPem);
    assert.equal(applied.length, 1);

    // Renewal: the timer fires at the renewal time.
    const renewIn = renewalTime(first) - clock.now();
    clock.advance(renewIn);
    await certs.setCa(a.certPem, a.keyPem); // waits for the step the timer started
    assert.equal(applied.length, 2);

    // A new CA, the old one still in the bundle: the current certificate stays for the delay.
    const b = await generateCa({ commonName: 'CA B', validityHours: 24 * 365 });
    await certs.setCa(a.certPem + b.certPem, b.keyPem);
    assert.equal(applied.length, 2);
    clock.advance(180_000);
    await certs.setCa(a.certPem + b.certPem, b.keyPem);
    assert.equal(applied.length, 3);
    assert.ok(isIssuedBy(applied[2]!.certPem, b.certPem));
    certs.stop();
  });

  test('a Secret whose key matches no CA keeps the current certificate and says why', async () => {
    const logs = recordingLogger();
    const clock = manualTimers(Date.now());
    const certs = createApiCertificates({ names: NAMES, apply: () => {}, logger: logs.logger, switchDelayMs: 1, now: clock.now, timers: clock.timers });
    const a = await generateCa({ commonName: 'A', validityHours: 10 });
    const b = await generateCa({ commonName: 'B', validityHours: 10 });
    assert.equal(await certs.setCa(a.certPem, b.keyPem), undefined);
    assert.match(logs.text(), /holds no CA that can sign/);
    assert.ok(!logs.text().includes(b.keyPem.split('\n')[1]!), 'no key material in logs');
    certs.stop();
  });
});
