/**
 * `GET /version` (SPEC §9): the stack's shape, `{"Major":…,"Minor":…,"Patch":…,"Pre":"","Meta":"","Commit":"…"}`,
 * from package.json's version (the one place it is stated) and the commit the build was made from.
 */
import { readFileSync } from 'node:fs';
import type { VersionAnswer } from './types.js';

/** The environment variable a build or image sets to the commit it was made from. */
export const COMMIT_ENV = 'TETHER_COMMIT';

/** Parses `1.2.3`, `1.2.3-rc.1`, `1.2.3+meta` (semver); anything else gives zeros and the text as `Pre`. */
export function versionAnswer(version: string, commit: string | undefined): VersionAnswer {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$/.exec(version.trim());
  const c = commit?.trim() || 'unknown';
  if (!m) return { Major: 0, Minor: 0, Patch: 0, Pre: version, Meta: '', Commit: c };
  return { Major: Number(m[1]), Minor: Number(m[2]), Patch: Number(m[3]), Pre: m[4] ?? '', Meta: m[5] ?? '', Commit: c };
}

/** package.json's version (dist/src/agentapi/version.js → the package root). */
export function packageVersion(): string {
  const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return version;
}
