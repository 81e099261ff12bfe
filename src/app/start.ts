/**
 * The composition root of `tether start`: the cluster agent (`clusterAgent.ts`) with owner and
 * namespace facts read through the API, whose circuit breaker's state becomes a metric of the cluster
 * agent API once that exists.
 */
import type { TetherConfig } from '../config/index.js';
import type { LoadedKubeConfig } from '../kube/client.js';
import { createApiFactResolver } from '../kube/facts.js';
import type { Logger } from '../logging/logger.js';
import { startClusterAgent, type ClusterAgent } from './clusterAgent.js';

export interface StartOptions {
  readonly config: TetherConfig;
  readonly kube: LoadedKubeConfig;
  readonly namespace: string;
  readonly logger: Logger;
  readonly host: string;
  /** `--port` 0 (a free port); default `admission_controller.port`. */
  readonly port?: number;
  /** `--api-port` 0 (a free port); default `cluster_agent.cmd_port`. */
  readonly apiPort?: number;
  readonly webhookUrl?: string;
}

/** Starts the cluster agent and logs where it listens; a listen failure is thrown as it is. */
export async function runStart(o: StartOptions): Promise<ClusterAgent> {
  // The breaker's state is a metric of the cluster agent API, which starts after the facts resolver.
  let breakerChanged = (_state: 'open' | 'closed'): void => {};
  const agent = await startClusterAgent({
    config: o.config,
    kubeConfig: o.kube.kubeConfig,
    namespace: o.namespace,
    logger: o.logger,
    facts: createApiFactResolver({ kubeConfig: o.kube.kubeConfig, config: o.config, logger: o.logger, onBreakerChange: (state) => breakerChanged(state) }),
    host: o.host,
    ...(o.port !== undefined ? { port: o.port } : {}),
    ...(o.apiPort !== undefined ? { apiPort: o.apiPort } : {}),
    ...(o.webhookUrl ? { webhookUrl: o.webhookUrl } : {}),
  });
  const api = agent.api;
  if (api) breakerChanged = (state) => api.metrics.setBreakerState('facts', state);
  o.logger.info(
    { url: agent.server.url, port: agent.server.port, ...(agent.api ? { apiUrl: agent.api.url, apiPort: agent.api.port } : {}), apiServer: o.kube.server, kubeconfig: o.kube.source, namespace: o.namespace, identity: agent.controllers.identity, ...(o.webhookUrl ? { webhookUrl: o.webhookUrl } : {}) },
    `Tether cluster agent started; webhook server listening on ${agent.server.url}`,
  );
  return agent;
}
