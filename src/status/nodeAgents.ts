/**
 * The "Node Agents" section: each node agent's last kubelet and cluster-agent result, as the cluster
 * agent keeps them in a ConfigMap (one data key per node; value
 * `{"lastSeen","kubelet":{"state","code"?,"summary"?},"clusterAgent":{...}}`). Pure, and tolerant: the
 * ConfigMap may not exist (no node agent reported, or a cluster agent that does not keep it), and one
 * malformed report is shown as such without hiding the others.
 */
import type { ConfigMap, Read } from './objects.js';
import type { NodeAgentReport, NodeAgentsStatus, UpstreamResult } from './types.js';

/**
 * The ConfigMap, in Tether's namespace. NOTE for the merge: the cluster agent side that writes it is
 * another helper's; this name must be that one's (move it to config/conventions.ts then).
 */
import { NODE_AGENTS_CONFIGMAP } from '../config/index.js';

export { NODE_AGENTS_CONFIGMAP };

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function upstream(v: unknown): UpstreamResult | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const state = str(o['state']);
  if (state === undefined) return undefined;
  const code = str(o['code']);
  const summary = str(o['summary']);
  return { state, ...(code !== undefined ? { code } : {}), ...(summary !== undefined ? { summary } : {}) };
}

export function parseNodeAgentReport(node: string, value: string): NodeAgentReport {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (e) {
    return { node, error: `not JSON: ${(e as Error).message}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { node, error: 'not a JSON object' };
  const o = parsed as Record<string, unknown>;
  const lastSeen = str(o['lastSeen']);
  const kubelet = upstream(o['kubelet']);
  const clusterAgent = upstream(o['clusterAgent']);
  return { node, ...(lastSeen !== undefined ? { lastSeen } : {}), ...(kubelet ? { kubelet } : {}), ...(clusterAgent ? { clusterAgent } : {}) };
}

export function nodeAgentsStatus(namespace: string, read: Read<ConfigMap>, name = NODE_AGENTS_CONFIGMAP): NodeAgentsStatus {
  const configMap = `${namespace}/${name}`;
  if (!read.ok) return { configMap, found: false, nodes: [], error: read.error };
  if (!read.value) return { configMap, found: false, nodes: [] };
  const data = read.value.data ?? {};
  const nodes = Object.keys(data)
    .sort()
    .map((node) => parseNodeAgentReport(node, data[node] ?? ''));
  return { configMap, found: true, nodes };
}
