/**
 * Which platform the cluster runs on, as the API shows it (issue 10): node labels and provider IDs, the
 * API server's version, the API groups discovery lists, and a few objects only one platform creates.
 * The checks use it to name the platform's own fix (a GKE firewall rule, an EKS security group, AKS's
 * admissions enforcer, hostPath refused on Autopilot and OpenShift). Pure detection (`platformFrom`)
 * apart from the reads (`detectPlatform`); every decision carries the evidence it rests on.
 */
import { ApiError, type KubeReader } from '../kube/reader.js';
import { AUTOPILOT_WEBHOOK } from '../kube/apiCalls.js';
import type { Platform } from './check.js';

export interface NodeFacts {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly providerID?: string;
}

/** What detection reads; each source may be missing (not allowed, not served), which is said in `unreadable`. */
export interface PlatformFacts {
  /** A page of nodes is enough: a cluster's nodes share their provider. */
  readonly nodes: readonly NodeFacts[];
  /** Names of the API groups served (`GET /apis`). */
  readonly apiGroups: readonly string[];
  /** `GET /version` gitVersion, e.g. `v1.30.4-gke.1348000` or `v1.30.4-eks-a737599`. */
  readonly gitVersion?: string;
  /** Namespaces that give a platform away (`cattle-system`), those that exist. */
  readonly namespaces: readonly string[];
  /** Webhook configurations that give a platform away, those that exist. */
  readonly validatingWebhooks: readonly string[];
  /** One line per source that could not be read, and why. */
  readonly unreadable: readonly string[];
}

/** How many nodes detection reads: one page, not the whole fleet. */
export const PLATFORM_NODE_SAMPLE = 50;

export const GKE_NODEPOOL_LABEL = 'cloud.google.com/gke-nodepool';
/**
 * Autopilot's node pools are named `gk3-…` (Standard's `gke-…`); Google's own Config Sync tells
 * Autopilot apart by this prefix. Labels seen on Autopilot nodes by other tools are accepted as well.
 */
export const AUTOPILOT_NODE_PREFIX = 'gk3-';
export const AUTOPILOT_LABEL = 'cloud.google.com/gke-autopilot';
export const GKE_PROVISIONING_LABEL = 'cloud.google.com/gke-provisioning';
/** Autopilot scales to zero nodes; this validating webhook configuration exists on every Autopilot cluster (Config Sync's fallback). */
export { AUTOPILOT_WEBHOOK };
export const EKS_LABEL_PREFIX = 'eks.amazonaws.com/';
export const AKS_CLUSTER_LABEL = 'kubernetes.azure.com/cluster';
/** API groups only OpenShift serves. */
export const OPENSHIFT_GROUPS = ['quota.openshift.io', 'security.openshift.io', 'config.openshift.io'] as const;
/** Rancher's own API group (the Rancher server's cluster) and the namespace of its agents in every cluster it manages. */
export const RANCHER_GROUP = 'management.cattle.io';
export const RANCHER_NAMESPACE = 'cattle-system';

const nodeWord = (n: readonly NodeFacts[]): string => (n.length === 1 ? 'node' : 'nodes');

/** The nodes that match, as evidence: `node a, b (+3 more)`. */
function namesOf(nodes: readonly NodeFacts[]): string {
  const shown = nodes.slice(0, 3).map((n) => n.name);
  return `${nodeWord(nodes)} ${shown.join(', ')}${nodes.length > shown.length ? ` (+${nodes.length - shown.length} more)` : ''}`;
}

/** Pure: the platform the facts show. */
export function platformFrom(facts: PlatformFacts): Platform {
  const evidence: string[] = [];
  const withProvider = (prefix: string) => facts.nodes.filter((n) => n.providerID?.startsWith(prefix));
  const withLabel = (test: (key: string, value: string) => boolean) => facts.nodes.filter((n) => Object.entries(n.labels).some(([k, v]) => test(k, v)));
  const version = facts.gitVersion ?? '';

  // GKE: provider gce://, the node-pool label, or a -gke. server version.
  const gce = withProvider('gce://');
  const pools = withLabel((k) => k === GKE_NODEPOOL_LABEL);
  if (gce.length) evidence.push(`GKE: ${namesOf(gce)} with spec.providerID gce://…`);
  if (pools.length) evidence.push(`GKE: ${namesOf(pools)} labelled ${GKE_NODEPOOL_LABEL}`);
  if (version.includes('-gke.')) evidence.push(`GKE: API server version ${version}`);

  const gk3 = facts.nodes.filter((n) => n.name.startsWith(AUTOPILOT_NODE_PREFIX));
  const autopilotLabelled = withLabel((k, v) => (k === AUTOPILOT_LABEL && v !== 'false') || (k === GKE_PROVISIONING_LABEL && v === 'autopilot'));
  const autopilotWebhook = facts.validatingWebhooks.includes(AUTOPILOT_WEBHOOK);
  if (gk3.length) evidence.push(`GKE Autopilot: ${namesOf(gk3)} named ${AUTOPILOT_NODE_PREFIX}… (Autopilot's node pools)`);
  if (autopilotLabelled.length) evidence.push(`GKE Autopilot: ${namesOf(autopilotLabelled)} labelled ${AUTOPILOT_LABEL} or ${GKE_PROVISIONING_LABEL}=autopilot`);
  if (autopilotWebhook) evidence.push(`GKE Autopilot: ValidatingWebhookConfiguration ${AUTOPILOT_WEBHOOK} exists`);
  const gkeAutopilot = gk3.length > 0 || autopilotLabelled.length > 0 || autopilotWebhook;
  const gke = gkeAutopilot || gce.length > 0 || pools.length > 0 || version.includes('-gke.');

  // EKS: provider aws://, eks.amazonaws.com/ labels, or a -eks- server version.
  const aws = withProvider('aws://');
  const eksLabelled = withLabel((k) => k.startsWith(EKS_LABEL_PREFIX));
  if (aws.length) evidence.push(`EKS: ${namesOf(aws)} with spec.providerID aws://…`);
  if (eksLabelled.length) evidence.push(`EKS: ${namesOf(eksLabelled)} labelled ${EKS_LABEL_PREFIX}…`);
  if (/-eks-/.test(version)) evidence.push(`EKS: API server version ${version}`);
  const eks = aws.length > 0 || eksLabelled.length > 0 || /-eks-/.test(version);

  // AKS: provider azure:// or the AKS cluster label.
  const azure = withProvider('azure://');
  const aksLabelled = withLabel((k) => k === AKS_CLUSTER_LABEL);
  if (azure.length) evidence.push(`AKS: ${namesOf(azure)} with spec.providerID azure://…`);
  if (aksLabelled.length) evidence.push(`AKS: ${namesOf(aksLabelled)} labelled ${AKS_CLUSTER_LABEL}`);
  const aks = azure.length > 0 || aksLabelled.length > 0;

  // OpenShift (also on the clouds: ROSA, ARO) and Rancher (on any of them) from what the API serves.
  const openshiftGroups = OPENSHIFT_GROUPS.filter((g) => facts.apiGroups.includes(g));
  if (openshiftGroups.length) evidence.push(`OpenShift: API group ${openshiftGroups.join(', ')} served`);
  const openshift = openshiftGroups.length > 0;
  const rancherGroup = facts.apiGroups.includes(RANCHER_GROUP);
  const rancherNamespace = facts.namespaces.includes(RANCHER_NAMESPACE);
  if (rancherGroup) evidence.push(`Rancher: API group ${RANCHER_GROUP} served`);
  if (rancherNamespace) evidence.push(`Rancher: namespace ${RANCHER_NAMESPACE} exists`);
  const rancher = rancherGroup || rancherNamespace;

  if (!evidence.length) {
    evidence.push(
      facts.nodes.length
        ? `no provider seen on ${facts.nodes.length} ${nodeWord(facts.nodes)} (provider IDs: ${[...new Set(facts.nodes.map((n) => n.providerID?.replace(/:\/\/.*$/, '://') || 'none'))].join(', ')}) and no platform API group`
        : 'no nodes and no platform API group seen',
    );
  }
  evidence.push(...facts.unreadable);
  return { gkeAutopilot, gke, eks, aks, openshift, rancher, evidence };
}

/** Pure: the platform in a few words, for summaries and fixes ("GKE Autopilot", "Rancher on EKS", "a generic cluster"). */
export function platformName(p: Platform): string {
  const base = p.gkeAutopilot ? 'GKE Autopilot' : p.gke ? 'GKE' : p.eks ? 'EKS' : p.aks ? 'AKS' : '';
  const dist = p.openshift ? 'OpenShift' : p.rancher ? 'Rancher' : '';
  if (dist && base) return `${dist} on ${base}`;
  return dist || base || 'a cluster on no platform Tether recognises';
}

interface NodeObject {
  readonly metadata?: { readonly name?: string; readonly labels?: Record<string, string> };
  readonly spec?: { readonly providerID?: string };
}

/**
 * Reads what detection needs. A source that can't be read (not allowed, not served) is noted in the
 * evidence and detection goes on with the others; being wrong about the platform only makes a fix
 * less specific, while failing would hide every check that uses it.
 */
export async function detectPlatform(kube: KubeReader, signal: AbortSignal): Promise<Platform> {
  const unreadable: string[] = [];
  const attempt = async <T>(what: string, read: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await read();
    } catch (e) {
      if (signal.aborted) throw e;
      unreadable.push(`could not read ${what}: ${e instanceof ApiError ? e.message : (e as Error).message}`);
      return fallback;
    }
  };
  const [nodeList, groupList, version, rancherNs, autopilotWebhook] = await Promise.all([
    attempt('nodes', () => kube.get<{ items?: NodeObject[] }>('/api/v1/nodes', signal, { limit: String(PLATFORM_NODE_SAMPLE) }), undefined),
    attempt('API groups', () => kube.get<{ groups?: { name?: string }[] }>('/apis', signal), undefined),
    attempt('the API server version', () => kube.get<{ gitVersion?: string }>('/version', signal), undefined),
    attempt(`namespace ${RANCHER_NAMESPACE}`, () => kube.get<object>(`/api/v1/namespaces/${RANCHER_NAMESPACE}`, signal), undefined),
    attempt(`ValidatingWebhookConfiguration ${AUTOPILOT_WEBHOOK}`, () => kube.get<object>(`/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${AUTOPILOT_WEBHOOK}`, signal), undefined),
  ]);
  return platformFrom({
    nodes: (nodeList?.items ?? []).map((n) => ({ name: n.metadata?.name ?? '', labels: n.metadata?.labels ?? {}, ...(n.spec?.providerID ? { providerID: n.spec.providerID } : {}) })),
    apiGroups: (groupList?.groups ?? []).flatMap((g) => (g.name ? [g.name] : [])),
    ...(version?.gitVersion ? { gitVersion: version.gitVersion } : {}),
    namespaces: rancherNs ? [RANCHER_NAMESPACE] : [],
    validatingWebhooks: autopilotWebhook ? [AUTOPILOT_WEBHOOK] : [],
    unreadable,
  });
}
