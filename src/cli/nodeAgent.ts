/**
 * `tether node-agent`: the node agent (SPEC §9) of one node: reads its kubelet, asks the cluster agent
 * for its pods' tags, serves them on `node_agent.port`. Flags and wiring only; the agent is `nodeagent/`.
 */
import type { Command } from 'commander';
import { envVarFor, loadConfig } from '../config/index.js';
import { resolveTetherNamespace } from '../kube/namespace.js';
import { createLogger } from '../logging/logger.js';
import { createNodeAgent, NodeAgentRefused, requireNodeName, type ClusterAgentSource } from '../nodeagent/agent.js';
import { checkAuthToken, createClusterAgentClient, type ClusterAgentClient } from '../nodeagent/clusterAgentClient.js';
import { discoverClusterAgent } from '../nodeagent/discovery.js';
import { createNodeIntake } from '../nodeagent/intake/intake.js';
import { createKubeletClient, kubeletClientOptions } from '../nodeagent/kubelet.js';
import { createNodeAgentMetrics } from '../nodeagent/metrics.js';
import type { UpstreamProblem } from '../nodeagent/problems.js';
import { STATUS_DEFAULT_HOST, startStatusServer } from '../nodeagent/statusServer.js';
import { warnUnknownEnv } from './environment.js';
import { CliError } from './errors.js';
import { portOverride, rethrowListenError, untilSignalled } from './signals.js';

interface NodeAgentFlags {
  config?: string;
  namespace?: string;
  port?: string;
  host?: string;
}

export function registerNodeAgent(program: Command): void {
  program
    .command('node-agent')
    .description("run the node agent of one node: its kubelet's pods, their tags from the cluster agent, on a local status endpoint")
    .option('--config <file>', 'Tether configuration file (YAML); DD_* environment variables apply too')
    .option('-n, --namespace <ns>', "namespace of the cluster agent's Service (default: DD_KUBE_RESOURCES_NAMESPACE, else the pod's, else default)")
    .option('--port <port>', 'port of the status endpoint (default: node_agent.port, 5001); 0 picks a free port')
    .option('--host <address>', `address the status endpoint listens on (default: ${STATUS_DEFAULT_HOST}, every interface)`)
    .action(async (flags: NodeAgentFlags) => {
      const port = portOverride(flags.port);
      const config = loadConfig({ configPath: flags.config, env: process.env, overrides: { 'node_agent.port': [port.override, '--port'] } });
      let nodeName: string;
      try {
        nodeName = requireNodeName(config.kubernetes_kubelet_nodename);
      } catch (e) {
        if (e instanceof NodeAgentRefused) throw new CliError(e.message, 2);
        throw e;
      }
      // The configuration already refuses a short token; checked here too, before anything is started.
      const tokenProblem = checkAuthToken(config['cluster_agent.auth_token']);
      if (tokenProblem?.code === 'token-too-short') throw new CliError(`${envVarFor('cluster_agent.auth_token')}: ${tokenProblem.summary} Fix: ${tokenProblem.fix}`, 2);

      const log = createLogger(config.log_level);
      warnUnknownEnv(log);
      const namespace = resolveTetherNamespace(flags.namespace, config);
      const found = discoverClusterAgent({
        url: config['cluster_agent.url'],
        serviceName: config['cluster_agent.kubernetes_service_name'],
        namespace,
        env: process.env,
      });
      let clusterAgent: ClusterAgentSource | UpstreamProblem;
      let client: ClusterAgentClient | undefined;
      if (!found.ok) clusterAgent = found.problem;
      else if (tokenProblem) clusterAgent = tokenProblem;
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
        nodeName,
        kubelet,
        clusterAgent,
        ...(found.ok ? { clusterAgentFoundFrom: found.endpoint.foundFrom } : {}),
        logger: log,
        metrics,
      });
      // What injected pods send (DogStatsD, traces), tagged with their pod from this agent's pods, and
      // exported as OTLP when otlp_endpoint is set.
      const intake = createNodeIntake({ config, pods: () => agent.pods(), refreshPods: () => agent.refresh(), logger: log, registry: metrics.registry });
      const listenPort = port.listen ?? config['node_agent.port'];
      let server;
      try {
        await intake.start();
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.syscall === 'listen' || err.syscall === 'bind') throw new CliError(`the node agent's intake cannot listen: ${err.message} (DogStatsD: dogstatsd_port / DD_DOGSTATSD_PORT; traces: apm_config.receiver_port / DD_APM_RECEIVER_PORT)`, 1);
        throw e;
      }
      try {
        server = await startStatusServer({ agent, metrics, dogstatsd: intake.dogstatsd, intake, token: config['cluster_agent.auth_token'], port: listenPort, ...(flags.host ? { host: flags.host } : {}), logger: log });
      } catch (e) {
        await intake.stop(0);
        rethrowListenError(e, flags.host ?? STATUS_DEFAULT_HOST, listenPort);
      }
      agent.start();
      log.info({ node: nodeName, url: server.url, port: server.port }, `Tether node agent of node ${nodeName} started; status on ${server.url}/status`);
      await untilSignalled(
        async () => {
          // The intake first: its last DogStatsD window and queued exports still get their pods' tags.
          await intake.stop();
          await agent.stop();
          client?.close();
          kubelet.close();
          await server.close();
        },
        log,
        'node agent',
      );
    });
}
