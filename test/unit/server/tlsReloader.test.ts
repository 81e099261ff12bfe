import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rename, rm, symlink, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkKeyPair, type CertificatePair } from '../../../src/certs/index.js';
import { readCertificateFiles, watchCertificateFiles, type PemPair } from '../../../src/server/tlsReloader.js';
import { makeCertificate, tempDir, writeCertificateFiles, type TempDir } from '../../helpers/certs.js';
import { recordingLogger } from '../../helpers/logs.js';

describe('certificate files', () => {
  let dir: TempDir;
  let a: CertificatePair;
  let b: CertificatePair;
  before(async () => {
    dir = await tempDir();
    [a, b] = await Promise.all([makeCertificate(['a.example']), makeCertificate(['b.example'])]);
  });
  after(() => dir.remove());

  test('missing files are named in the error', async () => {
    await assert.rejects(readCertificateFiles({ certFile: join(dir.path, 'nope.pem'), keyFile: join(dir.path, 'nope.key') }), /cannot read the TLS certificate file .*nope\.pem: ENOENT: no such file or directory$/);
  });

  test('a changed pair is applied once; a bad pair keeps the old one and is logged once; an unreadable file too', async () => {
    const sub = join(dir.path, 'inplace');
    await mkdir(sub);
    const files = await writeCertificateFiles(sub, a);
    const applied: string[] = [];
    const rec = recordingLogger('info');
    const w = watchCertificateFiles(files, {
      current: a,
      apply: (p: PemPair) => {
        const info = checkKeyPair(p.certPem, p.keyPem);
        applied.push(info.dnsNames[0]!);
        return info;
      },
      logger: rec.logger,
      intervalMs: 60_000,
    });
    try {
      await w.check();
      assert.deepEqual(applied, [], 'unchanged files are not re-applied');

      // Half-way through a non-atomic update: new certificate, old key.
      await writeFile(files.certFile, b.certPem);
      await w.check();
      await w.check();
      assert.deepEqual(applied, []);
      const errors = rec.lines().filter((l) => l.level === 50);
      assert.equal(errors.length, 1, 'logged once');
      assert.match(String(errors[0]?.problem), /private key does not belong/);
      assert.match(String(errors[0]?.msg), /keeping the previous certificate/);

      await writeFile(files.keyFile, b.keyPem);
      await w.check();
      assert.deepEqual(applied, ['b.example']);

      await rm(files.keyFile);
      await w.check();
      await w.check();
      assert.equal(rec.lines().filter((l) => l.level === 40).length, 1, 'one warning for a missing file');
      assert.doesNotMatch(rec.text(), /BEGIN PRIVATE KEY/, 'key material is never logged');
    } finally {
      w.stop();
    }
  });

  test('a Kubernetes Secret volume update (symlink swap of ..data) is seen by the poller', async () => {
    const vol = join(dir.path, 'secret');
    await mkdir(join(vol, '..v1'), { recursive: true });
    await writeCertificateFiles(join(vol, '..v1'), a);
    await symlink('..v1', join(vol, '..data'));
    await symlink('..data/cert.pem', join(vol, 'cert.pem'));
    await symlink('..data/key.pem', join(vol, 'key.pem'));
    const files = { certFile: join(vol, 'cert.pem'), keyFile: join(vol, 'key.pem') };
    assert.deepEqual(await readCertificateFiles(files), { certPem: a.certPem, keyPem: a.keyPem });

    let resolveApplied: (names: readonly string[]) => void;
    const applied = new Promise<readonly string[]>((r) => (resolveApplied = r));
    const w = watchCertificateFiles(files, {
      current: a,
      apply: (p) => {
        const info = checkKeyPair(p.certPem, p.keyPem);
        resolveApplied(info.dnsNames);
        return info;
      },
      logger: recordingLogger().logger,
      intervalMs: 20,
    });
    // The poller's timer is unref'd (it must not keep a process alive): hold the test open meanwhile.
    const hold = setTimeout(() => {}, 10_000);
    try {
      await mkdir(join(vol, '..v2'));
      await writeCertificateFiles(join(vol, '..v2'), b);
      // What the kubelet does: a new symlink renamed over ..data, atomically.
      await symlink('..v2', join(vol, '..data_tmp'));
      await rename(join(vol, '..data_tmp'), join(vol, '..data'));
      assert.deepEqual(await applied, ['b.example']);
    } finally {
      clearTimeout(hold);
      w.stop();
    }
  });
});
