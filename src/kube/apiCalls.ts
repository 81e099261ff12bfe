/**
 * Every call the cluster agent (`tether start`) makes to the API server, as RBAC sees it: API group,
 * resource, verbs, cluster-wide or in Tether's namespace, and the one object's name where the call is
 * about one object. The single list: built from the tables the code itself runs from (the state's
 * watches, the owner kinds the tags webhook reads), plus the objects the controllers manage. `diagnose`
 * asks the API server, with SubjectAccessReviews, whether the cluster agent's service account may make
 * each of them (diagnose/checks/clusterAgentRbac.ts); a unit test checks deploy/rbac.yaml grants exactly
 * these.
 */
import { CLUSTER_AGENT_CA_CONFIGMAP, NODE_AGENTS_CONFIGMAP, type ConfigKey, type TetherConfig } from '../config/index.js';
import { OWNER_KINDS } from './ownerKinds.js';
import { WATCHED_RESOURCES, WATCH_VERBS } from './watchedResources.js';

export type ApiVerb = 'get' | 'list' | 'watch' | 'create' | 'update';

export interface ApiCall {
  /** API group as RBAC spells it (`""` is core). */
  readonly group: string;
  /** Plural resource, as RBAC spells it. */
  readonly resource: string;
  readonly verbs: readonly ApiVerb[];
  /** `cluster`: cluster-scoped objects, or every namespace's; `namespace`: Tether's namespace only. */
  readonly scope: 'cluster' | 'namespace';
  /** The call is about this one object: named by a configuration key or by convention. */
  readonly name?: { readonly config: ConfigKey } | { readonly fixed: string };
  /** What makes the call, for messages. */
  readonly why: string;
}

export const TETHER_API_CALLS: readonly ApiCall[] = [
  ...Object.values(WATCHED_RESOURCES).map((r): ApiCall => ({ group: r.group, resource: r.resource, verbs: WATCH_VERBS, scope: 'cluster', why: 'the cluster agent API watches it (its answers to node agents)' })),
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
];

/** One call with its object's name resolved from the configuration. */
export interface ResolvedApiCall extends Omit<ApiCall, 'name'> {
  readonly name?: string;
}

export function resolveApiCalls(config: TetherConfig, calls: readonly ApiCall[] = TETHER_API_CALLS): ResolvedApiCall[] {
  return calls.map((c) => {
    const { name, ...rest } = c;
    if (!name) return rest;
    return { ...rest, name: 'fixed' in name ? name.fixed : String(config[name.config]) };
  });
}
