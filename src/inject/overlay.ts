/**
 * A JSON Patch applied over a parsed YAML document without touching it: the result says, per original
 * mapping and list, what was added and where, and which values were set. The text edits are made from
 * that in one pass (sourceEdit.ts), so the document is parsed once however many operations there are.
 *
 * Operations are applied in order, as JSON Patch requires: an index into a list counts the items added
 * before it, and an operation inside a value an earlier one added edits that (plain) value.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type Pair, type YAMLMap, type YAMLSeq } from 'yaml';
import { parsePointer, type JsonPatchOp } from '../admission/jsonpatch.js';

/** A shape the overlay (and so the in-place editor) does not handle: the caller falls back. */
export class CannotEditInPlace extends Error {
  override name = 'CannotEditInPlace';
}

export interface MapChanges {
  readonly node: YAMLMap;
  /** Keys the mapping did not have, in the order added (written after its last key). */
  readonly added: Map<string, unknown>;
  /** Keys it had whose value was set (for a key given twice, the last pair: the one kubectl keeps). */
  readonly replaced: Map<string, { readonly pair: Pair; value: unknown }>;
}

export interface SeqChanges {
  readonly node: YAMLSeq;
  /** The list as it now is: original items (`node`) and added ones (`value`). */
  readonly entries: ({ readonly node: unknown } | { readonly value: unknown })[];
}

export interface Overlay {
  readonly maps: readonly MapChanges[];
  readonly seqs: readonly SeqChanges[];
}

type Target = { readonly node: unknown } | { readonly data: unknown };

export function overlay(doc: Document, ops: readonly JsonPatchOp[]): Overlay {
  const maps = new Map<YAMLMap, MapChanges>();
  const seqs = new Map<YAMLSeq, SeqChanges>();
  const mapOf = (node: YAMLMap) => maps.get(node) ?? maps.set(node, { node, added: new Map(), replaced: new Map() }).get(node)!;
  const seqOf = (node: YAMLSeq) => seqs.get(node) ?? seqs.set(node, { node, entries: node.items.map((n) => ({ node: n })) }).get(node)!;

  const child = (at: Target, token: string, path: string): Target => {
    if ('data' in at) {
      const v = at.data;
      if (Array.isArray(v) && /^\d+$/.test(token) && Number(token) < v.length) return { data: v[Number(token)] };
      if (isObject(v) && Object.prototype.hasOwnProperty.call(v, token)) return { data: v[token] };
      throw new CannotEditInPlace(`${path}: no ${JSON.stringify(token)}`);
    }
    const node = at.node;
    if (isAlias(node)) throw new CannotEditInPlace(`${path} goes through an alias`);
    if (isMap(node)) {
      const m = maps.get(node);
      if (m?.added.has(token)) return { data: m.added.get(token) };
      if (m?.replaced.has(token)) return { data: m.replaced.get(token)?.value };
      const pair = lastPair(node, token);
      if (pair) return { node: pair.value };
    } else if (isSeq(node) && /^\d+$/.test(token)) {
      const entries = seqs.get(node)?.entries;
      const entry = entries ? entries[Number(token)] : node.items[Number(token)] !== undefined ? { node: node.items[Number(token)] } : undefined;
      if (entry) return 'node' in entry ? entry : { data: entry.value };
    }
    throw new CannotEditInPlace(`${path}: no ${JSON.stringify(token)} in the text`);
  };

  for (const op of ops) {
    if (op.op !== 'add' && op.op !== 'replace') throw new CannotEditInPlace(`unexpected ${op.op} operation`);
    const tokens = parsePointer(op.path);
    const last = tokens.pop();
    if (last === undefined) throw new CannotEditInPlace('the operation replaces the whole document');
    const parent = tokens.reduce<Target>((at, token) => child(at, token, op.path), { node: doc.contents });
    const value = structuredClone(op.value);
    if ('data' in parent) {
      setData(parent.data, last, value, op);
      continue;
    }
    const node = parent.node;
    if (isAlias(node)) throw new CannotEditInPlace(`${op.path} goes through an alias`);
    if (isMap(node)) {
      const m = mapOf(node);
      const replaced = m.replaced.get(last);
      const pair = lastPair(node, last);
      if (m.added.has(last)) m.added.set(last, value);
      else if (replaced) replaced.value = value;
      else if (pair) m.replaced.set(last, { pair, value });
      else m.added.set(last, value);
    } else if (isSeq(node) && op.op === 'add') {
      const s = seqOf(node);
      const index = last === '-' ? s.entries.length : /^\d+$/.test(last) ? Number(last) : NaN;
      if (!(index <= s.entries.length)) throw new CannotEditInPlace(`${op.path}: no index ${last} in a list of ${s.entries.length}`);
      s.entries.splice(index, 0, { value });
    } else {
      throw new CannotEditInPlace(`${op.op} ${op.path}: its parent is not a mapping or a list in the text`);
    }
  }
  return { maps: [...maps.values()], seqs: [...seqs.values()] };
}

/** The pair of `key`: for a key given more than once, the last (the value kubectl keeps). */
export function lastPair(map: YAMLMap, key: string): Pair | undefined {
  for (let i = map.items.length - 1; i >= 0; i--) {
    const pair = map.items[i] as Pair;
    if (isScalar(pair.key) && String(pair.key.value) === key) return pair;
  }
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `add`/`replace` inside a value an earlier operation added (plain data, edited in place). */
function setData(parent: unknown, token: string, value: unknown, op: JsonPatchOp): void {
  if (Array.isArray(parent)) {
    const index = token === '-' ? parent.length : /^\d+$/.test(token) ? Number(token) : NaN;
    if (!(index <= parent.length) || (op.op === 'replace' && index >= parent.length)) throw new CannotEditInPlace(`${op.path}: no index ${token}`);
    parent.splice(index, op.op === 'replace' ? 1 : 0, value);
  } else if (isObject(parent)) {
    parent[token] = value;
  } else {
    throw new CannotEditInPlace(`${op.path}: its parent is not an object or a list`);
  }
}
