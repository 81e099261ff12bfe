/**
 * The console API's data answers (issue 12): pure functions of the cluster view, the counts index, the
 * node agent reports and the query. Lists are sorted and paged; a page of a node's pods holds only the
 * pods whose `spec.nodeName` is that node (the view's index by node: the seed's bug, every node showing
 * every pod, cannot come back by construction).
 */
import type { NodeAgentRecord } from '../agentapi/nodeAgentReport.js';
import type { ClusterView, PodView } from '../clusterview/types.js';
import { ENABLED_LABEL } from '../config/index.js';
import { classifyPod, explainPod, injectionOf } from './injection.js';
import { nodeAgentInfo, isFailing } from './nodeAgents.js';
import type { PodIndex } from './podIndex.js';
import { CONSOLE_PAGE_DEFAULT, CONSOLE_PAGE_MAX, type NodeRow, type NodesPage, type PodDetail, type PodRow, type PodsPage } from './types.js';

export interface ConsoleData {
  readonly view: ClusterView;
  readonly index: PodIndex;
  /** The latest node agent reports, by node. */
  readonly nodeAgents: () => ReadonlyMap<string, NodeAgentRecord>;
}

/** Thrown for a query parameter that is not what it should be: a 400 naming it. */
export class BadQuery extends Error {
  override name = 'BadQuery';
}

export interface Paging {
  readonly offset: number;
  readonly limit: number;
}

function intParam(params: URLSearchParams, name: string, def: number, max: number): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return def;
  if (!/^\d{1,9}$/.test(raw)) throw new BadQuery(`query parameter ${name}=${JSON.stringify(raw)} is not a whole number`);
  return Math.min(Number(raw), max);
}

export function pagingOf(params: URLSearchParams): Paging {
  const limit = intParam(params, 'limit', CONSOLE_PAGE_DEFAULT, CONSOLE_PAGE_MAX);
  return { offset: intParam(params, 'offset', 0, Number.MAX_SAFE_INTEGER), limit: limit === 0 ? CONSOLE_PAGE_DEFAULT : limit };
}

function boolParam(params: URLSearchParams, name: string): boolean | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new BadQuery(`query parameter ${name}=${JSON.stringify(raw)} must be true or false`);
}

// ---------------------------------------------------------------------------------------------------
// Sorting and paging without sorting everything: a page near the start of 150,000 pods keeps only
// offset+limit candidates (a bounded heap), not a sorted copy of all.

/** The first `k` of `items` in `cmp` order. */
export function firstK<T>(items: Iterable<T>, k: number, cmp: (a: T, b: T) => number): T[] {
  if (k <= 0) return [];
  // A max-heap of the k smallest seen so far: its top is the one to drop.
  const heap: T[] = [];
  const up = (i: number): void => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (cmp(heap[i] as T, heap[p] as T) <= 0) return;
      [heap[i], heap[p]] = [heap[p] as T, heap[i] as T];
      i = p;
    }
  };
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && cmp(heap[l] as T, heap[m] as T) > 0) m = l;
      if (r < heap.length && cmp(heap[r] as T, heap[m] as T) > 0) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m] as T, heap[i] as T];
      i = m;
    }
  };
  for (const item of items) {
    if (heap.length < k) {
      heap.push(item);
      up(heap.length - 1);
    } else if (cmp(item, heap[0] as T) < 0) {
      heap[0] = item;
      down(0);
    }
  }
  return heap.sort(cmp);
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
export const byNamespaceThenName = (a: PodView, b: PodView): number => byString(a.namespace, b.namespace) || byString(a.name, b.name);

/** Filters `items`, counts the matches, and returns the page in order. */
function pageOf<T>(items: Iterable<T>, match: (t: T) => boolean, cmp: (a: T, b: T) => number, paging: Paging): { total: number; rows: T[] } {
  let total = 0;
  const matched = function* (): Generator<T> {
    for (const t of items) {
      if (!match(t)) continue;
      total++;
      yield t;
    }
  };
  const first = firstK(matched(), paging.offset + paging.limit, cmp);
  return { total, rows: first.slice(paging.offset) };
}

// ---------------------------------------------------------------------------------------------------
// Rows

export function podRow(pod: PodView, data: ConsoleData): PodRow {
  const reason = classifyPod(pod, data.index.context());
  const f = injectionOf(pod);
  return {
    namespace: pod.namespace,
    name: pod.name,
    uid: pod.uid,
    node: pod.node,
    phase: pod.phase,
    injected: reason === 'injected',
    reason,
    ...(f.config && f.mode ? { mode: f.mode } : {}),
    ...(f.libraries.length ? { libraries: f.libraries } : {}),
    ...(pod.createdS !== undefined ? { createdAt: new Date(pod.createdS * 1000).toISOString() } : {}),
  };
}

export function nodeRow(name: string, data: ConsoleData): NodeRow {
  const c = data.index.countsOf(name);
  const report = data.nodeAgents().get(name);
  return {
    name,
    known: data.view.hasNode(name),
    pods: c.pods,
    injected: c.injected,
    missed: c.missed,
    ...(report ? { agent: nodeAgentInfo(report) } : {}),
  };
}

/** A node the console can show: a Node object, or pods naming it. */
export const nodeExists = (name: string, data: ConsoleData): boolean => data.view.hasNode(name) || data.view.podCountOfNode(name) > 0;

// ---------------------------------------------------------------------------------------------------
// Pages

/** `GET nodes?q=&agent=present|missing|failing&offset=&limit=`. */
export function nodesPage(data: ConsoleData, params: URLSearchParams): NodesPage {
  const paging = pagingOf(params);
  const q = (params.get('q') ?? '').trim().toLowerCase();
  const agent = params.get('agent') ?? '';
  if (agent !== '' && agent !== 'present' && agent !== 'missing' && agent !== 'failing') throw new BadQuery(`query parameter agent=${JSON.stringify(agent)} must be present, missing or failing`);
  const reports = data.nodeAgents();
  const match = (n: string): boolean => {
    if (q && !n.toLowerCase().includes(q)) return false;
    if (agent === 'present') return reports.has(n);
    if (agent === 'missing') return !reports.has(n);
    if (agent === 'failing') {
      const r = reports.get(n);
      return r !== undefined && isFailing(r);
    }
    return true;
  };
  const { total, rows } = pageOf(data.view.nodes(), match, byString, paging);
  return { total, offset: paging.offset, limit: paging.limit, rows: rows.map((n) => nodeRow(n, data)) };
}

interface PodFilter {
  readonly q: string;
  readonly namespace: string | undefined;
  readonly injected: boolean | undefined;
}

function podFilterOf(params: URLSearchParams): PodFilter {
  const ns = params.get('namespace');
  return { q: (params.get('q') ?? '').trim().toLowerCase(), namespace: ns === null || ns === '' ? undefined : ns, injected: boolParam(params, 'injected') };
}

function podMatcher(f: PodFilter, data: ConsoleData): (p: PodView) => boolean {
  const slash = f.q.indexOf('/');
  return (p) => {
    if (f.namespace !== undefined && p.namespace !== f.namespace) return false;
    if (f.q) {
      const hit = slash < 0 ? p.name.includes(f.q) || p.namespace.includes(f.q) : `${p.namespace}/${p.name}`.includes(f.q);
      if (!hit) return false;
    }
    if (f.injected !== undefined && (classifyPod(p, data.index.context()) === 'injected') !== f.injected) return false;
    return true;
  };
}

/** `GET nodes/{node}/pods`: the pods whose `spec.nodeName` is `node`, and no other. */
export function nodePodsPage(data: ConsoleData, node: string, params: URLSearchParams): PodsPage {
  const paging = pagingOf(params);
  const match = podMatcher(podFilterOf(params), data);
  // Checked again per pod, although the index is by node: the one property this page must never lose.
  const { total, rows } = pageOf(data.view.podsOfNode(node), (p) => p.node === node && match(p), byNamespaceThenName, paging);
  return { total, offset: paging.offset, limit: paging.limit, node, rows: rows.map((p) => podRow(p, data)) };
}

/** `GET pods?node=&namespace=&q=&injected=`: across the cluster; `node=` (present, empty) means unscheduled. */
export function podsPage(data: ConsoleData, params: URLSearchParams): PodsPage {
  const node = params.get('node');
  if (node !== null && node !== '') return nodePodsPage(data, node, params);
  const paging = pagingOf(params);
  const match = podMatcher(podFilterOf(params), data);
  const unscheduledOnly = node === '';
  const { total, rows } = pageOf(data.view.allPods(), (p) => (!unscheduledOnly || p.node === '') && match(p), byNamespaceThenName, paging);
  return { total, offset: paging.offset, limit: paging.limit, ...(unscheduledOnly ? { node: '' } : {}), rows: rows.map((p) => podRow(p, data)) };
}

/** `GET pods/{ns}/{name}`. */
export function podDetail(data: ConsoleData, namespace: string, name: string, tagsOf: (view: ClusterView, pod: PodView) => string[]): PodDetail | undefined {
  const pod = data.view.pod(namespace, name);
  if (!pod) return undefined;
  const row = podRow(pod, data);
  const ctx = data.index.context();
  const { explanation, fix } = explainPod(pod, row.reason, ctx, data.view);
  const f = injectionOf(pod);
  const w = data.view.workloadOf(pod);
  const label = pod.labels[ENABLED_LABEL];
  return {
    ...row,
    explanation,
    ...(fix ? { fix } : {}),
    injection: { config: f.config, ...(f.mode ? { mode: f.mode } : {}), tags: f.tags, libraries: f.libraries },
    ...(pod.owner ? { owner: { kind: pod.owner.kind, name: pod.owner.name } } : {}),
    ...(w ? { workload: { kind: w.kind, name: w.name } } : {}),
    ...(label !== undefined ? { enabledLabel: label } : {}),
    tags: tagsOf(data.view, pod),
  };
}

