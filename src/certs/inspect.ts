/**
 * Reading certificates Tether did not necessarily make (a Secret, files on disk): validity, names, and
 * whether a key belongs to a certificate. Errors say what is wrong in words an operator can act on.
 */
import { createPrivateKey, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from './x509.js';

export interface CertificateInfo {
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** DNS subject alternative names, in certificate order. */
  readonly dnsNames: readonly string[];
  /** IP subject alternative names, in textual form (`127.0.0.1`, `::1`). */
  readonly ipAddresses: readonly string[];
  readonly subject: string;
}

/** A certificate or key that cannot be used; the message names the problem. */
export class InvalidCertificate extends Error {
  override name = 'InvalidCertificate';
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

function asText(pem: string | Uint8Array): string {
  return typeof pem === 'string' ? pem : Buffer.from(pem).toString('utf8');
}

/** The first certificate of a PEM bundle (the leaf, when it is a chain). */
function firstCertificateBlock(pem: string | Uint8Array): string {
  const text = asText(pem);
  const block = CERT_BLOCK.exec(text)?.[0];
  if (block === undefined) {
    const what = text.trim() === '' ? 'it is empty' : 'no "-----BEGIN CERTIFICATE-----" ... "-----END CERTIFICATE-----" block found';
    throw new InvalidCertificate(`not a PEM certificate: ${what}`);
  }
  return block;
}

export function inspectCertificate(pem: string | Uint8Array): CertificateInfo {
  const block = firstCertificateBlock(pem);
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(block);
  } catch (e) {
    throw new InvalidCertificate(`cannot parse the PEM certificate: ${(e as Error).message}`);
  }
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.items ?? [];
  return {
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    dnsNames: names.filter((n) => n.type === 'dns').map((n) => n.value),
    ipAddresses: names.filter((n) => n.type === 'ip').map((n) => n.value),
    subject: cert.subject,
  };
}

/**
 * Checks that `keyPem` is the private key of the (first) certificate in `certPem`, before a server
 * switches to them: a mismatched pair would make every handshake fail.
 */
export function checkKeyPair(certPem: string | Uint8Array, keyPem: string | Uint8Array): CertificateInfo {
  const info = inspectCertificate(certPem);
  const keyText = asText(keyPem);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyText)) {
    throw new InvalidCertificate(`not a PEM private key: ${keyText.trim() === '' ? 'it is empty' : 'no "-----BEGIN ... PRIVATE KEY-----" block found'}`);
  }
  let key;
  try {
    key = createPrivateKey(keyText);
  } catch (e) {
    throw new InvalidCertificate(`cannot parse the PEM private key: ${(e as Error).message}`);
  }
  const nodeCert = new NodeX509Certificate(firstCertificateBlock(certPem));
  if (!nodeCert.checkPrivateKey(key)) {
    throw new InvalidCertificate(`the private key does not belong to the certificate (${info.subject})`);
  }
  return info;
}

/** `true` for names that go into IP rather than DNS subject alternative names. */
export function isIpAddress(name: string): boolean {
  return isIP(name) !== 0;
}
