/**
 * Reading certificates Tether did not necessarily make (a Secret, files on disk): validity, names, and
 * whether a key belongs to a certificate. Errors say what is wrong in words an operator can act on.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

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

/** An IPv6 address in its canonical text (RFC 5952: `::1`, lower case); other addresses as they are. */
function canonicalIp(address: string): string {
  return isIP(address) === 6 ? new URL(`http://[${address}]`).hostname.slice(1, -1) : address;
}

/**
 * DNS and IP names out of Node's `X509Certificate.subjectAltName`: `TYPE:value` entries joined by ", ",
 * where a value that would be ambiguous (one containing ", " or a quote) is written as a JSON string
 * literal (Node's documented format). Other types (URI, email) are not names a server is reached by.
 */
function subjectAltNames(text: string | undefined): { dns: string[]; ip: string[] } {
  const dns: string[] = [];
  const ip: string[] = [];
  let at = 0;
  while (text !== undefined && at < text.length) {
    const colon = text.indexOf(':', at);
    if (colon < 0) throw new InvalidCertificate(`cannot read the subject alternative names: no "type:value" at ${JSON.stringify(text.slice(at, at + 40))}`);
    const type = text.slice(at, colon);
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      end = colon + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      end += 1;
      try {
        value = JSON.parse(text.slice(colon + 1, end)) as string;
      } catch {
        throw new InvalidCertificate(`cannot read the subject alternative names: bad quoted value after ${type}`);
      }
    } else {
      const comma = text.indexOf(', ', colon + 1);
      end = comma < 0 ? text.length : comma;
      value = text.slice(colon + 1, end);
    }
    if (type === 'DNS') dns.push(value);
    else if (type === 'IP Address') ip.push(canonicalIp(value));
    at = end + 2;
  }
  return { dns, ip };
}

/**
 * Validity, names and subject of the first certificate of a PEM bundle, read with Node's own X.509 parser
 * (so that a process that only serves a certificate does not load a certificate-building library).
 */
export function inspectCertificate(pem: string | Uint8Array): CertificateInfo {
  return describe(parseCertificate(firstCertificateBlock(pem)));
}

function describe(cert: X509Certificate): CertificateInfo {
  const names = subjectAltNames(cert.subjectAltName);
  return {
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    dnsNames: names.dns,
    ipAddresses: names.ip,
    // Node puts one relative distinguished name per line.
    subject: cert.subject.split('\n').join(', '),
  };
}

function parseCertificate(block: string): X509Certificate {
  try {
    return new X509Certificate(block);
  } catch (e) {
    throw new InvalidCertificate(`cannot parse the PEM certificate: ${(e as Error).message}`);
  }
}

/**
 * Checks that `keyPem` is the private key of the (first) certificate in `certPem`, before a server
 * switches to them: a mismatched pair would make every handshake fail.
 */
export function checkKeyPair(certPem: string | Uint8Array, keyPem: string | Uint8Array): CertificateInfo {
  const cert = parseCertificate(firstCertificateBlock(certPem));
  const info = describe(cert);
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
  if (!cert.checkPrivateKey(key)) {
    throw new InvalidCertificate(`the private key does not belong to the certificate (${info.subject})`);
  }
  return info;
}

/** `true` for names that go into IP rather than DNS subject alternative names. */
export function isIpAddress(name: string): boolean {
  return isIP(name) !== 0;
}

const CERT_BLOCKS = new RegExp(CERT_BLOCK.source, 'g');

/** Every certificate block of a PEM bundle, in order, each ending with a newline. */
export function certificateBlocks(pem: string | Uint8Array): string[] {
  return [...asText(pem).matchAll(CERT_BLOCKS)].map((m) => m[0] + '\n');
}

/** SHA-256 fingerprint of the (first) certificate: how a certificate is recognised in a bundle. */
export function certificateFingerprint(pem: string | Uint8Array): string {
  return parseCertificate(firstCertificateBlock(pem)).fingerprint256;
}

/** Whether the certificate may sign others (basic constraints CA:TRUE). */
export function isCaCertificate(pem: string | Uint8Array): boolean {
  return parseCertificate(firstCertificateBlock(pem)).ca;
}

/**
 * Whether `ca` signed `cert`: the issuer name matches and the signature verifies with the CA's key
 * (a self-signed certificate is issued by itself). Unparsable input is `false`, not an error.
 */
export function isIssuedBy(cert: string | Uint8Array, ca: string | Uint8Array): boolean {
  try {
    const c = parseCertificate(firstCertificateBlock(cert));
    const issuer = parseCertificate(firstCertificateBlock(ca));
    return c.checkIssued(issuer) && c.verify(issuer.publicKey);
  } catch {
    return false;
  }
}
