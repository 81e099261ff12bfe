/**
 * Check `network-policy` (issue 10, item 7; the seed's "network policies"): a NetworkPolicy that selects
 * the cluster agent's pods isolates them for ingress, and then only what some selecting policy allows
 * gets in (policies add up). The API server calls the webhook on `admission_controller.port`; if no rule
 * of those policies allows that port (by number, range or the container port's name, TCP), the calls
 * time out and pods are created uninjected. A rule that allows the port only from pods or namespaces
 * (podSelector / namespaceSelector peers) does not admit the control plane, which is not a pod there.
 */
import type * as k8s from '@kubernetes/client-node';
import { enabledWebhooks } from '../../admission/index.js';
import { skipped, type Check } from '../check.js';
import { findClusterAgentPods, webhookContainerPort } from '../clusterAgent.js';
import { Findings } from '../findings.js';
import { describeLabels, describeSelector, selectorMatches, type LabelSelector, type Labels } from '../labelSelector.js';

// ---------------------------------------------------------------------------------------------------
// pure parts

/**
 * A NetworkPolicy as the API server sends it. (client-node's type renames `from` to `_from` for its own
 * serialiser; this is the wire form the reader returns.)
 */
export interface IngressRule {
  readonly ports?: readonly k8s.V1NetworkPolicyPort[] | null;
  readonly from?: readonly k8s.V1NetworkPolicyPeer[] | null;
}
export interface NetworkPolicy {
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly spec?: { readonly podSelector?: LabelSelector; readonly policyTypes?: readonly string[]; readonly ingress?: readonly IngressRule[] | null };
}

export interface WebhookPort {
  readonly port: number;
  /** The container port's name, which a policy may use instead of the number. */
  readonly name?: string;
}

/** Whether one entry of a rule's `ports` covers the webhook port over TCP. */
export function policyPortCovers(p: k8s.V1NetworkPolicyPort, port: WebhookPort): boolean {
  if ((p.protocol ?? 'TCP') !== 'TCP') return false;
  if (p.port === undefined || p.port === null) return true;
  const n = typeof p.port === 'number' ? p.port : /^\d+$/.test(p.port) ? Number(p.port) : undefined;
  if (n === undefined) return port.name !== undefined && p.port === port.name;
  if (p.endPort !== undefined && p.endPort !== null) return n <= port.port && port.port <= p.endPort;
  return n === port.port;
}

/** Whether an ingress rule lets traffic in on the webhook port (from someone). Empty `ports`: every port. */
export function ruleCoversPort(rule: IngressRule, port: WebhookPort): boolean {
  return !rule.ports || rule.ports.length === 0 || rule.ports.some((p) => policyPortCovers(p, port));
}

/** Whether a rule's peers can include the control plane: no `from` (everyone) or an ipBlock; pod and namespace selectors select pods only. */
export function ruleAdmitsControlPlane(rule: IngressRule): boolean {
  return !rule.from || rule.from.length === 0 || rule.from.some((peer) => peer.ipBlock !== undefined && peer.ipBlock !== null);
}

/** Whether a policy restricts ingress: policyTypes names Ingress, or is absent (then Ingress is implied). */
export function restrictsIngress(policy: NetworkPolicy): boolean {
  const types = policy.spec?.policyTypes;
  return !types || types.length === 0 || types.includes('Ingress');
}

export interface IngressAssessment {
  /** Policies that select the pods and restrict their ingress. */
  readonly isolating: string[];
  /** Policies with a rule letting the webhook port in from anywhere or an ipBlock. */
  readonly allowing: string[];
  /** Policies with a rule letting the webhook port in, but only from pods or namespaces. */
  readonly allowingPodsOnly: string[];
  /** `blocked`: isolated and no rule allows the port; `pods-only`: only pod/namespace peers may; else `open`. */
  readonly verdict: 'open' | 'pods-only' | 'blocked';
}

/** Pure: what the policies of the pods' namespace do to the webhook port of pods with `labels`. */
export function assessIngress(policies: readonly NetworkPolicy[], labels: Labels, port: WebhookPort): IngressAssessment {
  const selecting = policies.filter((p) => restrictsIngress(p) && selectorMatches(p.spec?.podSelector ?? {}, labels));
  const allowing: string[] = [];
  const allowingPodsOnly: string[] = [];
  for (const p of selecting) {
    const covering = (p.spec?.ingress ?? []).filter((r) => ruleCoversPort(r, port));
    if (covering.some(ruleAdmitsControlPlane)) allowing.push(p.metadata?.name ?? '');
    else if (covering.length > 0) allowingPodsOnly.push(p.metadata?.name ?? '');
  }
  const verdict = selecting.length === 0 || allowing.length > 0 ? 'open' : allowingPodsOnly.length > 0 ? 'pods-only' : 'blocked';
  return { isolating: selecting.map((p) => p.metadata?.name ?? ''), allowing, allowingPodsOnly, verdict };
}

/** One line per policy, for evidence. */
export function describePolicy(p: NetworkPolicy): string {
  const rules = (p.spec?.ingress ?? []).map((r) => {
    const ports = !r.ports || r.ports.length === 0 ? 'all ports' : r.ports.map((x) => `${x.protocol ?? 'TCP'} ${x.port ?? 'any'}${x.endPort ? `-${x.endPort}` : ''}`).join(', ');
    const from = !r.from || r.from.length === 0 ? 'anywhere' : r.from.map((peer) => (peer.ipBlock ? `ipBlock ${peer.ipBlock.cidr}` : [peer.namespaceSelector ? `namespaces ${describeSelector(peer.namespaceSelector)}` : '', peer.podSelector ? `pods ${describeSelector(peer.podSelector)}` : ''].filter(Boolean).join(' '))).join('; ');
    return `${ports} from ${from}`;
  });
  return `NetworkPolicy ${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}: podSelector ${describeSelector(p.spec?.podSelector ?? {})}, policyTypes ${(p.spec?.policyTypes ?? ['(implied) Ingress']).join(',')}, ingress: ${rules.length > 0 ? rules.join(' | ') : 'none (denies all)'}`;
}

/** The policy the fix asks for: TCP `port` from anywhere to pods with `labels` (policies add up, so one more is enough). */
export function allowWebhookPolicyYaml(namespace: string, labels: Labels, port: number): string {
  const match = Object.entries(labels).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ');
  return [
    `kubectl -n ${namespace} apply -f - <<'EOF'`,
    'apiVersion: networking.k8s.io/v1',
    'kind: NetworkPolicy',
    'metadata:',
    '  name: datadog-cluster-agent-webhook',
    'spec:',
    `  podSelector: {matchLabels: {${match}}}`,
    '  policyTypes: [Ingress]',
    '  ingress:',
    `    - ports: [{protocol: TCP, port: ${port}}]`,
    'EOF',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------------
// I/O

export const networkPolicyCheck: Check = {
  name: 'network-policy',
  finds: "A NetworkPolicy that selects the cluster agent's pods and does not allow ingress on the webhook port (admission_controller.port, TCP) from the control plane.",
  fixes: 'Add an ingress rule (or a NetworkPolicy) allowing TCP on the webhook port (8000) to the cluster agent pods from everywhere, or from the control plane\'s address range (ipBlock).',
  async run(ctx) {
    const { config, namespace } = ctx;
    if (enabledWebhooks(config).length === 0) return skipped('the admission controller is disabled: no webhook port to reach');
    const agents = await findClusterAgentPods(ctx);
    if (agents.length === 0) return skipped(`no Deployment or pod in ${namespace} runs as service account ${ctx.serviceAccount}: cannot tell which pods a NetworkPolicy must let the control plane reach`);
    const policies = await ctx.kube.list<NetworkPolicy>(`/apis/networking.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/networkpolicies`, ctx.signal);
    const portNumber = config['admission_controller.port'];
    const f = new Findings();
    f.evidence(...policies.map(describePolicy));
    for (const a of agents) {
      if (a.hostNetwork) {
        f.evidence(`${a.source}: host network; NetworkPolicies do not apply to it`);
        continue;
      }
      const named = webhookContainerPort(a.containers, portNumber)?.name;
      const port: WebhookPort = { port: portNumber, ...(named ? { name: named } : {}) };
      const r = assessIngress(policies, a.labels, port);
      const what = `TCP ${portNumber}${named ? ` ("${named}")` : ''}`;
      f.evidence(`${a.source}: pod labels ${describeLabels(a.labels)}; isolated for ingress by ${r.isolating.length > 0 ? r.isolating.join(', ') : 'no NetworkPolicy'}`);
      const fix = `Allow ${what} into the cluster agent pods from everywhere (the API server is not a pod; or from the control plane's range as an ipBlock). NetworkPolicies add up, so one more policy is enough:\n${allowWebhookPolicyYaml(namespace, a.labels, portNumber)}`;
      if (r.verdict === 'blocked') {
        f.add('error', `${r.isolating.length > 1 ? 'NetworkPolicies' : 'NetworkPolicy'} ${r.isolating.join(', ')} ${r.isolating.length > 1 ? 'select' : 'selects'} the cluster agent (${a.source}) and allows no ingress on the webhook port ${what}: the API server cannot call the webhook`, fix);
      } else if (r.verdict === 'pods-only') {
        f.add('warning', `NetworkPolicy ${r.allowingPodsOnly.join(', ')} allows the webhook port ${what} of ${a.source} only from pods or namespaces, which the API server's calls do not come from`, fix);
      } else if (r.isolating.length > 0) {
        f.evidence(`${a.source}: ${what} allowed by ${r.allowing.join(', ')}`);
      }
    }
    return f.outcome(policies.length === 0 ? `no NetworkPolicy in ${namespace}` : `the NetworkPolicies of ${namespace} let the webhook port ${portNumber} of the cluster agent in`);
  },
};
