/** The pure core of the daemonless image build: lockfile closure, ldd output, layer plans, OCI naming, crane flags. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { TETHER_IMAGE_REPOSITORY } from '../../../src/config/index.js';
import { hostPlatform, imageKey, mutateArgs } from '../../../src/devcluster/images/build.js';
import { imageSpec, packageVersion } from '../../../src/devcluster/images/catalogue.js';
import { parseLdd } from '../../../src/devcluster/images/ldd.js';
import { expandPlan, hashExpanded, layerPath, withParents, type ExpandedEntry } from '../../../src/devcluster/images/layerPlan.js';
import { buildLayer } from '../../../src/devcluster/images/layerTar.js';
import { blobPath, CONTAINERD_IMAGE_NAME, dockerManifest, namedIndex, OCI_REF_NAME, tagOf } from '../../../src/devcluster/images/ociArchive.js';
import { LockfileError, packageClosure, parseLockfile, resolveLocked, type Lockfile } from '../../../src/devcluster/images/packages.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));

describe('packageClosure', () => {
  const lock: Lockfile = parseLockfile(
    {
      lockfileVersion: 3,
      packages: {
        '': { dependencies: { a: '1' }, optionalDependencies: { dgram: '2' }, devDependencies: { t: '1' } },
        'node_modules/a': { dependencies: { b: '1', c: '1' }, peerDependencies: { api: '1', opt: '1' }, peerDependenciesMeta: { opt: { optional: true } } },
        'node_modules/b': { dependencies: { c: '2' } },
        'node_modules/b/node_modules/c': {},
        'node_modules/c': {},
        'node_modules/api': {},
        'node_modules/dgram': { optional: true, optionalDependencies: { 'other-platform': '1' } },
        'node_modules/t': { dev: true },
      } as Lockfile['packages'],
    },
    'package-lock.json',
  );
  const all = () => true;

  test('resolution walks up node_modules as require does', () => {
    assert.equal(resolveLocked(lock, 'node_modules/b', 'c'), 'node_modules/b/node_modules/c');
    assert.equal(resolveLocked(lock, 'node_modules/a', 'c'), 'node_modules/c');
    assert.equal(resolveLocked(lock, 'node_modules/b/node_modules/c', 'api'), 'node_modules/api');
    assert.equal(resolveLocked(lock, '', 'nope'), undefined);
  });

  test("the root's production dependencies: required, peers, optionals; no devDependencies", () => {
    assert.deepEqual(packageClosure(lock, [''], { optional: true, installed: all }), [
      'node_modules/a',
      'node_modules/api',
      'node_modules/b',
      'node_modules/b/node_modules/c',
      'node_modules/c',
      'node_modules/dgram',
    ]);
    assert.ok(!packageClosure(lock, [''], { optional: false, installed: all }).includes('node_modules/dgram'));
  });

  test('an optional package not installed here (another platform) is skipped; a required one is an error naming who needs it', () => {
    const notDgram = (p: string) => p !== 'node_modules/dgram';
    assert.ok(!packageClosure(lock, [''], { optional: true, installed: notDgram }).includes('node_modules/dgram'));
    assert.throws(() => packageClosure(lock, [''], { optional: true, installed: (p) => p !== 'node_modules/b' }), (e: Error) => e instanceof LockfileError && /node_modules\/a needs b/.test(e.message));
    assert.throws(() => packageClosure(lock, ['zzz'], { optional: false, installed: all }), /zzz is not installed/);
  });

  test("Tether's own lockfile: @kubernetes/client-node and unix-dgram in, typescript and dd-trace out", () => {
    const real = parseLockfile(JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')), 'package-lock.json');
    const prod = packageClosure(real, [''], { optional: true, installed: () => true });
    for (const p of ['node_modules/@kubernetes/client-node', 'node_modules/unix-dgram', 'node_modules/pino', 'node_modules/yaml']) assert.ok(prod.includes(p), p);
    for (const p of ['node_modules/typescript', 'node_modules/dd-trace', 'node_modules/vite']) assert.ok(!prod.includes(p), p);
    // Nothing npm marks dev-only is needed in production.
    for (const p of prod) assert.notEqual((real.packages[p] as { dev?: boolean }).dev, true, p);
  });

  test('a lockfile of npm 6 is refused with what to do', () => {
    assert.throws(() => parseLockfile({ lockfileVersion: 1, dependencies: {} }, 'x/package-lock.json'), /x\/package-lock.json: lockfileVersion 1 \(expected 2 or 3/);
  });
});

describe('parseLdd', () => {
  const out = `\tlinux-vdso.so.1 (0x00007ffd5a9f2000)
\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f1)
\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f2)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f3)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f4)
`;
  test('each library and the loader, no vDSO', () => {
    assert.deepEqual(parseLdd(out, 'node'), ['/lib/x86_64-linux-gnu/libdl.so.2', '/lib/x86_64-linux-gnu/libstdc++.so.6', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
  });
  test('a library ldd cannot find is an error naming it', () => {
    assert.throws(() => parseLdd('\tlibfoo.so.1 => not found\n', '/usr/bin/node'), /\/usr\/bin\/node needs libfoo.so.1, which ldd cannot find/);
  });
  test('a static program needs nothing', () => {
    assert.deepEqual(parseLdd('\tnot a dynamic executable\n'.replace('not a dynamic executable', 'statically linked'), 'pause'), []);
  });
});

describe('layer plans', () => {
  test('paths are relative, inside the layer', () => {
    assert.equal(layerPath('/usr/bin/node'), 'usr/bin/node');
    assert.equal(layerPath('app/'), 'app');
    for (const bad of ['/', '', '../etc', 'a/../../b']) assert.throws(() => layerPath(bad), /not a path inside a layer/, bad);
  });

  test('parents are added (0755), sorted; one path given twice is refused', () => {
    const e = withParents([{ kind: 'content', path: 'etc/x/y', content: '', mode: 0o644 }, { kind: 'dir', path: 'tmp', mode: 0o1777 }], 'l');
    assert.deepEqual(e.map((x) => [x.path, x.kind === 'symlink' ? 0 : x.mode.toString(8)]), [['etc', '755'], ['etc/x', '755'], ['etc/x/y', '644'], ['tmp', '1777']]);
    const twice: ExpandedEntry[] = [{ kind: 'content', path: 'a', content: '1', mode: 0o644 }, { kind: 'content', path: 'a', content: '2', mode: 0o644 }];
    assert.throws(() => withParents(twice, 'l'), /layer l: \/a is given twice/);
  });

  test('the same tree from two checkouts (other umask, other mtimes) gives the same hash and the same layer bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-layer-'));
    try {
      const make = (name: string, fileMode: number) => {
        const src = join(dir, name);
        mkdirSync(join(src, 'lib'), { recursive: true });
        writeFileSync(join(src, 'lib', 'index.js'), 'module.exports = 1;\n');
        writeFileSync(join(src, 'run'), '#!/bin/sh\n');
        chmodSync(join(src, 'lib', 'index.js'), fileMode);
        chmodSync(join(src, 'run'), fileMode | 0o100);
        symlinkSync('lib/index.js', join(src, 'main.js'));
        return src;
      };
      const a = make('a', 0o644);
      const b = make('b', 0o664);
      const plan = (src: string) => ({ name: 'app', entries: [{ kind: 'tree' as const, path: '/app', source: src }, { kind: 'content' as const, path: '/etc/x', content: 'x' }] });
      const ea = await expandPlan(plan(a));
      const eb = await expandPlan(plan(b));
      assert.equal(await hashExpanded(ea), await hashExpanded(eb));
      const la = await buildLayer(ea, dir, join(dir, 'a.tar.gz'));
      await new Promise((r) => setTimeout(r, 1100));
      const lb = await buildLayer(eb, dir, join(dir, 'b.tar.gz'));
      assert.equal(la.digest, lb.digest);
      assert.equal(la.diffId, lb.diffId);
      assert.ok(readFileSync(la.file).equals(readFileSync(lb.file)));
      // And a changed byte changes both.
      writeFileSync(join(b, 'lib', 'index.js'), 'module.exports = 2;\n');
      assert.notEqual(await hashExpanded(await expandPlan(plan(b))), await hashExpanded(ea));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('OCI archive naming', () => {
  const index = { schemaVersion: 2 as const, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:aa', size: 1 }] };
  test("the index names the image as containerd's importer and docker load read it", () => {
    const named = namedIndex(index, 'ghcr.io/tether/tether:0.1.0');
    assert.deepEqual(named.manifests[0]!.annotations, { [CONTAINERD_IMAGE_NAME]: 'ghcr.io/tether/tether:0.1.0', [OCI_REF_NAME]: '0.1.0' });
    assert.throws(() => namedIndex({ ...index, manifests: [] }, 'x:1'), /expected one image/);
  });
  test('tags: a registry port is not a tag', () => {
    assert.equal(tagOf('localhost:5000/pause:1'), '1');
    assert.throws(() => tagOf('localhost:5000/pause'), /has no tag/);
  });
  test("manifest.json points at the layout's blobs", () => {
    assert.deepEqual(dockerManifest({ config: { mediaType: 'c', digest: 'sha256:cc', size: 1 }, layers: [{ mediaType: 'l', digest: 'sha256:11', size: 1 }] }, 'a/b:1'), [
      { Config: 'blobs/sha256/cc', RepoTags: ['a/b:1'], Layers: ['blobs/sha256/11'] },
    ]);
    assert.throws(() => blobPath('md5:x'), /not a digest/);
  });
});

describe('image config and cache key', () => {
  const config = { entrypoint: ['/usr/bin/node', '/app/main.js'], user: '65532:65532', workdir: '/app', env: { PATH: '/usr/bin' }, labels: { a: 'b' }, exposedPorts: ['8080/tcp'] };
  test("crane mutate's flags, one value per flag", () => {
    assert.deepEqual(mutateArgs(config, 'linux/amd64'), [
      '--entrypoint', '/usr/bin/node', '--entrypoint', '/app/main.js', '--user', '65532:65532', '--workdir', '/app', '--env', 'PATH=/usr/bin', '--label', 'a=b', '--exposed-ports', '8080/tcp', '--set-platform', 'linux/amd64',
    ]);
    assert.throws(() => mutateArgs({ ...config, labels: { d: 'x, y' } }, 'linux/amd64'), /comma/);
  });
  test('the key changes with any input', () => {
    const base = { ref: 'r:1', config, platform: 'linux/amd64', layers: ['sha256:1'], crane: 'v0.22.1' };
    const k = imageKey(base);
    assert.equal(imageKey({ ...base }), k);
    for (const other of [{ ref: 'r:2' }, { layers: ['sha256:2'] }, { crane: 'v0.22.2' }, { config: { ...config, user: '0:0' } }]) assert.notEqual(imageKey({ ...base, ...other }), k);
  });
  test("platforms from Node's arch", () => {
    assert.equal(hostPlatform('x64'), 'linux/amd64');
    assert.equal(hostPlatform('arm64'), 'linux/arm64');
    assert.throws(() => hostPlatform('mips'), /no container platform/);
  });
});

describe('one source for the image reference', () => {
  test("the chart installs the image the build tags: values.yaml's repository, Chart appVersion = package version", () => {
    const values = parse(readFileSync(join(REPO, 'deploy/helm/tether/values.yaml'), 'utf8')) as { clusterAgent: { image: { repository: string; tag: string; pullPolicy: string } }; agents: { image: { repository: string; tag: string; pullPolicy: string } } };
    const chart = parse(readFileSync(join(REPO, 'deploy/helm/tether/Chart.yaml'), 'utf8')) as { appVersion: string };
    for (const image of [values.clusterAgent.image, values.agents.image]) {
      assert.equal(image.repository, TETHER_IMAGE_REPOSITORY);
      assert.equal(image.tag, '', 'empty: the appVersion');
      assert.equal(image.pullPolicy, 'IfNotPresent', 'an image imported into the node is used as it is');
    }
    assert.equal(chart.appVersion, packageVersion(REPO));
    assert.equal(imageSpec('tether', REPO).ref, `${TETHER_IMAGE_REPOSITORY}:${chart.appVersion}`);
  });
  test("the tether image runs as the chart's non-root user, with the CLI as entrypoint", () => {
    const c = imageSpec('tether', REPO).config;
    assert.equal(c.user, '65532:65532');
    assert.deepEqual(c.entrypoint, ['/usr/bin/node', '/app/dist/src/cli/main.js']);
  });
});
