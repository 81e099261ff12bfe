/** A KubeReader over a map of API paths to objects; a collection is every object under its path. */
import { ApiError, type KubeReader, type PartialObjectMetadata } from '../../src/kube/reader.js';

export function fakeReader(objects: Record<string, unknown>, opts: { forbidden?: (path: string) => boolean } = {}): KubeReader {
  const deny = (path: string) => {
    if (opts.forbidden?.(path)) throw new ApiError(403, `GET ${path}: HTTP 403: forbidden`);
  };
  return {
    async get<T>(path: string) {
      deny(path);
      return objects[path] as T | undefined;
    },
    /** The object's metadata only, as the API server answers with PartialObjectMetadata (never its data). */
    async getMetadata(path: string) {
      deny(path);
      const o = objects[path] as { metadata?: PartialObjectMetadata['metadata'] } | undefined;
      return o ? { kind: 'PartialObjectMetadata', ...(o.metadata ? { metadata: o.metadata } : {}) } : undefined;
    },
    async list<T>(path: string, _signal: AbortSignal, query?: Record<string, string>) {
      deny(path);
      const name = /^metadata\.name=(.*)$/.exec(query?.['fieldSelector'] ?? '')?.[1];
      const label = /^([^=]+)=(.*)$/.exec(query?.['labelSelector'] ?? '');
      // A cluster-wide list (/api/v1/services) covers every namespace's objects of that resource.
      const clusterWide = /^\/api\/v1\/([a-z]+)$/.exec(path);
      return Object.entries(objects)
        .filter(([p]) => (clusterWide ? new RegExp(`^/api/v1/namespaces/[^/]+/${clusterWide[1]}/[^/]+$`).test(p) : p.startsWith(`${path}/`) && !p.slice(path.length + 1).includes('/')))
        .map(([, o]) => o as { metadata?: { name?: string; labels?: Record<string, string> } })
        .filter((o) => name === undefined || o.metadata?.name === name)
        .filter((o) => !label || o.metadata?.labels?.[label[1]!] === label[2]) as T[];
    },
    /** No change happens while a fake is watched. */
    async watch() {},
    async create<T>(): Promise<T> {
      throw new Error('fakeReader: create is not expected here');
    },
  };
}
