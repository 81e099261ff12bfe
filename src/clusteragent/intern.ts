/**
 * Interning for the cluster state: one copy of each repeated string (label keys and values, namespaces,
 * node names, phases, owner names) and one frozen object per distinct label map, so 30 pods of one
 * ReplicaSet share one `{app, pod-template-hash, team, tags...}` instead of holding 30 (JSON.parse makes
 * a fresh string for every value it reads).
 *
 * Bounded rather than reference-counted: when a pool reaches its cap it is emptied and starts again.
 * Records keep the values they were given (still shared among the records interned before), so nothing
 * is ever wrong, only less shared for a while; and nothing leaks when ReplicaSets and their
 * pod-template-hash values churn for months. Unique strings (pod names, uids) are not interned.
 */
import type { LabelMap } from '../tagging/podTags.js';

export const EMPTY_LABELS: LabelMap = Object.freeze({});

export interface InternPool {
  str(s: string): string;
  /** A frozen label map equal to `labels` (string values only; others are dropped), shared when possible. */
  labels(labels: unknown): LabelMap;
  /** A frozen `{kind, name}`, shared by all the pods of one owner. */
  ref(kind: string, name: string): { readonly kind: string; readonly name: string };
  /** The object kept under `key`, else `make()`'s, kept (bounded like the label maps); for records equal pods share. */
  shared<T extends object>(key: string, make: () => T): T;
  stats(): { strings: number; labelMaps: number; refs: number; resets: number };
}

export interface InternPoolOptions {
  /** Strings kept before the pool starts again; 0: no string is shared (the bench's comparison). */
  readonly maxStrings?: number;
  /** Distinct label maps (and owner refs) kept before that pool starts again; 0: none is shared. */
  readonly maxMaps?: number;
}

// Enough for the repeated strings of a 150,000-pod cluster (a few per ReplicaSet and node).
const DEFAULT_MAX_STRINGS = 1 << 18;
const DEFAULT_MAX_MAPS = 1 << 16;
/** Separators that cannot occur in a label key (RFC 1123 + prefix) nor, together, be ambiguous in a value. */
const KV = '\u0000';
const ENTRY = '\u0001';

export function createInternPool(opts: InternPoolOptions = {}): InternPool {
  const maxStrings = opts.maxStrings ?? DEFAULT_MAX_STRINGS;
  const maxMaps = opts.maxMaps ?? DEFAULT_MAX_MAPS;
  let strings = new Map<string, string>();
  let maps = new Map<string, LabelMap>();
  let refs = new Map<string, { readonly kind: string; readonly name: string }>();
  let objects = new Map<string, object>();
  let resets = 0;

  const str = (s: string): string => {
    if (maxStrings === 0) return s;
    const found = strings.get(s);
    if (found !== undefined) return found;
    if (strings.size >= maxStrings) {
      strings = new Map();
      resets++;
    }
    // JSON.parse makes flat strings of their own (no slice of the response text), so keeping `s` pins nothing.
    strings.set(s, s);
    return s;
  };

  return {
    str,
    labels(labels) {
      if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return EMPTY_LABELS;
      const entries = Object.entries(labels as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string');
      if (entries.length === 0) return EMPTY_LABELS;
      entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const key = maxMaps === 0 ? '' : entries.map(([k, v]) => k + KV + v).join(ENTRY);
      const found = maxMaps === 0 ? undefined : maps.get(key);
      if (found) return found;
      if (maps.size >= maxMaps) {
        maps = new Map();
        resets++;
      }
      // Keys in sorted order: maps with the same keys share one hidden class.
      const out: Record<string, string> = {};
      for (const [k, v] of entries) out[str(k)] = str(v);
      const frozen = Object.freeze(out);
      if (maxMaps > 0) maps.set(key, frozen);
      return frozen;
    },
    ref(kind, name) {
      if (maxMaps === 0) return Object.freeze({ kind: str(kind), name: str(name) });
      const key = kind + KV + name;
      const found = refs.get(key);
      if (found) return found;
      if (refs.size >= maxMaps) {
        refs = new Map();
        resets++;
      }
      const r = Object.freeze({ kind: str(kind), name: str(name) });
      refs.set(key, r);
      return r;
    },
    shared<T extends object>(key: string, make: () => T): T {
      if (maxMaps === 0) return make();
      const found = objects.get(key);
      if (found) return found as T;
      if (objects.size >= maxMaps) {
        objects = new Map();
        resets++;
      }
      const made = make();
      objects.set(key, made);
      return made;
    },
    stats: () => ({ strings: strings.size, labelMaps: maps.size, refs: refs.size, resets }),
  };
}
