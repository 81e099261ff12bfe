/**
 * Certificate files that change the ways they change in production: a Kubernetes Secret volume (the
 * kubelet's atomic writer: files in a timestamped directory, `..data` a symlink to it, `cert.pem` and
 * `key.pem` symlinks through `..data`, an update writes a new directory and renames a new `..data` over
 * the old one), and a plain atomic replacement of each file (written beside, renamed over).
 */
import { mkdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CertificatePair } from '../../src/certs/index.js';
import type { CertificateFiles } from './certs.js';

let generation = 0;
const timestampedDir = () => `..${new Date().toISOString().replace(/[-:.TZ]/g, '_')}${String(++generation).padStart(4, '0')}`;

async function writePairDir(volume: string, pair: CertificatePair): Promise<string> {
  const name = timestampedDir();
  await mkdir(join(volume, name));
  await writeFile(join(volume, name, 'cert.pem'), pair.certPem);
  await writeFile(join(volume, name, 'key.pem'), pair.keyPem, { mode: 0o600 });
  return name;
}

/** A Secret volume in `volume` (an existing, empty directory) holding `pair`. */
export async function createSecretVolume(volume: string, pair: CertificatePair): Promise<CertificateFiles> {
  const name = await writePairDir(volume, pair);
  await symlink(name, join(volume, '..data'));
  await symlink(join('..data', 'cert.pem'), join(volume, 'cert.pem'));
  await symlink(join('..data', 'key.pem'), join(volume, 'key.pem'));
  return { certFile: join(volume, 'cert.pem'), keyFile: join(volume, 'key.pem') };
}

/** Updates the Secret volume as the kubelet does: one rename switches both files at once. */
export async function updateSecretVolume(volume: string, pair: CertificatePair): Promise<void> {
  const old = await readlink(join(volume, '..data'));
  const name = await writePairDir(volume, pair);
  await symlink(name, join(volume, '..data_tmp'));
  await rename(join(volume, '..data_tmp'), join(volume, '..data'));
  await rm(join(volume, old), { recursive: true, force: true });
}

/** Replaces each file atomically (written beside, renamed over), the key first: two renames, not one. */
export async function replaceFiles(files: CertificateFiles, pair: CertificatePair): Promise<void> {
  await writeFile(files.keyFile + '.new', pair.keyPem, { mode: 0o600 });
  await writeFile(files.certFile + '.new', pair.certPem);
  await rename(files.keyFile + '.new', files.keyFile);
  await rename(files.certFile + '.new', files.certFile);
}
