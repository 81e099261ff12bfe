/**
 * Applying live changes to a page of a sorted list, without refetching (pure). A page is a contiguous
 * window of the server's sorted list, so a row that sorts inside the window and is not in it must be
 * new; a row outside the window may be new or may have been on another page all along: it is left for
 * the next fetch, and the total is only changed when the change is certain.
 */
import type { NodeRow, NodesEvent, PodRow, PodsEvent, PodsPage, NodesPage } from '../../src/console/types.js';

export interface Page<R> {
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
  readonly rows: readonly R[];
}

export interface ListRules<R> {
  key(r: R): string;
  /** The server's sort order. */
  compare(a: R, b: R): number;
  /** Whether the row belongs to the list shown (its filters). */
  matches(r: R): boolean;
}

export function applyChanges<R, P extends Page<R>>(page: P, upserted: readonly R[], deletedKeys: readonly string[], deletedMatched: (key: string) => boolean, rules: ListRules<R>): P {
  let rows = [...page.rows];
  let total = page.total;
  const indexOf = (k: string) => rows.findIndex((r) => rules.key(r) === k);
  for (const k of deletedKeys) {
    const i = indexOf(k);
    if (i >= 0) {
      rows.splice(i, 1);
      total--;
    } else if (deletedMatched(k)) {
      // Gone from another page of this list: the total shrinks all the same.
      total--;
    }
  }
  for (const r of upserted) {
    const i = indexOf(rules.key(r));
    if (!rules.matches(r)) {
      if (i >= 0) {
        rows.splice(i, 1);
        total--;
      }
      continue;
    }
    if (i >= 0) {
      rows[i] = r;
      continue;
    }
    const first = rows[0];
    const last = rows[rows.length - 1];
    const afterStart = page.offset === 0 || (first !== undefined && rules.compare(r, first) > 0);
    const beforeEnd = rows.length < page.limit || (last !== undefined && rules.compare(r, last) < 0);
    if (afterStart && beforeEnd) {
      const at = rows.findIndex((x) => rules.compare(r, x) < 0);
      rows.splice(at < 0 ? rows.length : at, 0, r);
      total++;
    }
  }
  if (rows.length > page.limit) rows = rows.slice(0, page.limit);
  return { ...page, rows, total: Math.max(total, page.offset + rows.length) };
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export interface PodFilter {
  /** Only this node's pods (undefined: any node). */
  readonly node?: string | undefined;
  /** Exact namespace. */
  readonly namespace?: string | undefined;
  /** Substring of `namespace/name`, case-insensitive. */
  readonly q?: string | undefined;
}

export const podKey = (p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`;

export function podMatches(p: { namespace: string; name: string; node: string }, f: PodFilter): boolean {
  if (f.node !== undefined && p.node !== f.node) return false;
  if (f.namespace && p.namespace !== f.namespace) return false;
  if (f.q && !podKey(p).toLowerCase().includes(f.q.toLowerCase())) return false;
  return true;
}

export function applyPodsEvent(page: PodsPage, ev: PodsEvent, filter: PodFilter): PodsPage {
  const gone = new Map(ev.deleted.map((d) => [podKey(d), d]));
  return applyChanges<PodRow, PodsPage>(page, ev.upserted, [...gone.keys()], (k) => podMatches(gone.get(k)!, filter), {
    key: podKey,
    compare: (a, b) => byString(a.namespace, b.namespace) || byString(a.name, b.name),
    matches: (p) => podMatches(p, filter),
  });
}

/** `q`: substring of the node name, case-insensitive. */
export function applyNodesEvent(page: NodesPage, ev: NodesEvent, q: string): NodesPage {
  const matches = (name: string) => !q || name.toLowerCase().includes(q.toLowerCase());
  return applyChanges<NodeRow, NodesPage>(page, ev.rows, ev.deleted, matches, {
    key: (n) => n.name,
    compare: (a, b) => byString(a.name, b.name),
    matches: (n) => matches(n.name),
  });
}
