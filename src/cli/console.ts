/** `tether console`: the web console on this machine, from a kubeconfig (issue 12). Flags only; the wiring is `app/console.ts`. */
import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { resolveTetherNamespace } from '../kube/namespace.js';
import { createLogger } from '../logging/logger.js';
import { connectToCluster } from './cluster.js';
import { warnUnknownEnv } from './environment.js';
import { CliError } from './errors.js';
import { rethrowListenError, untilSignalled } from './signals.js';

interface ConsoleFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  config?: string;
  port?: string;
}

export function registerConsole(program: Command): void {
  program
    .command('console')
    .description("serve the web console on 127.0.0.1 from your kubeconfig: nodes with their own pods, injection, webhook health, diagnose (prints a login token)")
    .option('--kubeconfig <file>', 'kubeconfig to use (default: KUBECONFIG, ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use instead of the current one')
    .option('-n, --namespace <ns>', "Tether's namespace (default: DD_KUBE_RESOURCES_NAMESPACE, else default)")
    .option('--config <file>', 'Tether configuration file (YAML), for the names to look for; DD_* environment variables apply too')
    .option('--port <port>', 'port on 127.0.0.1 (default: 0, a free port)', '0')
    .action(async (flags: ConsoleFlags) => {
      const port = Number(flags.port ?? '0');
      if (!/^\s*\d{1,5}\s*$/.test(flags.port ?? '0') || port > 65535) throw new CliError(`--port ${flags.port}: expected a port from 0 (a free one) to 65535`, 2);
      const config = loadConfig({ configPath: flags.config, env: process.env });
      const log = createLogger(config.log_level);
      warnUnknownEnv(log);
      const kube = await connectToCluster({ kubeconfig: flags.kubeconfig, context: flags.context, env: process.env });
      const namespace = resolveTetherNamespace(flags.namespace, config);
      // Loaded on demand: it brings the Kubernetes client, which other subcommands do without.
      const { startLocalConsole, LOCAL_CONSOLE_HOST } = await import('../app/console.js');
      let local;
      try {
        local = await startLocalConsole({ config, namespace, kubeConfig: kube.kubeConfig, kubeSource: kube.source, logger: log, port });
      } catch (e) {
        rethrowListenError(e, LOCAL_CONSOLE_HOST, port);
      }
      log.info({ url: local.url, apiServer: kube.server, kubeconfig: kube.source, namespace }, 'Tether console listening');
      // The token goes to stdout for the person who started this, never into the JSON logs.
      process.stdout.write(
        [
          '',
          `Tether console: ${local.url}`,
          `Login token (valid until this command stops): ${local.token}`,
          `It shows the cluster of ${kube.source} (${kube.server}); diagnose runs with your kubeconfig's permissions.`,
          'Ctrl-C stops it.',
          '',
        ].join('\n'),
      );
      await untilSignalled(() => local.stop(), log, 'console');
    });
}
