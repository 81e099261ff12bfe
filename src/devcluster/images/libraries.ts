/**
 * The tracing libraries that go into the `dd-lib-<lang>-init` images, fetched from their registries with
 * the registries' own clients and kept in a cache, one directory per version: a warm build fetches
 * nothing. JavaScript: `dd-trace` and its production dependencies, installed by npm (no install
 * scripts: the native parts ship prebuilt).
 *
 * Cache: $TETHER_TOOLS_DIR/libraries (default ~/.cache/tether/libraries)/<lang>/<version>/, complete
 * once its `.complete` marker exists (a fetch cut off half-way is redone, never used).
 */
import { execFile } from 'node:child_process';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BuildableLibLanguage } from '../../config/index.js';

const run = promisify(execFile);


/** Each language's package, by the name its registry knows it. */
export const LIB_PACKAGES: Record<BuildableLibLanguage, string> = { js: 'dd-trace' };

/** A released version: `5.132.0` (no pre-release, no build metadata). */
const RELEASE = /^\d+\.\d+\.\d+$/;
/** What a version argument may look like: a version, or a range npm understands (`5.x`, `^5.1`, `>=5 <6`). */
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

/**
 * Pure: the newest release in what `npm view PKG@RANGE version --json` printed (a string for one match,
 * an array for several, nothing for none), or undefined.
 */
export function newestFromNpmView(stdout: string): string | undefined {
  if (stdout.trim() === '') return undefined;
  const parsed: unknown = JSON.parse(stdout);
  const all = (Array.isArray(parsed) ? parsed : [parsed]).filter((v): v is string => typeof v === 'string' && RELEASE.test(v));
  return all.sort(compareReleases).at(-1);
}

/** Checks a version argument before it reaches a registry client's command line. */
export function checkVersionArgument(lang: BuildableLibLanguage, wanted: string): string {
  const w = wanted.trim().replace(/^v(?=\d)/, '');
  if (!VERSION_ARGUMENT.test(w)) throw new LibraryError(`${JSON.stringify(wanted)} is not a ${LIB_PACKAGES[lang]} version or range (e.g. 5.132.0, 5.x, ^5.1)`);
  return w;
}

/**
 * The release of the language's library that `wanted` names: itself when it is one, else the newest
 * release in the range, as the registry answers. A version that does not exist is an error naming it.
 */
export async function resolveLibraryVersion(lang: BuildableLibLanguage, wanted: string): Promise<string> {
  const w = checkVersionArgument(lang, wanted);
  const pkg = LIB_PACKAGES[lang];
  const { stdout } = await run('npm', ['view', `${pkg}@${w}`, 'version', '--json'], { timeout: 60_000 }).catch((e: { stderr?: string; message: string }) => {
    if (/E404|No match found/i.test(e.stderr ?? '')) return { stdout: '' };
    throw new LibraryError(`npm view ${pkg}@${w} failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-3).join(' ')}`);
  });
  const version = newestFromNpmView(stdout);
  if (!version) throw new LibraryError(`the npm registry has no release of ${pkg} matching ${JSON.stringify(wanted)}`);
  return version;
}

export interface FetchedLibrary {
  readonly lang: BuildableLibLanguage;
  readonly version: string;
  /** The directory whose contents the init image copies (js: it holds node_modules/). */
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
  const dir = join(o.cacheDir ?? defaultLibraryCacheDir(), lang, version);
  if (await exists(join(dir, '.complete'))) return { lang, version, dir, cached: true };
  const staging = `${dir}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  const started = Date.now();
  const pkg = LIB_PACKAGES[lang];
  try {
    // The package and its production dependencies, as `npm install` in the stack's Dockerfile does them.
    await run('npm', ['install', '--prefix', staging, '--omit=dev', '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', `${pkg}@${version}`], { timeout: 600_000, maxBuffer: 16 << 20 });
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    const err = e as { stderr?: string; message: string };
    throw new LibraryError(`npm install ${pkg}@${version} failed: ${(err.stderr ?? err.message).trim().split('\n').slice(-3).join(' ')}`);
  }
  if (!(await exists(join(staging, 'node_modules', pkg, 'package.json')))) throw new LibraryError(`npm install ${pkg}@${version} left no node_modules/${pkg}`);
  await writeFile(join(staging, '.complete'), `${pkg}@${version}\n`);
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  o.log?.(`${pkg}@${version}: fetched in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { lang, version, dir, cached: false };
}
