/**
 * Certificate generation (SPEC §7). Three kinds, all ECDSA P-256 (generated in milliseconds, where RSA
 * takes far longer; accepted by every Kubernetes version):
 * - a CA: what the webhook configuration's `caBundle` trusts. Long-lived and rotated rarely, and a new
 *   one is published in the bundle before anything it signs is served, so a rotation never leaves the
 *   API server distrusting what a replica serves;
 * - a serving certificate issued by that CA for the webhook's names: what the replicas present;
 * - a self-signed, CA-capable serving certificate (its own CA): `tether serve` with files, tests, and
 *   what Secrets written before the CA existed hold.
 */
import { createPrivateKey, KeyObject, randomBytes, webcrypto } from 'node:crypto';
import type * as X509 from './x509.js';
import { isIpAddress, InvalidCertificate } from './inspect.js';

export interface GenerateCertificateOptions {
  /** Subject alternative names; an IP address becomes an IP SAN. The first is also the subject CN. */
  readonly dnsNames: readonly string[];
  /** `certificate.validity_bound`, in hours. */
  readonly validityHours: number;
  readonly now?: Date;
}

export interface CertificatePair {
  readonly certPem: string;
  /** PKCS#8 PEM. */
  readonly keyPem: string;
}

/** Back-dated so that an API server whose clock is slightly behind does not see a "not yet valid" certificate. */
export const CERTIFICATE_BACKDATE_MS = 5 * 60_000;
const HOUR_MS = 3_600_000;

const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const EC_SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A positive serial: Go (1.23+) rejects negative ones, and a random DER integer is negative half the time. */
const serialNumber = (): string => '01' + randomBytes(15).toString('hex');

/**
 * Loaded on first use: only the certificate controller generates, and @peculiar/x509 with its
 * dependencies adds about 12 MB to a process (`tether serve` never needs it).
 */
const loadX509 = (): Promise<typeof X509> => import('./x509.js');

const newKeys = async (): Promise<webcrypto.CryptoKeyPair> => (await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;

function toPair(cert: X509.X509Certificate, privateKey: webcrypto.CryptoKey): CertificatePair {
  return {
    certPem: cert.toString('pem').replace(/\r\n/g, '\n').trimEnd() + '\n',
    keyPem: KeyObject.from(privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

function sanExtension(x509: typeof X509, names: readonly string[]): X509.SubjectAlternativeNameExtension {
  const sans: X509.JsonGeneralNames = names.map((n) => ({ type: isIpAddress(n) ? 'ip' : 'dns', value: n }));
  return new x509.SubjectAlternativeNameExtension(sans, false);
}

function checkValidity(what: string, hours: number): void {
  if (!(hours > 0)) throw new Error(`${what}: validityHours must be positive, got ${hours}`);
}

export async function generateSelfSignedCertificate(opts: GenerateCertificateOptions): Promise<CertificatePair> {
  if (opts.dnsNames.length === 0) throw new Error('generateSelfSignedCertificate: at least one name is needed');
  checkValidity('generateSelfSignedCertificate', opts.validityHours);
  const now = (opts.now ?? new Date()).getTime();
  const x509 = await loadX509();
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: [{ CN: [opts.dnsNames[0] as string] }],
      notBefore: new Date(now - CERTIFICATE_BACKDATE_MS),
      notAfter: new Date(now + opts.validityHours * HOUR_MS),
      signingAlgorithm: EC_SIGN,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyCertSign, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        sanExtension(x509, opts.dnsNames),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );
  return toPair(cert, keys.privateKey);
}

export interface GenerateCaOptions {
  /**
   * Subject CN. Give each CA its own (the controller adds the time): verifiers look issuers up by
   * subject, and during a rotation the bundle holds the old CA and the new one side by side.
   */
  readonly commonName: string;
  readonly validityHours: number;
  readonly now?: Date;
}

/** A CA that signs serving certificates and nothing else (path length 0). */
export async function generateCa(opts: GenerateCaOptions): Promise<CertificatePair> {
  checkValidity('generateCa', opts.validityHours);
  const now = (opts.now ?? new Date()).getTime();
  const x509 = await loadX509();
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: [{ CN: [opts.commonName] }],
      notBefore: new Date(now - CERTIFICATE_BACKDATE_MS),
      notAfter: new Date(now + opts.validityHours * HOUR_MS),
      signingAlgorithm: EC_SIGN,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );
  return toPair(cert, keys.privateKey);
}

export interface IssueServingCertificateOptions {
  /** The issuing CA and its key (PKCS#8 PEM of a P-256 key, as `generateCa` makes). */
  readonly ca: CertificatePair;
  readonly dnsNames: readonly string[];
  /** Capped at the CA's own expiry: a certificate outliving its issuer would fail verification then. */
  readonly notAfter: Date;
  readonly now?: Date;
}

/** A serving certificate (not a CA) for `dnsNames`, signed by `ca`. */
export async function issueServingCertificate(opts: IssueServingCertificateOptions): Promise<CertificatePair> {
  if (opts.dnsNames.length === 0) throw new Error('issueServingCertificate: at least one name is needed');
  const now = (opts.now ?? new Date()).getTime();
  const x509 = await loadX509();
  const caCert = new x509.X509Certificate(opts.ca.certPem);
  let signingKey: webcrypto.CryptoKey;
  try {
    const der = createPrivateKey(opts.ca.keyPem).export({ type: 'pkcs8', format: 'der' });
    signingKey = await webcrypto.subtle.importKey('pkcs8', der, EC_KEY, false, ['sign']);
  } catch (e) {
    throw new InvalidCertificate(`the CA key cannot sign: it must be an ECDSA P-256 key (${(e as Error).message})`);
  }
  const notAfter = Math.min(opts.notAfter.getTime(), caCert.notAfter.getTime());
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: [{ CN: [opts.dnsNames[0] as string] }],
      issuer: caCert.subject,
      notBefore: new Date(Math.max(now - CERTIFICATE_BACKDATE_MS, caCert.notBefore.getTime())),
      notAfter: new Date(notAfter),
      signingAlgorithm: EC_SIGN,
      publicKey: keys.publicKey,
      signingKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        sanExtension(x509, opts.dnsNames),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
        await x509.AuthorityKeyIdentifierExtension.create(caCert, false, webcrypto),
      ],
    },
    webcrypto,
  );
  return toPair(cert, keys.privateKey);
}

