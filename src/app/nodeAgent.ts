/**
 * The composition root of `tether node-agent`: the node agent of one node (`nodeagent/`) reading its
 * kubelet, asking the cluster agent (found by `discovery.ts`) for its pods' tags, the intake that tags
 * what injected pods send with them, and the status server.
 */
import type { TetherConfig } from '../config/index.js';
import type { Logger } from '../logging/logger.js';
import { createNodeAgent, type ClusterAgentSource } from '../nodeagent/agent.js';
import { createClusterAgentClient, type ClusterAgentClient } from '../nodeagent/clusterAgentClient.js';
import { discoverClusterAgent } from '../nodeagent/discovery.js';
import { createNodeIntake } from '../nodeagent/intake/intake.js';
import { createKubeletClient, kubeletClientOptions } from '../nodeagent/kubelet.js';
import { createNodeAgentMetrics } from '../nodeagent/metrics.js';
import type { UpstreamProblem } from '../nodeagent/problems.js';
import { startStatusServer } from '../nodeagent/statusServer.js';

export interface NodeAgentOptions {
  readonly config: TetherConfig;
  readonly nodeName: string;
  /** The cluster agent Service's namespace. */
  readonly namespace: string;
  /** Why the token cannot be used (checked by the caller), if it cannot: reported instead of the cluster agent. */
  readonly tokenProblem: UpstreamProblem | undefined;
  readonly logger: Logger;
  /** The status server's port and host (default: every interface). */
  readonly port: number;
  readonly host?: string;
}

export interface RunningNodeAgent {
  readonly url: string;
  readonly port: number;
  /** The intake first (its last DogStatsD window and queued exports still get their pods' tags), then the rest. */
  stop(): Promise<void>;
}

/** The intake could not bind its ports; the message names the settings that move them. */
export class IntakeListenError extends Error {
  override name = 'IntakeListenError';
}

/** Starts the node agent; a status-server listen failure is thrown as it is. */
export async function runNodeAgent(o: NodeAgentOptions): Promise<RunningNodeAgent> {
  const { config, logger: log } = o;
  const found = discoverClusterAgent({
    url: config['cluster_agent.url'],
    serviceName: config['cluster_agent.kubernetes_service_name'],
    namespace: o.namespace,
    env: process.env,
  });
  let clusterAgent: ClusterAgentSource | UpstreamProblem;
  let client: ClusterAgentClient | undefined;
  if (!found.ok) clusterAgent = found.problem;
  else if (o.tokenProblem) clusterAgent = o.tokenProblem;
  else {
    log.info({ url: found.endpoint.url, foundFrom: found.endpoint.foundFrom, servername: found.endpoint.servername }, `cluster agent at ${found.endpoint.url} (from ${found.endpoint.foundFrom})`);
    clusterAgent = client = createClusterAgentClient({
      endpoint: found.endpoint,
      authToken: config['cluster_agent.auth_token'],
      tlsVerify: config['cluster_agent.tls_verify'],
      caFile: config['cluster_agent.ca_file'],
    });
  }

  const kubelet = createKubeletClient(kubeletClientOptions(config, { log }));

  const metrics = createNodeAgentMetrics();
  const agent = createNodeAgent({
    nodeName: o.nodeName,
    kubelet,
    clusterAgent,
    ...(found.ok ? { clusterAgentFoundFrom: found.endpoint.foundFrom } : {}),
    logger: log,
    metrics,
  });
  // What injected pods send (DogStatsD, traces), tagged with their pod from this agent's pods, and
  // exported as OTLP when otlp_endpoint is set.
  const intake = createNodeIntake({ config, pods: () => agent.pods(), refreshPods: () => agent.refresh(), logger: log, registry: metrics.registry });
  try {
    await intake.start();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.syscall === 'listen' || err.syscall === 'bind') throw new IntakeListenError(`the node agent's intake cannot listen: ${err.message} (DogStatsD: dogstatsd_port / DD_DOGSTATSD_PORT; traces: apm_config.receiver_port / DD_APM_RECEIVER_PORT)`, { cause: e });
    throw e;
  }
  let server;
  try {
    server = await startStatusServer({ agent, metrics, dogstatsd: intake.dogstatsd, intake, token: config['cluster_agent.auth_token'], port: o.port, ...(o.host ? { host: o.host } : {}), logger: log });
  } catch (e) {
    await intake.stop(0);
    throw e;
  }
  agent.start();
  log.info({ node: o.nodeName, url: server.url, port: server.port }, `Tether node agent of node ${o.nodeName} started; status on ${server.url}/status`);
  return {
    url: server.url,
    port: server.port,
    async stop() {
      await intake.stop();
      await agent.stop();
      client?.close();
      kubelet.close();
      await server.close();
    },
  };
}
