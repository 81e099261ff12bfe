/**
 * An OCI image layout directory (as `crane pull --format=oci` writes it) made into the archive users
 * load: one tar holding the layout, its index entry named with the image reference, and a Docker
 * `manifest.json` pointing at the same blobs, as `docker save` (25 and later) writes its archives. So
 * `ctr images import` (which reads the OCI layout and takes the name from the index's
 * `io.containerd.image.name` annotation), `kind load image-archive` (the same importer), `docker load`,
 * `podman load` and `crane push` (which reads manifest.json) all accept it, and the digest is the one
 * crane computed.
 */
import { chmod, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tarDirectory, type LayerBlob } from './layerTar.js';

/** containerd's annotation for an image's full name (containerd `images.AnnotationImageName`). */
export const CONTAINERD_IMAGE_NAME = 'io.containerd.image.name';
/** The OCI annotation for a reference's tag in a layout (`ocispec.AnnotationRefName`). */
export const OCI_REF_NAME = 'org.opencontainers.image.ref.name';

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Record<string, string>;
  readonly [k: string]: unknown;
}

export interface OciIndex {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly manifests: Descriptor[];
}

export interface OciManifest {
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

export class OciLayoutError extends Error {
  override name = 'OciLayoutError';
}

/** `sha256:abc…` → `blobs/sha256/abc…`. */
export function blobPath(digest: string): string {
  const m = /^(sha256|sha512):([0-9a-f]+)$/.exec(digest);
  if (!m) throw new OciLayoutError(`not a digest: ${digest}`);
  return `blobs/${m[1]}/${m[2]}`;
}

/** The tag of a reference: `ghcr.io/tether/tether:0.1.0` → `0.1.0` (a registry port is not a tag). */
export function tagOf(ref: string): string {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon <= slash) throw new OciLayoutError(`image reference ${ref} has no tag`);
  return ref.slice(colon + 1);
}

/** The layout's index with its one image named `ref`, the way containerd and docker name images in archives. */
export function namedIndex(index: OciIndex, ref: string): OciIndex {
  if (index.manifests.length !== 1) throw new OciLayoutError(`expected one image in the layout, found ${index.manifests.length}`);
  const [m] = index.manifests as [Descriptor];
  return { ...index, manifests: [{ ...m, annotations: { ...m.annotations, [CONTAINERD_IMAGE_NAME]: ref, [OCI_REF_NAME]: tagOf(ref) } }] };
}

/** Docker's `manifest.json` for the same image: config and layers by their paths in the layout. */
export function dockerManifest(manifest: OciManifest, ref: string): unknown {
  return [{ Config: blobPath(manifest.config.digest), RepoTags: [ref], Layers: manifest.layers.map((l) => blobPath(l.digest)) }];
}

async function readJson<T>(path: string): Promise<T> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (e) {
    throw new OciLayoutError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

export interface ArchivedImage extends LayerBlob {
  /** The image manifest's digest: what a registry and `crictl images` show. */
  readonly imageDigest: string;
}

/**
 * Names the image in `layoutDir` `ref`, adds manifest.json and writes the whole layout as one
 * reproducible tar at `out` (uncompressed: the layers inside already are). The archive's own file
 * modes are normalised (crane writes some blobs 0600).
 */
export async function writeImageArchive(layoutDir: string, ref: string, out: string): Promise<ArchivedImage> {
  const index = await readJson<OciIndex>(join(layoutDir, 'index.json'));
  const named = namedIndex(index, ref);
  const imageDigest = named.manifests[0]!.digest;
  const manifest = await readJson<OciManifest>(join(layoutDir, blobPath(imageDigest)));
  await writeFile(join(layoutDir, 'index.json'), JSON.stringify(named, null, 2) + '\n');
  await writeFile(join(layoutDir, 'manifest.json'), JSON.stringify(dockerManifest(manifest, ref)) + '\n');
  await normaliseModes(layoutDir);
  const archive = await tarDirectory(layoutDir, out, { gzip: false });
  return { ...archive, imageDigest };
}

async function normaliseModes(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const p = join(dir, name);
    if ((await stat(p)).isDirectory()) {
      await chmod(p, 0o755);
      await normaliseModes(p);
    } else await chmod(p, 0o644);
  }
}
