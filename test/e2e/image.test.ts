/**
 * The daemonless image build, end to end (slow: two cold builds of the Tether image, about a minute
 * each): the same checkout gives the same digest twice, from empty caches; a warm build reuses the
 * archive; the archive is an OCI layout containerd's importer names; and the image runs with no
 * container runtime at all: its layers extracted into a rootfs, run by `chroot --userspec=65532:65532`
 * (the chart's user), the root filesystem mounted read-only in a mount namespace of its own, as the
 * chart's `readOnlyRootFilesystem` has it. Needs root (chroot, mounts): without it the test fails with
 * that reason.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { buildImage, type BuiltImage } from '../../src/devcluster/images/index.js';
import { SERVICE_ACCOUNT_DIR } from '../../src/config/index.js';
import { startControlPlane, tokenKubeConfigFor, type ControlPlane } from '../harness/controlPlane.js';
import { applyTetherRbac, SERVICE_ACCOUNT } from '../helpers/rbac.js';
import { CONTAINERD_IMAGE_NAME } from '../../src/devcluster/images/ociArchive.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
/** The environment the container gets from the image config (no host variables leak into the run). */
const IMAGE_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', NODE_ENV: 'production' };

let dir: string;
let first: BuiltImage;
let rootfs: string;

/** The archive's layers, extracted bottom first into a directory: the container's root filesystem. */
function extract(archive: string, into: string, layout = join(dir, 'layout')): void {
  mkdirSync(layout, { recursive: true });
  execFileSync('tar', ['-xf', archive, '-C', layout]);
  const [m] = JSON.parse(readFileSync(join(layout, 'manifest.json'), 'utf8')) as { Layers: string[] }[];
  mkdirSync(into, { recursive: true });
  for (const layer of m!.Layers) execFileSync('tar', ['-xzf', join(layout, layer), '-C', into]);
}

interface InImage {
  readonly input?: string;
  /** A directory mounted (read-only) where the kubelet mounts a pod's service account. */
  readonly serviceAccount?: string;
  /** A directory mounted (read-only) at /certs. */
  readonly certs?: string;
  readonly env?: Record<string, string>;
  /** Another image's root filesystem (default: the Tether image's). */
  readonly root?: string;
}

/**
 * `unshare` running a command of the image as the chart's pod runs it: PID 1 of its own PID namespace,
 * UID 65532, the root filesystem read-only, the given directories mounted into it.
 */
function inImage(args: string[], o: InImage): [string, string[], { env: NodeJS.ProcessEnv }] {
  const script = [
    'set -e',
    'root=$1; sa=$2; certs=$3; shift 3',
    'mount --bind "$root" "$root"',
    `if [ -n "$sa" ]; then mount --bind -o ro "$sa" "$root/${SERVICE_ACCOUNT_DIR}"; fi`,
    'if [ -n "$certs" ]; then mount --bind -o ro "$certs" "$root/certs"; fi',
    'mount -o remount,bind,ro "$root"',
    'exec chroot --userspec=65532:65532 "$root" "$@"',
  ].join('\n');
  const root = o.root ?? rootfs;
  if (o.serviceAccount) mkdirSync(join(root, SERVICE_ACCOUNT_DIR), { recursive: true });
  if (o.certs) mkdirSync(join(root, 'certs'), { recursive: true });
  const argv = ['--pid', '--fork', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', root, o.serviceAccount ?? '', o.certs ?? '', ...args];
  // unshare and chroot from the host's PATH; the command itself gets the image's environment only.
  return ['unshare', argv, { env: { ...IMAGE_ENV, PATH: `/usr/sbin:/sbin:${IMAGE_ENV.PATH}`, ...o.env } }];
}

function runInImage(args: string[], o: InImage = {}) {
  const [cmd, argv, opts] = inImage(args, o);
  return spawnSync(cmd, argv, { ...opts, encoding: 'utf8', input: o.input ?? '', timeout: 60_000 });
}

/** The PID 1 of the namespace `unshare` made: its one child (sh and chroot exec'd into the command). */
function namespaceInit(child: ChildProcess): number | undefined {
  try {
    return Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Ends a command started by `inImage`: SIGKILL to its PID 1 (the only signal a namespace's init takes
 * from outside without a handler), which ends unshare too.
 */
function killInImage(child: ChildProcess): void {
  const init = namespaceInit(child);
  if (init) process.kill(init, 'SIGKILL');
  child.kill('SIGKILL');
}

before(async () => {
  assert.equal(process.getuid?.(), 0, 'this test runs the image with chroot and mount namespaces: run it as root');
  dir = mkdtempSync(join(tmpdir(), 'tether-image-'));
  first = await buildImage('tether', { cacheDir: join(dir, 'cache-1') });
  rootfs = join(dir, 'rootfs');
  extract(first.archivePath, rootfs);
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('tether image build', () => {
  test('the same checkout gives the same digest twice, from empty caches; a warm build is the cached archive', async () => {
    const second = await buildImage('tether', { cacheDir: join(dir, 'cache-2') });
    assert.equal(second.cached, false);
    assert.equal(second.digest, first.digest);
    assert.deepEqual(second.layers, first.layers);
    assert.ok(readFileSync(second.archivePath).equals(readFileSync(first.archivePath)), 'the archives are the same bytes');
    const warm = await buildImage('tether', { cacheDir: join(dir, 'cache-2') });
    assert.equal(warm.cached, true);
    assert.equal(warm.digest, first.digest);
  });

  test("an OCI layout named for containerd's importer, within the size target", () => {
    const layout = join(dir, 'layout');
    assert.equal(JSON.parse(readFileSync(join(layout, 'oci-layout'), 'utf8')).imageLayoutVersion, '1.0.0');
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    assert.equal(index.manifests[0]!.digest, first.digest);
    assert.equal(index.manifests[0]!.annotations[CONTAINERD_IMAGE_NAME], first.ref);
    const manifest = JSON.parse(readFileSync(join(layout, 'blobs/sha256', first.digest.slice('sha256:'.length)), 'utf8')) as { config: { digest: string } };
    const config = JSON.parse(readFileSync(join(layout, 'blobs/sha256', manifest.config.digest.slice('sha256:'.length)), 'utf8')) as { os: string; config: { User: string; Entrypoint: string[] } };
    assert.equal(config.os, 'linux');
    assert.equal(config.config.User, '65532:65532');
    assert.deepEqual(config.config.Entrypoint, ['/usr/bin/node', '/app/dist/src/cli/main.js']);
    assert.ok(first.size <= 70e6, `${first.size} bytes compressed: the target is 70 MB`);
  });

  test('no shell and no package manager in the image; /tmp is sticky and world-writable', () => {
    for (const p of ['bin/sh', 'usr/bin/sh', 'bin/bash', 'usr/bin/apt', 'usr/bin/npm', 'usr/bin/env']) assert.throws(() => statSync(join(rootfs, p)), p);
    assert.equal(statSync(join(rootfs, 'tmp')).mode & 0o7777, 0o1777);
  });

  test('the entrypoint and `agent` run as UID 65532 from a read-only root filesystem', () => {
    const version = runInImage(['/usr/bin/node', '/app/dist/src/cli/main.js', '--version']);
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout.trim(), JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version);
    const agent = runInImage(['agent', '--help']);
    assert.equal(agent.status, 0, agent.stderr);
    assert.match(agent.stdout, /^Usage: agent /m);
    assert.match(agent.stdout, /^ {2}status /m);
    // The image's root filesystem is read-only here: a write fails.
    const write = runInImage(['/usr/bin/node', '-e', "require('fs').writeFileSync('/app/x', '')"]);
    assert.notEqual(write.status, 0);
    assert.match(write.stderr, /EROFS|read-only/);
  });

  test('`tether inject` on the example pod, in the image', () => {
    const r = runInImage(['tether', 'inject', '-f', '-'], { input: readFileSync(join(REPO, 'examples/pod.yaml'), 'utf8') });
    assert.equal(r.status, 0, r.stderr);
    const pod = parseAllDocuments(r.stdout)[0]!.toJS() as { spec: { containers: { env?: { name: string }[] }[] } };
    const names = pod.spec.containers[0]!.env?.map((e) => e.name) ?? [];
    assert.ok(names.includes('DD_ENTITY_ID') || names.includes('DD_AGENT_HOST'), names.join(','));
  });

  test('SIGTERM to node as PID 1 reaches Tether\'s shutdown (tether serve: grace period, then stopped)', async () => {
    const certs = join(dir, 'certs');
    mkdirSync(certs, { recursive: true });
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(certs, 'key.pem'), '-out', join(certs, 'cert.pem'), '-days', '1', '-subj', '/CN=tether'], { stdio: 'ignore' });
    execFileSync('chmod', ['644', join(certs, 'key.pem'), join(certs, 'cert.pem')]);
    const [cmd, argv, opts] = inImage(['/usr/bin/node', '/app/dist/src/cli/main.js', 'serve', '--tls-cert', '/certs/cert.pem', '--tls-key', '/certs/key.pem', '--port', '0', '--host', '127.0.0.1'], {
      certs,
      env: { DD_SHUTDOWN_GRACE_SECONDS: '1' },
    });
    const child = spawn(cmd, argv, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    try {
      const deadline = Date.now() + 30_000;
      while (!/"url":"https:/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.match(out, /"url":"https:/, out);
      // unshare's one child is the namespace's PID 1: node, after sh and chroot exec'd into it.
      const pid = namespaceInit(child)!;
      assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /^NSpid:\s+\d+\s+1$/m, 'node is PID 1 of its namespace');
      assert.equal(readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'node');
      process.kill(pid, 'SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0, out);
      assert.match(out, /"signal":"SIGTERM"/);
      assert.match(out, /webhook server stopped/);
    } finally {
      killInImage(child);
    }
  });

  test('the native unix-dgram addon loads in the image (DogStatsD over a Unix socket)', () => {
    const r = runInImage(['/usr/bin/node', '-e', "require('/app/node_modules/unix-dgram'); console.log('ok')"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'ok');
  });

  test("Tether's native addon native/unixcred loads in the image, where the node agent looks for it (attested origins)", () => {
    const r = runInImage([
      '/usr/bin/node',
      '-e',
      "import('/app/dist/src/nodeagent/intake/attest/credentials.js').then((m) => { const c = m.unixCredentials(); console.log('problem' in c ? c.problem : 'ok'); })",
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'ok');
  });
});

describe('`agent status` in a pod of the image', () => {
  const NS = 'monitoring';
  let cp: ControlPlane;
  let serviceAccount: string;

  before(async () => {
    cp = await startControlPlane({ controllerManager: false });
    await applyTetherRbac(cp, NS);
    // The pod's service account as the kubelet mounts it: a bound token, the cluster CA, the namespace.
    const token = (await tokenKubeConfigFor(cp, NS, SERVICE_ACCOUNT)).getCurrentUser()!.token!;
    serviceAccount = join(dir, 'serviceaccount');
    mkdirSync(serviceAccount);
    writeFileSync(join(serviceAccount, 'token'), token);
    writeFileSync(join(serviceAccount, 'ca.crt'), cp.caPem);
    writeFileSync(join(serviceAccount, 'namespace'), NS);
  });

  after(() => cp?.stop());

  test('with no flag and no kubeconfig: the in-cluster service account and the pod\'s namespace', () => {
    const url = new URL(cp.server);
    const r = runInImage(['agent', 'status', '-o', 'json'], { serviceAccount, env: { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port } });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { namespace: string };
    assert.equal(report.namespace, NS);
    // It reached the API server as the service account: the (absent) webhook configuration is reported
    // as not found, not as unreachable or unauthenticated.
    assert.doesNotMatch(r.stdout, /ECONNREFUSED|Unauthorized|401/);
  });
});

describe('the pause and intake-app images', () => {
  test('pause: a static program alone, answering -v; intake-app: the traced app serving HTTP', async () => {
    const pause = await buildImage('pause', { cacheDir: join(dir, 'cache-1') });
    assert.equal(pause.ref, 'tether.local/pause:1');
    const pauseRoot = join(dir, 'pause-rootfs');
    extract(pause.archivePath, pauseRoot, join(dir, 'pause-layout'));
    const v = runInImage(['/pause', '-v'], { root: pauseRoot });
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout.trim(), 'tether pause 1');

    const app = await buildImage('intake-app', { cacheDir: join(dir, 'cache-1') });
    assert.equal(app.ref, 'tether.local/intake-app:1');
    // The Node layer is the Tether image's: same bytes, so a node stores and pulls it once.
    assert.equal(app.layers.find((l) => l.name === 'node-runtime')!.digest, first.layers.find((l) => l.name === 'node-runtime')!.digest);
    const appRoot = join(dir, 'app-rootfs');
    extract(app.archivePath, appRoot, join(dir, 'app-layout'));
    const port = 20000 + Math.floor(Math.random() * 20000);
    const [cmd, argv, opts] = inImage(['/usr/bin/node', '/app/app.cjs'], { root: appRoot, env: { APP_HTTP_PORT: String(port), DD_AGENT_HOST: '127.0.0.1', DD_TRACE_AGENT_PORT: '9', DD_DOGSTATSD_PORT: '9' } });
    const child = spawn(cmd, argv, { ...opts, stdio: 'ignore' });
    try {
      let body = '';
      const deadline = Date.now() + 30_000;
      while (!body && Date.now() < deadline) {
        body = await fetch(`http://127.0.0.1:${port}/buy`).then((r) => r.text(), () => '');
        if (!body) await new Promise((r) => setTimeout(r, 200));
      }
      assert.match(body, /^ok \d+/);
    } finally {
      killInImage(child);
    }
  });
});
