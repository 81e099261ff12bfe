/**
 * The collections the cluster agent's state watches, cluster-wide (SPEC §9: the cluster agent reads
 * these once for every node agent). The single list: the state's informers are started from it, and a
 * unit test checks that deploy/rbac.yaml grants `list` and `watch` on exactly these, in these API groups
 * (the current groups: `apps`, `batch`; never removed ones such as `extensions` or `policy/v1beta1`).
 */
export interface WatchedResource {
  /** API group as RBAC spells it (`""` is core). */
  readonly group: string;
  /** Plural resource name, as RBAC and URLs spell it. */
  readonly resource: string;
  /** The all-namespaces collection's URL path. */
  readonly path: string;
}

export const WATCHED_RESOURCES = {
  pods: { group: '', resource: 'pods', path: '/api/v1/pods' },
  nodes: { group: '', resource: 'nodes', path: '/api/v1/nodes' },
  namespaces: { group: '', resource: 'namespaces', path: '/api/v1/namespaces' },
  services: { group: '', resource: 'services', path: '/api/v1/services' },
  replicasets: { group: 'apps', resource: 'replicasets', path: '/apis/apps/v1/replicasets' },
  deployments: { group: 'apps', resource: 'deployments', path: '/apis/apps/v1/deployments' },
  statefulsets: { group: 'apps', resource: 'statefulsets', path: '/apis/apps/v1/statefulsets' },
  daemonsets: { group: 'apps', resource: 'daemonsets', path: '/apis/apps/v1/daemonsets' },
  jobs: { group: 'batch', resource: 'jobs', path: '/apis/batch/v1/jobs' },
  cronjobs: { group: 'batch', resource: 'cronjobs', path: '/apis/batch/v1/cronjobs' },
} as const satisfies Record<string, WatchedResource>;

export type ClusterResource = keyof typeof WATCHED_RESOURCES;

export const CLUSTER_RESOURCES = Object.keys(WATCHED_RESOURCES) as ClusterResource[];

/** The verbs the state needs on each of them, and no more. */
export const WATCH_VERBS = ['list', 'watch'] as const;
