/**
 * `tether dev` (what `npm start` runs): a local control plane (etcd, kube-apiserver,
 * kube-controller-manager on loopback, built once from the Go module proxy) and the cluster agent
 * against it, reached by the API server through `--webhook-url`. Prints the kubeconfig to use, so a
 * newcomer can `kubectl apply -f examples/` and see pods mutated without a cluster of their own.
 */
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLUSTER_AGENT_SERVICE_ACCOUNT, envVarFor, loadConfig } from '../config/index.js';
import { CONSOLE_PAGE_PATH } from '../console/types.js';
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
      // The cluster agent API runs only with a token: a dev cluster makes one of its own (written to a
      // file for node agents and curl, and printed once on stdout as the console's login token, never
      // logged) unless DD_CLUSTER_AGENT_AUTH_TOKEN sets one.
      const generatedToken = process.env[envVarFor('cluster_agent.auth_token')] ? undefined : randomBytes(24).toString('hex');
      const config = loadConfig({
        configPath: flags.config,
        env: process.env,
        ...(generatedToken ? { overrides: { 'cluster_agent.auth_token': [generatedToken, 'tether dev (generated)'] as const } } : {}),
      });
      // Loaded on demand: they bring the Kubernetes client, which other subcommands do without.
      const [k8s, { startClusterAgent }, { freePort, impersonatingKubeConfig, startControlPlane }, { createApiFactResolver }, { applyDeployRbac }] = await Promise.all([
        import('@kubernetes/client-node'),
        import('../clusteragent/agent.js'),
        import('../devcluster/controlPlane.js'),
        import('../kube/facts.js'),
        import('../devcluster/manifests.js'),
      ]);
      const log = createLogger(config.log_level);
      warnUnknownEnv(log);
      log.info('starting a local control plane (etcd, kube-apiserver, kube-controller-manager)');
      const cp = await startControlPlane();
      const admin = cp.kubeConfig();
      await admin
        .makeApiClient(k8s.CoreV1Api)
        .createNamespace({ body: { metadata: { name: flags.namespace } } })
        .catch((e: unknown) => {
          if (!(e instanceof k8s.ApiException && e.code === 409)) throw e;
        });
      // As an install runs it: the cluster agent as its own service account, with deploy/rbac.yaml's
      // permissions and no more; the node agents' and diagnose's RBAC beside it.
      for (const file of ['rbac.yaml', 'node-agent.yaml', 'diagnose-rbac.yaml']) await applyDeployRbac(admin, file, flags.namespace);
      const kubeConfig = impersonatingKubeConfig(cp, `system:serviceaccount:${flags.namespace}:${CLUSTER_AGENT_SERVICE_ACCOUNT}`);
      const [port, apiPort] = await Promise.all([freePort(), freePort()]);
      const tokenFile = join(cp.dir, 'cluster-agent.token');
      if (generatedToken) await writeFile(tokenFile, generatedToken, { mode: 0o600 });
      const agent = await startClusterAgent({
        config,
        kubeConfig,
        namespace: flags.namespace,
        logger: log,
        facts: createApiFactResolver({ kubeConfig, config, logger: log }),
        host: '127.0.0.1',
        port,
        apiPort,
        webhookUrl: `https://127.0.0.1:${port}`,
      });
      log.info({ apiServer: cp.server, kubeconfig: cp.kubeconfigPath, webhook: agent.server.url, ...(agent.api ? { apiUrl: agent.api.url } : {}) }, 'Tether dev cluster is up');
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
          ...(agent.api
            ? [
                `The cluster agent API is at ${agent.api.url}${generatedToken ? ` (its token is in ${tokenFile})` : ''}:`,
                `  curl -sk -H "Authorization: Bearer $(cat ${generatedToken ? tokenFile : '<your token file>'})" ${agent.api.url}/api/v1/cluster/id`,
                `  tether status -n ${flags.namespace}; tether diagnose -n ${flags.namespace}`,
                ...(config['cluster_agent.console.enabled']
                  ? [
                      `The web console is at ${agent.api.url}${CONSOLE_PAGE_PATH} (its certificate is issued by Tether's own CA: your browser warns once).`,
                      // A throwaway dev cluster's token, printed for the person at this terminal (never logged).
                      generatedToken ? `  login token: ${generatedToken}` : '  log in with your DD_CLUSTER_AGENT_AUTH_TOKEN',
                    ]
                  : []),
              ]
            : []),
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
