/** Certificates for tests: a fresh self-signed pair, in memory or written to a temporary directory. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSelfSignedCertificate, type CertificatePair } from '../../src/certs/index.js';

/** Names a loopback test server is reached by. */
export const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'] as const;

export function makeCertificate(dnsNames: readonly string[] = LOOPBACK_NAMES, validityHours = 24): Promise<CertificatePair> {
  return generateSelfSignedCertificate({ dnsNames, validityHours });
}

export interface TempDir {
  readonly path: string;
  remove(): Promise<void>;
}

export async function tempDir(prefix = 'tether-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** Writes `cert.pem` and `key.pem` (the Secret's key names) into `dir`. */
export async function writeCertificateFiles(dir: string, pair: CertificatePair): Promise<CertificateFiles> {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  await writeFile(certFile, pair.certPem);
  await writeFile(keyFile, pair.keyPem, { mode: 0o600 });
  return { certFile, keyFile };
}
