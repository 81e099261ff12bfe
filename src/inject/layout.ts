/**
 * The formatting a document already uses (indentation, sequence style, JSON or YAML, line endings), and
 * the text of new values written in that formatting: what lets `inject` add lines that look as if the
 * author had written them, instead of re-serialising the whole document.
 */
import { isMap, isScalar, isSeq, stringify, visit, type Document } from 'yaml';
import { MANIFEST_YAML_VERSION } from './parse.js';

export interface Layout {
  readonly newline: '\n' | '\r\n';
  /** Columns from a key to the keys of the block mapping under it. */
  readonly mapIndent: number;
  /** Columns from a key to the `-` of the block sequence under it (0: `key:` and `- ` line up). */
  readonly seqIndent: number;
  /** Columns from a `-` to the first key of the mapping it holds (2 for `- name: x`). */
  readonly itemIndent: number;
  /** Set when the document is JSON: insertions are JSON, pretty-printed with `unit` spaces (0: on one line). */
  readonly json?: { readonly unit: number; readonly spaced: boolean };
}

const DEFAULT_INDENT = 2;

export function lineStart(text: string, pos: number): number {
  return text.lastIndexOf('\n', pos - 1) + 1;
}

export function column(text: string, pos: number): number {
  return pos - lineStart(text, pos);
}

/** The formatting of one document's source (the document parsed from exactly that text). */
export function detectLayout(text: string, doc: Document): Layout {
  const maps = new Map<number, number>();
  const seqs = new Map<number, number>();
  const items = new Map<number, number>();
  const bump = (m: Map<number, number>, k: number) => m.set(k, (m.get(k) ?? 0) + 1);
  visit(doc, {
    Map(_, map) {
      if (map.flow || !map.range) return;
      const col = column(text, map.range[0]);
      for (const pair of map.items) {
        const v = pair.value;
        if (isMap(v) && !v.flow && v.range && v.items.length > 0) {
          const d = column(text, v.range[0]) - col;
          if (d > 0) bump(maps, d);
        } else if (isSeq(v) && !v.flow && v.range && v.items.length > 0) {
          const d = column(text, v.range[0]) - col;
          if (d >= 0) bump(seqs, d);
        }
      }
    },
    Seq(_, seq) {
      if (seq.flow || !seq.range) return;
      const col = column(text, seq.range[0]);
      for (const item of seq.items) {
        if (isMap(item) && !item.flow && item.range) {
          const d = column(text, item.range[0]) - col;
          if (d >= 2) bump(items, d);
        }
      }
    },
  });
  const mapIndent = mostCommon(maps) ?? DEFAULT_INDENT;
  return {
    newline: text.includes('\r\n') ? '\r\n' : '\n',
    mapIndent,
    seqIndent: mostCommon(seqs) ?? mapIndent,
    itemIndent: mostCommon(items) ?? DEFAULT_INDENT,
    ...jsonLayout(text, doc),
  };
}

function mostCommon(counts: Map<number, number>): number | undefined {
  let best: [number, number] | undefined;
  for (const [k, n] of counts) if (!best || n > best[1] || (n === best[1] && k < best[0])) best = [k, n];
  return best?.[0];
}

/** A document whose whole body is JSON keeps being JSON: its insertions are written as JSON too. */
function jsonLayout(text: string, doc: Document): { json?: Layout['json'] } {
  const root = doc.contents;
  if (!isMap(root) || !root.flow || !root.range) return {};
  const body = text.slice(root.range[0], root.range[1]);
  try {
    JSON.parse(body);
  } catch {
    return {};
  }
  const first = root.items[0]?.key as { range?: [number, number, number] } | undefined;
  const open = root.range[0];
  const multiLine = first?.range !== undefined && lineStart(text, first.range[0]) > open;
  const unit = multiLine && first?.range ? Math.max(1, column(text, first.range[0]) - indentOf(text, open)) : 0;
  return { json: { unit, spaced: /":\s/.test(body) } };
}

/** The indentation of the line `pos` is on. */
export function indentOf(text: string, pos: number): number {
  const start = lineStart(text, pos);
  let i = start;
  while (text[i] === ' ') i++;
  return i - start;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A scalar on one line: as YAML 1.1 (kubectl) reads it back, quoted where a plain word would read as
 * something else (`on`, `0777`), double-quoted where YAML would need several lines or, in a flow
 * collection, where the text holds a flow indicator.
 */
export function scalarText(v: unknown, flow: boolean, layout: Layout): string {
  if (layout.json || (typeof v === 'string' && /[\n\r\u0085\u2028\u2029]/.test(v))) return JSON.stringify(v);
  if (v === null || v === undefined) return 'null';
  if (typeof v !== 'string') return String(v);
  const text = stringify(v, { version: MANIFEST_YAML_VERSION, lineWidth: 0 }).replace(/\n$/, '');
  const quoted = text.startsWith('"') || text.startsWith("'");
  if (text.includes('\n') || (flow && !quoted && /[,[\]{}]/.test(text))) return JSON.stringify(v);
  return text;
}

/** A new scalar written where an old one was, in the old one's quoting style when that style can hold it. */
export function replacementScalar(v: unknown, oldType: string | undefined, layout: Layout, flow: boolean): string {
  if (typeof v === 'string' && !/[\n\r\u0085\u2028\u2029]/.test(v)) {
    if (oldType === 'QUOTE_DOUBLE') return JSON.stringify(v);
    if (oldType === 'QUOTE_SINGLE') return `'${v.replaceAll("'", "''")}'`;
  }
  return scalarText(v, flow, layout);
}

const pad = (n: number) => ' '.repeat(n);

function isEmptyCollection(v: unknown): boolean {
  return (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
}

/** `key: value` as block lines starting at column `col`, each line ending with the layout's newline. */
export function blockPair(key: string, value: unknown, col: number, layout: Layout): string {
  const nl = layout.newline;
  const k = `${pad(col)}${scalarText(key, false, layout)}:`;
  if (isObject(value) && !isEmptyCollection(value)) return `${k}${nl}${blockMap(value, col + layout.mapIndent, layout)}`;
  if (Array.isArray(value) && value.length > 0) return `${k}${nl}${blockSeq(value, col + layout.seqIndent, layout)}`;
  return `${k} ${inline(value, layout)}${nl}`;
}

function blockMap(value: Record<string, unknown>, col: number, layout: Layout): string {
  return Object.entries(value)
    .map(([k, v]) => blockPair(k, v, col, layout))
    .join('');
}

function blockSeq(value: readonly unknown[], col: number, layout: Layout): string {
  return value.map((v) => blockItem(v, col, layout)).join('');
}

/** `- value` as block lines with the `-` at column `col`. */
export function blockItem(value: unknown, col: number, layout: Layout): string {
  if (isObject(value) && !isEmptyCollection(value)) {
    const inner = col + layout.itemIndent;
    return `${pad(col)}-${pad(layout.itemIndent - 1)}${blockMap(value, inner, layout).slice(inner)}`;
  }
  if (Array.isArray(value) && value.length > 0) return `${pad(col)}- ${blockSeq(value, col + 2, layout).slice(col + 2)}`;
  return `${pad(col)}- ${inline(value, layout)}${layout.newline}`;
}

function inline(value: unknown, layout: Layout): string {
  if (Array.isArray(value)) return '[]';
  if (isObject(value)) return '{}';
  return scalarText(value, false, layout);
}

/**
 * A value inside a flow collection (`{…}`, `[…]`, JSON). Given `col` (the collection puts its items on
 * lines of their own) in a pretty-printed JSON document, it is pretty-printed with its later lines
 * indented from `col`; otherwise it is written on one line.
 */
export function flowValue(value: unknown, layout: Layout, col?: number): string {
  if (col !== undefined && layout.json && layout.json.unit > 0) return JSON.stringify(value, null, layout.json.unit).replaceAll('\n', `${layout.newline}${pad(col)}`);
  const spaced = !layout.json || layout.json.spaced;
  if (Array.isArray(value)) return `[${value.map((v) => flowValue(v, layout)).join(spaced ? ', ' : ',')}]`;
  if (isObject(value)) return `{${Object.entries(value).map(([k, v]) => flowPair(k, v, layout)).join(spaced ? ', ' : ',')}}`;
  return scalarText(value, true, layout);
}

/** `key: value` inside a flow mapping (`col` as for `flowValue`). */
export function flowPair(key: string, value: unknown, layout: Layout, col?: number): string {
  const spaced = col !== undefined || !layout.json || layout.json.spaced;
  return `${scalarText(key, true, layout)}${spaced ? ': ' : ':'}${flowValue(value, layout, col)}`;
}

export function isBlockScalar(node: unknown): boolean {
  return isScalar(node) && (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED');
}
