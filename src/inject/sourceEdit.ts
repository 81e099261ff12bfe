/**
 * Applies the webhook chain's JSON Patch to a document's source text itself: each operation becomes one
 * insertion (or, for a value set in place, one replacement) at the place the operation names, written in
 * the document's own formatting. Everything else stays byte for byte, so `diff` of input and output
 * shows exactly the injection.
 *
 * The text is re-read after every operation, so each one sees exact positions (an operation may land
 * inside what an earlier one added). Shapes this cannot edit in place throw `CannotEditInPlace`; the
 * caller then re-serialises that one document (and checks every in-place result reads back as the
 * patched value, so an edit that reads differently is never written).
 */
import { isAlias, isMap, isScalar, isSeq, visit, type Document, type Node, type Pair, type YAMLMap, type YAMLSeq } from 'yaml';
import { parsePointer, type JsonPatchOp } from '../admission/jsonpatch.js';
import { blockItem, blockPair, column, detectLayout, indentOf, flowPair, flowValue, isBlockScalar, lineStart, replacementScalar, scalarText, type Layout } from './layout.js';
import { parseManifests } from './parse.js';

export class CannotEditInPlace extends Error {
  override name = 'CannotEditInPlace';
}

interface Edit {
  readonly at: number;
  readonly remove: number;
  readonly insert: string;
}

type Range = [number, number, number];

/** `source` is one document's text (with its `---` and comments); `ops` are relative to its root. */
export function editInPlace(source: string, ops: readonly JsonPatchOp[]): string {
  const layout = detectLayout(source, parseOne(source));
  return ops.reduce((text, op) => {
    const edit = editFor(text, parseOne(text), op, layout);
    return text.slice(0, edit.at) + edit.insert + text.slice(edit.at + edit.remove);
  }, source);
}

/** The one document `text` holds, read as `inject` reads manifests. */
export function parseOne(text: string): Document.Parsed {
  const docs = parseManifests(text);
  const doc = docs[0];
  if (docs.length !== 1 || !doc) throw new CannotEditInPlace(`the text holds ${docs.length} documents`);
  if (doc.errors.length > 0) throw new CannotEditInPlace(`the text does not parse: ${doc.errors[0]?.message}`);
  return doc;
}

function editFor(text: string, doc: Document.Parsed, op: JsonPatchOp, layout: Layout): Edit {
  if (op.op !== 'add' && op.op !== 'replace') throw new CannotEditInPlace(`unexpected ${op.op} operation`);
  const tokens = parsePointer(op.path);
  const last = tokens.pop();
  if (last === undefined) throw new CannotEditInPlace('the operation replaces the whole document');
  const parent = tokens.reduce<unknown>((node, token) => child(node, token, op.path), doc.contents);
  if (isAlias(parent)) throw new CannotEditInPlace(`${op.path} goes through an alias`);
  if (isMap(parent)) return mapEdit(text, doc, parent, last, op.value, layout);
  if (isSeq(parent) && op.op === 'add') return seqEdit(text, doc, parent, last, op.value, layout);
  throw new CannotEditInPlace(`${op.op} ${op.path}: its parent is not a mapping or a list in the text`);
}

/** The node under `token`: for a key given more than once, the last (the value kubectl keeps). */
function child(node: unknown, token: string, path: string): unknown {
  if (isAlias(node)) throw new CannotEditInPlace(`${path} goes through an alias`);
  if (isMap(node)) {
    const pair = lastPair(node, token);
    if (pair) return pair.value;
  } else if (isSeq(node) && /^\d+$/.test(token)) {
    const item = node.items[Number(token)];
    if (item !== undefined) return item;
  }
  throw new CannotEditInPlace(`${path}: no ${JSON.stringify(token)} in the text`);
}

function lastPair(map: YAMLMap, key: string): Pair | undefined {
  for (let i = map.items.length - 1; i >= 0; i--) {
    const pair = map.items[i] as Pair;
    if (isScalar(pair.key) && String(pair.key.value) === key) return pair;
  }
  return undefined;
}

function rangeOf(node: unknown, what: string): Range {
  const range = (node as { range?: Range | null } | null)?.range;
  if (!range) throw new CannotEditInPlace(`${what} has no position in the text`);
  return range;
}

/** Where a pair's text ends (its value's end, or the key's for `key:` with nothing after it). */
function pairEnd(pair: Pair): number {
  return pair.value ? rangeOf(pair.value, 'a value')[1] : rangeOf(pair.key, 'a key')[1];
}

/** The start of the line after the one `pos` is on (`pos` itself when it starts a line). */
function nextLineStart(text: string, pos: number): number {
  if (pos > 0 && text[pos - 1] === '\n') return pos;
  const nl = text.indexOf('\n', pos);
  return nl < 0 ? text.length : nl + 1;
}

function onlySpacesBefore(text: string, pos: number): boolean {
  return text.slice(lineStart(text, pos), pos).trim() === '';
}

/**
 * Block lines inserted after the line that ends at `end`. At the end of a text without a final line
 * break, the break goes before the new lines and the text still ends without one.
 */
function linesAfter(text: string, end: number, lines: string, layout: Layout): Edit {
  const at = nextLineStart(text, end);
  if (at === text.length && !text.endsWith('\n')) return { at, remove: 0, insert: layout.newline + lines.slice(0, -layout.newline.length) };
  return { at, remove: 0, insert: lines };
}

/**
 * Whether a block scalar ends the text with no line break after it: a line break added there would
 * change the scalar's value (a `|` scalar ending the file without a newline has none at its end).
 */
function endsInBlockScalar(text: string, doc: Document): boolean {
  if (text.endsWith('\n')) return false;
  let found = false;
  visit(doc, {
    Scalar(_, node) {
      if (isBlockScalar(node) && node.range && node.range[1] >= text.trimEnd().length) found = true;
    },
  });
  return found;
}

function mapEdit(text: string, doc: Document, map: YAMLMap, key: string, value: unknown, layout: Layout): Edit {
  const existing = lastPair(map, key);
  if (existing) return replaceValue(text, map, existing, key, value, layout);
  const range = rangeOf(map, 'the mapping');
  if (map.flow) return flowInsert(text, flowMap(map), map.items.length, (col) => flowPair(key, value, layout, col), layout);
  const last = map.items[map.items.length - 1] as Pair | undefined;
  if (!last) throw new CannotEditInPlace('an empty block mapping');
  const col = column(text, range[0]);
  const lines = blockPair(key, value, col, layout);
  const end = pairEnd(last);
  if (nextLineStart(text, end) === text.length && endsInBlockScalar(text, doc)) {
    // The mapping ends the file in a block scalar without a final newline: the new key goes before the
    // last one rather than adding a line break to that scalar.
    const keyStart = rangeOf(last.key, 'a key')[0];
    if (!onlySpacesBefore(text, keyStart) || column(text, keyStart) !== col) throw new CannotEditInPlace('the file ends in a block scalar without a newline');
    return { at: lineStart(text, keyStart), remove: 0, insert: lines };
  }
  return linesAfter(text, end, lines, layout);
}

/** `add` onto a key that exists: a scalar is rewritten in place; anything else rewrites that one pair. */
function replaceValue(text: string, map: YAMLMap, pair: Pair, key: string, value: unknown, layout: Layout): Edit {
  const old = pair.value as Node | null;
  const isScalarValue = value === null || typeof value !== 'object';
  if (old && isScalar(old) && !isBlockScalar(old) && isScalarValue) {
    const [start, end] = rangeOf(old, 'the value');
    if (end > start) return { at: start, remove: end - start, insert: replacementScalar(value, old.type, layout, map.flow === true) };
  }
  if (map.flow) {
    const [start, end] = old ? rangeOf(old, 'the value') : [pairEnd(pair), pairEnd(pair)];
    const sep = end === start && text[start - 1] === ':' ? ' ' : '';
    const col = itemColumn(text, flowMap(map)) === undefined ? undefined : column(text, rangeOf(pair.key, 'a key')[0]);
    return { at: start, remove: end - start, insert: sep + flowValue(value, layout, col) };
  }
  if (old && isBlockScalar(old)) throw new CannotEditInPlace(`the block scalar at ${JSON.stringify(key)}`);
  const keyStart = rangeOf(pair.key, 'a key')[0];
  const col = column(text, keyStart);
  const [valueStart, valueEnd] = old ? rangeOf(old, 'the value') : [pairEnd(pair), pairEnd(pair)];
  if (valueStart === valueEnd && onlySpacesBefore(text, keyStart)) {
    // `key:` with nothing written after it (a comment at most): the key's line stays as it is and the
    // value is added after the colon, or, for a list or mapping, on the lines below.
    const lines = blockPair(key, value, col, layout);
    const firstBreak = lines.indexOf(layout.newline);
    const keyText = `${scalarText(key, false, layout)}:`;
    if (firstBreak === lines.length - layout.newline.length) {
      const colon = text.indexOf(':', rangeOf(pair.key, 'a key')[1]);
      return { at: colon + 1, remove: 0, insert: lines.slice(col + keyText.length, firstBreak) };
    }
    return linesAfter(text, valueStart, lines.slice(firstBreak + layout.newline.length), layout);
  }
  const end = nextLineStart(text, pairEnd(pair));
  let lines = blockPair(key, value, col, layout).slice(col);
  if (end === text.length && !text.endsWith('\n')) lines = lines.slice(0, -layout.newline.length);
  return { at: keyStart, remove: end - keyStart, insert: lines };
}

function seqEdit(text: string, doc: Document, seq: YAMLSeq, token: string, value: unknown, layout: Layout): Edit {
  const index = token === '-' ? seq.items.length : /^\d+$/.test(token) ? Number(token) : NaN;
  if (!(index <= seq.items.length)) throw new CannotEditInPlace(`no index ${token} in a list of ${seq.items.length}`);
  const range = rangeOf(seq, 'the list');
  if (seq.flow) return flowInsert(text, flowSeq(seq), index, (col) => flowValue(value, layout, col), layout);
  const col = column(text, range[0]);
  const lines = blockItem(value, col, layout);
  const before = seq.items[index];
  if (before !== undefined) {
    const line = lineStart(text, rangeOf(before, 'an item')[0]);
    if (text.slice(line, line + col).trim() !== '' || text[line + col] !== '-') throw new CannotEditInPlace('a list item that does not start its line');
    return { at: aboveComments(text, line, col), remove: 0, insert: lines };
  }
  const last = seq.items[seq.items.length - 1];
  if (last === undefined) throw new CannotEditInPlace('an empty block list');
  const end = rangeOf(last, 'an item')[1];
  if (nextLineStart(text, end) === text.length && endsInBlockScalar(text, doc)) throw new CannotEditInPlace('the file ends in a block scalar without a newline');
  return linesAfter(text, end, lines, layout);
}

/** A comment right above a list item describes that item: a new item goes above the comment. */
function aboveComments(text: string, line: number, col: number): number {
  let at = line;
  while (at > 0) {
    const prev = lineStart(text, at - 1);
    const content = text.slice(prev, at);
    if (!content.trim().startsWith('#') || content.length - content.trimStart().length < col) break;
    at = prev;
  }
  return at;
}

interface FlowCollection {
  readonly range: Range;
  readonly items: readonly unknown[];
  readonly startOf: (item: unknown) => number;
  readonly endOf: (item: unknown) => number;
}

function flowMap(map: YAMLMap): FlowCollection {
  return { range: rangeOf(map, 'the mapping'), items: map.items, startOf: (p) => rangeOf((p as Pair).key, 'a key')[0], endOf: (p) => pairEnd(p as Pair) };
}

function flowSeq(seq: YAMLSeq): FlowCollection {
  return { range: rangeOf(seq, 'the list'), items: seq.items, startOf: (n) => rangeOf(n, 'an item')[0], endOf: (n) => rangeOf(n, 'an item')[1] };
}

/** The column of the items when the collection puts them on lines of their own (pretty JSON), else undefined. */
function itemColumn(text: string, c: FlowCollection): number | undefined {
  const first = c.items[0];
  if (first === undefined) return undefined;
  const start = c.startOf(first);
  return lineStart(text, start) > c.range[0] ? column(text, start) : undefined;
}

/**
 * An item added to a flow collection (`{…}`, `[…]`, JSON) at `index`: on the same line with `, `, or, when
 * the collection puts its items on lines of their own, on a new line at their column. `item(col)` writes
 * the item (`col` as for `flowValue`).
 */
function flowInsert(text: string, c: FlowCollection, index: number, item: (col?: number) => string, layout: Layout): Edit {
  const open = c.range[0];
  if (text[open] !== '{' && text[open] !== '[') throw new CannotEditInPlace('a flow collection without its bracket');
  if (c.items.length === 0) {
    if (!layout.json || layout.json.unit === 0) return { at: open + 1, remove: 0, insert: item() };
    // `[]` in pretty-printed JSON opens onto lines of its own, as JSON.stringify would have written it.
    const outer = indentOf(text, open);
    const col = outer + layout.json.unit;
    return { at: open + 1, remove: 0, insert: `${layout.newline}${' '.repeat(col)}${item(col)}${layout.newline}${' '.repeat(outer)}` };
  }
  const col = itemColumn(text, c);
  const written = item(col);
  const sep = col !== undefined ? `,${layout.newline}${' '.repeat(col)}` : layout.json && !layout.json.spaced ? ',' : ', ';
  const before = c.items[index];
  if (before !== undefined) return { at: c.startOf(before), remove: 0, insert: written + sep };
  return { at: c.endOf(c.items[c.items.length - 1]), remove: 0, insert: sep + written };
}
