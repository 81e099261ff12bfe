/**
 * `cluster-agent-token` (issue 10, check 1; the first seed): the token node agents present to the
 * cluster agent API. Found: a token under 32 characters (the stack's node agents refuse it: "cluster
 * agent authentication token length must be greater than 32, currently: 30"); node agents configured
 * with another token than the cluster agent's (every request gets 403 `invalid session token`); the
 * Secret changed after the pods started (each agent reads the token only at start, so the two can hold
 * different tokens until both restart); and node agents the cluster agent API recorded refusing (403:
 * another token; 401: no token). A token is never shown: only its length and a SHA-256 prefix.
 */
import { AUTH_TOKEN_MIN_LENGTH, CLUSTER_AGENT_DEPLOYMENT, NODE_AGENT_NAME, NODE_AGENTS_CONFIGMAP } from '../../config/index.js';
import { NODE_AGENT_REPORT_STALE_MS } from '../../config/limits.js';
import type { NodeAgentRecord } from '../../agentapi/nodeAgentReport.js';
import { skipped, type Check, type CheckOutcome, type DiagnoseContext } from '../check.js';
import {
  describeToken,
  describeWorkload,
  podStarts,
  readClusterAgentDeployment,
  readNodeAgentDaemonSet,
  readNodeAgentReports,
  readSecretToken,
  tokenSourceOf,
  TOKEN_VAR,
  type AgentWorkload,
  type PodStart,
  type SecretSeen,
  type TokenSource,
} from '../agentWorkloads.js';
import { outcomeOf, type Finding } from '../findings.js';

export interface TokenSide {
  readonly workload: AgentWorkload;
  readonly source: TokenSource;
  /** The Secret's state, when the source is a Secret. */
  readonly secret?: SecretSeen;
  /** Pods running the container that holds the token. */
  readonly pods: readonly PodStart[];
}

export interface TokenFacts {
  readonly namespace: string;
  readonly clusterAgent?: TokenSide;
  readonly nodeAgents?: TokenSide;
  readonly reports: ReadonlyMap<string, NodeAgentRecord>;
  readonly now: Date;
}

const WHO: Record<AgentWorkload['kind'], string> = { Deployment: 'the cluster agent', DaemonSet: 'the node agents' };
const MAX_LISTED = 5;

function tokenOf(side: TokenSide | undefined): string | undefined {
  if (!side) return undefined;
  if (side.source.kind === 'value') return side.source.value;
  if (side.source.kind === 'secret') return side.secret?.token;
  return undefined;
}

function whereOf(side: TokenSide): string {
  const s = side.source;
  const of = `${TOKEN_VAR} of ${describeWorkload(side.workload)}`;
  switch (s.kind) {
    case 'value':
      return `${of} (container ${s.container}), a literal value`;
    case 'secret':
      return `${of} (container ${s.container}), from Secret ${side.workload.namespace}/${s.secret} key ${s.key}`;
    case 'other':
      return `${of} (container ${s.container}), from ${s.what}`;
    case 'none':
      return `${describeWorkload(side.workload)} sets no ${TOKEN_VAR}`;
  }
}

const listed = <T>(items: readonly T[], show: (t: T) => string): string =>
  items.slice(0, MAX_LISTED).map(show).join(', ') + (items.length > MAX_LISTED ? ` and ${items.length - MAX_LISTED} more` : '');

export function assessTokens(f: TokenFacts): CheckOutcome {
  const ns = f.namespace;
  const deployment = f.clusterAgent?.workload.name ?? CLUSTER_AGENT_DEPLOYMENT;
  const daemonSet = f.nodeAgents?.workload.name ?? NODE_AGENT_NAME;
  const restartBoth = `kubectl -n ${ns} rollout restart deployment/${deployment} && kubectl -n ${ns} rollout restart daemonset/${daemonSet}`;
  const secretRef = f.clusterAgent?.source.kind === 'secret' ? f.clusterAgent.source : f.nodeAgents?.source.kind === 'secret' ? f.nodeAgents.source : undefined;
  const secretName = secretRef?.secret ?? 'datadog-cluster-agent';
  const secretKey = secretRef?.key ?? 'token';
  const newToken = `kubectl -n ${ns} create secret generic ${secretName} --from-literal=${secretKey}="$(openssl rand -hex 32)" --dry-run=client -o yaml | kubectl apply -f -`;

  const context: string[] = [];
  const findings: Finding[] = [];

  for (const side of [f.clusterAgent, f.nodeAgents]) {
    if (!side) continue;
    const who = WHO[side.workload.kind];
    const where = whereOf(side);
    const token = tokenOf(side);
    context.push(`${who}: ${where}${token !== undefined ? `: ${describeToken(token)}` : ''}`);
    const s = side.source;
    if (s.kind === 'none') {
      // No token on the cluster agent only matters when node agents expect its API.
      if (side.workload.kind === 'DaemonSet' || f.nodeAgents) {
        findings.push({
          status: 'error',
          summary: `${where}: ${side.workload.kind === 'Deployment' ? 'its cluster agent API is off, so the node agents get no tags' : 'they cannot ask the cluster agent'}.`,
          evidence: [],
          fix: `Set ${TOKEN_VAR} from the Secret both agents read (valueFrom.secretKeyRef name ${secretName} key ${secretKey}, as deploy/cluster-agent.yaml and deploy/node-agent.yaml do), then restart both: ${restartBoth}.`,
        });
      }
      continue;
    }
    if (s.kind === 'secret' && side.secret && (!side.secret.exists || side.secret.token === undefined)) {
      const missing = side.secret.exists ? `Secret ${ns}/${s.secret} has no key ${s.key}` : `Secret ${ns}/${s.secret} does not exist`;
      findings.push({
        status: 'error',
        summary: `${missing}, and ${who} take${side.workload.kind === 'Deployment' ? 's' : ''} ${TOKEN_VAR} from it: ${s.optional ? 'the token is empty' : 'their pods cannot start (CreateContainerConfigError)'}.`,
        evidence: [where],
        fix: `Create it with a token of at least ${AUTH_TOKEN_MIN_LENGTH} characters: ${newToken}; then ${restartBoth}.`,
      });
      continue;
    }
    if (token !== undefined && token.length < AUTH_TOKEN_MIN_LENGTH) {
      findings.push({
        status: 'error',
        summary: `cluster agent authentication token length must be at least ${AUTH_TOKEN_MIN_LENGTH}, currently: ${token.length} (${where}).`,
        evidence: [`the stack's agents log: "cluster agent authentication token length must be greater than ${AUTH_TOKEN_MIN_LENGTH}, currently: ${token.length}"; Tether refuses to start with it`],
        fix:
          s.kind === 'value'
            ? `Move the token to a Secret of at least ${AUTH_TOKEN_MIN_LENGTH} characters (${newToken}) and set ${TOKEN_VAR} of both agents from it (valueFrom.secretKeyRef, as deploy/ does), then restart both: ${restartBoth}.`
            : `Put a token of at least ${AUTH_TOKEN_MIN_LENGTH} characters in the Secret (${newToken}), then restart both agents, which read it only at start: ${restartBoth}.`,
      });
    }
  }

  const caToken = tokenOf(f.clusterAgent);
  const naToken = tokenOf(f.nodeAgents);
  if (f.clusterAgent && f.nodeAgents && caToken !== undefined && naToken !== undefined && caToken !== naToken) {
    findings.push({
      status: 'error',
      summary: `the node agents use another token than the cluster agent: every node agent request gets 403 "invalid session token".`,
      evidence: [`cluster agent: ${whereOf(f.clusterAgent)}: ${describeToken(caToken)}`, `node agents: ${whereOf(f.nodeAgents)}: ${describeToken(naToken)}`],
      fix:
        f.clusterAgent.source.kind === 'secret'
          ? `Set ${TOKEN_VAR} of DaemonSet ${ns}/${daemonSet} from the cluster agent's Secret (valueFrom.secretKeyRef name ${f.clusterAgent.source.secret} key ${f.clusterAgent.source.key}, as deploy/node-agent.yaml does), then restart both: ${restartBoth}.`
          : `Keep the token in one Secret (${newToken}) and set ${TOKEN_VAR} of both agents from it (valueFrom.secretKeyRef), then restart both: ${restartBoth}.`,
    });
  }

  // The Secret changed after pods started: they hold the token it had then.
  const bySecret = new Map<string, { changedAt: Date; stale: string[] }>();
  for (const side of [f.clusterAgent, f.nodeAgents]) {
    if (!side || side.source.kind !== 'secret' || !side.secret?.changedAt) continue;
    const changedAt = side.secret.changedAt;
    const stale = side.pods.filter((p) => p.startedAt.getTime() < changedAt.getTime());
    if (stale.length === 0) continue;
    const entry = bySecret.get(side.source.secret) ?? { changedAt, stale: [] };
    entry.stale.push(`${WHO[side.workload.kind]}: ${stale.length} of ${side.pods.length} pods started before (${listed(stale, (p) => `${p.name} at ${p.startedAt.toISOString()}`)})`);
    bySecret.set(side.source.secret, entry);
  }
  for (const [secret, { changedAt, stale }] of bySecret) {
    findings.push({
      status: 'warning',
      summary: `Secret ${ns}/${secret} changed at ${changedAt.toISOString()}, after pods that read ${TOKEN_VAR} from it started: they still hold the token it had then, so the two agents may not agree.`,
      evidence: stale,
      fix: `Restart both agents so that every pod reads the current token: ${restartBoth}.`,
    });
  }

  // What the cluster agent API answered node agents lately.
  const fresh = [...f.reports].filter(([, r]) => f.now.getTime() - Date.parse(r.lastSeen) <= NODE_AGENT_REPORT_STALE_MS);
  if (f.reports.size > 0) context.push(`node agent reports (ConfigMap ${ns}/${NODE_AGENTS_CONFIGMAP}): ${f.reports.size} nodes, ${fresh.length} seen in the last ${NODE_AGENT_REPORT_STALE_MS / 60_000} minutes`);
  const refused = (code: 'forbidden' | 'unauthorized') => fresh.filter(([, r]) => r.clusterAgent.code === code);
  const forbidden = refused('forbidden');
  if (forbidden.length > 0) {
    findings.push({
      status: 'error',
      summary: `the cluster agent API refused the node agents of ${forbidden.length} ${forbidden.length === 1 ? 'node' : 'nodes'} with 403 "invalid session token": their token differs from the cluster agent's.`,
      evidence: forbidden.map(([node, r]) => `node ${node}: 403 at ${r.lastSeen}`),
      fix: `Both agents must read the same Secret (${TOKEN_VAR} from Secret ${secretName} key ${secretKey}), and each keeps the token it started with: after the Secret changed, restart both: ${restartBoth}.`,
    });
  }
  const unauthorized = refused('unauthorized');
  if (unauthorized.length > 0) {
    findings.push({
      status: 'error',
      summary: `the cluster agent API refused the node agents of ${unauthorized.length} ${unauthorized.length === 1 ? 'node' : 'nodes'} with 401 "no session token provided": they send no bearer token.`,
      evidence: unauthorized.map(([node, r]) => `node ${node}: 401 at ${r.lastSeen}`),
      fix: `Set ${TOKEN_VAR} of DaemonSet ${ns}/${daemonSet} from Secret ${secretName} key ${secretKey}; if it is set, something between the agents (a proxy, a mesh sidecar) drops the Authorization header: connect to the cluster agent's Service directly.`,
    });
  }

  const okSummary =
    caToken !== undefined && naToken !== undefined
      ? `both agents use the same token (${caToken.length} characters), read before their pods started`
      : caToken !== undefined
        ? `the cluster agent's token is ${caToken.length} characters`
        : 'no problem with the cluster agent token';
  return outcomeOf(findings, okSummary, context);
}

async function sideOf(ctx: DiagnoseContext, workload: AgentWorkload | undefined): Promise<TokenSide | undefined> {
  if (!workload) return undefined;
  const source = tokenSourceOf(workload.podSpec);
  const secret = source.kind === 'secret' ? await readSecretToken(ctx.kube, workload.namespace, source.secret, source.key, ctx.signal) : undefined;
  const pods = source.kind === 'none' ? [] : await podStarts(ctx.kube, workload, source.container, ctx.signal);
  return { workload, source, ...(secret ? { secret } : {}), pods };
}

export const clusterAgentToken: Check = {
  name: 'cluster-agent-token',
  finds:
    'A cluster agent auth token shorter than 32 characters; node agents using another token than the cluster agent (403 "invalid session token"); the token Secret changed after the pods started; node agents the cluster agent API refused (401/403).',
  fixes: `A token of at least ${AUTH_TOKEN_MIN_LENGTH} characters in one Secret that both agents read (${TOKEN_VAR} from secretKeyRef), then a restart of both.`,
  async run(ctx) {
    const [deployment, daemonSet, reports] = await Promise.all([
      readClusterAgentDeployment(ctx.kube, ctx.namespace, ctx.signal),
      readNodeAgentDaemonSet(ctx.kube, ctx.namespace, ctx.signal),
      readNodeAgentReports(ctx.kube, ctx.namespace, ctx.signal),
    ]);
    if (!deployment && !daemonSet && reports.size === 0) {
      return skipped(`no Deployment ${ctx.namespace}/${CLUSTER_AGENT_DEPLOYMENT}, DaemonSet ${ctx.namespace}/${NODE_AGENT_NAME} or node agent reports: nothing here uses a cluster agent token`);
    }
    const [clusterAgent, nodeAgents] = await Promise.all([sideOf(ctx, deployment), sideOf(ctx, daemonSet)]);
    return assessTokens({ namespace: ctx.namespace, ...(clusterAgent ? { clusterAgent } : {}), ...(nodeAgents ? { nodeAgents } : {}), reports, now: ctx.now() });
  },
};
