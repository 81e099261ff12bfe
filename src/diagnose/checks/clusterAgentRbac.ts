/**
 * `cluster-agent-rbac` (issue 10, check 3; the first seed's `pods.policy is forbidden: User
 * "system:serviceaccount:default:datadog-cluster-agent" cannot list resource "pods" in API group
 * "policy"`). Two questions:
 * - may the cluster agent's service account make every call Tether makes? Asked of the API server with
 *   one SubjectAccessReview per verb of `CLUSTER_AGENT_CALLS` (kube/apiCalls.ts), the list the
 *   code runs from; each denial is named with the kubectl lines that grant exactly it;
 * - does a Role or ClusterRole bound to it grant resources of an API the server no longer serves
 *   (`policy/v1beta1` podsecuritypolicies, `extensions`)? RBAC rules carry no version, so a rule is stale
 *   when no served version of its group has its resource (discovery: /api/v1, /apis, /apis/<group>/<v>).
 */
import type * as k8s from '@kubernetes/client-node';
import { resolveApiCalls, type ResolvedApiCall } from '../../kube/apiCalls.js';
import type { KubeReader } from '../../kube/reader.js';
import type { Check, CheckOutcome } from '../check.js';
import { canIAll, resourceName, serviceAccountSubject } from '../accessReview.js';
import { outcomeOf, type Finding } from '../findings.js';

/** One verb of one call that the service account may not make. */
export interface DeniedCall {
  readonly call: ResolvedApiCall;
  readonly verb: string;
}

/** A role bound to the service account, with the binding that binds it. */
export interface BoundRole {
  readonly kind: 'ClusterRole' | 'Role';
  /** For a Role. */
  readonly namespace?: string;
  readonly name: string;
  /** e.g. `ClusterRoleBinding x`, `RoleBinding ns/y`. */
  readonly boundBy: string;
  readonly rules: readonly k8s.V1PolicyRule[];
}

/** Per served API group (`""` is core), the resources any served version of it has (subresources included). */
export type ServedResources = ReadonlyMap<string, ReadonlySet<string>>;

/** Groups and resources gone from Kubernetes, with when: for the explanation only (detection is by discovery). */
const KNOWN_REMOVALS: Readonly<Record<string, string>> = {
  'policy/podsecuritypolicies': 'PodSecurityPolicy (policy/v1beta1) was removed in Kubernetes 1.25',
  'extensions/*': 'the extensions/v1beta1 API was removed (its workloads moved to apps/v1 in 1.16, Ingress to networking.k8s.io/v1 in 1.22)',
};

export interface StaleRule {
  readonly role: BoundRole;
  readonly group: string;
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  /** Why: the group is not served at all, or none of its served versions has the resources. */
  readonly why: string;
}

/** Rules of `roles` that grant resources no served API has (pure). Wildcards grant whatever exists: never stale. */
export function staleRules(roles: readonly BoundRole[], served: ServedResources): StaleRule[] {
  const out: StaleRule[] = [];
  for (const role of roles) {
    for (const rule of role.rules) {
      for (const group of rule.apiGroups ?? []) {
        if (group === '*') continue;
        const resources = (rule.resources ?? []).filter((r) => !r.includes('*'));
        if (resources.length === 0) continue;
        const servedHere = served.get(group);
        const gone = servedHere ? resources.filter((r) => !servedHere.has(r)) : resources;
        if (gone.length === 0) continue;
        const known = KNOWN_REMOVALS[`${group}/${gone[0]}`] ?? KNOWN_REMOVALS[`${group}/*`];
        const why = servedHere
          ? `no version of API group "${group}" this API server serves has ${gone.join(', ')}`
          : `this API server does not serve API group "${group}" at all`;
        out.push({ role, group, resources: gone, verbs: rule.verbs, why: known ? `${why} (${known})` : why });
      }
    }
  }
  return out;
}

const roleId = (r: BoundRole): string => (r.kind === 'Role' ? `Role ${r.namespace}/${r.name}` : `ClusterRole ${r.name}`);
const groupName = (g: string): string => (g === '' ? '"" (core)' : g);

/** `kubectl create (cluster)role` + binding lines that grant exactly the denied verbs, one role per scope, name and verb set. */
export function grantLines(denied: readonly DeniedCall[], namespace: string, serviceAccount: string): string[] {
  const groups = new Map<string, { scope: 'cluster' | 'namespace'; name?: string; verbs: string[]; resources: Set<string> }>();
  const verbsOf = new Map<ResolvedApiCall, string[]>();
  for (const d of denied) verbsOf.set(d.call, [...(verbsOf.get(d.call) ?? []), d.verb]);
  for (const [call, verbs] of verbsOf) {
    const key = `${call.scope}|${call.name ?? ''}|${[...verbs].sort().join(',')}`;
    const g = groups.get(key) ?? { scope: call.scope, ...(call.name ? { name: call.name } : {}), verbs, resources: new Set<string>() };
    g.resources.add(resourceName(call.group, call.resource));
    groups.set(key, g);
  }
  let i = 0;
  return [...groups.values()].map((g) => {
    const role = `${serviceAccount}-tether-${++i}`;
    const what = `--verb=${g.verbs.join(',')} --resource=${[...g.resources].join(',')}${g.name ? ` --resource-name=${g.name}` : ''}`;
    const subject = `--serviceaccount=${namespace}:${serviceAccount}`;
    return g.scope === 'cluster'
      ? `kubectl create clusterrole ${role} ${what} && kubectl create clusterrolebinding ${role} --clusterrole=${role} ${subject}`
      : `kubectl -n ${namespace} create role ${role} ${what} && kubectl -n ${namespace} create rolebinding ${role} --role=${role} ${subject}`;
  });
}

export interface RbacFacts {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** How many verb questions were asked. */
  readonly asked: number;
  readonly denied: readonly DeniedCall[];
  readonly roles: readonly BoundRole[];
  readonly stale: readonly StaleRule[];
}

export function assessClusterAgentRbac(f: RbacFacts): CheckOutcome {
  const sa = `${f.namespace}/${f.serviceAccount}`;
  const context = [
    `service account ${sa}: ${f.asked} permissions asked (SubjectAccessReview), ${f.asked - f.denied.length} allowed`,
    `roles bound to it: ${f.roles.length === 0 ? 'none' : f.roles.map((r) => `${roleId(r)} (${r.boundBy})`).join(', ')}`,
  ];
  const findings: Finding[] = [];
  if (f.denied.length > 0) {
    const where = (c: ResolvedApiCall) => `${c.name ? ` "${c.name}"` : ''}${c.scope === 'namespace' ? ` in namespace ${f.namespace}` : ''}`;
    findings.push({
      status: 'error',
      summary: `the cluster agent's service account ${sa} may not make ${f.denied.length} of the ${f.asked} calls Tether makes: ${f.denied
        .slice(0, 4)
        .map((d) => `${d.verb} ${resourceName(d.call.group, d.call.resource)}${where(d.call)}`)
        .join(', ')}${f.denied.length > 4 ? ', …' : ''}.`,
      evidence: f.denied.map((d) => `denied: ${d.verb} ${d.call.resource} in API group ${groupName(d.call.group)}${where(d.call)}: ${d.call.why}`),
      fix: `Apply deploy/rbac.yaml with its namespace and service account set to ${f.namespace} and ${f.serviceAccount} (kubectl apply -f deploy/rbac.yaml), or grant only what is missing: ${grantLines(f.denied, f.namespace, f.serviceAccount).join(' ; ')}`,
    });
  }
  for (const s of f.stale) {
    findings.push({
      status: 'warning',
      summary: `${roleId(s.role)}, bound to ${sa} by ${s.role.boundBy}, grants ${s.verbs.join(',')} on ${s.resources.join(', ')} in API group ${groupName(s.group)}: ${s.why}.`,
      evidence: [`rule: apiGroups [${s.group}] resources [${s.resources.join(', ')}] verbs [${s.verbs.join(', ')}]`],
      fix:
        `Remove that rule (kubectl edit ${s.role.kind === 'Role' ? `role -n ${s.role.namespace}` : 'clusterrole'} ${s.role.name}), or re-apply deploy/rbac.yaml. ` +
        `It grants nothing any more, and a component configured to still ask for that API fails as the stack's cluster agent did: ` +
        `"unable to list Kube resources:'policy/v1beta1, Resource=pods' … pods.policy is forbidden"; remove the removed API from that component's configuration too.`,
    });
  }
  return outcomeOf(findings, `the cluster agent's service account ${sa} may make all ${f.asked} calls Tether makes; no bound role grants a removed API`, context);
}

interface Binding {
  readonly metadata?: k8s.V1ObjectMeta;
  readonly roleRef: k8s.V1RoleRef;
  readonly subjects?: k8s.RbacV1Subject[];
}

const RBAC = '/apis/rbac.authorization.k8s.io/v1';

/** Roles bound to the service account directly or through its service-account groups. */
async function boundRoles(kube: KubeReader, namespace: string, serviceAccount: string, signal: AbortSignal): Promise<BoundRole[]> {
  const groups = new Set(['system:serviceaccounts', `system:serviceaccounts:${namespace}`]);
  const names = (s: k8s.RbacV1Subject) =>
    (s.kind === 'ServiceAccount' && s.name === serviceAccount && (s.namespace ?? '') === namespace) || (s.kind === 'Group' && groups.has(s.name));
  const [clusterBindings, bindings] = await Promise.all([kube.list<Binding>(`${RBAC}/clusterrolebindings`, signal), kube.list<Binding>(`${RBAC}/rolebindings`, signal)]);
  const out: BoundRole[] = [];
  const seen = new Set<string>();
  for (const b of [...clusterBindings, ...bindings]) {
    if (!(b.subjects ?? []).some(names)) continue;
    const bindingNs = b.metadata?.namespace;
    const boundBy = bindingNs ? `RoleBinding ${bindingNs}/${b.metadata?.name}` : `ClusterRoleBinding ${b.metadata?.name}`;
    const isRole = b.roleRef.kind === 'Role';
    const key = `${isRole ? bindingNs : ''}/${b.roleRef.kind}/${b.roleRef.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const path = isRole ? `${RBAC}/namespaces/${bindingNs}/roles/${b.roleRef.name}` : `${RBAC}/clusterroles/${b.roleRef.name}`;
    const role = await kube.get<{ rules?: k8s.V1PolicyRule[] }>(path, signal);
    if (!role) continue;
    out.push({ kind: isRole ? 'Role' : 'ClusterRole', ...(isRole && bindingNs ? { namespace: bindingNs } : {}), name: b.roleRef.name, boundBy, rules: role.rules ?? [] });
  }
  return out;
}

/**
 * What the API server serves, for the groups `roles` name: core from /api/v1, the others from /apis and
 * each served version. A version that does not answer (an aggregated API that is down) makes its group
 * unknown, never stale.
 */
async function servedResources(kube: KubeReader, roles: readonly BoundRole[], signal: AbortSignal): Promise<Map<string, Set<string>>> {
  const wanted = new Set(roles.flatMap((r) => r.rules.flatMap((rule) => rule.apiGroups ?? [])).filter((g) => g !== '*'));
  const served = new Map<string, Set<string>>();
  if (wanted.size === 0) return served;
  const names = (list: k8s.V1APIResourceList | undefined) => (list?.resources ?? []).map((r) => r.name);
  if (wanted.has('')) served.set('', new Set(names(await kube.get<k8s.V1APIResourceList>('/api/v1', signal))));
  const groups = await kube.get<k8s.V1APIGroupList>('/apis', signal);
  for (const g of groups?.groups ?? []) {
    if (!wanted.has(g.name)) continue;
    const resources = new Set<string>();
    try {
      for (const v of g.versions) for (const n of names(await kube.get<k8s.V1APIResourceList>(`/apis/${v.groupVersion}`, signal))) resources.add(n);
    } catch {
      // Unknown is not stale: treat every resource as served.
      resources.clear();
      for (const r of roles) for (const rule of r.rules) if (rule.apiGroups?.includes(g.name)) for (const res of rule.resources ?? []) resources.add(res);
    }
    served.set(g.name, resources);
  }
  return served;
}

export const clusterAgentRbac: Check = {
  name: 'cluster-agent-rbac',
  finds: "The cluster agent's service account may not make a call Tether makes (each verb and resource, asked with a SubjectAccessReview), or a role bound to it grants an API the server no longer serves (policy/v1beta1 podsecuritypolicies, extensions).",
  fixes: 'Apply deploy/rbac.yaml (or the kubectl create role lines for what is missing); remove rules for removed APIs.',
  async run(ctx) {
    const subject = serviceAccountSubject(ctx.namespace, ctx.serviceAccount);
    const questions = resolveApiCalls(ctx.config).flatMap((call) => call.verbs.map((verb) => ({ call, verb })));
    const answers = await canIAll(
      ctx.kube,
      subject,
      questions.map((q) => ({ verb: q.verb, group: q.call.group, resource: q.call.resource, ...(q.call.name ? { name: q.call.name } : {}), ...(q.call.scope === 'namespace' ? { namespace: ctx.namespace } : {}) })),
      ctx.signal,
    );
    const roles = await boundRoles(ctx.kube, ctx.namespace, ctx.serviceAccount, ctx.signal);
    const stale = staleRules(roles, await servedResources(ctx.kube, roles, ctx.signal));
    return assessClusterAgentRbac({
      namespace: ctx.namespace,
      serviceAccount: ctx.serviceAccount,
      asked: questions.length,
      denied: questions.filter((_, i) => !answers[i]!.allowed),
      roles,
      stale,
    });
  },
};
