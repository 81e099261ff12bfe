/**
 * `node-agent-kubelet-rbac` (issue 10, check 2; the first seed's `unexpected status code 401 on
 * https://<NODE_IP>:10250/pods: Unauthorized`). The kubelet asks the API server whether the node agent's
 * service account may `get nodes/proxy` (with KubeletFineGrainedAuthz, `nodes/pods` first) on its node;
 * this check asks the same, with SubjectAccessReviews, on one real node, for the three subresources the
 * node agent's ClusterRole grants. And it reads what node agents last reported of their kubelets through
 * the cluster agent (ConfigMap datadog-node-agents): 401 means the kubelet did not accept the token at
 * all (authentication), 403 that the token is valid and the permission is missing (RBAC).
 */
import type * as k8s from '@kubernetes/client-node';
import { NODE_AGENT_NAME, NODE_AGENTS_CONFIGMAP } from '../../config/index.js';
import { NODE_AGENT_REPORT_STALE_MS } from '../../config/limits.js';
import type { NodeAgentRecord } from '../../agentapi/nodeAgentReport.js';
import { KUBELET_PROXY_FALLBACK, KUBELET_PROXY_FALLBACK_VALUE, KUBELET_READER_RESOURCES, kubeletRbacFix } from '../../kube/kubeletRbac.js';
import { skipped, type Check, type CheckOutcome } from '../check.js';
import { canI, serviceAccountSubject } from '../accessReview.js';
import { describeWorkload, readNodeAgentDaemonSet, readNodeAgentReports } from '../agentWorkloads.js';
import { outcomeOf, type Finding } from '../findings.js';

/** What the check asks about: what the node agent needs, and the fallback older kubelets ask for. */
const ASKED = [...KUBELET_READER_RESOURCES, KUBELET_PROXY_FALLBACK] as const;
export type KubeletResource = (typeof ASKED)[number];

export interface KubeletAccessFacts {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** Where the service account's name came from, for the evidence. */
  readonly serviceAccountFrom: string;
  /** The node asked about; undefined when the cluster has no Node (asked for every node). */
  readonly node: string | undefined;
  /** The API server's answer for `nodes/pods` and `nodes/proxy`. */
  readonly allowed: Readonly<Record<KubeletResource, boolean>>;
  readonly reports: ReadonlyMap<string, NodeAgentRecord>;
  readonly now: Date;
}

const USER_IN_SUMMARY = /system:serviceaccount:[^\s:]+:[^\s:,)]+/;

export function assessKubeletAccess(f: KubeletAccessFacts): CheckOutcome {
  const user = serviceAccountSubject(f.namespace, f.serviceAccount).user;
  const on = f.node ? `on node ${f.node}` : 'on any node (the cluster has no Node yet)';
  const context = [
    `node agent service account: ${f.namespace}/${f.serviceAccount} (${f.serviceAccountFrom})`,
    ...ASKED.map((r) => `SubjectAccessReview: ${user} get ${r} ${on}: ${f.allowed[r] ? 'allowed' : 'denied'}`),
  ];
  const findings: Finding[] = [];
  const fix = `Grant them: ${kubeletRbacFix(user)} (or apply the ClusterRole and ClusterRoleBinding of deploy/node-agent.yaml).`;
  // /pods is authorized as nodes/pods by kubelets with KubeletFineGrainedAuthz (on by default from 1.33),
  // as nodes/proxy by older ones (the fallback).
  if (!f.allowed['nodes/pods'] && !f.allowed['nodes/proxy']) {
    findings.push({
      status: 'error',
      summary: `the node agents' service account ${f.namespace}/${f.serviceAccount} may not get nodes/pods (nor the fallback nodes/proxy): every kubelet answers its /pods with 403 Forbidden (the token is valid; the RBAC is missing).`,
      evidence: [],
      fix,
    });
  } else if (!f.allowed['nodes/pods']) {
    findings.push({
      status: 'warning',
      summary: `the node agents' service account ${f.namespace}/${f.serviceAccount} reads the kubelet through nodes/proxy only, which also opens exec, logs and every other kubelet endpoint; kubelets 1.33+ authorize /pods as nodes/pods.`,
      evidence: [],
      fix: `${fix} Keep nodes/proxy (${KUBELET_PROXY_FALLBACK_VALUE}=true) only while kubelets older than 1.33, or without KubeletFineGrainedAuthz, remain.`,
    });
  }

  const fresh = [...f.reports].filter(([, r]) => f.now.getTime() - Date.parse(r.lastSeen) <= NODE_AGENT_REPORT_STALE_MS);
  if (f.reports.size > 0) context.push(`node agent reports (ConfigMap ${f.namespace}/${NODE_AGENTS_CONFIGMAP}): ${fresh.length} seen in the last ${NODE_AGENT_REPORT_STALE_MS / 60_000} minutes, ${fresh.filter(([, r]) => r.kubelet.state === 'ok').length} reading their kubelet`);
  const withCode = (code: string) => fresh.filter(([, r]) => r.kubelet.state === 'failing' && r.kubelet.code === code);
  const line = ([node, r]: [string, NodeAgentRecord]) => `node ${node} (${r.lastSeen}): ${r.kubelet.summary ?? `kubelet ${r.kubelet.status ?? r.kubelet.code}`}`;
  const nodes = (n: number) => `${n} ${n === 1 ? 'node' : 'nodes'}`;

  const unauthorized = withCode('unauthorized');
  if (unauthorized.length > 0) {
    findings.push({
      status: 'error',
      summary: `the kubelets of ${nodes(unauthorized.length)} answer their node agent 401 Unauthorized: they do not accept its token (authentication, not RBAC).`,
      evidence: unauthorized.map(line),
      fix: "Check that the node agent sends its pod's service-account token (kubelet_auth_token_path, DD_KUBELET_AUTH_TOKEN_PATH: a projected token, automountServiceAccountToken not false) and that each kubelet runs with --authentication-token-webhook (authentication.webhook.enabled: true in its KubeletConfiguration), so that it checks tokens with the API server.",
    });
  }
  const forbidden = withCode('forbidden');
  if (forbidden.length > 0) {
    const reported = forbidden.map(([, r]) => USER_IN_SUMMARY.exec(r.kubelet.summary ?? '')?.[0]).find((u) => u !== undefined);
    findings.push({
      status: 'error',
      summary: `the kubelets of ${nodes(forbidden.length)} answer their node agent 403 Forbidden: the token is valid, its service account lacks RBAC on nodes/pods (nodes/proxy on kubelets before 1.33).`,
      evidence: forbidden.map(line),
      fix: `Grant it: ${kubeletRbacFix(reported ?? user)} (or apply deploy/node-agent.yaml's ClusterRole and binding).`,
    });
  }
  return outcomeOf(findings, `the node agents' service account may get ${KUBELET_READER_RESOURCES.join(', ')}${f.allowed['nodes/proxy'] ? ` (and the fallback ${KUBELET_PROXY_FALLBACK})` : ''}${fresh.length > 0 ? '; no node agent reports a kubelet refusing it' : ''}`, context);
}

export const nodeAgentKubeletRbac: Check = {
  name: 'node-agent-kubelet-rbac',
  finds: "The node agents' service account lacks get on nodes/pods and on the fallback nodes/proxy (the kubelet answers 403), reads the kubelet through nodes/proxy only, or node agents report their kubelet answering 401 (token not accepted) or 403 (RBAC).",
  fixes: "Grant the node agents' service account get on nodes/pods (deploy/node-agent.yaml), and nodes/proxy only for kubelets before 1.33 (agents.rbac.kubeletProxyFallback); for a 401, make the kubelet check tokens (--authentication-token-webhook) and send the pod's token.",
  async run(ctx) {
    const [daemonSet, nodes, reports] = await Promise.all([
      readNodeAgentDaemonSet(ctx.kube, ctx.namespace, ctx.signal),
      ctx.kube.get<k8s.V1NodeList>('/api/v1/nodes', ctx.signal, { limit: '1' }),
      readNodeAgentReports(ctx.kube, ctx.namespace, ctx.signal),
    ]);
    // Nothing to check where no node agent runs: no DaemonSet of that name and none has reported.
    if (!daemonSet && reports.size === 0) {
      return skipped(`no node agent: no DaemonSet ${ctx.namespace}/${NODE_AGENT_NAME} (the name deploy/node-agent.yaml uses) and no node agent has reported to the cluster agent (ConfigMap ${ctx.namespace}/${NODE_AGENTS_CONFIGMAP})`);
    }
    const fromSpec = daemonSet?.podSpec?.serviceAccountName || daemonSet?.podSpec?.serviceAccount;
    const serviceAccount = fromSpec || (daemonSet ? 'default' : NODE_AGENT_NAME);
    const serviceAccountFrom = daemonSet
      ? fromSpec
        ? `from ${describeWorkload(daemonSet)}`
        : `${describeWorkload(daemonSet)} names none: its pods run as "default"`
      : `no DaemonSet ${ctx.namespace}/${NODE_AGENT_NAME}: the name deploy/node-agent.yaml uses`;
    const node = nodes?.items[0]?.metadata?.name;
    const subject = serviceAccountSubject(ctx.namespace, serviceAccount);
    const answers = await Promise.all(
      ASKED.map(async (r) => {
        const [resource, subresource] = r.split('/') as [string, string];
        return [r, (await canI(ctx.kube, subject, { verb: 'get', group: '', resource, subresource, ...(node ? { name: node } : {}) }, ctx.signal)).allowed] as const;
      }),
    );
    const allowed = Object.fromEntries(answers) as Record<KubeletResource, boolean>;
    return assessKubeletAccess({ namespace: ctx.namespace, serviceAccount, serviceAccountFrom, node, allowed, reports, now: ctx.now() });
  },
};
