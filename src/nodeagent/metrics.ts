/**
 * Prometheus metrics of the node agent, on its own Registry (as the webhook server's): requests to each
 * upstream by result (`ok` or the problem code), the time of the last success, and the pods it holds.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { ProblemCode, Upstream } from './problems.js';

export type RequestResult = 'ok' | ProblemCode;

const UPSTREAMS: readonly Upstream[] = ['kubelet', 'cluster-agent'];

export interface NodeAgentMetrics {
  readonly registry: Registry;
  observe(upstream: Upstream, result: RequestResult, atMs: number): void;
  setPods(own: number, foreign: number): void;
  /** Age of the tags served, in seconds (`undefined`: none yet). Read at scrape time. */
  tagsAge(read: () => number | undefined): void;
}

export function createNodeAgentMetrics(): NodeAgentMetrics {
  const registry = new Registry();
  const requests = new Counter({
    name: 'tether_node_agent_upstream_requests_total',
    help: 'Requests of the node agent to its kubelet and to the cluster agent, by result: ok, or the problem code (unauthorized, forbidden, tls-unknown-ca, tls-handshake, unreachable, ...).',
    labelNames: ['upstream', 'result'] as const,
    registers: [registry],
  });
  const lastSuccess = new Gauge({
    name: 'tether_node_agent_upstream_last_success_timestamp_seconds',
    help: 'Unix time of the last successful request to each upstream (0: none yet).',
    labelNames: ['upstream'] as const,
    registers: [registry],
  });
  const pods = new Gauge({ name: 'tether_node_agent_pods', help: "Pods of this node the node agent holds (the kubelet's last answer).", registers: [registry] });
  const foreign = new Gauge({
    name: 'tether_node_agent_foreign_pods',
    help: "Pods of other nodes in the kubelet's last answer, dropped (should be 0: otherwise the kubelet host is not this node's).",
    registers: [registry],
  });
  let readAge: () => number | undefined = () => undefined;
  new Gauge({
    name: 'tether_node_agent_tags_age_seconds',
    help: "Age of the tags served: time since the cluster agent's last answer (NaN before the first).",
    registers: [registry],
    collect() {
      const age = readAge();
      this.set(age ?? Number.NaN);
    },
  });
  for (const upstream of UPSTREAMS) {
    requests.inc({ upstream, result: 'ok' }, 0);
    lastSuccess.set({ upstream }, 0);
  }
  return {
    registry,
    observe(upstream, result, atMs) {
      requests.inc({ upstream, result });
      if (result === 'ok') lastSuccess.set({ upstream }, atMs / 1000);
    },
    setPods(own, dropped) {
      pods.set(own);
      foreign.set(dropped);
    },
    tagsAge(read) {
      readAge = read;
    },
  };
}
