/**
 * The cluster agent API's routes (SPEC §9), matched without regular expressions or allocations beyond
 * the decoded path segments: the tags endpoints are asked by every node agent every few seconds.
 *
 * A route is identified by its pattern (`/api/v1/tags/pod/{node}`), which is also its metrics label, so
 * that a thousand node names make one series, not a thousand.
 */

export const ROUTES = {
  version: '/version',
  podServices: '/api/v1/tags/pod/{node}',
  podTags: '/api/v1/tags/pod/{node}/{ns}/{pod}',
  nodeLabels: '/api/v1/tags/node/{node}',
  namespaceLabels: '/api/v1/tags/namespace/{ns}',
  clusterId: '/api/v1/cluster/id',
  nodePods: '/api/v1/tether/pods/{node}',
  healthz: '/healthz',
  readyz: '/readyz',
  metrics: '/metrics',
  /** The web console's API and page (console/handler.ts routes within them); metrics labels only. */
  consoleApi: '/api/v1/console/*',
  consolePage: '/console/*',
} as const;

export type RouteId = keyof typeof ROUTES;
/** The metrics label of a path that matches no route (bounded: never the raw path). */
export const UNKNOWN_ROUTE = 'unknown';

/** Routes answered without a bearer token: probes and Prometheus. */
export const OPEN_ROUTES: ReadonlySet<RouteId> = new Set<RouteId>(['healthz', 'readyz', 'metrics']);

export interface RouteMatch {
  readonly route: RouteId;
  /** Decoded path segments, in pattern order (`{node}`, `{ns}`, `{pod}`). */
  readonly params: readonly string[];
}

/** A path segment that is not valid percent-encoding (`%zz`): the request is malformed (400). */
export class BadPath extends Error {
  override name = 'BadPath';
}

const TAGS_POD = '/api/v1/tags/pod/';
const TAGS_NODE = '/api/v1/tags/node/';
const TAGS_NAMESPACE = '/api/v1/tags/namespace/';
const TETHER_PODS = '/api/v1/tether/pods/';

const PREFIXED: readonly (readonly [string, RouteId])[] = [
  [TAGS_NODE, 'nodeLabels'],
  [TAGS_NAMESPACE, 'namespaceLabels'],
  [TETHER_PODS, 'nodePods'],
];

const EXACT: ReadonlyMap<string, RouteMatch> = new Map(
  (['version', 'clusterId', 'healthz', 'readyz', 'metrics'] as const).map((r) => [ROUTES[r], { route: r, params: [] }]),
);

function decode(segment: string): string {
  if (segment.indexOf('%') < 0) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new BadPath(`the path segment ${JSON.stringify(segment)} is not valid percent-encoding`);
  }
}

/** `rest` split on `/` into exactly `count` non-empty segments, decoded; undefined otherwise. */
function segments(rest: string, count: number): string[] | undefined {
  const parts = rest.split('/');
  if (parts.length !== count) return undefined;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as string;
    if (p === '') return undefined;
    parts[i] = decode(p);
  }
  return parts;
}

/**
 * The route of a request path (the query already removed), or undefined when none matches. Throws
 * `BadPath` on malformed percent-encoding.
 */
export function matchRoute(path: string): RouteMatch | undefined {
  const exact = EXACT.get(path);
  if (exact) return exact;
  if (path.startsWith(TAGS_POD)) {
    const rest = path.slice(TAGS_POD.length);
    const one = segments(rest, 1);
    if (one) return { route: 'podServices', params: one };
    const three = segments(rest, 3);
    return three ? { route: 'podTags', params: three } : undefined;
  }
  for (const [prefix, route] of PREFIXED) {
    if (!path.startsWith(prefix)) continue;
    const one = segments(path.slice(prefix.length), 1);
    return one ? { route, params: one } : undefined;
  }
  return undefined;
}
