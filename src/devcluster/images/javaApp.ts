/**
 * The java-app image's layers: a Java runtime made by the host JDK's `jlink` (Java SE's modules and the
 * JDK modules an agent and the app use: the HTTP server, management, JFR, attach), with the system
 * libraries it loads, and the app's one class compiled by the host's `javac`. The runtime is made once
 * per JDK and module list and kept under $TETHER_TOOLS_DIR/runtimes, so that a warm build finds the same
 * bytes (and the same layer) again.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { LayerEntry, LayerPlan } from './layerPlan.js';
import { APP_DIR } from './layers.js';
import { sharedLibraries } from './ldd.js';

const run = promisify(execFile);

/** The host JDK the runtime is linked from (Debian's openjdk-17-jdk-headless). */
export const JDK_HOME = '/usr/lib/jvm/java-17-openjdk-amd64';
/** Where the image has the runtime; `java` is linked onto PATH. */
export const JAVA_HOME = '/usr/lib/jvm/java-17';
export const JAVA_PATH = `${JAVA_HOME}/bin/java`;
const JAVA_MODULES = ['java.se', 'jdk.httpserver', 'jdk.unsupported', 'jdk.management', 'jdk.management.agent', 'jdk.jfr', 'jdk.management.jfr', 'jdk.crypto.ec', 'jdk.attach', 'jdk.naming.dns', 'jdk.zipfs'];
/** The app's source, compiled into the image as /app/Server.class. */
export const JAVA_APP_SOURCE = 'test/fixtures/lib-injection/Server.java';

function runtimesDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['TETHER_TOOLS_DIR'] ?? join(env['HOME'] ?? homedir(), '.cache', 'tether'), 'runtimes');
}

/** The jlink'd runtime, from the cache or made now. */
async function linkedRuntime(): Promise<string> {
  if (!existsSync(join(JDK_HOME, 'jmods'))) throw new Error(`${JDK_HOME}/jmods is missing: the java-app image needs a JDK 17 with its jmods (Debian's openjdk-17-jdk-headless)`);
  const version = (await run(join(JDK_HOME, 'bin', 'java'), ['-version'])).stderr.trim();
  const key = createHash('sha256').update(JSON.stringify({ version, modules: JAVA_MODULES })).digest('hex').slice(0, 16);
  const dir = join(runtimesDir(), `java17-${key}`);
  if (existsSync(join(dir, 'release'))) return dir;
  await mkdir(runtimesDir(), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await run(join(JDK_HOME, 'bin', 'jlink'), ['--add-modules', JAVA_MODULES.join(','), '--strip-debug', '--no-header-files', '--no-man-pages', '--output', tmp], { timeout: 300_000 });
  await rename(tmp, dir);
  return dir;
}

/**
 * The runtime at JAVA_HOME and the system libraries its launcher and native libraries load (those whose
 * own libraries the host lacks, such as the X11 toolkit, are left out: a headless app never loads them).
 */
export async function javaRuntimeLayer(): Promise<LayerPlan> {
  const jre = await linkedRuntime();
  const own = [join(jre, 'lib'), join(jre, 'lib', 'server')];
  const libs = new Set<string>();
  const left = new Set<string>();
  const natives = [join(jre, 'bin', 'java'), join(jre, 'lib', 'jspawnhelper'), join(jre, 'lib', 'server', 'libjvm.so'), ...(await readdir(join(jre, 'lib'))).filter((f) => f.endsWith('.so')).map((f) => join(jre, 'lib', f))];
  for (const n of natives) {
    try {
      for (const lib of await sharedLibraries(n, own)) if (!lib.startsWith(`${jre}/`)) libs.add(lib);
    } catch {
      left.add(n.slice(jre.length + 1));
    }
  }
  return {
    name: 'java-runtime',
    entries: [
      { kind: 'tree', path: JAVA_HOME, source: jre, skip: (rel) => left.has(rel) },
      { kind: 'symlink', path: '/usr/bin/java', target: JAVA_PATH },
      ...[...libs].sort().map((lib): LayerEntry => ({ kind: 'file', path: lib, source: lib })),
    ],
  };
}

/** The app's class, compiled by the host's javac into `workDir`. */
export async function javaAppLayer(root: string, workDir: string): Promise<LayerPlan> {
  const out = join(workDir, 'java-app');
  await mkdir(out, { recursive: true });
  await run(join(JDK_HOME, 'bin', 'javac'), ['--release', '17', '-d', out, join(root, JAVA_APP_SOURCE)], { timeout: 120_000 });
  return { name: 'java-app', entries: [{ kind: 'file', path: `${APP_DIR}/Server.class`, source: join(out, 'Server.class') }] };
}
