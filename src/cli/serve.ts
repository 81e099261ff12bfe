/**
 * `tether serve`: the admission webhook server alone (SPEC §6), from certificate files. Without
 * `--kubeconfig` it has no cluster connection (owner and namespace labels are then unknown); with it,
 * owners and namespaces are read from that API server (`kube/facts.ts`). Flags and wiring only; the
 * server is `server/`.
 */
import type { Command } from 'commander';
import { InvalidCertificate } from '../certs/index.js';
import { DEFAULT_PORT, loadConfig } from '../config/index.js';
import type { LoadedKubeConfig } from '../kube/client.js';
import { resolveTetherNamespace } from '../kube/namespace.js';
import { createLogger } from '../logging/logger.js';
import { DEFAULT_LISTEN_HOST, startWebhookServer, type WebhookServer } from '../server/index.js';
import { apiFacts, connectToCluster } from './cluster.js';
import { warnUnknownEnv } from './environment.js';
import { CliError } from './errors.js';
import { portOverride, rethrowListenError, untilSignalled } from './signals.js';

interface ServeFlags {
  tlsCert: string;
  tlsKey: string;
  port?: string;
  host: string;
  config?: string;
  namespace?: string;
  kubeconfig?: string;
  context?: string;
}

/**
 * The API server to read owners from: only with an explicit `--kubeconfig` (KUBECONFIG or an in-cluster
 * account alone do not switch owner lookup on, so a bare `serve` never talks to a cluster by surprise).
 */
async function clusterConnection(flags: ServeFlags): Promise<LoadedKubeConfig | undefined> {
  if (!flags.kubeconfig) {
    if (flags.context) throw new CliError('--context needs --kubeconfig (owner lookup is off without it)', 1);
    return undefined;
  }
  return connectToCluster({ kubeconfig: flags.kubeconfig, ...(flags.context ? { context: flags.context } : {}) });
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the admission webhook server alone, with a certificate from files (no cluster needed; --kubeconfig adds owner lookup)')
    .requiredOption('--tls-cert <file>', 'PEM certificate served (reloaded when the file changes)')
    .requiredOption('--tls-key <file>', 'PEM private key of the certificate')
    .option('--port <port>', `HTTPS port (default: admission_controller.port, ${DEFAULT_PORT}); 0 picks a free port`)
    .option('--host <address>', 'address to listen on', DEFAULT_LISTEN_HOST)
    .option('--config <file>', 'Tether configuration file (YAML); DD_* environment variables apply too')
    .option('--kubeconfig <file>', "read pods' owners (tags webhook) and namespaces' labels from this cluster; without it they are unknown")
    .option('--context <name>', 'kubeconfig context to use instead of its current one')
    .option('-n, --namespace <ns>', "Tether's own namespace, whose pods are never mutated (default: kube_resources_namespace, else the pod's, else default)")
    .action(async (flags: ServeFlags) => {
      const port = portOverride(flags.port);
      const config = loadConfig({
        configPath: flags.config,
        env: process.env,
        overrides: { 'admission_controller.port': [port.override, '--port'] },
      });
      const log = createLogger(config.log_level);
      warnUnknownEnv(log);
      const namespace = resolveTetherNamespace(flags.namespace, config);
      const kube = await clusterConnection(flags);
      const facts = kube ? await apiFacts(kube, config, log) : undefined;
      let server: WebhookServer;
      try {
        server = await startWebhookServer({
          config,
          tls: { certFile: flags.tlsCert, keyFile: flags.tlsKey },
          host: flags.host,
          ...(port.listen !== undefined ? { port: port.listen } : {}),
          logger: log,
          tetherNamespace: namespace,
          ...(facts ? { facts } : {}),
        });
      } catch (e) {
        if (e instanceof InvalidCertificate) throw new CliError(`--tls-cert ${flags.tlsCert} / --tls-key ${flags.tlsKey}: ${e.message}`, 1);
        rethrowListenError(e, flags.host, port.listen ?? config['admission_controller.port']);
      }
      log.info(
        {
          url: server.url,
          port: server.port,
          endpoints: Object.fromEntries([...server.routes].map(([path, kind]) => [kind, path])),
          tetherNamespace: namespace,
          ownerLookup: kube ? { apiServer: kube.server, kubeconfig: kube.source } : 'off (no --kubeconfig)',
        },
        `Tether webhook server listening on ${server.url}`,
      );
      await untilSignalled(() => server.shutdown(), log, 'webhook server');
    });
}
