/**
 * Writes the webhook chain's JSON Patch into a document's source text itself: what each operation adds
 * is inserted at the place it names (a value set in place replaces just that value), in the document's
 * own formatting. Everything else stays byte for byte, so `diff` of input and output shows exactly the
 * injection.
 *
 * The document is parsed once; the operations are applied over it (overlay.ts) and the resulting
 * insertions made in one pass, from the end of the text back. Shapes this cannot edit in place throw
 * `CannotEditInPlace`; the caller then re-serialises that one document (and checks that every in-place
 * result reads back as the patched value, so an edit that reads differently is never written).
 */
import { isScalar, visit, type Document, type Node, type Pair, type YAMLMap, type YAMLSeq } from 'yaml';
import type { JsonPatchOp } from '../admission/jsonpatch.js';
import { blockItem, blockPair, column, detectLayout, flowPair, flowValue, indentOf, isBlockScalar, lineStart, replacementScalar, scalarText, type Layout } from './layout.js';
import { CannotEditInPlace, overlay, type MapChanges, type SeqChanges } from './overlay.js';
import { parseManifests } from './parse.js';

export { CannotEditInPlace } from './overlay.js';

/**
 * One change to the text. Insertions at the same offset are written in `rank` order: first what ends
 * the content before the offset, the deeper first (rank -column: an item's new keys before its list's
 * new item), then what starts the content after it (a new item in front of an existing one).
 */
interface Edit {
  readonly at: number;
  readonly remove: number;
  readonly insert: string;
  readonly rank: number;
}

const BEFORE_NEXT = 1_000_000;

type Range = [number, number, number];

/** `source` is one document's text (with its `---` and comments); `ops` are relative to its root. */
export function editInPlace(source: string, ops: readonly JsonPatchOp[]): string {
  const doc = parseOne(source);
  const layout = detectLayout(source, doc);
  const changes = overlay(doc, ops);
  const eofBlock = endsInBlockScalar(source, doc);
  const edits: Edit[] = [];
  for (const m of changes.maps) edits.push(...mapEdits(source, m, layout, eofBlock));
  for (const s of changes.seqs) edits.push(...seqEdits(source, s, layout, eofBlock));
  return applyEdits(source, edits);
}

/** The one document `text` holds, read as `inject` reads manifests. */
export function parseOne(text: string): Document.Parsed {
  const docs = parseManifests(text);
  const doc = docs[0];
  if (docs.length !== 1 || !doc) throw new CannotEditInPlace(`the text holds ${docs.length} documents`);
  if (doc.errors.length > 0) throw new CannotEditInPlace(`the text does not parse: ${doc.errors[0]?.message}`);
  return doc;
}

function applyEdits(text: string, edits: readonly Edit[]): string {
  const sorted = [...edits].sort((a, b) => a.at - b.at || a.rank - b.rank);
  const pieces: string[] = [];
  let cursor = 0;
  for (const e of sorted) {
    if (e.at < cursor) throw new CannotEditInPlace('two changes overlap');
    pieces.push(text.slice(cursor, e.at), e.insert);
    cursor = e.at + e.remove;
  }
  pieces.push(text.slice(cursor));
  return pieces.join('');
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
function linesAfter(text: string, end: number, lines: string, layout: Layout, rank: number): Edit {
  const at = nextLineStart(text, end);
  if (at === text.length && !text.endsWith('\n')) return { at, remove: 0, insert: layout.newline + lines.slice(0, -layout.newline.length), rank };
  return { at, remove: 0, insert: lines, rank };
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

function mapEdits(text: string, m: MapChanges, layout: Layout, eofBlock: boolean): Edit[] {
  const edits = [...m.replaced].map(([key, { pair, value }]) => replaceValue(text, m.node, pair, key, value, layout));
  const added = [...m.added];
  if (added.length === 0) return edits;
  if (m.node.flow) return [...edits, flowInsert(text, flowMap(m.node), 'end', (col) => added.map(([k, v]) => flowPair(k, v, layout, col)), layout)];
  const last = m.node.items[m.node.items.length - 1] as Pair | undefined;
  if (!last) throw new CannotEditInPlace('an empty block mapping');
  const col = column(text, rangeOf(m.node, 'the mapping')[0]);
  const lines = added.map(([k, v]) => blockPair(k, v, col, layout)).join('');
  const end = pairEnd(last);
  if (nextLineStart(text, end) === text.length && eofBlock) {
    // The mapping ends the file in a block scalar without a final newline: the new keys go before the
    // last one rather than adding a line break to that scalar.
    const keyStart = rangeOf(last.key, 'a key')[0];
    if (!onlySpacesBefore(text, keyStart) || column(text, keyStart) !== col) throw new CannotEditInPlace('the file ends in a block scalar without a newline');
    return [...edits, { at: lineStart(text, keyStart), remove: 0, insert: lines, rank: BEFORE_NEXT }];
  }
  return [...edits, linesAfter(text, end, lines, layout, -col)];
}

/** A key that exists gets a new value: a scalar is rewritten in place; anything else rewrites that one pair. */
function replaceValue(text: string, map: YAMLMap, pair: Pair, key: string, value: unknown, layout: Layout): Edit {
  const old = pair.value as Node | null;
  const isScalarValue = value === null || typeof value !== 'object';
  if (old && isScalar(old) && !isBlockScalar(old) && isScalarValue) {
    const [start, end] = rangeOf(old, 'the value');
    if (end > start) return { at: start, remove: end - start, insert: replacementScalar(value, old.type, layout, map.flow === true), rank: 0 };
  }
  const [valueStart, valueEnd] = old ? rangeOf(old, 'the value') : [pairEnd(pair), pairEnd(pair)];
  if (map.flow) {
    const sep = valueEnd === valueStart && text[valueStart - 1] === ':' ? ' ' : '';
    const col = itemColumn(text, flowMap(map)) === undefined ? undefined : column(text, rangeOf(pair.key, 'a key')[0]);
    return { at: valueStart, remove: valueEnd - valueStart, insert: sep + flowValue(value, layout, col), rank: 0 };
  }
  if (old && isBlockScalar(old)) throw new CannotEditInPlace(`the block scalar at ${JSON.stringify(key)}`);
  const keyStart = rangeOf(pair.key, 'a key')[0];
  const col = column(text, keyStart);
  const lines = blockPair(key, value, col, layout);
  if (valueStart === valueEnd && onlySpacesBefore(text, keyStart)) {
    // `key:` with nothing written after it (a comment at most): the key's line stays as it is and the
    // value is added after the colon, or, for a list or mapping, on the lines below.
    const firstBreak = lines.indexOf(layout.newline);
    if (firstBreak === lines.length - layout.newline.length) {
      const colon = text.indexOf(':', rangeOf(pair.key, 'a key')[1]);
      return { at: colon + 1, remove: 0, insert: lines.slice(col + scalarText(key, false, layout).length + 1, firstBreak), rank: 0 };
    }
    return linesAfter(text, valueStart, lines.slice(firstBreak + layout.newline.length), layout, -(col + 1));
  }
  const end = nextLineStart(text, pairEnd(pair));
  const insert = end === text.length && !text.endsWith('\n') ? lines.slice(col, -layout.newline.length) : lines.slice(col);
  return { at: keyStart, remove: end - keyStart, insert, rank: 0 };
}

/** Each run of added items goes in front of the original item after it, or after the last one. */
function seqEdits(text: string, s: SeqChanges, layout: Layout, eofBlock: boolean): Edit[] {
  const edits: Edit[] = [];
  let run: unknown[] = [];
  let original = 0;
  for (const entry of s.entries) {
    if ('value' in entry) {
      run.push(entry.value);
      continue;
    }
    if (run.length > 0) edits.push(seqInsert(text, s.node, run, original, layout, eofBlock));
    run = [];
    original++;
  }
  if (run.length > 0) edits.push(seqInsert(text, s.node, run, 'end', layout, eofBlock));
  return edits;
}

function seqInsert(text: string, seq: YAMLSeq, values: readonly unknown[], before: number | 'end', layout: Layout, eofBlock: boolean): Edit {
  if (seq.flow) return flowInsert(text, flowSeq(seq), before, (col) => values.map((v) => flowValue(v, layout, col)), layout);
  const col = column(text, rangeOf(seq, 'the list')[0]);
  const lines = values.map((v) => blockItem(v, col, layout)).join('');
  if (before !== 'end') {
    const line = lineStart(text, rangeOf(seq.items[before], 'an item')[0]);
    if (text.slice(line, line + col).trim() !== '' || text[line + col] !== '-') throw new CannotEditInPlace('a list item that does not start its line');
    return { at: aboveComments(text, line, col), remove: 0, insert: lines, rank: BEFORE_NEXT };
  }
  const last = seq.items[seq.items.length - 1];
  if (last === undefined) throw new CannotEditInPlace('an empty block list');
  const end = rangeOf(last, 'an item')[1];
  if (nextLineStart(text, end) === text.length && eofBlock) throw new CannotEditInPlace('the file ends in a block scalar without a newline');
  // A list written `key:\n- item` has its `-` at its key's column, yet is inside that key's mapping:
  // at the same column the list is the deeper of the two.
  return linesAfter(text, end, lines, layout, -(col + 0.5));
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
 * Items added to a flow collection (`{…}`, `[…]`, JSON) in front of item `before` or at the end: on the
 * same line with `, `, or, when the collection puts its items on lines of their own, each on a new line
 * at their column. `items(col)` writes them (`col` as for `flowValue`).
 */
function flowInsert(text: string, c: FlowCollection, before: number | 'end', items: (col?: number) => string[], layout: Layout): Edit {
  const open = c.range[0];
  if (text[open] !== '{' && text[open] !== '[') throw new CannotEditInPlace('a flow collection without its bracket');
  const pad = (n: number) => ' '.repeat(n);
  if (c.items.length === 0) {
    if (!layout.json || layout.json.unit === 0) return { at: open + 1, remove: 0, insert: items().join(layout.json && !layout.json.spaced ? ',' : ', '), rank: 0 };
    // `[]` in pretty-printed JSON opens onto lines of its own, as JSON.stringify would have written it.
    const outer = indentOf(text, open);
    const col = outer + layout.json.unit;
    return { at: open + 1, remove: 0, insert: `${layout.newline}${pad(col)}${items(col).join(`,${layout.newline}${pad(col)}`)}${layout.newline}${pad(outer)}`, rank: 0 };
  }
  const col = itemColumn(text, c);
  const sep = col !== undefined ? `,${layout.newline}${pad(col)}` : layout.json && !layout.json.spaced ? ',' : ', ';
  const written = items(col).join(sep);
  if (before !== 'end') return { at: c.startOf(c.items[before]), remove: 0, insert: written + sep, rank: 0 };
  return { at: c.endOf(c.items[c.items.length - 1]), remove: 0, insert: sep + written, rank: 0 };
}
