/** `tether start`: the cluster agent (SPEC §1) against a Kubernetes API server. Flags only; the wiring is `app/start.ts`. */
import type { Command } from 'commander';
import { DEFAULT_PORT, loadConfig } from '../config/index.js';
import { resolveTetherNamespace } from '../kube/namespace.js';
import { createLogger } from '../logging/logger.js';
import { DEFAULT_LISTEN_HOST } from '../server/index.js';
import { checkWebhookUrl } from '../clusteragent/webhookUrl.js';
import { connectToCluster } from './cluster.js';
import { warnUnknownEnv } from './environment.js';
import { CliError } from './errors.js';
import { portOverride, rethrowListenError, untilSignalled } from './signals.js';

interface StartFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  config?: string;
  webhookUrl?: string;
  port?: string;
  apiPort?: string;
  host: string;
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run the cluster agent: webhook server on every replica, certificate and webhook-configuration controllers on the leader')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: KUBECONFIG, the in-cluster service account, ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use instead of the current one')
    .option('-n, --namespace <ns>', "Tether's namespace: Secret, Service and Lease live there (default: DD_KUBE_RESOURCES_NAMESPACE, else the pod's, else default)")
    .option('--config <file>', 'Tether configuration file (YAML); DD_* environment variables apply too')
    .option('--webhook-url <url>', 'the API server calls https://HOST:PORT/<endpoint> instead of the Service (running outside the cluster)')
    .option('--port <port>', `HTTPS port of the webhook server (default: admission_controller.port, ${DEFAULT_PORT}); 0 picks a free port`)
    .option('--api-port <port>', 'HTTPS port of the cluster agent API (default: cluster_agent.cmd_port, 5005); 0 picks a free port')
    .option('--host <address>', 'address the webhook server and the cluster agent API listen on', DEFAULT_LISTEN_HOST)
    .action(async (flags: StartFlags) => {
      const port = portOverride(flags.port);
      const apiPort = portOverride(flags.apiPort);
      const config = loadConfig({
        configPath: flags.config,
        env: process.env,
        overrides: { 'admission_controller.port': [port.override, '--port'], 'cluster_agent.cmd_port': [apiPort.override, '--api-port'] },
      });
      const log = createLogger(config.log_level);
      warnUnknownEnv(log);
      if (flags.webhookUrl) {
        const problem = checkWebhookUrl(flags.webhookUrl);
        if (problem) throw new CliError(`--webhook-url ${flags.webhookUrl}: ${problem}`, 2);
      }
      const kube = await connectToCluster({ kubeconfig: flags.kubeconfig, context: flags.context, env: process.env });
      // Loaded on demand: it brings the Kubernetes client, which other subcommands do without.
      const { runStart } = await import('../app/start.js');
      const namespace = resolveTetherNamespace(flags.namespace, config);
      let agent;
      try {
        agent = await runStart({
          config,
          kube,
          namespace,
          logger: log,
          host: flags.host,
          ...(port.listen !== undefined ? { port: port.listen } : {}),
          ...(apiPort.listen !== undefined ? { apiPort: apiPort.listen } : {}),
          ...(flags.webhookUrl ? { webhookUrl: flags.webhookUrl } : {}),
        });
      } catch (e) {
        rethrowListenError(e, flags.host, port.listen ?? config['admission_controller.port']);
      }
      await untilSignalled(() => agent.stop(), log, 'cluster agent');
    });
}
