/**
 * Which installed npm packages an image needs: the dependency closure of some packages, read from
 * package-lock.json (lockfileVersion 2 or 3, whose `packages` map is the node_modules tree as npm laid
 * it out). The same set `npm ci --omit=dev` installs for the root, computed from the lockfile and the
 * tree already on disk: no network and no second native build (unix-dgram's addon is the one built
 * for this Node).
 */

/** One entry of the lockfile's `packages` map: the parts the closure reads. */
export interface LockedPackage {
  readonly version?: string;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
  /** npm 7 and later install peers too; those marked optional in peerDependenciesMeta only if present. */
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly peerDependenciesMeta?: Readonly<Record<string, { readonly optional?: boolean }>>;
  readonly optional?: boolean;
}

export interface Lockfile {
  readonly lockfileVersion: number;
  readonly packages: Readonly<Record<string, LockedPackage>>;
}

export class LockfileError extends Error {
  override name = 'LockfileError';
}

/** Checks the shape of a parsed package-lock.json (what the closure reads of it). */
export function parseLockfile(json: unknown, where: string): Lockfile {
  const o = json as { lockfileVersion?: unknown; packages?: unknown } | null;
  if (!o || typeof o !== 'object') throw new LockfileError(`${where}: not a JSON object`);
  if (o.lockfileVersion !== 2 && o.lockfileVersion !== 3) {
    throw new LockfileError(`${where}: lockfileVersion ${String(o.lockfileVersion)} (expected 2 or 3, npm 7 or later)`);
  }
  if (!o.packages || typeof o.packages !== 'object') throw new LockfileError(`${where}: no "packages" map`);
  return o as Lockfile;
}

export interface ClosureOptions {
  /** Follow `optionalDependencies` too (they are installed by `npm ci --omit=dev`). */
  readonly optional: boolean;
  /** Whether the lockfile path (e.g. `node_modules/unix-dgram`) is installed here; optional ones may not be. */
  readonly installed: (lockPath: string) => boolean;
}

/**
 * Node's resolution of `name` from the package at `from` ('' is the root): `from/node_modules/name`,
 * then each ancestor's node_modules, as `require` walks up.
 */
export function resolveLocked(lock: Lockfile, from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (dir === '') return undefined;
    const i = dir.lastIndexOf('/node_modules/');
    dir = i < 0 ? '' : dir.slice(0, i);
  }
}

/**
 * The lockfile paths (`node_modules/a`, `node_modules/a/node_modules/b`...) of `roots` and everything
 * they depend on, sorted. `roots` are package names resolved from the root (`''` itself means the
 * root's own dependencies). A required dependency missing from the lockfile or from disk is an error
 * naming who needs it; a missing optional one (another platform's binary) is skipped, as npm does.
 */
export function packageClosure(lock: Lockfile, roots: readonly string[], o: ClosureOptions): string[] {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    const pkg = lock.packages[path];
    if (!pkg) throw new LockfileError(`package-lock.json has no entry ${path}`);
    // [name, optional]
    const deps: [string, boolean][] = [
      ...Object.keys(pkg.dependencies ?? {}).map((n): [string, boolean] => [n, false]),
      ...Object.keys(pkg.peerDependencies ?? {}).map((n): [string, boolean] => [n, pkg.peerDependenciesMeta?.[n]?.optional === true]),
      ...(o.optional ? Object.keys(pkg.optionalDependencies ?? {}).map((n): [string, boolean] => [n, true]) : []),
    ];
    for (const [name, optional] of deps) {
      const found = resolveLocked(lock, path, name);
      if (found && o.installed(found)) {
        visit(found);
        continue;
      }
      if (optional || (found && lock.packages[found]?.optional)) continue;
      throw new LockfileError(`${path || 'the root package'} needs ${name}, which is ${found ? `not installed at ${found}` : 'not in package-lock.json'} (run npm ci)`);
    }
  };
  for (const root of roots) {
    if (root === '') {
      visit('');
      continue;
    }
    const found = resolveLocked(lock, '', root);
    if (!found || !o.installed(found)) throw new LockfileError(`${root} is not installed (not in package-lock.json or node_modules; run npm ci)`);
    visit(found);
  }
  seen.delete('');
  return [...seen].sort();
}
