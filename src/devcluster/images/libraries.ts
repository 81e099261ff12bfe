/**
 * The tracing libraries that go into the `dd-lib-<lang>-init` images, fetched from their registries with
 * the registries' own clients and kept in a cache, one directory per version: a warm build fetches
 * nothing. Each directory holds what the init image's copy-lib.sh copies, laid out as the stack's images
 * lay it out:
 * - js: `node_modules/` with `dd-trace` and its production dependencies, installed by npm (no install
 *   scripts: the native parts ship prebuilt);
 * - python: `ddtrace_pkgs/` with `ddtrace` and its dependencies, installed by pip from the manylinux
 *   wheels for PYTHON_TARGET (the app images' Python), and `sitecustomize.py`, which Python runs at start
 *   when PYTHONPATH names its directory: it puts `ddtrace_pkgs` on the path and imports
 *   `ddtrace.bootstrap.sitecustomize` (what `ddtrace-run` does);
 * - java: `dd-java-agent.jar` from Maven Central, by the repository layout every Maven client reads
 *   (maven-metadata.xml for the versions, the jar checked against its published SHA-1).
 *
 * Cache: $TETHER_TOOLS_DIR/libraries (default ~/.cache/tether/libraries)/<lang>/<version>/, complete
 * once its `.complete` marker exists (a fetch cut off half-way is redone, never used).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BuildableLibLanguage } from '../../config/index.js';

const run = promisify(execFile);

/** The Python the python library is fetched for: the app images' (Debian's python3.11, glibc, the host's architecture, as every image here). */
export const PYTHON_TARGET = { version: '3.11', abi: 'cp311', platform: `manylinux2014_${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}` } as const;

/** The sitecustomize.py of the python init image (the stack's does the same, and more: several Pythons). */
export const PYTHON_SITECUSTOMIZE = `"""
Run by Python at start because PYTHONPATH names this directory (library injection): puts the ddtrace
packages beside it on the path, for this process and the processes it starts, then starts ddtrace as
ddtrace-run does.
"""
import os
import sys

_pkgs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ddtrace_pkgs")
if _pkgs not in sys.path:
    sys.path.insert(0, _pkgs)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_pkgs, os.environ.get("PYTHONPATH", "")) if p)
import ddtrace.bootstrap.sitecustomize  # noqa: E402,F401
`;

interface LibrarySource {
  /** The package, by the name its registry knows it. */
  readonly package: string;
  readonly registry: string;
  /** The releases matching `wanted` (a checked version argument), in any order. */
  releases(wanted: string): Promise<string[]>;
  /** Installs the release into `dir` (empty), as the init image's copy-lib.sh expects it. */
  install(version: string, dir: string): Promise<void>;
  /** A file that exists once `install` worked (relative to the directory). */
  readonly marker: (version: string) => string;
}

/** Pure: the last lines of a failed command's stderr, for an error message. */
const lastLines = (e: unknown): string => {
  const err = e as { stderr?: string; message?: string };
  return (err.stderr || err.message || String(e)).trim().split('\n').slice(-3).join(' ');
};

const npm: LibrarySource = {
  package: 'dd-trace',
  registry: 'the npm registry',
  async releases(wanted) {
    const { stdout } = await run('npm', ['view', `dd-trace@${wanted}`, 'version', '--json'], { timeout: 60_000 }).catch((e: { stderr?: string }) => {
      if (/E404|No match found/i.test(e.stderr ?? '')) return { stdout: '' };
      throw new LibraryError(`npm view dd-trace@${wanted} failed: ${lastLines(e)}`);
    });
    return npmViewVersions(stdout);
  },
  async install(version, dir) {
    // The package and its production dependencies, as `npm install` in the stack's Dockerfile does them.
    await run('npm', ['install', '--prefix', dir, '--omit=dev', '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', `dd-trace@${version}`], { timeout: 600_000, maxBuffer: 16 << 20 });
  },
  marker: () => 'node_modules/dd-trace/package.json',
};

/** pip, as Debian's python3 runs it (`python3 -m pip`). */
const PIP = ['-m', 'pip', '--disable-pip-version-check'];

const pypi: LibrarySource = {
  package: 'ddtrace',
  registry: 'PyPI',
  async releases(wanted) {
    const { stdout } = await run('python3', [...PIP, 'index', 'versions', 'ddtrace'], { timeout: 60_000 }).catch((e) => {
      throw new LibraryError(`pip index versions ddtrace failed: ${lastLines(e)}`);
    });
    return pipIndexVersions(stdout).filter((v) => matchesRange(v, wanted));
  },
  async install(version, dir) {
    // The wheels (never an sdist: nothing is compiled here) for the app images' Python and libc.
    await run(
      'python3',
      [...PIP, 'install', '--quiet', '--target', join(dir, 'ddtrace_pkgs'), '--only-binary=:all:', '--platform', PYTHON_TARGET.platform, '--python-version', PYTHON_TARGET.version, '--implementation', 'cp', '--abi', PYTHON_TARGET.abi, '--no-compile', `ddtrace==${version}`],
      { timeout: 600_000, maxBuffer: 16 << 20, env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } },
    );
    await writeFile(join(dir, 'sitecustomize.py'), PYTHON_SITECUSTOMIZE);
  },
  marker: (version) => `ddtrace_pkgs/ddtrace-${version}.dist-info/METADATA`,
};

/** Maven Central's repository, and dd-java-agent's directory in it. */
export const MAVEN_CENTRAL = 'https://repo1.maven.org/maven2';
const JAVA_AGENT_DIR = `${MAVEN_CENTRAL}/com/datadoghq/dd-java-agent`;
/** The largest dd-java-agent.jar accepted (releases are ~30 MB). */
const JAVA_AGENT_MAX_BYTES = 256 << 20;

async function get(url: string, maxBytes: number): Promise<Buffer> {
  const res = await fetch(url, { signal: AbortSignal.timeout(300_000) });
  if (res.status === 404) throw new LibraryError(`${url}: not found (404)`);
  if (!res.ok) throw new LibraryError(`${url}: HTTP ${res.status}`);
  const length = Number(res.headers.get('content-length') ?? 0);
  if (length > maxBytes) throw new LibraryError(`${url}: ${length} bytes, more than the ${maxBytes} accepted`);
  const body = Buffer.from(await res.arrayBuffer());
  if (body.length > maxBytes) throw new LibraryError(`${url}: more than the ${maxBytes} bytes accepted`);
  return body;
}

/** Pure: the `<version>`s of a maven-metadata.xml. */
export function mavenMetadataVersions(xml: string): string[] {
  return [...xml.matchAll(/<version>\s*([^<\s]+)\s*<\/version>/g)].map((m) => m[1]!);
}

const maven: LibrarySource = {
  package: 'dd-java-agent',
  registry: 'Maven Central',
  async releases(wanted) {
    const xml = (await get(`${JAVA_AGENT_DIR}/maven-metadata.xml`, 4 << 20)).toString('utf8');
    return mavenMetadataVersions(xml).filter((v) => matchesRange(v, wanted));
  },
  async install(version, dir) {
    const jar = await get(`${JAVA_AGENT_DIR}/${version}/dd-java-agent-${version}.jar`, JAVA_AGENT_MAX_BYTES);
    const sha1 = (await get(`${JAVA_AGENT_DIR}/${version}/dd-java-agent-${version}.jar.sha1`, 1024)).toString('utf8').trim().split(/\s+/)[0];
    const actual = createHash('sha1').update(jar).digest('hex');
    if (actual !== sha1) throw new LibraryError(`dd-java-agent-${version}.jar has SHA-1 ${actual}, Maven Central publishes ${sha1}`);
    await writeFile(join(dir, 'dd-java-agent.jar'), jar);
  },
  marker: () => 'dd-java-agent.jar',
};

export const LIBRARY_SOURCES: Record<BuildableLibLanguage, LibrarySource> = { js: npm, python: pypi, java: maven };
export const LIB_PACKAGES: Record<BuildableLibLanguage, string> = { js: npm.package, python: pypi.package, java: maven.package };

/** A released version: `5.132.0` (no pre-release, no build metadata). */
const RELEASE = /^\d+\.\d+\.\d+$/;
/** What a version argument may look like: a version, or a range (`5.x`, `^5.1`, `>=5 <6`; npm's for js). */
const VERSION_ARGUMENT = /^[0-9^~<>=*xX][0-9A-Za-z.^~<>=*|\s-]{0,63}$/;

export class LibraryError extends Error {
  override name = 'LibraryError';
}

export function defaultLibraryCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['TETHER_TOOLS_DIR'] ?? join(env['HOME'] ?? homedir(), '.cache', 'tether'), 'libraries');
}

/** Pure: `a` before `b` in release order (both `x.y.z`). */
export function compareReleases(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/** Pure: the versions `npm view PKG@RANGE version --json` printed (a string for one match, an array for several, nothing for none). */
export function npmViewVersions(stdout: string): string[] {
  if (stdout.trim() === '') return [];
  const parsed: unknown = JSON.parse(stdout);
  return (Array.isArray(parsed) ? parsed : [parsed]).filter((v): v is string => typeof v === 'string');
}

/** Pure: the versions of `pip index versions`' `Available versions: 4.16.0, 4.15.7, …` line. */
export function pipIndexVersions(stdout: string): string[] {
  const line = stdout.split('\n').find((l) => l.startsWith('Available versions:'));
  return line ? line.slice('Available versions:'.length).split(',').map((v) => v.trim()).filter(Boolean) : [];
}

/**
 * Pure: whether a release is in a range of the simple kind registries without npm's ranges get: an
 * exact version, or a prefix with wildcards (`4`, `4.x`, `4.16`, `4.16.x`, `4.*`).
 */
export function matchesRange(version: string, range: string): boolean {
  if (!RELEASE.test(version)) return false;
  const want = range.trim().split('.');
  if (want.length > 3 || !want.every((p) => /^(\d+|[xX*])$/.test(p))) return false;
  const have = version.split('.');
  return want.every((p, i) => /^[xX*]$/.test(p) || Number(p) === Number(have[i]));
}

/** Pure: the newest release of a list (pre-releases and anything else never picked), or undefined. */
export function newestRelease(versions: readonly string[]): string | undefined {
  return versions.filter((v) => RELEASE.test(v)).sort(compareReleases).at(-1);
}

/** Checks a version argument before it reaches a registry client's command line. */
export function checkVersionArgument(lang: BuildableLibLanguage, wanted: string): string {
  const w = wanted.trim().replace(/^v(?=\d)/, '');
  if (!VERSION_ARGUMENT.test(w)) throw new LibraryError(`${JSON.stringify(wanted)} is not a ${LIB_PACKAGES[lang]} version or range (e.g. 5.132.0, 5.x)`);
  return w;
}

/**
 * The release of the language's library that `wanted` names: itself when it is one, else the newest
 * release in the range, as the registry answers. A version that does not exist is an error naming it.
 */
export async function resolveLibraryVersion(lang: BuildableLibLanguage, wanted: string): Promise<string> {
  const w = checkVersionArgument(lang, wanted);
  const source = LIBRARY_SOURCES[lang];
  const version = newestRelease(await source.releases(w));
  if (!version) throw new LibraryError(`${source.registry} has no release of ${source.package} matching ${JSON.stringify(wanted)}`);
  return version;
}

export interface FetchedLibrary {
  readonly lang: BuildableLibLanguage;
  readonly version: string;
  /** The directory whose contents the init image copies. */
  readonly dir: string;
  readonly cached: boolean;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The library at `version` (a release: see resolveLibraryVersion), from the cache or the registry. */
export async function fetchLibrary(lang: BuildableLibLanguage, version: string, o: { cacheDir?: string; log?: (line: string) => void } = {}): Promise<FetchedLibrary> {
  if (!RELEASE.test(version)) throw new LibraryError(`fetchLibrary needs a release (x.y.z), not ${JSON.stringify(version)}`);
  const source = LIBRARY_SOURCES[lang];
  const dir = join(o.cacheDir ?? defaultLibraryCacheDir(), lang, version);
  if (await exists(join(dir, '.complete'))) return { lang, version, dir, cached: true };
  const staging = `${dir}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  const started = Date.now();
  try {
    await source.install(version, staging);
    if (!(await exists(join(staging, source.marker(version))))) throw new Error(`it left no ${source.marker(version)}`);
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    throw new LibraryError(`installing ${source.package} ${version} from ${source.registry} failed: ${lastLines(e)}`);
  }
  await writeFile(join(staging, '.complete'), `${source.package} ${version}\n`);
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  o.log?.(`${source.package} ${version}: fetched from ${source.registry} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { lang, version, dir, cached: false };
}
