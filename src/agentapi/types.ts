/**
 * The cluster agent API's wire format (SPEC §9), shared by the server (`clusteragent/`) and its client
 * (`nodeagent/clusterAgentClient.ts`) so the two cannot drift apart. Types, paths and fixed texts only:
 * no logic, no imports.
 *
 * The first group is the stack's own API, in the shapes its node agents parse (field names included);
 * `/api/v1/tether/…` is Tether's addition.
 */

/** `GET /version`. */
export interface VersionAnswer {
  readonly Major: number;
  readonly Minor: number;
  readonly Patch: number;
  readonly Pre: string;
  readonly Meta: string;
  readonly Commit: string;
}

/**
 * `GET /api/v1/tags/pod/{node}`: the Services selecting each pod of that node,
 * `{"Nodes":{"<node>":{"services":{"<ns>":{"<pod>":{"<svc>":{}}}}}},"Warnings":[],"Errors":""}`.
 * A pod no Service selects is absent. (The empty objects are Go's `map[string]struct{}` sets.)
 */
export interface PodServicesAnswer {
  readonly Nodes: Readonly<Record<string, { readonly services: ServicesByNamespace }>>;
  readonly Warnings: readonly string[];
  readonly Errors: string;
}
/** namespace → pod name → Service name → `{}`. */
export type ServicesByNamespace = Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, Record<string, never>>>>>>>;

/**
 * `GET /api/v1/tether/pods/{node}`: every pod the cluster agent knows bound to that node
 * (`spec.nodeName`), with all its tags as the shared tagger computes them (`kube_namespace:…`,
 * `pod_name:…`, `kube_deployment:…`, `kube_service:…`, `env:…`…), sorted:
 * `{"node":"<node>","pods":[{"namespace":"…","name":"…","uid":"…","tags":["kube_namespace:…",…]}]}`.
 */
export interface NodePodsAnswer {
  readonly node: string;
  readonly pods: readonly PodTagsEntry[];
}
export interface PodTagsEntry {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly tags: readonly string[];
}

/** Paths; `{node}` is one path segment, percent-encoded. */
export const API_PATHS = {
  version: '/version',
  podServices: (node: string): string => `/api/v1/tags/pod/${encodeURIComponent(node)}`,
  nodePods: (node: string): string => `/api/v1/tether/pods/${encodeURIComponent(node)}`,
} as const;

/**
 * The bodies of the API's authentication failures, as the stack's cluster agent words them (its node
 * agents and people's searches match on them): 401 with `WWW-Authenticate: Bearer` when no bearer token
 * came, 403 when the token differs from the cluster agent's.
 */
export const AUTH_FAILURE_TEXT = {
  missing: 'no session token provided',
  invalid: 'invalid session token',
} as const;
