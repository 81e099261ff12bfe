/**
 * The dev and test cluster's certificates: one throwaway CA per cluster and the serving and client
 * certificates it issues (the API server's, the admin's, the controller manager's; a kubelet's...).
 * ECDSA P-256: key generation takes milliseconds, unlike RSA.
 */
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import type * as X509 from '../certs/x509.js';

/** Loaded lazily: only the cluster's PKI step needs it. */
let x509Module: Promise<typeof X509> | undefined;
function loadX509(): Promise<typeof X509> {
  return (x509Module ??= import('../certs/x509.js'));
}

const subtle = webcrypto.subtle;
const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const EC_SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface KeyPair {
  readonly keys: webcrypto.CryptoKeyPair;
  readonly keyPem: string;
  readonly publicKeyPem: string;
}

export interface Issued extends KeyPair {
  readonly cert: X509.X509Certificate;
  readonly certPem: string;
}

export type CertUsage = 'server' | 'client';

export async function newKeyPair(): Promise<KeyPair> {
  const keys = (await subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  return {
    keys,
    keyPem: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: KeyObject.from(keys.publicKey).export({ type: 'spki', format: 'pem' }).toString(),
  };
}

// Go (1.23+) rejects certificates with negative serial numbers, and a random DER integer
// is negative half the time; a leading 0x01 byte keeps it positive.
const serial = (): string => '01' + randomBytes(15).toString('hex');

function validity(): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  // Back-dated so that small clock differences never make a fresh cert "not yet valid".
  return { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 7 * 24 * 3600_000) };
}

/** A self-signed CA, valid for a week. */
export async function newCA(): Promise<Issued> {
  const x509 = await loadX509();
  const kp = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: 'CN=tether-test-ca',
      ...validity(),
      signingAlgorithm: EC_SIGN,
      keys: kp.keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(kp.keys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );
  return { ...kp, cert, certPem: cert.toString('pem') + '\n' };
}

/**
 * A leaf certificate signed by `ca` for `subject` (e.g. `[{ CN: ['admin'] }, { O: ['system:masters'] }]`),
 * for serving (`sans`: the names and addresses it answers on) or for authenticating as a client.
 */
export async function issue(
  ca: Issued,
  subject: X509.JsonName,
  usage: CertUsage,
  sans: X509.JsonGeneralNames = [],
): Promise<Issued> {
  const x509 = await loadX509();
  const kp = await newKeyPair();
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    new x509.ExtendedKeyUsageExtension(
      [usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
      false,
    ),
    await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey, false, webcrypto),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject,
      issuer: ca.cert.subjectName,
      ...validity(),
      signingAlgorithm: EC_SIGN,
      publicKey: kp.keys.publicKey,
      signingKey: ca.keys.privateKey,
      extensions,
    },
    webcrypto,
  );
  return { ...kp, cert, certPem: cert.toString('pem') + '\n' };
}
