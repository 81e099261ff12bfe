/**
 * Prometheus metrics of the cluster agent (issue 9): the API's requests by route pattern and status,
 * its authentication failures by reason, and gauges/counters the rest of `tether start` feeds (leader,
 * the facts breaker, reconciles). A registry of its own, as the webhook server has (`server/metrics.ts`),
 * so that several instances (tests) never collide on names.
 *
 * Requests are counted in plain arrays on the hot path and handed to prom-client when it is scraped
 * (`collect`): a labelled `inc` hashes its labels into a string on every call, which the tags endpoints,
 * asked thousands of times a second, need not pay.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { BreakerState } from '../../kube/breaker.js';
import { AUTH_FAILURE_REASONS, type AuthFailureReason } from '../../agentapi/auth.js';
import { ROUTES, UNKNOWN_ROUTE, type RouteId } from './routes.js';

/** The statuses the API answers; anything else is counted as `other`. */
const STATUSES = [200, 400, 401, 403, 404, 405, 500, 503] as const;
const BREAKER_STATES: readonly BreakerState[] = ['closed', 'open', 'probing'];

export type ReconcileOutcome = 'success' | 'error';

export interface ClusterAgentMetrics {
  readonly registry: Registry;
  /** One answered request; `route` undefined when no route matched. */
  countRequest(route: RouteId | undefined, status: number): void;
  countAuthFailure(reason: AuthFailureReason): void;
  /** 1 while this replica holds the leader Lease. */
  setLeader(leader: boolean): void;
  /** The state of a circuit breaker (`kube/breaker.ts`), e.g. `facts`. */
  setBreakerState(breaker: string, state: BreakerState): void;
  /** One reconcile of `controller` (`certificate`, `webhook`, `ca-configmap`...). */
  countReconcile(controller: string, outcome: ReconcileOutcome): void;
}

const ROUTE_IDS = Object.keys(ROUTES) as RouteId[];
const ROUTE_INDEX = new Map<RouteId | undefined, number>(ROUTE_IDS.map((r, i) => [r, i]));
const UNKNOWN_INDEX = ROUTE_IDS.length;
const STATUS_INDEX = new Map<number, number>(STATUSES.map((s, i) => [s, i]));
const OTHER_STATUS = STATUSES.length;

export function createClusterAgentMetrics(): ClusterAgentMetrics {
  const registry = new Registry();
  const width = STATUSES.length + 1;
  const counts = new Float64Array((ROUTE_IDS.length + 1) * width);
  const authCounts = new Float64Array(AUTH_FAILURE_REASONS.length);

  new Counter({
    name: 'tether_cluster_agent_requests_total',
    help: 'Requests answered by the cluster agent API, per route pattern (never the raw path) and status.',
    labelNames: ['endpoint', 'status'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (let r = 0; r <= ROUTE_IDS.length; r++) {
        const endpoint = r < ROUTE_IDS.length ? ROUTES[ROUTE_IDS[r] as RouteId] : UNKNOWN_ROUTE;
        for (let s = 0; s < width; s++) {
          const n = counts[r * width + s] as number;
          if (n > 0) this.inc({ endpoint, status: s < STATUSES.length ? String(STATUSES[s]) : 'other' }, n);
        }
      }
    },
  });
  new Counter({
    name: 'tether_cluster_agent_auth_failures_total',
    help: 'Requests refused by the cluster agent API, per reason: missing (no bearer token), scheme (not Bearer), malformed (several Authorization headers), invalid (wrong token, 403).',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      this.reset();
      AUTH_FAILURE_REASONS.forEach((reason, i) => this.inc({ reason }, authCounts[i] as number));
    },
  });
  const leader = new Gauge({
    name: 'tether_leader',
    help: '1 while this replica holds the leader Lease (runs the certificate and webhook controllers), else 0.',
    registers: [registry],
  });
  leader.set(0);
  const breaker = new Gauge({
    name: 'tether_breaker_state',
    help: 'Circuit breakers of reads from the API server: 1 for the state each breaker is in (closed, open, probing), 0 for the others.',
    labelNames: ['breaker', 'state'] as const,
    registers: [registry],
  });
  const reconciles = new Counter({
    name: 'tether_reconciles_total',
    help: 'Reconciles per controller and outcome (success, error; an error is retried with backoff).',
    labelNames: ['controller', 'outcome'] as const,
    registers: [registry],
  });

  return {
    registry,
    countRequest(route, status) {
      const r = ROUTE_INDEX.get(route) ?? UNKNOWN_INDEX;
      const s = STATUS_INDEX.get(status) ?? OTHER_STATUS;
      counts[r * width + s]!++;
    },
    countAuthFailure(reason) {
      authCounts[AUTH_FAILURE_REASONS.indexOf(reason)]!++;
    },
    setLeader(isLeader) {
      leader.set(isLeader ? 1 : 0);
    },
    setBreakerState(name, state) {
      for (const s of BREAKER_STATES) breaker.set({ breaker: name, state: s }, s === state ? 1 : 0);
    },
    countReconcile(controller, outcome) {
      reconciles.inc({ controller, outcome });
    },
  };
}
