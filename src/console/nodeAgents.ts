/**
 * A node agent's last report (ConfigMap datadog-node-agents, `agentapi/nodeAgentReport.ts`) as the
 * console shows it: each upstream's result with the fix `tether diagnose` gives for it (checks
 * `node-agent-kubelet-rbac`, `cluster-agent-token`). Pure.
 */
import type { NodeAgentRecord } from '../agentapi/nodeAgentReport.js';
import { NODE_AGENT_REPORT_STALE_MS } from '../config/limits.js';
import { KUBELET_READER_RESOURCES } from '../kube/kubeletRbac.js';
import type { NodeAgentInfo, NodeAgentsSummary, UpstreamInfo } from './types.js';

const KUBELET_FIXES: Readonly<Record<string, string>> = {
  unauthorized:
    "The kubelet does not accept the node agent's token: check that the node agent sends its pod's service-account token (kubelet_auth_token_path, DD_KUBELET_AUTH_TOKEN_PATH) and that the kubelet runs with --authentication-token-webhook (tether diagnose --check node-agent-kubelet-rbac).",
  forbidden: `Grant the node agents' service account get on ${KUBELET_READER_RESOURCES.join(', ')} (deploy/node-agent.yaml's ClusterRole and binding; tether diagnose --check node-agent-kubelet-rbac).`,
  'tls-unknown-ca':
    "The kubelet's certificate is not signed by the CA the node agent verifies with: set kubelet_client_ca (DD_KUBELET_CLIENT_CA) to the kubelet's CA, or kubelet_tls_verify false where kubelets serve self-signed certificates.",
  'tls-handshake': "Nothing speaks TLS at the kubelet's address: check kubernetes_https_kubelet_port (10250) and kubernetes_kubelet_host (the downward API's status.hostIP).",
  unreachable: "Nothing answers at the kubelet's address: check kubernetes_kubelet_host (status.hostIP), the port, and NetworkPolicies or host firewalls between the pod and its node.",
  'token-missing': "The node agent has no token file: mount the service-account token (automountServiceAccountToken not false) at kubelet_auth_token_path.",
};

const CLUSTER_AGENT_FIXES: Readonly<Record<string, string>> = {
  unauthorized:
    'The node agent sends no bearer token: set DD_CLUSTER_AGENT_AUTH_TOKEN on the node agents from the same Secret as the cluster agent (tether diagnose --check cluster-agent-token).',
  forbidden:
    "The node agent's token differs from the cluster agent's: both must read the same Secret (datadog-cluster-agent, key token); restart both after it changes (tether diagnose --check cluster-agent-token).",
};

function upstream(r: { state: string; code?: string; status?: number; summary?: string }, fixes: Readonly<Record<string, string>>): UpstreamInfo {
  const state = r.state === 'ok' || r.state === 'failing' ? r.state : 'unknown';
  const fix = state === 'failing' && r.code !== undefined ? fixes[r.code] : undefined;
  return {
    state,
    ...(r.code !== undefined ? { code: r.code } : {}),
    ...(r.status !== undefined ? { status: r.status } : {}),
    ...(r.summary !== undefined ? { summary: r.summary } : {}),
    ...(fix ? { fix } : {}),
  };
}

export function nodeAgentInfo(r: NodeAgentRecord): NodeAgentInfo {
  return { lastSeen: r.lastSeen, kubelet: upstream(r.kubelet, KUBELET_FIXES), clusterAgent: upstream(r.clusterAgent, CLUSTER_AGENT_FIXES) };
}

export const isFailing = (r: NodeAgentRecord): boolean => r.kubelet.state === 'failing' || r.clusterAgent.state === 'failing';

/** Reports seen within `NODE_AGENT_REPORT_STALE_MS` count as reporting; `nodes` are the nodes the state knows. */
export function nodeAgentsSummary(reports: ReadonlyMap<string, NodeAgentRecord>, nodes: Iterable<string>, nowMs: number): NodeAgentsSummary {
  let reporting = 0;
  let failing = 0;
  let missing = 0;
  for (const node of nodes) {
    const r = reports.get(node);
    if (!r || nowMs - Date.parse(r.lastSeen) > NODE_AGENT_REPORT_STALE_MS) {
      missing++;
      continue;
    }
    reporting++;
    if (isFailing(r)) failing++;
  }
  return { reporting, failing, missing };
}
