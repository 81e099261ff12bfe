/**
 * The layers the images are made of, as plans (layerPlan.ts): a minimal base (users, name service,
 * /tmp), the host's Node 20 with exactly the shared libraries it loads, npm packages from the lockfile,
 * Tether's build, the pause program, the test app. Each function gathers its inputs from the host and
 * returns data; building and caching the layer is build.ts's job.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { UNIXCRED_ADDON_FILE } from '../../config/nativeAddons.js';
import { sharedLibraries } from './ldd.js';
import { EXEC_MODE, type LayerEntry, type LayerPlan } from './layerPlan.js';
import { PYTHON_TARGET } from './libraries.js';
import { packageClosure, parseLockfile } from './packages.js';

const run = promisify(execFile);

/** The unprivileged user of the images (distroless's `nonroot`); the chart's runAsUser. */
export const NONROOT_UID = 65532;
/** Where the host's Node is, and where the images have it: every script's `#!/usr/bin/node`. */
export const NODE_PATH = '/usr/bin/node';
/** The Node major the images carry: the one the native addons in node_modules were built for. */
export const NODE_MAJOR = 20;
/** Where the apps live in the images. */
export const APP_DIR = '/app';

/**
 * /etc/passwd, /etc/group, /etc/nsswitch.conf and an empty /tmp: what glibc and Node look up (the user
 * name of a UID, the order of hosts files and DNS), as distroless's base has them.
 */
export function baseLayer(): LayerPlan {
  return {
    name: 'base',
    entries: [
      { kind: 'content', path: '/etc/passwd', content: `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${NONROOT_UID}:${NONROOT_UID}:nonroot:/home/nonroot:/sbin/nologin\n` },
      { kind: 'content', path: '/etc/group', content: `root:x:0:\nnonroot:x:${NONROOT_UID}:\n` },
      { kind: 'content', path: '/etc/nsswitch.conf', content: 'passwd: files\ngroup: files\nhosts: files dns\n' },
      { kind: 'dir', path: '/home/nonroot' },
      { kind: 'dir', path: '/root', mode: 0o700 },
      // World-writable and sticky, as on any system; with a read-only root filesystem a volume goes here.
      { kind: 'dir', path: '/tmp', mode: 0o1777 },
    ],
  };
}

/** `node --version` of a binary, checked against the major the images need. */
export async function checkNodeVersion(node: string): Promise<string> {
  const version = (await run(node, ['--version'])).stdout.trim();
  if (!version.startsWith(`v${NODE_MAJOR}.`)) throw new Error(`${node} is Node ${version}; the images need Node ${NODE_MAJOR} (the one node_modules' native addons were built for)`);
  return version;
}

/** The host's Node at /usr/bin/node and each shared library `ldd` lists, at the path the loader looks for it. */
export async function nodeRuntimeLayer(node = NODE_PATH): Promise<LayerPlan> {
  await checkNodeVersion(node);
  const libs = await sharedLibraries(node);
  return {
    name: 'node-runtime',
    entries: [{ kind: 'file', path: NODE_PATH, source: node, mode: EXEC_MODE }, ...libs.map((lib): LayerEntry => ({ kind: 'file', path: lib, source: lib }))],
  };
}

export interface PackagesLayerOptions {
  /** The package whose package-lock.json and node_modules are read. */
  readonly root: string;
  /** Package names and whether their optional dependencies come too; '' = the root's own dependencies. */
  readonly roots: readonly { readonly name: string; readonly optional: boolean }[];
  /** Where node_modules goes in the image. */
  readonly into: string;
}

/**
 * npm packages from the root's node_modules, each package directory copied without its nested
 * node_modules (those are packages of their own in the lockfile, copied if needed).
 */
export function packagesLayer(name: string, o: PackagesLayerOptions): LayerPlan {
  const lockPath = join(o.root, 'package-lock.json');
  const lock = parseLockfile(JSON.parse(readFileSync(lockPath, 'utf8')), lockPath);
  const installed = (p: string) => existsSync(join(o.root, p, 'package.json'));
  const paths = new Set<string>();
  for (const r of o.roots) for (const p of packageClosure(lock, r.name === '' ? [''] : [r.name], { optional: r.optional, installed })) paths.add(p);
  return {
    name,
    entries: [...paths].sort().map((p): LayerEntry => ({
      kind: 'tree',
      path: `${o.into}/${p}`,
      source: join(o.root, p),
      skip: (rel) => rel === 'node_modules' || rel.endsWith('.map'),
    })),
  };
}

/** The file behind `agent` and `tether` on the image's PATH (deploy/image/cli, also used by the Dockerfile). */
export const CLI_WRAPPER = 'deploy/image/cli';

/**
 * Tether's build: dist/src (without source maps, whose sources are not shipped), the console's assets,
 * package.json (the version `tether --version` prints), the native addon the node agent reads Unix
 * sockets' peer credentials with (without it a node agent attests no origin), and `agent` and `tether`
 * on PATH.
 */
export function tetherAppLayer(root: string): LayerPlan {
  for (const need of ['dist/src/cli/main.js', 'dist/console/index.html', UNIXCRED_ADDON_FILE]) {
    if (!existsSync(join(root, need))) throw new Error(`${join(root, need)} is missing: run npm run build first (the addon needs a C compiler, make and python3)`);
  }
  return {
    name: 'tether',
    entries: [
      { kind: 'file', path: `${APP_DIR}/package.json`, source: join(root, 'package.json') },
      { kind: 'tree', path: `${APP_DIR}/dist/src`, source: join(root, 'dist/src'), skip: (rel) => rel.endsWith('.map') },
      { kind: 'tree', path: `${APP_DIR}/dist/console`, source: join(root, 'dist/console') },
      { kind: 'file', path: `${APP_DIR}/${UNIXCRED_ADDON_FILE}`, source: join(root, UNIXCRED_ADDON_FILE) },
      { kind: 'file', path: '/usr/bin/agent', source: join(root, CLI_WRAPPER), mode: EXEC_MODE },
      { kind: 'file', path: '/usr/bin/tether', source: join(root, CLI_WRAPPER), mode: EXEC_MODE },
    ],
  };
}

/** The pause program's C source. */
export const PAUSE_SOURCE = 'deploy/image/pause.c';

/**
 * The pod sandbox's one process, compiled static (`gcc -static -Os`, stripped) into `workDir`: the
 * image is that file alone.
 */
export async function pauseLayer(root: string, workDir: string): Promise<LayerPlan> {
  const out = join(workDir, 'pause');
  try {
    await run('gcc', ['-static', '-Os', '-s', '-Wall', '-Werror', '-o', out, join(root, PAUSE_SOURCE)]);
  } catch (e) {
    throw new Error(`cannot compile ${PAUSE_SOURCE} (gcc and the static libc, Debian's libc6-dev): ${((e as { stderr?: string }).stderr ?? (e as Error).message).trim()}`);
  }
  return { name: 'pause', entries: [{ kind: 'file', path: '/pause', source: out, mode: EXEC_MODE }] };
}

/** The instrumented test app of the intake tests, run in a pod instead of on the host. */
export const INTAKE_APP_SOURCE = 'test/fixtures/intake/app.cjs';

export function intakeAppLayer(root: string): LayerPlan {
  return { name: 'intake-app', entries: [{ kind: 'file', path: `${APP_DIR}/app.cjs`, source: join(root, INTAKE_APP_SOURCE) }] };
}

/** The uninstrumented Node app of the library injection tests: an HTTP server on the runtime alone. */
export const NODE_APP_SOURCE = 'test/fixtures/lib-injection/server.cjs';

export function nodeAppLayer(root: string): LayerPlan {
  return { name: 'node-app', entries: [{ kind: 'file', path: `${APP_DIR}/server.cjs`, source: join(root, NODE_APP_SOURCE) }] };
}

/** The Python of the python-app image: Debian's, with its standard library (the python library's wheels are for it). */
export const PYTHON_BIN = `/usr/bin/python${PYTHON_TARGET.version}`;
export const PYTHON_STDLIB = `/usr/lib/python${PYTHON_TARGET.version}`;
/** Where the image has it: `python3` on PATH. */
export const PYTHON_PATH = '/usr/bin/python3';
/**
 * What manylinux wheels may assume the system has without bundling it (PEP 599's list, but for X11 and
 * OpenGL): an app image must carry them for a tracer's native parts. Those the host lacks are left out.
 */
const MANYLINUX_ASSUMED_LIBS = ['libc.so.6', 'libm.so.6', 'libdl.so.2', 'librt.so.1', 'libpthread.so.0', 'libutil.so.1', 'libresolv.so.2', 'libnsl.so.1', 'libstdc++.so.6', 'libgcc_s.so.1'];
/** Parts of the standard library an app does not need (tests, GUI, build config, bundled pip, Debian's site hooks). */
const STDLIB_LEFT_OUT = new Set(['test', 'idlelib', 'tkinter', 'turtledemo', 'ensurepip', 'lib2to3', 'sitecustomize.py', 'EXTERNALLY-MANAGED']);

/**
 * The host's Python (PYTHON_TARGET's) at /usr/bin/python3 with its standard library, the shared
 * libraries it and its extension modules load (a module whose libraries the host lacks, such as
 * _tkinter, is left out), and the libraries manylinux wheels assume.
 */
export async function pythonRuntimeLayer(): Promise<LayerPlan> {
  const version = (await run(PYTHON_BIN, ['--version'])).stdout.trim();
  if (!version.startsWith(`Python ${PYTHON_TARGET.version}.`)) throw new Error(`${PYTHON_BIN} is ${version}: the python-app image needs Python ${PYTHON_TARGET.version} (Debian's python${PYTHON_TARGET.version}), the one the python library's wheels are fetched for`);
  const libs = new Set(await sharedLibraries(PYTHON_BIN));
  const dynload = join(PYTHON_STDLIB, 'lib-dynload');
  const unloadable = new Set<string>();
  for (const f of await readdir(dynload)) {
    if (!f.endsWith('.so')) continue;
    try {
      for (const lib of await sharedLibraries(join(dynload, f))) libs.add(lib);
    } catch {
      unloadable.add(`lib-dynload/${f}`);
    }
  }
  const libDir = [...libs].find((l) => l.endsWith('/libc.so.6'))?.replace(/\/libc\.so\.6$/, '') ?? '/lib/x86_64-linux-gnu';
  for (const name of MANYLINUX_ASSUMED_LIBS) if (existsSync(join(libDir, name))) libs.add(join(libDir, name));
  return {
    name: 'python-runtime',
    entries: [
      { kind: 'file', path: PYTHON_PATH, source: PYTHON_BIN, mode: EXEC_MODE },
      { kind: 'tree', path: PYTHON_STDLIB, source: PYTHON_STDLIB, skip: (rel) => STDLIB_LEFT_OUT.has(rel) || rel.startsWith('config-') || rel.endsWith('/__pycache__') || rel === '__pycache__' || rel.startsWith('site-packages') || rel.startsWith('dist-packages') || unloadable.has(rel) },
      ...[...libs].sort().map((lib): LayerEntry => ({ kind: 'file', path: lib, source: lib })),
    ],
  };
}

/** The uninstrumented Python app of the library injection tests: an http.server on the runtime alone. */
export const PYTHON_APP_SOURCE = 'test/fixtures/lib-injection/server.py';

export function pythonAppLayer(root: string): LayerPlan {
  return { name: 'python-app', entries: [{ kind: 'file', path: `${APP_DIR}/server.py`, source: join(root, PYTHON_APP_SOURCE) }] };
}
