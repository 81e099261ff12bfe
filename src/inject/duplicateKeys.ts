/**
 * Keys given more than once in one mapping. kubectl takes such manifests (its YAML→JSON conversion keeps
 * the last value), and real ones have them (a Deployment with two `selector:` keys is common), so
 * `inject` reads them the same way and says which value it used.
 */
import { isScalar, visit, type Document } from 'yaml';

export interface DuplicateKey {
  readonly key: string;
  readonly count: number;
  /** Offset of the last occurrence: the one whose value is used. */
  readonly offset: number | undefined;
}

export function duplicateKeys(doc: Document): DuplicateKey[] {
  const found: DuplicateKey[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Map<string, { count: number; offset: number | undefined }>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const offset = (pair.key as { range?: [number, number, number] } | null)?.range?.[0];
        const prev = seen.get(key);
        seen.set(key, { count: (prev?.count ?? 0) + 1, offset });
      }
      for (const [key, { count, offset }] of seen) if (count > 1) found.push({ key, count, offset });
    },
  });
  return found.sort((a, b) => (a.offset ?? 0) - (b.offset ?? 0));
}

export function duplicateKeyMessage(d: DuplicateKey): string {
  return `key ${JSON.stringify(d.key)} appears ${d.count === 2 ? 'twice' : `${d.count} times`}; using the last value, as kubectl does`;
}
