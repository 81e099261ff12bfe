/**
 * `buildImage(name)`: one image of the catalogue as an OCI archive, without a Docker daemon. Each layer
 * is hashed from its plan (every path, mode and byte) and built only when no layer with that hash is
 * cached; the image is assembled by crane (append onto an empty OCI base, mutate for the config, pull
 * as an OCI layout from a registry on loopback) only when no archive of the same layers, config, ref
 * and crane version is cached. The same inputs give the same bytes, so the same digest.
 *
 * Cache: $TETHER_TOOLS_DIR/images (default ~/.cache/tether/images): layers/<hash>.tar.gz and
 * <image>/<key>.tar, each with a .json of what it is. An image's older archives are removed when a new
 * one is built.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../binaries.js';
import { imageSpec, type ImageConfig, type ImageName, type ImageSpec } from './catalogue.js';
import { crane, craneVersion, ensureCrane, serveRegistry } from './crane.js';
import { expandPlan, hashExpanded, type LayerPlan } from './layerPlan.js';
import { buildLayer, type LayerBlob } from './layerTar.js';
import { writeImageArchive } from './ociArchive.js';

/** Bumped when the way images are assembled changes (so that cached archives are not reused). */
const FORMAT_VERSION = 1;

export interface BuiltLayer {
  readonly name: string;
  readonly digest: string;
  /** Compressed (gzip) bytes. */
  readonly size: number;
  readonly uncompressedSize: number;
}

export interface BuiltImage {
  readonly name: string;
  /** The reference the archive names the image by, e.g. ghcr.io/tether/tether:0.1.0. */
  readonly ref: string;
  /** The OCI archive (in the cache, or `out` when given). */
  readonly archivePath: string;
  /** The image manifest's digest: sha256:…, what `crictl images --digests` and a registry show. */
  readonly digest: string;
  /** Bottom first. */
  readonly layers: readonly BuiltLayer[];
  /** Sum of the layers' compressed sizes (what a pull transfers, config and manifest aside). */
  readonly size: number;
  readonly uncompressedSize: number;
  /** True when nothing was built: the archive was in the cache. */
  readonly cached: boolean;
}

export interface BuildImageOptions {
  /** Default: $TETHER_TOOLS_DIR/images, else ~/.cache/tether/images. */
  readonly cacheDir?: string;
  /** Also copy the archive here. */
  readonly out?: string;
  /** The package whose build and node_modules go into the images (default: this checkout). */
  readonly root?: string;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

export function defaultImageCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['TETHER_TOOLS_DIR'] ?? join(env['HOME'] ?? homedir(), '.cache', 'tether'), 'images');
}

/** The platform of the images: the host's, since they carry the host's Node. */
export function hostPlatform(arch: string = process.arch): string {
  const goArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };
  const a = goArch[arch];
  if (!a) throw new Error(`no container platform for Node's arch ${arch}`);
  return `linux/${a}`;
}

/** `crane mutate`'s flags for a config. crane splits list values at commas, so none may hold one. */
export function mutateArgs(config: ImageConfig, platform: string): string[] {
  const noComma = (what: string, v: string) => {
    if (v.includes(',')) throw new Error(`image config ${what} ${JSON.stringify(v)}: crane cannot take a comma in it`);
    return v;
  };
  const args: string[] = [];
  for (const e of config.entrypoint) args.push('--entrypoint', noComma('entrypoint', e));
  for (const c of config.cmd ?? []) args.push('--cmd', noComma('cmd', c));
  args.push('--user', config.user);
  if (config.workdir) args.push('--workdir', config.workdir);
  for (const [k, v] of Object.entries(config.env)) args.push('--env', `${k}=${v}`);
  for (const [k, v] of Object.entries(config.labels)) args.push('--label', `${k}=${noComma('label', v)}`);
  for (const p of config.exposedPorts ?? []) args.push('--exposed-ports', p);
  args.push('--set-platform', platform);
  return args;
}

/** The cache key of an image: what goes into its bytes. */
export function imageKey(parts: { ref: string; config: ImageConfig; platform: string; layers: readonly string[]; crane: string }): string {
  return createHash('sha256')
    .update(JSON.stringify({ format: FORMAT_VERSION, ...parts }))
    .digest('hex');
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function readJsonIfExists<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** One layer: from the cache when its plan's hash is there, else built into it. */
async function layerBlob(plan: LayerPlan, cacheDir: string, workDir: string, log: (l: string) => void): Promise<LayerBlob & { name: string }> {
  const entries = await expandPlan(plan);
  const hash = await hashExpanded(entries);
  const dir = join(cacheDir, 'layers');
  const file = join(dir, `${hash}.tar.gz`);
  const meta = join(dir, `${hash}.json`);
  const cached = await readJsonIfExists<LayerBlob>(meta);
  if (cached && (await exists(file))) return { ...cached, file, name: plan.name };
  await mkdir(dir, { recursive: true });
  const started = Date.now();
  // The work dir is inside the cache: the finished blob is renamed into place, never seen half-written.
  const tmp = join(workDir, `${hash}.tar.gz`);
  const blob = await buildLayer(entries, workDir, tmp);
  await rename(tmp, file);
  await writeFile(meta, JSON.stringify({ ...blob, file }) + '\n');
  log(`layer ${plan.name}: ${entries.length} entries, ${(blob.size / 1e6).toFixed(1)} MB gzipped (${(blob.uncompressedSize / 1e6).toFixed(1)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { ...blob, file, name: plan.name };
}

/** Builds (or finds in the cache) one image: of the catalogue by name, or any spec (a library init image). */
export async function buildImage(image: ImageName | ImageSpec, o: BuildImageOptions = {}): Promise<BuiltImage> {
  const log = o.log ?? (() => {});
  const cacheDir = o.cacheDir ?? defaultImageCacheDir();
  const spec = typeof image === 'string' ? imageSpec(image, o.root ?? repoRoot()) : image;
  const name = spec.name;
  const platform = hostPlatform();
  await mkdir(cacheDir, { recursive: true });
  const workDir = await mkdtemp(join(cacheDir, `.work-${name}-`));
  try {
    const plans = await spec.layers(workDir);
    const layers: (LayerBlob & { name: string })[] = [];
    for (const plan of plans) layers.push(await layerBlob(plan, cacheDir, workDir, log));
    const craneBin = await ensureCrane();
    const key = imageKey({ ref: spec.ref, config: spec.config, platform, layers: layers.map((l) => l.digest), crane: await craneVersion(craneBin) });
    const imageDir = join(cacheDir, name);
    const archive = join(imageDir, `${key}.tar`);
    const summary = (digest: string, cached: boolean): BuiltImage => ({
      name,
      ref: spec.ref,
      archivePath: o.out ?? archive,
      digest,
      layers: layers.map((l) => ({ name: l.name, digest: l.digest, size: l.size, uncompressedSize: l.uncompressedSize })),
      size: layers.reduce((n, l) => n + l.size, 0),
      uncompressedSize: layers.reduce((n, l) => n + l.uncompressedSize, 0),
      cached,
    });
    const known = await readJsonIfExists<{ digest: string }>(`${archive}.json`);
    if (known && (await exists(archive))) {
      if (o.out) await copyFile(archive, o.out);
      log(`${spec.ref}: cached, ${known.digest}`);
      return summary(known.digest, true);
    }
    const digest = await assemble(craneBin, spec.ref, spec.config, platform, layers, workDir, archive);
    await writeFile(`${archive}.json`, JSON.stringify({ ref: spec.ref, digest }) + '\n');
    await removeOtherArchives(imageDir, key);
    if (o.out) await copyFile(archive, o.out);
    log(`${spec.ref}: built, ${digest}`);
    return summary(digest, false);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** crane does the OCI part: the layers onto an empty OCI base, the config, the layout. */
async function assemble(craneBin: string, ref: string, config: ImageConfig, platform: string, layers: readonly LayerBlob[], workDir: string, archive: string): Promise<string> {
  const registry = await serveRegistry(craneBin);
  try {
    // The image's path in the build's own registry; the archive names it `ref`.
    const local = `${registry.host}/build/${ref.replace(/^[^/]*\//, '').replace(/:[^:/]*$/, '')}:build`;
    await crane(craneBin, ['append', '--oci-empty-base', ...layers.flatMap((l) => ['-f', l.file]), '-t', local]);
    await crane(craneBin, ['mutate', local, ...mutateArgs(config, platform), '-t', local]);
    const layout = join(workDir, 'layout');
    await crane(craneBin, ['pull', '--format=oci', local, layout]);
    const tmp = `${archive}.tmp-${process.pid}`;
    await mkdir(join(archive, '..'), { recursive: true });
    const written = await writeImageArchive(layout, ref, tmp);
    await rename(tmp, archive);
    return written.imageDigest;
  } finally {
    await registry.close();
  }
}

async function removeOtherArchives(imageDir: string, keep: string): Promise<void> {
  for (const f of await readdir(imageDir)) {
    if (!f.startsWith(keep)) await rm(join(imageDir, f), { force: true });
  }
}
