/**
 * `tether dev` (what `npm start` runs): a local control plane (etcd, kube-apiserver,
 * kube-controller-manager on loopback, built once from the Go module proxy) and the cluster agent
 * against it, reached by the API server through `--webhook-url`. Prints the kubeconfig to use, so a
 * newcomer can `kubectl apply -f examples/` and see pods mutated without a cluster of their own.
 * `--node real` runs pods for real instead: a kubelet and containerd on this machine, Tether installed by
 * its chart from an image built here (root only).
 * Flags only; the wiring is `app/dev.ts` and `app/devRealNode.ts` (loaded on demand: they bring the
 * Kubernetes client).
 */
import { Option, type Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { envVarFor, loadConfig } from '../config/index.js';
import { createLogger } from '../logging/logger.js';
import { warnUnknownEnv } from './environment.js';
import { untilSignalled } from './signals.js';

const DEV_NODE_KINDS = ['none', 'real'] as const;

interface DevFlags {
  config?: string;
  namespace: string;
  node: (typeof DEV_NODE_KINDS)[number];
}

/** Tether's own namespace in the dev cluster (as in deploy/rbac.yaml), so `default` is mutated. */
const DEV_NAMESPACE = 'datadog';

export function registerDev(program: Command): void {
  program
    .command('dev')
    .description('start a local control plane and the cluster agent against it (the first run builds the binaries, a few minutes)')
    .option('--config <file>', 'Tether configuration file (YAML); DD_* environment variables apply too')
    .option('-n, --namespace <ns>', "Tether's namespace in the local cluster", DEV_NAMESPACE)
    .addOption(
      new Option('--node <kind>', 'none: Tether runs as processes here, pods stay Pending (no root needed); real: a real node (kubelet, containerd) runs the pods, Tether installed by its chart from an image built here (root)')
        .choices(DEV_NODE_KINDS)
        .default('none'),
    )
    .action(async (flags: DevFlags) => {
      // The cluster agent API runs only with a token: a dev cluster makes one of its own (written to a
      // file for node agents and curl, never logged) unless DD_CLUSTER_AGENT_AUTH_TOKEN sets one.
      const generatedToken = process.env[envVarFor('cluster_agent.auth_token')] ? undefined : randomBytes(24).toString('hex');
      // The console's admin login is its own token, never the one node agents hold (issue 20).
      const generatedAdmin = process.env[envVarFor('cluster_agent.console.admin_token')] ? undefined : randomBytes(24).toString('hex');
      const config = loadConfig({
        configPath: flags.config,
        env: process.env,
        overrides: {
          ...(generatedToken ? { 'cluster_agent.auth_token': [generatedToken, 'tether dev (generated)'] as const } : {}),
          ...(generatedAdmin ? { 'cluster_agent.console.admin_token': [generatedAdmin, 'tether dev (generated)'] as const } : {}),
        },
      });
      const log = createLogger(config.log_level);
      warnUnknownEnv(log);
      const options = { config, generatedToken, generatedAdminToken: generatedAdmin, namespace: flags.namespace, logger: log };
      const dev = flags.node === 'real' ? await (await import('../app/devRealNode.js')).runRealNodeDev(options) : await (await import('../app/dev.js')).runDev(options);
      process.stdout.write(dev.hints);
      await untilSignalled(() => dev.stop(), log, 'dev cluster');
    });
}
