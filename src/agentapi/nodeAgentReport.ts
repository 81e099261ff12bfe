/**
 * What a node agent last saw of its kubelet, and what the cluster agent last answered it (issue 10): the
 * one place `tether status` and `diagnose` learn, cluster-side, that a node agent's kubelet says 401 or
 * 403, or that the cluster agent refuses its token.
 *
 * Two wire formats, shared by the node agent (sender), the cluster agent API (recorder) and the readers,
 * so none can drift:
 * - the header every node agent request carries, `X-Tether-Node-Agent:
 *   {"kubelet":{"state":"failing","code":"forbidden","status":403,"summary":"…"}}`: small JSON, ASCII
 *   only (non-ASCII is `\u`-escaped: header values are bytes), never a token (the summaries of
 *   nodeagent/kubeletProblems.ts name URLs, users and files, never credentials);
 * - one key per node in ConfigMap `datadog-node-agents`: `{"lastSeen":"…","kubelet":{"state",
 *   "code"?,"status"?,"summary"?},"clusterAgent":{"state","code"?,"status"?}}`.
 * Pure: parsing never throws (a malformed header or entry is "unknown"), and the merge of what several
 * replicas wrote is a function of its inputs.
 */
import { NODE_AGENT_REPORT_HEADER_MAX_BYTES, NODE_AGENT_REPORT_MAX_BYTES, NODE_AGENT_REPORT_SUMMARY_MAX_CHARS } from '../config/limits.js';

/** The request header (HTTP header names are case-insensitive; Node lower-cases them). */
export const NODE_AGENT_REPORT_HEADER = 'X-Tether-Node-Agent';

export type ReportedState = 'ok' | 'failing' | 'unknown';

/** The node agent's last kubelet result. `code` is a node agent problem code (nodeagent/problems.ts). */
export interface KubeletReport {
  readonly state: ReportedState;
  readonly code?: string;
  readonly status?: number;
  readonly summary?: string;
}

/**
 * What the cluster agent answered that node agent. Tether records only authenticated requests, so it
 * writes `ok`; a refusal (401 `unauthorized`, 403 `forbidden`) is still read, as replicas before issue 20
 * wrote it during a rolling upgrade (a refused request names whatever node its sender chose: it is
 * counted and logged, never recorded).
 */
export interface ClusterAgentAnswer {
  readonly state: 'ok' | 'failing';
  readonly code?: 'unauthorized' | 'forbidden';
  readonly status?: 401 | 403;
}

/** One ConfigMap entry. */
export interface NodeAgentRecord {
  /** ISO time of the request this records (to a refresh period: see `NODE_AGENT_REPORT_REFRESH_MS`). */
  readonly lastSeen: string;
  readonly kubelet: KubeletReport;
  readonly clusterAgent: ClusterAgentAnswer;
}

const STATES: ReadonlySet<string> = new Set(['ok', 'failing', 'unknown']);
const CODE = /^[a-z][a-z0-9-]{0,39}$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Any non-ASCII character as a JSON `\u` escape: the JSON means the same, and it is a valid header value. */
const asciiJson = (v: unknown): string => JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

const cut = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** A kubelet report as it may be sent and stored: known state, a code-shaped code, a short summary. */
export function normalizeKubeletReport(v: unknown): KubeletReport {
  if (!isObject(v) || typeof v.state !== 'string' || !STATES.has(v.state)) return { state: 'unknown' };
  const out: { state: ReportedState; code?: string; status?: number; summary?: string } = { state: v.state as ReportedState };
  if (v.state === 'failing') {
    if (typeof v.code === 'string' && CODE.test(v.code)) out.code = v.code;
    if (typeof v.status === 'number' && Number.isInteger(v.status) && v.status >= 100 && v.status <= 599) out.status = v.status;
    if (typeof v.summary === 'string' && v.summary !== '') out.summary = cut(v.summary.replace(/[\u0000-\u001f]+/g, ' '), NODE_AGENT_REPORT_SUMMARY_MAX_CHARS);
  }
  return out;
}

/** The header's value for the node agent's last kubelet result (the summary shortened until it fits). */
export function encodeNodeAgentHeader(kubelet: KubeletReport): string {
  let k = normalizeKubeletReport(kubelet);
  let value = asciiJson({ kubelet: k });
  while (value.length > NODE_AGENT_REPORT_HEADER_MAX_BYTES && k.summary) {
    k = { ...k, summary: cut(k.summary, Math.floor(k.summary.length / 2)) };
    value = asciiJson({ kubelet: k });
  }
  if (value.length > NODE_AGENT_REPORT_HEADER_MAX_BYTES) value = asciiJson({ kubelet: { state: k.state } });
  return value;
}

/** The kubelet report a request carries; `unknown` without the header (the stack's node agents) or when it is malformed. */
export function parseNodeAgentHeader(value: string | string[] | undefined): KubeletReport {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.length > NODE_AGENT_REPORT_HEADER_MAX_BYTES) return { state: 'unknown' };
  try {
    const parsed: unknown = JSON.parse(v);
    return isObject(parsed) ? normalizeKubeletReport(parsed.kubelet) : { state: 'unknown' };
  } catch {
    return { state: 'unknown' };
  }
}

function normalizeAnswer(v: unknown): ClusterAgentAnswer | undefined {
  if (!isObject(v)) return undefined;
  if (v.state === 'ok') return { state: 'ok' };
  if (v.state !== 'failing') return undefined;
  if (v.code === 'unauthorized' || v.status === 401) return { state: 'failing', code: 'unauthorized', status: 401 };
  if (v.code === 'forbidden' || v.status === 403) return { state: 'failing', code: 'forbidden', status: 403 };
  return { state: 'failing' };
}

/** One ConfigMap value, or undefined when it is not one (written by hand, by another version). */
export function parseNodeAgentRecord(text: string): NodeAgentRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(v) || typeof v.lastSeen !== 'string' || Number.isNaN(Date.parse(v.lastSeen))) return undefined;
  const clusterAgent = normalizeAnswer(v.clusterAgent);
  return clusterAgent ? { lastSeen: v.lastSeen, kubelet: normalizeKubeletReport(v.kubelet), clusterAgent } : undefined;
}

export const encodeNodeAgentRecord = (r: NodeAgentRecord): string => asciiJson(r);

/** Every parseable entry of the ConfigMap's data, by node. */
export function parseNodeAgentRecords(data: Readonly<Record<string, string>> | undefined): Map<string, NodeAgentRecord> {
  const out = new Map<string, NodeAgentRecord>();
  for (const [node, text] of Object.entries(data ?? {})) {
    const r = parseNodeAgentRecord(text);
    if (r) out.set(node, r);
  }
  return out;
}

/** Same state, code, status, summary and answer: a rewrite would only move `lastSeen`. */
export function sameReport(a: NodeAgentRecord, b: NodeAgentRecord): boolean {
  return (
    a.kubelet.state === b.kubelet.state &&
    a.kubelet.code === b.kubelet.code &&
    a.kubelet.status === b.kubelet.status &&
    a.kubelet.summary === b.kubelet.summary &&
    a.clusterAgent.state === b.clusterAgent.state &&
    a.clusterAgent.code === b.clusterAgent.code
  );
}

/**
 * The ConfigMap changes that put `mine` (this replica's newest records) over `current` (what all
 * replicas wrote): a record replaces the stored one only when it is newer (the node agent may have moved
 * to another replica since); records older than `retainAfterMs` (epoch ms) are removed; and the whole
 * stays under `maxBytes`, dropping the summaries of the oldest records first, then the oldest records.
 * Returns no changes when there is nothing to write.
 */
export function mergeNodeAgentRecords(
  current: Readonly<Record<string, string>> | undefined,
  mine: ReadonlyMap<string, NodeAgentRecord>,
  retainAfterMs: number,
  maxBytes = NODE_AGENT_REPORT_MAX_BYTES,
): Record<string, string | null> {
  const merged = new Map<string, NodeAgentRecord>();
  const changes: Record<string, string | null> = {};
  for (const [node, text] of Object.entries(current ?? {})) {
    const r = parseNodeAgentRecord(text);
    // Unreadable entries and reports of nodes gone for long are removed.
    if (!r || Date.parse(r.lastSeen) < retainAfterMs) changes[node] = null;
    else merged.set(node, r);
  }
  for (const [node, r] of mine) {
    const stored = merged.get(node);
    if (Date.parse(r.lastSeen) < retainAfterMs) continue;
    if (stored && Date.parse(stored.lastSeen) >= Date.parse(r.lastSeen)) continue;
    merged.set(node, r);
    changes[node] = encodeNodeAgentRecord(r);
  }

  const size = () => [...merged].reduce((n, [node, r]) => n + node.length + encodeNodeAgentRecord(r).length + 8, 0);
  let total = size();
  if (total > maxBytes) {
    const oldestFirst = [...merged.keys()].sort((a, b) => Date.parse(merged.get(a)!.lastSeen) - Date.parse(merged.get(b)!.lastSeen));
    for (const node of oldestFirst) {
      if (total <= maxBytes) break;
      const r = merged.get(node)!;
      if (r.kubelet.summary === undefined) continue;
      const { summary: _dropped, ...kubelet } = r.kubelet;
      const slim = { ...r, kubelet };
      total -= encodeNodeAgentRecord(r).length - encodeNodeAgentRecord(slim).length;
      merged.set(node, slim);
      changes[node] = encodeNodeAgentRecord(slim);
    }
    for (const node of oldestFirst) {
      if (total <= maxBytes) break;
      total -= node.length + encodeNodeAgentRecord(merged.get(node)!).length + 8;
      merged.delete(node);
      changes[node] = null;
    }
  }
  // A removal of a key that is not there is no change.
  for (const [node, v] of Object.entries(changes)) if (v === null && current?.[node] === undefined) delete changes[node];
  return changes;
}
