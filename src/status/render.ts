/**
 * `tether status` as text. The Admission Controller section is the seeds' `agent status` format line for
 * line (indentation, labels, Go's forms of selectors and slices), so that every troubleshooting step of
 * the seed reads the same on Tether; the other sections follow the cluster agent's status layout.
 */
import { formatDuration } from '../format/duration.js';
import { goSlice } from './selector.js';
import type { AdmissionStatus, ClusterAgentApiStatus, LeaderElectionStatus, NodeAgentsStatus, StatusReport, UpstreamResult, WebhookEntryStatus } from './types.js';

const title = (t: string): string[] => [t, '='.repeat(t.length)];

function entryLines(e: WebhookEntryStatus): string[] {
  const pad = '        ';
  const lines = [`      ---------`, `${pad}Name: ${e.name}`, `${pad}CA bundle digest: ${e.caBundleDigest}`];
  // The agent prints an entry's fields in its map's (sorted) key order: the namespace selector, when
  // there is one, comes before the object selector.
  if (e.namespaceSelector !== undefined) lines.push(`${pad}Namespace selector: ${e.namespaceSelector}`);
  lines.push(`${pad}Object selector: ${e.objectSelector}`);
  e.rules.forEach((r, i) =>
    lines.push(`${pad}Rule ${i + 1}: Operations: ${goSlice(r.operations)} - APIGroups: ${goSlice(r.apiGroups)} - APIVersions: ${goSlice(r.apiVersions)} - Resources: ${goSlice(r.resources)}`),
  );
  if (e.service) lines.push(`${pad}Service: ${e.service.namespace}/${e.service.name} - Port: ${e.service.port} - Path: ${e.service.path}`);
  if (e.url !== undefined) lines.push(`${pad}URL: ${e.url}`);
  // Not in the seed's output (it has no such entry): says why config, tags and auto.instrumentation are absent.
  if (e.single) lines.push(`${pad}Webhooks: every enabled one (config, tags, auto.instrumentation) in one call per pod`);
  return lines;
}

export function renderAdmission(a: AdmissionStatus): string[] {
  const lines = [...title('Admission Controller'), '', '    Webhooks info', '    -------------'];
  const w = a.webhook;
  if (w.found) {
    lines.push(`      MutatingWebhookConfigurations name: ${w.name}`, `      Created at: ${w.createdAt}`);
    for (const e of w.entries) lines.push(...entryLines(e));
  } else {
    lines.push(`      Error: ${w.error}`);
  }
  lines.push('', '    Secret info', '    -----------');
  const s = a.secret;
  if (s.found) {
    lines.push(
      `    Secret name: ${s.name}`,
      `    Secret namespace: ${s.namespace}`,
      `    Created at: ${s.createdAt}`,
      `    CA bundle digest: ${s.caBundleDigest}`,
      `    Duration before certificate expiration: ${s.durationBeforeExpiration}`,
    );
  } else {
    lines.push(`    Error: ${s.error}`);
  }
  return lines;
}

export function renderLeaderElection(l: LeaderElectionStatus): string[] {
  const lines = [...title('Leader Election'), `  Leader Election Status:  ${l.state}`];
  if (l.error !== undefined) return [...lines, `  Error: ${l.error}`];
  lines.push(`  Lease: ${l.lease}`);
  lines.push(`  Leader Name is: ${l.holderIdentity ?? '(none: the last leader released the Lease)'}`);
  if (l.acquireTime !== undefined) lines.push(`  Last Acquisition of the lease: ${l.acquireTime}`);
  if (l.renewTime !== undefined) lines.push(`  Renewed leadership: ${l.renewTime}`);
  lines.push(`  Number of leader transitions: ${l.transitions ?? 0} transitions`);
  return lines;
}

export function renderClusterAgentApi(c: ClusterAgentApiStatus): string[] {
  const lines = title('Cluster Agent API');
  lines.push(c.serviceFound ? `  Service: ${c.service} - Port: ${c.ports.join(', ')}` : `  Service: ${c.service} not found`);
  if (c.serviceFound) lines.push(`  Endpoints: ${c.readyEndpoints} ready, ${c.notReadyEndpoints} not ready`);
  lines.push(c.caConfigMapFound ? `  CA ConfigMap: ${c.caConfigMap}` : `  CA ConfigMap: ${c.caConfigMap} not found`);
  if (c.caBundleDigest !== undefined) lines.push(`  CA bundle digest: ${c.caBundleDigest}`);
  for (const e of c.errors) lines.push(`  Error: ${e}`);
  return lines;
}

const upstreamText = (u: UpstreamResult | undefined): string =>
  u === undefined ? 'not reported' : `${u.state}${u.code !== undefined ? ` (${u.code})` : ''}${u.summary !== undefined ? `: ${u.summary}` : ''}`;

function ago(lastSeen: string, at: string): string {
  const ms = Date.parse(at) - Date.parse(lastSeen);
  if (Number.isNaN(ms)) return lastSeen;
  // Whole seconds: a report is at most as fresh as its sync interval.
  return `${lastSeen} (${formatDuration(Math.max(0, Math.round(ms / 1000) * 1000))} ago)`;
}

export function renderNodeAgents(n: NodeAgentsStatus, at: string): string[] {
  const lines = title('Node Agents');
  if (n.error !== undefined) return [...lines, `  Error: ${n.error}`];
  if (!n.found) return [...lines, `  no node agent has reported (ConfigMap ${n.configMap} not found)`];
  if (n.nodes.length === 0) return [...lines, `  no node agent has reported (ConfigMap ${n.configMap} is empty)`];
  for (const r of n.nodes) {
    lines.push('  ---------', `    Node: ${r.node}`);
    if (r.error !== undefined) {
      lines.push(`    Error: cannot read its report: ${r.error}`);
      continue;
    }
    lines.push(`    Last seen: ${r.lastSeen !== undefined ? ago(r.lastSeen, at) : 'unknown'}`);
    lines.push(`    Kubelet: ${upstreamText(r.kubelet)}`);
    lines.push(`    Cluster agent: ${upstreamText(r.clusterAgent)}`);
  }
  return lines;
}

/** The whole report: sections separated by an empty line, ending with a newline. */
export function renderStatus(r: StatusReport): string {
  const sections = [renderAdmission(r.admissionController), renderLeaderElection(r.leaderElection), renderClusterAgentApi(r.clusterAgentApi), renderNodeAgents(r.nodeAgents, r.at)];
  return sections.map((s) => s.join('\n')).join('\n\n') + '\n';
}
