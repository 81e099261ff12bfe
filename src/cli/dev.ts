/**
 * `tether dev` (what `npm start` runs): a local control plane (etcd, kube-apiserver,
 * kube-controller-manager on loopback, built once from the Go module proxy) and the cluster agent
 * against it, reached by the API server through `--webhook-url`. Prints the kubeconfig to use, so a
 * newcomer can `kubectl apply -f examples/` and see pods mutated without a cluster of their own.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { createLogger } from '../logging/logger.js';
import { warnUnknownEnv } from './environment.js';
import { untilSignalled } from './signals.js';

interface DevFlags {
  config?: string;
  namespace: string;
}

/** Tether's own namespace in the dev cluster (as in deploy/rbac.yaml), so `default` is mutated. */
const DEV_NAMESPACE = 'datadog';

export function registerDev(program: Command): void {
  program
    .command('dev')
    .description('start a local control plane and the cluster agent against it (the first run builds the binaries, a few minutes)')
    .option('--config <file>', 'Tether configuration file (YAML); DD_* environment variables apply too')
    .option('-n, --namespace <ns>', "Tether's namespace in the local cluster", DEV_NAMESPACE)
    .action(async (flags: DevFlags) => {
      const config = loadConfig({ configPath: flags.config, env: process.env });
      // Loaded on demand: they bring the Kubernetes client, which other subcommands do without.
      const [k8s, { startClusterAgent }, { freePort, startControlPlane }, { createApiFactResolver }] = await Promise.all([
        import('@kubernetes/client-node'),
        import('../clusteragent/agent.js'),
        import('../devcluster/controlPlane.js'),
        import('../kube/facts.js'),
      ]);
      const log = createLogger(config.log_level);
      warnUnknownEnv(log);
      log.info('starting a local control plane (etcd, kube-apiserver, kube-controller-manager)');
      const cp = await startControlPlane();
      const kubeConfig = cp.kubeConfig();
      await kubeConfig
        .makeApiClient(k8s.CoreV1Api)
        .createNamespace({ body: { metadata: { name: flags.namespace } } })
        .catch((e: unknown) => {
          if (!(e instanceof k8s.ApiException && e.code === 409)) throw e;
        });
      const port = await freePort();
      const agent = await startClusterAgent({
        config,
        kubeConfig,
        namespace: flags.namespace,
        logger: log,
        facts: createApiFactResolver({ kubeConfig, config, logger: log }),
        host: '127.0.0.1',
        port,
        webhookUrl: `https://127.0.0.1:${port}`,
      });
      log.info({ apiServer: cp.server, kubeconfig: cp.kubeconfigPath, webhook: agent.server.url }, 'Tether dev cluster is up');
      process.stdout.write(
        [
          '',
          `Tether is running against a local Kubernetes API server at ${cp.server}.`,
          'In another shell:',
          `  export KUBECONFIG=${cp.kubeconfigPath}`,
          '  kubectl apply -f examples/pod.yaml',
          '  kubectl get pod billing -o yaml        # DD_AGENT_HOST, DD_ENTITY_ID, DD_ENV..., the java init container',
          '  kubectl apply -f examples/deployment.yaml',
          '(there is no kubelet or scheduler: pods stay Pending, but they are created, and mutated, for real)',
          'Ctrl-C stops everything and removes the cluster.',
          '',
        ].join('\n'),
      );
      await untilSignalled(
        async () => {
          // No grace period: the API server calls this process directly, not through a Service that
          // would need time to drop it.
          await agent.stop({ graceMs: 0 });
          await cp.stop();
        },
        log,
        'dev cluster',
      );
    });
}
