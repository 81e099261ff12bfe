/**
 * A layer plan made into a reproducible gzipped tar: the same plan gives the same bytes on any run.
 * The plan is staged into a directory (modes as the plan says), archived by GNU
 * tar with the reproducible-builds flags (entries sorted by name, fixed mtime, owner root, no atime or
 * ctime, PAX extended headers without the PID in their name) and compressed by zlib, whose gzip header
 * carries no timestamp or file name.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { ExpandedEntry } from './layerPlan.js';

/** Every file's mtime in a layer: the epoch, as ko and Bazel's rules_oci write theirs. */
export const LAYER_MTIME_SECONDS = 0;

/** GNU tar's flags for a reproducible archive (https://reproducible-builds.org/docs/archives/). */
export const REPRODUCIBLE_TAR_FLAGS: readonly string[] = [
  '--sort=name',
  '--format=posix',
  '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
  `--mtime=@${LAYER_MTIME_SECONDS}`,
  '--owner=0',
  '--group=0',
  '--numeric-owner',
  '--hard-dereference',
];

export interface LayerBlob {
  /** The gzipped tar. */
  readonly file: string;
  /** sha256 of the gzipped bytes: the layer's digest in the manifest. */
  readonly digest: string;
  /** sha256 of the tar: the layer's diff_id in the image config. */
  readonly diffId: string;
  readonly size: number;
  readonly uncompressedSize: number;
}

/** Writes the entries under `root` as they will be in the image (modes set explicitly, not by umask). */
export async function stageEntries(entries: readonly ExpandedEntry[], root: string): Promise<void> {
  // Sorted by path: a directory is created before what it holds.
  for (const e of entries) {
    const dest = join(root, e.path);
    switch (e.kind) {
      case 'dir':
        await mkdir(dest, { recursive: true });
        break;
      case 'file':
        await copyFile(e.source, dest);
        break;
      case 'content':
        await writeFile(dest, e.content);
        break;
      case 'symlink':
        await symlink(e.target, dest);
        break;
    }
  }
  // Modes last, deepest first: a directory made read-only does not stop what goes into it.
  for (const e of [...entries].reverse()) if (e.kind !== 'symlink') await chmod(join(root, e.path), e.mode);
}

/** Counts and hashes what flows through. */
function measuring(h: ReturnType<typeof createHash>, count: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      h.update(chunk);
      count.bytes += chunk.length;
      done(null, chunk);
    },
  });
}

/** `tar -c` of `root`'s contents (its top-level names) into `out`, gzipped unless told otherwise. */
export async function tarDirectory(root: string, out: string, o: { readonly gzip?: boolean } = {}): Promise<LayerBlob> {
  const top = (await readdir(root)).sort();
  const tar = spawn('tar', [...REPRODUCIBLE_TAR_FLAGS, '-C', root, '-cf', '-', '--', ...top], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  tar.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number>((resolve, reject) => {
    tar.on('error', reject);
    tar.on('close', (code) => resolve(code ?? 1));
  });
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  const raw = { bytes: 0 };
  const gz = { bytes: 0 };
  if (o.gzip === false) await pipeline(tar.stdout, measuring(diff, raw), createWriteStream(out));
  else await pipeline(tar.stdout, measuring(diff, raw), createGzip({ level: 9 }), measuring(blob, gz), createWriteStream(out));
  const code = await exited;
  if (code !== 0) throw new Error(`tar of ${root} exited with ${code}: ${stderr.trim()}`);
  const diffId = `sha256:${diff.digest('hex')}`;
  if (o.gzip === false) return { file: out, digest: diffId, diffId, size: raw.bytes, uncompressedSize: raw.bytes };
  return { file: out, digest: `sha256:${blob.digest('hex')}`, diffId, size: gz.bytes, uncompressedSize: raw.bytes };
}

/** Stages the entries in a temporary directory under `workDir` and archives them into `out`. */
export async function buildLayer(entries: readonly ExpandedEntry[], workDir: string, out: string): Promise<LayerBlob> {
  const stage = await mkdtemp(join(workDir, 'stage-'));
  try {
    await stageEntries(entries, stage);
    return await tarDirectory(stage, out);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
