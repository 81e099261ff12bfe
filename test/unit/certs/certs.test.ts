import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import fc from 'fast-check';
import * as x509 from '../../../src/certs/x509.js';
import { caBundleDigest, checkKeyPair, generateSelfSignedCertificate, inspectCertificate, InvalidCertificate } from '../../../src/certs/index.js';

describe('caBundleDigest (64-bit FNV-1)', () => {
  test("FNV-1 64 test vectors (as Go's hash/fnv New64 computes them)", () => {
    assert.equal(caBundleDigest(''), 'cbf29ce484222325');
    assert.equal(caBundleDigest('a'), 'af63bd4c8601b7be');
    assert.equal(caBundleDigest('foobar'), '340d8765a4dda9c2');
  });

  test('is FNV-1, not FNV-1a (whose "a" is af63dc4c8601ec8c)', () => {
    assert.notEqual(caBundleDigest('a'), 'af63dc4c8601ec8c');
  });

  test('strings are hashed as their UTF-8 bytes; always 16 lower-case hex digits', () => {
    // A reference written differently: 64-bit arithmetic through BigInt.asUintN.
    const reference = (bytes: Uint8Array): string => {
      let h = 0xcbf29ce484222325n;
      for (const b of bytes) h = BigInt.asUintN(64, h * 0x100000001b3n) ^ BigInt(b);
      return h.toString(16).padStart(16, '0');
    };
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const d = caBundleDigest(s);
        assert.match(d, /^[0-9a-f]{16}$/);
        assert.equal(d, caBundleDigest(new Uint8Array(Buffer.from(s, 'utf8'))));
        assert.equal(d, reference(Buffer.from(s, 'utf8')));
      }),
    );
  });
});

describe('generateSelfSignedCertificate', () => {
  const now = new Date('2030-01-02T03:04:05Z');
  const names = ['datadog-admission-controller', 'datadog-admission-controller.datadog.svc', '10.0.0.1', '::1'];

  test('ECDSA P-256, PKCS#8 key, names as DNS and IP SANs, valid from 5 minutes ago for the given hours', async () => {
    const pair = await generateSelfSignedCertificate({ dnsNames: names, validityHours: 8760, now });
    assert.match(pair.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    const key = createPrivateKey(pair.keyPem);
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');

    const info = inspectCertificate(pair.certPem);
    assert.deepEqual(info.dnsNames, ['datadog-admission-controller', 'datadog-admission-controller.datadog.svc']);
    assert.deepEqual(info.ipAddresses, ['10.0.0.1', '::1']);
    assert.equal(info.notBefore.getTime(), now.getTime() - 5 * 60_000);
    assert.equal(info.notAfter.getTime(), now.getTime() + 8760 * 3_600_000);
    assert.equal(info.subject, 'CN=datadog-admission-controller');
  });

  test('CA-capable, self-signed, for server authentication', async () => {
    const pair = await generateSelfSignedCertificate({ dnsNames: ['svc'], validityHours: 1 });
    const cert = new X509Certificate(pair.certPem);
    assert.equal(cert.ca, true);
    assert.ok(cert.checkIssued(cert), 'issuer = subject');
    assert.ok(cert.verify(cert.publicKey), 'signed by its own key');
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extKeyUsage serverAuth');

    const parsed = new x509.X509Certificate(pair.certPem);
    const bc = parsed.getExtension(x509.BasicConstraintsExtension);
    assert.equal(bc?.ca, true);
    assert.equal(bc?.critical, true);
    const ku = parsed.getExtension(x509.KeyUsagesExtension);
    assert.equal(ku?.usages, x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyCertSign);
    assert.match(parsed.serialNumber, /^0?1/, 'positive serial');
  });

  test('a TLS client trusting it as CA accepts it for its names', async () => {
    const pair = await generateSelfSignedCertificate({ dnsNames: ['localhost', '127.0.0.1'], validityHours: 1 });
    const server = tls.createServer({ cert: pair.certPem, key: pair.keyPem }, (s) => s.end('hi'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      for (const servername of ['localhost', undefined]) {
        const got = await new Promise<string>((resolve, reject) => {
          const s = tls.connect({ host: '127.0.0.1', port, ca: pair.certPem, ...(servername ? { servername } : {}) }, () => s.once('data', (d: Buffer) => resolve(d.toString())));
          s.on('error', reject);
        });
        assert.equal(got, 'hi');
      }
      await assert.rejects(
        new Promise((resolve, reject) => {
          const s = tls.connect({ host: '127.0.0.1', port, ca: pair.certPem, servername: 'other.example' }, () => resolve(s.end()));
          s.on('error', reject);
        }),
        /altnames|Hostname\/IP does not match/,
      );
    } finally {
      server.close();
    }
  });

  test('refuses nonsense options', async () => {
    await assert.rejects(generateSelfSignedCertificate({ dnsNames: [], validityHours: 1 }), /at least one name/);
    await assert.rejects(generateSelfSignedCertificate({ dnsNames: ['a'], validityHours: 0 }), /validityHours/);
  });
});

describe('inspectCertificate and checkKeyPair', () => {
  test('bad PEM gives an InvalidCertificate saying what is wrong', () => {
    assert.throws(() => inspectCertificate(''), (e: unknown) => e instanceof InvalidCertificate && /empty/.test(e.message));
    assert.throws(() => inspectCertificate('hello'), /not a PEM certificate: no "-----BEGIN CERTIFICATE-----"/);
    assert.throws(() => inspectCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), /cannot parse the PEM certificate/);
  });

  test('bytes work like text, and the first certificate of a bundle is the one described', async () => {
    const a = await generateSelfSignedCertificate({ dnsNames: ['a'], validityHours: 1 });
    const b = await generateSelfSignedCertificate({ dnsNames: ['b'], validityHours: 1 });
    assert.deepEqual(inspectCertificate(new TextEncoder().encode(a.certPem)), inspectCertificate(a.certPem));
    assert.deepEqual(inspectCertificate(a.certPem + b.certPem).dnsNames, ['a']);
  });

  test('names a certificate from elsewhere may carry: quoted DNS names, IPv6 in any form, other SAN types, several RDNs', async () => {
    // Made with the library directly: Tether's generator only makes DNS and IP names.
    const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=web, O=Example\\, Inc.',
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2027-01-01T00:00:00Z'),
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new x509.SubjectAlternativeNameExtension([
          { type: 'dns', value: 'a, b' },
          { type: 'url', value: 'https://x.example/, y' },
          { type: 'dns', value: 'quote"d' },
          { type: 'ip', value: '2001:0DB8:0:0:1:0:0:1' },
          { type: 'email', value: 'ops@example.com' },
          { type: 'dns', value: 'plain.example' },
          { type: 'ip', value: '10.0.0.1' },
        ]),
      ],
    });
    const info = inspectCertificate(cert.toString('pem'));
    assert.deepEqual(info.dnsNames, ['a, b', 'quote"d', 'plain.example']);
    assert.deepEqual(info.ipAddresses, ['2001:db8::1:0:0:1', '10.0.0.1']);
    assert.deepEqual([info.notBefore.toISOString(), info.notAfter.toISOString()], ['2026-01-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z']);
    assert.match(info.subject, /^CN=web, O=Example.*Inc\.$|^O=Example.*Inc\., CN=web$/);
  });

  test('a key must belong to its certificate', async () => {
    const a = await generateSelfSignedCertificate({ dnsNames: ['a'], validityHours: 1 });
    const b = await generateSelfSignedCertificate({ dnsNames: ['b'], validityHours: 1 });
    assert.deepEqual(checkKeyPair(a.certPem, a.keyPem).dnsNames, ['a']);
    assert.throws(() => checkKeyPair(a.certPem, b.keyPem), /private key does not belong to the certificate \(CN=a\)/);
    assert.throws(() => checkKeyPair(a.certPem, a.certPem), /not a PEM private key/);
    assert.throws(() => checkKeyPair(a.certPem, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), /cannot parse the PEM private key/);
    assert.throws(() => checkKeyPair(a.keyPem, a.keyPem), /not a PEM certificate/);
  });
});
