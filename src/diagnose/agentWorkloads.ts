/**
 * What `diagnose` reads about the two agents as deployed: the cluster agent's Deployment and the node
 * agents' DaemonSet, where each takes its auth token from (a literal or a Secret's key), the token itself
 * (only ever shown as its length and a short SHA-256 prefix), when that Secret last changed and when
 * each pod started, and the node agents' reports the cluster agent API records
 * (agentapi/nodeAgentReport.ts). Reading is here; judging is in the checks.
 */
import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { CLUSTER_AGENT_DEPLOYMENT, envVarFor, NODE_AGENT_NAME, NODE_AGENTS_CONFIGMAP } from '../config/index.js';
import { parseNodeAgentRecords, type NodeAgentRecord } from '../agentapi/nodeAgentReport.js';
import type { KubeReader } from '../kube/reader.js';

export const TOKEN_VAR = envVarFor('cluster_agent.auth_token');

export type AgentKind = 'cluster-agent' | 'node-agent';

export interface AgentWorkload {
  readonly kind: 'Deployment' | 'DaemonSet';
  readonly namespace: string;
  readonly name: string;
  readonly podSpec: k8s.V1PodSpec | undefined;
  readonly selector: Readonly<Record<string, string>>;
}

export const describeWorkload = (w: Pick<AgentWorkload, 'kind' | 'namespace' | 'name'>): string => `${w.kind} ${w.namespace}/${w.name}`;

const apps = (ns: string, plural: string, name: string) => `/apis/apps/v1/namespaces/${encodeURIComponent(ns)}/${plural}/${encodeURIComponent(name)}`;

async function readWorkload(kube: KubeReader, kind: AgentWorkload['kind'], namespace: string, name: string, signal: AbortSignal): Promise<AgentWorkload | undefined> {
  const o = await kube.get<k8s.V1Deployment | k8s.V1DaemonSet>(apps(namespace, kind === 'Deployment' ? 'deployments' : 'daemonsets', name), signal);
  if (!o) return undefined;
  return { kind, namespace, name, podSpec: o.spec?.template?.spec, selector: { ...o.spec?.selector?.matchLabels } };
}

/** Deployment `datadog-cluster-agent` in `namespace`, or undefined. */
export const readClusterAgentDeployment = (kube: KubeReader, namespace: string, signal: AbortSignal) => readWorkload(kube, 'Deployment', namespace, CLUSTER_AGENT_DEPLOYMENT, signal);
/** DaemonSet `datadog-agent` in `namespace`, or undefined. */
export const readNodeAgentDaemonSet = (kube: KubeReader, namespace: string, signal: AbortSignal) => readWorkload(kube, 'DaemonSet', namespace, NODE_AGENT_NAME, signal);

/** Where a workload's pods take `DD_CLUSTER_AGENT_AUTH_TOKEN` from. */
export type TokenSource =
  | { readonly kind: 'value'; readonly container: string; readonly value: string }
  | { readonly kind: 'secret'; readonly container: string; readonly secret: string; readonly key: string; readonly optional: boolean }
  /** From something `diagnose` does not read (a ConfigMap, a field): named, not judged. */
  | { readonly kind: 'other'; readonly container: string; readonly what: string }
  | { readonly kind: 'none' };

/** The first container that sets the token, by `env` (the last entry wins, as in a pod) or `envFrom` a Secret. */
export function tokenSourceOf(podSpec: k8s.V1PodSpec | undefined): TokenSource {
  for (const c of podSpec?.containers ?? []) {
    const env = [...(c.env ?? [])].reverse().find((e) => e.name === TOKEN_VAR);
    if (env) {
      if (env.valueFrom?.secretKeyRef) {
        const ref = env.valueFrom.secretKeyRef;
        return { kind: 'secret', container: c.name, secret: ref.name ?? '', key: ref.key, optional: ref.optional === true };
      }
      if (env.valueFrom?.configMapKeyRef) return { kind: 'other', container: c.name, what: `ConfigMap ${env.valueFrom.configMapKeyRef.name} key ${env.valueFrom.configMapKeyRef.key}` };
      if (env.valueFrom) return { kind: 'other', container: c.name, what: 'a field or resource reference' };
      return { kind: 'value', container: c.name, value: env.value ?? '' };
    }
    // envFrom: later sources win over earlier ones; `env` wins over all (checked above).
    for (const from of [...(c.envFrom ?? [])].reverse()) {
      const prefix = from.prefix ?? '';
      if (!TOKEN_VAR.startsWith(prefix)) continue;
      if (from.secretRef) return { kind: 'secret', container: c.name, secret: from.secretRef.name ?? '', key: TOKEN_VAR.slice(prefix.length), optional: from.secretRef.optional === true };
    }
  }
  return { kind: 'none' };
}

export interface SecretSeen {
  readonly token: string | undefined;
  /** The Secret exists (the key may still be missing). */
  readonly exists: boolean;
  /** The Secret's last write: the newest managedFields time, else its creation. */
  readonly changedAt: Date | undefined;
}

/** The Secret's key, decoded, and when the Secret last changed. */
export async function readSecretToken(kube: KubeReader, namespace: string, secret: string, key: string, signal: AbortSignal): Promise<SecretSeen> {
  const s = await kube.get<k8s.V1Secret>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(secret)}`, signal);
  if (!s) return { token: undefined, exists: false, changedAt: undefined };
  const raw = s.data?.[key];
  return { token: raw === undefined ? s.stringData?.[key] : Buffer.from(raw, 'base64').toString('utf8'), exists: true, changedAt: lastChange(s.metadata) };
}

/** When an object was last written: the newest managedFields time, else its creation (second precision). */
export function lastChange(meta: k8s.V1ObjectMeta | undefined): Date | undefined {
  const times = (meta?.managedFields ?? []).map((f) => (f.time ? new Date(f.time).getTime() : NaN)).filter((t) => !Number.isNaN(t));
  if (meta?.creationTimestamp) times.push(new Date(meta.creationTimestamp).getTime());
  return times.length > 0 ? new Date(Math.max(...times)) : undefined;
}

/** A running pod and when the container that holds the token started (env is read at container start). */
export interface PodStart {
  readonly name: string;
  readonly startedAt: Date;
}

export async function podStarts(kube: KubeReader, w: AgentWorkload, container: string, signal: AbortSignal): Promise<PodStart[]> {
  const selector = Object.entries(w.selector).map(([k, v]) => `${k}=${v}`).join(',');
  if (selector === '') return [];
  const pods = await kube.list<k8s.V1Pod>(`/api/v1/namespaces/${encodeURIComponent(w.namespace)}/pods`, signal, { labelSelector: selector });
  const out: PodStart[] = [];
  for (const p of pods) {
    const running = p.status?.containerStatuses?.find((c) => c.name === container)?.state?.running?.startedAt;
    const at = running ?? p.status?.startTime;
    if (at && p.metadata?.name) out.push({ name: p.metadata.name, startedAt: new Date(at) });
  }
  return out.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
}

/** `64 characters, sha256 1a2b3c4d`: enough to compare two tokens, nothing to use one. */
export function describeToken(token: string): string {
  return `${token.length} characters, sha256 ${createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 8)}`;
}

/** What the cluster agent API recorded per node (empty without the ConfigMap). */
export async function readNodeAgentReports(kube: KubeReader, namespace: string, signal: AbortSignal): Promise<Map<string, NodeAgentRecord>> {
  const cm = await kube.get<k8s.V1ConfigMap>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${NODE_AGENTS_CONFIGMAP}`, signal);
  return parseNodeAgentRecords(cm?.data);
}
