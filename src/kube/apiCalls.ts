/**
 * Every call each identity Tether installs makes to the API server (or, for the node agent, to its
 * kubelet, which asks the API server), as RBAC sees it: API group, resource, verbs, cluster-wide or in
 * Tether's namespace, and the one object's name where the call is about one object. One table per
 * identity, the single list of what it needs:
 * - the cluster agent (`tether start`): built from the tables the code itself runs from (the state's
 *   watches, the owner kinds the tags webhook reads), plus the objects the controllers manage, plus what
 *   `tether status` reads when run in its pod (`kubectl exec ... -- agent status`);
 * - the node agent (`tether node-agent`): its kubelet's `/pods`;
 * - diagnose (`tether status`, `tether diagnose`): what the checks read, and the dry-run probe;
 * - the console viewer (`tether console` run as the read-only identity): the cluster state's watches and
 *   the webhook health it shows.
 * `diagnose` asks the API server whether the cluster agent's service account may make each of its calls
 * (diagnose/checks/clusterAgentRbac.ts); a unit test checks deploy/*.yaml grants exactly these, and
 * test/e2e/rbac.test.ts impersonates each service account against a real API server: a permission the
 * table does not list fails it, so does a listed call the identity cannot make.
 */
import {
  CLUSTER_AGENT_CA_CONFIGMAP,
  CLUSTER_AGENT_TOKEN_SECRET,
  NODE_AGENTS_CONFIGMAP,
  type ConfigKey,
  type TetherConfig,
} from '../config/index.js';
import { OWNER_KINDS } from './ownerKinds.js';
import { WATCHED_RESOURCES, WATCH_VERBS } from './watchedResources.js';

export type ApiVerb = 'get' | 'list' | 'watch' | 'create' | 'update';

export interface ApiCall {
  /** API group as RBAC spells it (`""` is core). */
  readonly group: string;
  /** Plural resource, as RBAC spells it (a subresource after a slash: `nodes/pods`). */
  readonly resource: string;
  readonly verbs: readonly ApiVerb[];
  /** `cluster`: cluster-scoped objects, or every namespace's; `namespace`: Tether's namespace only. */
  readonly scope: 'cluster' | 'namespace';
  /** The call is about this one object: named by a configuration key or by convention. */
  readonly name?: { readonly config: ConfigKey } | { readonly fixed: string };
  /** What makes the call, for messages. */
  readonly why: string;
}

export type Identity = 'cluster-agent' | 'node-agent' | 'diagnose' | 'console-viewer';

const stateWatches = (why: string): ApiCall[] =>
  Object.values(WATCHED_RESOURCES).map((r): ApiCall => ({ group: r.group, resource: r.resource, verbs: WATCH_VERBS, scope: 'cluster', why }));

export const CLUSTER_AGENT_CALLS: readonly ApiCall[] = [
  ...stateWatches('the cluster agent API watches it (its answers to node agents)'),
  ...Object.values(OWNER_KINDS).map((k): ApiCall => ({ group: k.group, resource: k.resource, verbs: ['get'], scope: 'cluster', why: "the tags webhook reads a pod's owner" })),
  { group: '', resource: 'namespaces', verbs: ['get'], scope: 'cluster', why: "the library webhook reads the namespace's Pod Security level" },
  { group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', verbs: ['create'], scope: 'cluster', why: 'the leader creates the webhook configuration' },
  {
    group: 'admissionregistration.k8s.io',
    resource: 'mutatingwebhookconfigurations',
    verbs: ['get', 'list', 'watch', 'update'],
    scope: 'cluster',
    name: { config: 'admission_controller.webhook_name' },
    why: 'the leader keeps the webhook configuration up to date',
  },
  { group: '', resource: 'secrets', verbs: ['create'], scope: 'namespace', why: 'the leader creates the certificate Secret' },
  {
    group: '',
    resource: 'secrets',
    verbs: ['get', 'list', 'watch', 'update'],
    scope: 'namespace',
    name: { config: 'admission_controller.certificate.secret_name' },
    why: 'every replica serves the certificate Secret; the leader rotates it',
  },
  { group: '', resource: 'configmaps', verbs: ['create'], scope: 'namespace', why: 'the leader publishes the CA; the API records node agent reports' },
  { group: '', resource: 'configmaps', verbs: ['get', 'update'], scope: 'namespace', name: { fixed: CLUSTER_AGENT_CA_CONFIGMAP }, why: 'the leader publishes the CA node agents verify the API with' },
  { group: '', resource: 'configmaps', verbs: ['get', 'update'], scope: 'namespace', name: { fixed: NODE_AGENTS_CONFIGMAP }, why: 'every replica records what node agents report' },
  { group: 'coordination.k8s.io', resource: 'leases', verbs: ['create'], scope: 'namespace', why: 'leader election' },
  { group: 'coordination.k8s.io', resource: 'leases', verbs: ['get', 'update'], scope: 'namespace', name: { config: 'leader_lease_name' }, why: 'leader election' },
  // `kubectl exec <cluster agent pod> -- agent status` runs `tether status` as this service account (the
  // pod's): besides the objects above, it reads the cluster agent API's Service and its EndpointSlices.
  { group: '', resource: 'services', verbs: ['get'], scope: 'namespace', name: { config: 'cluster_agent.kubernetes_service_name' }, why: "agent status in the pod: the cluster agent API's Service" },
  { group: 'discovery.k8s.io', resource: 'endpointslices', verbs: ['list'], scope: 'namespace', why: "agent status in the pod: the cluster agent API Service's ready endpoints (selected by label, which RBAC cannot name)" },
];

/**
 * The kubelet authorizes `GET /pods` as `get nodes/pods` where it has fine-grained authorization
 * (KubeletFineGrainedAuthz: beta and on by default from Kubernetes 1.33), else as `get nodes/proxy`,
 * which also opens every other kubelet endpoint (exec, logs, ...): the fallback, granted only when the
 * chart value `agents.rbac.kubeletProxyFallback` asks for it.
 */
export const NODE_AGENT_CALLS: readonly ApiCall[] = [{ group: '', resource: 'nodes/pods', verbs: ['get'], scope: 'cluster', why: "the node agent reads its kubelet's /pods (authorized as nodes/pods, 1.33+)" }];
export const NODE_AGENT_PROXY_FALLBACK: ApiCall = { group: '', resource: 'nodes/proxy', verbs: ['get'], scope: 'cluster', why: "the node agent reads its kubelet's /pods where the kubelet authorizes it as nodes/proxy (before 1.33, or KubeletFineGrainedAuthz off)" };

/** GKE Autopilot's policy webhook: one of the platform's telltales diagnose reads (diagnose/platform.ts). */
export const AUTOPILOT_WEBHOOK = 'policycontrollerv2.config.common-webhooks.networking.gke.io';

export const DIAGNOSE_CALLS: readonly ApiCall[] = [
  { group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', verbs: ['get', 'watch'], scope: 'cluster', name: { config: 'admission_controller.webhook_name' }, why: 'the webhook configuration, followed for rewrites' },
  { group: 'admissionregistration.k8s.io', resource: 'validatingwebhookconfigurations', verbs: ['get'], scope: 'cluster', name: { fixed: AUTOPILOT_WEBHOOK }, why: 'the platform: GKE Autopilot' },
  { group: '', resource: 'services', verbs: ['get', 'list'], scope: 'cluster', why: 'the Service each webhook entry calls; Services of the same name elsewhere' },
  { group: 'discovery.k8s.io', resource: 'endpointslices', verbs: ['list'], scope: 'cluster', why: "the webhook Service's ready endpoints" },
  { group: '', resource: 'pods', verbs: ['list'], scope: 'cluster', why: 'labelled pods without injection; the agents\' pods' },
  { group: '', resource: 'namespaces', verbs: ['get', 'list'], scope: 'cluster', why: 'where the probe may go; the platform (cattle-system)' },
  { group: '', resource: 'nodes', verbs: ['list'], scope: 'cluster', why: 'the platform; the node asked about for the kubelet' },
  ...['deployments', 'replicasets', 'statefulsets', 'daemonsets'].map((resource): ApiCall => ({ group: 'apps', resource, verbs: ['get', 'list'], scope: 'cluster', why: "the agents' workloads; pods' owners; the label on a workload" })),
  ...['jobs', 'cronjobs'].map((resource): ApiCall => ({ group: 'batch', resource, verbs: ['get', 'list'], scope: 'cluster', why: "pods' owners; the label on a workload" })),
  ...['clusterrolebindings', 'rolebindings'].map((resource): ApiCall => ({ group: 'rbac.authorization.k8s.io', resource, verbs: ['list'], scope: 'cluster', why: "the roles bound to the cluster agent's service account" })),
  ...['clusterroles', 'roles'].map((resource): ApiCall => ({ group: 'rbac.authorization.k8s.io', resource, verbs: ['get'], scope: 'cluster', why: 'a bound role granting a removed API' })),
  { group: 'authorization.k8s.io', resource: 'subjectaccessreviews', verbs: ['create'], scope: 'cluster', why: "whether the agents' service accounts may do what Tether needs" },
  { group: '', resource: 'pods', verbs: ['create'], scope: 'cluster', why: 'the dry-run probe pod (a ValidatingAdmissionPolicy refuses any other create)' },
  { group: '', resource: 'secrets', verbs: ['get'], scope: 'namespace', name: { config: 'admission_controller.certificate.secret_name' }, why: "the certificate Secret's metadata" },
  { group: '', resource: 'secrets', verbs: ['get'], scope: 'namespace', name: { fixed: CLUSTER_AGENT_TOKEN_SECRET }, why: "the token's length and digest" },
  { group: '', resource: 'configmaps', verbs: ['get'], scope: 'namespace', name: { fixed: CLUSTER_AGENT_CA_CONFIGMAP }, why: 'the published certificates' },
  { group: '', resource: 'configmaps', verbs: ['get'], scope: 'namespace', name: { fixed: NODE_AGENTS_CONFIGMAP }, why: "the node agents' reports" },
  { group: 'coordination.k8s.io', resource: 'leases', verbs: ['get'], scope: 'namespace', name: { config: 'leader_lease_name' }, why: 'who leads' },
  { group: 'networking.k8s.io', resource: 'networkpolicies', verbs: ['list'], scope: 'namespace', why: 'a NetworkPolicy around the cluster agent' },
];

export const CONSOLE_VIEWER_CALLS: readonly ApiCall[] = [
  ...stateWatches("the console's cluster state"),
  { group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', verbs: ['get'], scope: 'cluster', name: { config: 'admission_controller.webhook_name' }, why: "the webhook panel" },
  { group: '', resource: 'secrets', verbs: ['get'], scope: 'namespace', name: { config: 'admission_controller.certificate.secret_name' }, why: "the certificate Secret's metadata" },
  { group: '', resource: 'configmaps', verbs: ['get'], scope: 'namespace', name: { fixed: CLUSTER_AGENT_CA_CONFIGMAP }, why: 'the published certificates' },
  { group: '', resource: 'configmaps', verbs: ['get'], scope: 'namespace', name: { fixed: NODE_AGENTS_CONFIGMAP }, why: "the node agents' reports" },
  { group: 'coordination.k8s.io', resource: 'leases', verbs: ['get'], scope: 'namespace', name: { config: 'leader_lease_name' }, why: 'who leads' },
];

export const API_CALLS: Readonly<Record<Identity, readonly ApiCall[]>> = {
  'cluster-agent': CLUSTER_AGENT_CALLS,
  'node-agent': NODE_AGENT_CALLS,
  diagnose: DIAGNOSE_CALLS,
  'console-viewer': CONSOLE_VIEWER_CALLS,
};

/** One call with its object's name resolved from the configuration. */
export interface ResolvedApiCall extends Omit<ApiCall, 'name'> {
  readonly name?: string;
}

export function resolveApiCalls(config: TetherConfig, calls: readonly ApiCall[] = CLUSTER_AGENT_CALLS): ResolvedApiCall[] {
  return calls.map((c) => {
    const { name, ...rest } = c;
    if (!name) return rest;
    return { ...rest, name: 'fixed' in name ? name.fixed : String(config[name.config]) };
  });
}
