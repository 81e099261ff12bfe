/**
 * A mutated document written out: in place (sourceEdit.ts), checked to read back as exactly the patched
 * value, or, when a shape cannot be edited in place or the edit would read differently, re-serialised.
 * The fallback touches that one document only, and the caller says so; the corpus and the generated
 * manifests of the tests never need it (test/unit/inject/byteExact.test.ts measures that).
 */
import { Document, isMap, isScalar, isSeq, visit } from 'yaml';
import { deepEqual, parsePointer, type JsonPatchOp } from '../admission/jsonpatch.js';
import { detectLayout } from './layout.js';
import { MANIFEST_YAML_VERSION, parseManifests, toValue } from './parse.js';
import { CannotEditInPlace, editInPlace, parseOne } from './sourceEdit.js';

class YamlEditError extends Error {
  override name = 'YamlEditError';
}

/**
 * A mutated document: its source with the additions written in place, checked to read back as exactly
 * the patched value. When a shape cannot be edited in place, or the edit would read differently, that
 * one document is re-serialised instead (and the caller says so); the rest stay byte for byte.
 */
export function writeMutated(source: string, ops: readonly JsonPatchOp[], expected: unknown, index: number): { text: string; reformatted?: string } {
  let reason: string;
  try {
    const edited = editInPlace(source, ops);
    if (deepEqual(toValue(parseOne(edited)), expected)) return { text: edited };
    reason = 'the edited text reads back differently';
  } catch (e) {
    if (!(e instanceof CannotEditInPlace)) throw e;
    reason = e.message;
  }
  return { text: reformat(source, ops, expected, index), reformatted: reason };
}

/**
 * The fallback: the document re-serialised in its own indentation, comments kept where the yaml library
 * can keep them (its AST edited, duplicate keys reduced to the last), or, if even that does not read back
 * as the patched value, the value itself written out. JSON stays JSON.
 */
function reformat(source: string, ops: readonly JsonPatchOp[], expected: unknown, index: number): string {
  const docs = parseManifests(source);
  const doc = docs.length === 1 && docs[0]?.errors.length === 0 ? docs[0] : undefined;
  const layout = doc ? detectLayout(source, doc) : undefined;
  const root = doc?.contents?.range;
  if (layout?.json && root) return source.slice(0, root[0]) + JSON.stringify(expected, null, layout.json.unit || undefined) + source.slice(root[1]);
  const options = { indent: layout?.mapIndent ?? 2, indentSeq: (layout?.seqIndent ?? 2) > 0, lineWidth: 0 };
  const separated = (out: string) => (index > 0 && !out.startsWith('---') ? `---\n${out}` : out);
  if (doc) {
    try {
      const edited = doc.clone();
      keepLastKeys(edited);
      applyToYaml(edited, ops);
      const out = separated(edited.toString(options));
      if (deepEqual(toValue(parseOne(out)), expected)) return out;
    } catch (e) {
      if (!(e instanceof CannotEditInPlace) && !(e instanceof YamlEditError)) throw e;
    }
  }
  return separated(new Document(expected, { version: MANIFEST_YAML_VERSION }).toString(options));
}

/** Drops every pair but the last of a key given more than once (the value kubectl keeps). */
function keepLastKeys(doc: Document): void {
  visit(doc, {
    Map(_, map) {
      const lastIndex = new Map<string, number>();
      map.items.forEach((p, i) => lastIndex.set(isScalar(p.key) ? String(p.key.value) : String(p.key), i));
      map.items = map.items.filter((p, i) => lastIndex.get(isScalar(p.key) ? String(p.key.value) : String(p.key)) === i);
    },
  });
}

/** Applies `add`/`replace` operations (paths from the document root) to the YAML document's nodes. */
function applyToYaml(doc: Document, ops: readonly JsonPatchOp[]): void {
  for (const op of ops) {
    if (op.op !== 'add' && op.op !== 'replace') throw new YamlEditError(`unexpected ${op.op} operation from the webhook chain`);
    const tokens = parsePointer(op.path);
    const last = tokens.pop() as string;
    const parent = doc.getIn(tokens.map((t) => (/^\d+$/.test(t) ? Number(t) : t)), true);
    const node = doc.createNode(op.value);
    if (isSeq(parent)) {
      if (last === '-') parent.items.push(node);
      else if (op.op === 'add') parent.items.splice(Number(last), 0, node);
      else parent.items[Number(last)] = node;
    } else if (isMap(parent)) {
      parent.set(last, node);
    } else {
      throw new YamlEditError(`cannot apply ${op.op} ${op.path}: parent is not a map or list`);
    }
  }
}
