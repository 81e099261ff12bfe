/**
 * What one image layer holds, as data: each path in the image and where its bytes come from (a host
 * file, a host directory tree, literal content). A plan is expanded to a sorted list of files, and
 * hashed over every path, mode and byte: the hash is the layer's cache key, so an unchanged layer is
 * neither staged nor compressed again. Modes are normalised here (0755 for directories and executables,
 * 0644 for other files) unless the plan says otherwise (/tmp's 1777), so a layer does not depend on the
 * umask or the checkout it was built from.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';

export type LayerEntry =
  /** A host file, dereferenced (a symlinked library becomes a file at the link's name). */
  | { readonly kind: 'file'; readonly path: string; readonly source: string; readonly mode?: number }
  | { readonly kind: 'content'; readonly path: string; readonly content: string; readonly mode?: number }
  | { readonly kind: 'dir'; readonly path: string; readonly mode?: number }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string }
  /** A host directory copied under `path`; `skip(rel)` leaves out a sub-path (relative, '/'-separated). */
  | { readonly kind: 'tree'; readonly path: string; readonly source: string; readonly skip?: (rel: string) => boolean };

export interface LayerPlan {
  /** What the layer is, for logs and the build report: `node-runtime`, `app`... */
  readonly name: string;
  readonly entries: readonly LayerEntry[];
}

/** One path of an expanded plan (trees walked, modes decided). Paths are relative: `usr/bin/node`. */
export type ExpandedEntry =
  | { readonly kind: 'file'; readonly path: string; readonly mode: number; readonly source: string }
  | { readonly kind: 'content'; readonly path: string; readonly mode: number; readonly content: string }
  | { readonly kind: 'dir'; readonly path: string; readonly mode: number }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string };

export const DIR_MODE = 0o755;
export const EXEC_MODE = 0o755;
export const FILE_MODE = 0o644;

export class LayerPlanError extends Error {
  override name = 'LayerPlanError';
}

/** `/usr/bin/node` → `usr/bin/node`; refuses `..` and empty paths (a plan writes inside its layer only). */
export function layerPath(p: string): string {
  const rel = posix.normalize(p).replace(/^\/+/, '').replace(/\/+$/, '');
  if (rel === '' || rel === '.' || rel.split('/').includes('..')) throw new LayerPlanError(`not a path inside a layer: ${JSON.stringify(p)}`);
  return rel;
}

/** A host file's mode in the layer: executable for anyone if it is for its owner, else plain. */
export function normalisedMode(hostMode: number): number {
  return hostMode & 0o100 ? EXEC_MODE : FILE_MODE;
}

async function walk(source: string, into: string, skip: ((rel: string) => boolean) | undefined, out: ExpandedEntry[], rel = ''): Promise<void> {
  const names = (await readdir(join(source, rel))).sort();
  for (const name of names) {
    const r = rel === '' ? name : `${rel}/${name}`;
    if (skip?.(r)) continue;
    const host = join(source, r);
    const st = await lstat(host);
    const path = `${into}/${r}`;
    if (st.isSymbolicLink()) out.push({ kind: 'symlink', path, target: await readlink(host) });
    else if (st.isDirectory()) {
      out.push({ kind: 'dir', path, mode: DIR_MODE });
      await walk(source, into, skip, out, r);
    } else if (st.isFile()) out.push({ kind: 'file', path, mode: normalisedMode(st.mode), source: host });
    // Sockets, FIFOs and devices have no place in an image layer.
  }
}

/**
 * The plan's paths, each once, sorted, with every parent directory listed: what the layer's tar holds.
 * A path given twice is an error (two sources for one file).
 */
export async function expandPlan(plan: LayerPlan): Promise<ExpandedEntry[]> {
  const out: ExpandedEntry[] = [];
  for (const e of plan.entries) {
    const path = layerPath(e.path);
    switch (e.kind) {
      case 'file': {
        const st = await stat(e.source).catch(() => undefined);
        if (!st?.isFile()) throw new LayerPlanError(`layer ${plan.name}: ${e.source} (for /${path}) is not a file`);
        out.push({ kind: 'file', path, source: e.source, mode: e.mode ?? normalisedMode(st.mode) });
        break;
      }
      case 'content':
        out.push({ kind: 'content', path, content: e.content, mode: e.mode ?? FILE_MODE });
        break;
      case 'dir':
        out.push({ kind: 'dir', path, mode: e.mode ?? DIR_MODE });
        break;
      case 'symlink':
        out.push({ kind: 'symlink', path, target: e.target });
        break;
      case 'tree': {
        const st = await stat(e.source).catch(() => undefined);
        if (!st?.isDirectory()) throw new LayerPlanError(`layer ${plan.name}: ${e.source} (for /${path}) is not a directory`);
        out.push({ kind: 'dir', path, mode: DIR_MODE });
        await walk(e.source, path, e.skip, out);
        break;
      }
    }
  }
  return withParents(out, plan.name);
}

/** Adds the missing parent directories (0755), refuses duplicates, sorts by path. */
export function withParents(entries: readonly ExpandedEntry[], layer: string): ExpandedEntry[] {
  const byPath = new Map<string, ExpandedEntry>();
  for (const e of entries) {
    const prior = byPath.get(e.path);
    // A directory named twice (a tree's root and an explicit dir) is one directory; the explicit mode wins.
    if (prior && !(prior.kind === 'dir' && e.kind === 'dir')) throw new LayerPlanError(`layer ${layer}: /${e.path} is given twice`);
    if (prior?.kind === 'dir' && e.kind === 'dir' && prior.mode !== DIR_MODE) continue;
    byPath.set(e.path, e);
  }
  for (const path of [...byPath.keys()]) {
    for (let dir = posix.dirname(path); dir !== '.'; dir = posix.dirname(dir)) {
      const parent = byPath.get(dir);
      if (parent && parent.kind !== 'dir') throw new LayerPlanError(`layer ${layer}: /${dir} is both a directory and a ${parent.kind}`);
      if (!parent) byPath.set(dir, { kind: 'dir', path: dir, mode: DIR_MODE });
    }
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** sha256 over every entry's kind, path, mode and bytes (or link target): the layer's cache key. */
export async function hashExpanded(entries: readonly ExpandedEntry[]): Promise<string> {
  const h = createHash('sha256');
  for (const e of entries) {
    h.update(`${e.kind}\0${e.path}\0`);
    switch (e.kind) {
      case 'file':
        h.update(`${e.mode.toString(8)}\0`);
        for await (const chunk of createReadStream(e.source)) h.update(chunk as Buffer);
        break;
      case 'content':
        h.update(`${e.mode.toString(8)}\0${e.content}`);
        break;
      case 'dir':
        h.update(e.mode.toString(8));
        break;
      case 'symlink':
        h.update(e.target);
        break;
    }
    h.update('\0\n');
  }
  return h.digest('hex');
}
