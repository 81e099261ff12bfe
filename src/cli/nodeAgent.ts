/**
 * `tether node-agent`: the node agent (SPEC §9) of one node: reads its kubelet, asks the cluster agent
 * for its pods' tags, serves them on `node_agent.port`. Flags only; the wiring is `app/nodeAgent.ts`, the agent `nodeagent/`.
 */
import type { Command } from 'commander';
import { envVarFor, loadConfig } from '../config/index.js';
import { resolveTetherNamespace } from '../kube/namespace.js';
import { createLogger } from '../logging/logger.js';
import { NodeAgentRefused, requireNodeName } from '../nodeagent/agent.js';
import { checkAuthToken } from '../nodeagent/clusterAgentClient.js';
import { STATUS_DEFAULT_HOST } from '../nodeagent/statusServer.js';
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
      const { IntakeListenError, runNodeAgent } = await import('../app/nodeAgent.js');
      const listenPort = port.listen ?? config['node_agent.port'];
      let agent;
      try {
        agent = await runNodeAgent({
          config,
          nodeName,
          namespace: resolveTetherNamespace(flags.namespace, config),
          tokenProblem,
          logger: log,
          port: listenPort,
          ...(flags.host ? { host: flags.host } : {}),
        });
      } catch (e) {
        if (e instanceof IntakeListenError) throw new CliError(e.message, 1);
        rethrowListenError(e, flags.host ?? STATUS_DEFAULT_HOST, listenPort);
      }
      await untilSignalled(() => agent.stop(), log, 'node agent');
    });
}
