/**
 * The webhook's self-signed certificate (SPEC §7). CA-capable, because the same PEM is both what the
 * server presents and the `caBundle` the API server trusts. ECDSA P-256: generated in milliseconds
 * (RSA takes far longer), accepted by every Kubernetes version.
 */
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import type * as X509 from './x509.js';
import { isIpAddress } from './inspect.js';

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
const BACKDATE_MS = 5 * 60_000;
const HOUR_MS = 3_600_000;

const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const EC_SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A positive serial: Go (1.23+) rejects negative ones, and a random DER integer is negative half the time. */
const serialNumber = (): string => '01' + randomBytes(15).toString('hex');

export async function generateSelfSignedCertificate(opts: GenerateCertificateOptions): Promise<CertificatePair> {
  if (opts.dnsNames.length === 0) throw new Error('generateSelfSignedCertificate: at least one name is needed');
  if (!(opts.validityHours > 0)) throw new Error(`generateSelfSignedCertificate: validityHours must be positive, got ${opts.validityHours}`);
  const now = (opts.now ?? new Date()).getTime();
  // Loaded on first use: only the certificate controller generates, and @peculiar/x509 with its
  // dependencies adds about 12 MB to a process (`tether serve` never needs it).
  const x509 = await import('./x509.js');
  const keys = (await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const sans: X509.JsonGeneralNames = opts.dnsNames.map((n) => ({ type: isIpAddress(n) ? 'ip' : 'dns', value: n }));
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: [{ CN: [opts.dnsNames[0] as string] }],
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + opts.validityHours * HOUR_MS),
      signingAlgorithm: EC_SIGN,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyCertSign, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(sans, false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );
  return {
    certPem: cert.toString('pem').replace(/\r\n/g, '\n').trimEnd() + '\n',
    keyPem: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
