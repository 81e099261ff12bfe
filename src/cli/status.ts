/** `tether status`: the sections of the seeds' `agent status`, read from the live cluster (get/list only). */
import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { resolveTetherNamespace } from '../kube/namespace.js';
import { ApiError } from '../kube/reader.js';
import { connectToCluster } from './cluster.js';
import { CliError } from './errors.js';

export const OUTPUT_FORMATS = ['text', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** `-o text|json`; anything else is a usage error (exit 2). */
export function parseOutputFormat(value: string | undefined): OutputFormat {
  const v = value ?? 'text';
  if ((OUTPUT_FORMATS as readonly string[]).includes(v)) return v as OutputFormat;
  throw new CliError(`-o ${v}: expected one of ${OUTPUT_FORMATS.join(', ')}`, 2);
}

/** Reads of `status` answer quickly or not at all. */
export const STATUS_TIMEOUT_MS = 30_000;

export interface ClusterFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  config?: string;
  output?: string;
}

/** The flags `status` and `diagnose` share with `tether start`. */
export function clusterOptions(cmd: Command): Command {
  return cmd
    .option('--kubeconfig <file>', 'kubeconfig to use (default: KUBECONFIG, the in-cluster service account, ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use instead of the current one')
    .option('-n, --namespace <ns>', "Tether's namespace (default: DD_KUBE_RESOURCES_NAMESPACE, else the pod's, else default)")
    .option('--config <file>', 'Tether configuration file (YAML), for the names to look for; DD_* environment variables apply too')
    .option('-o, --output <format>', `output format: ${OUTPUT_FORMATS.join(' or ')}`, 'text');
}

export function registerStatus(program: Command): void {
  clusterOptions(program.command('status').description('show the webhook configuration, certificate Secret, leader election, cluster agent API and node agents as the cluster holds them (read-only)')).action(
    async (flags: ClusterFlags) => {
      const output = parseOutputFormat(flags.output);
      const config = loadConfig({ configPath: flags.config, env: process.env });
      const namespace = resolveTetherNamespace(flags.namespace, config);
      const kube = await connectToCluster({ kubeconfig: flags.kubeconfig, context: flags.context, env: process.env });
      const [{ createKubeReader }, { collectStatus, renderStatus }] = await Promise.all([import('../kube/reader.js'), import('../status/index.js')]);
      let report;
      try {
        report = await collectStatus({ kube: createKubeReader(kube.kubeConfig), config, namespace, now: () => new Date(), signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) });
      } catch (e) {
        if (e instanceof ApiError) throw new CliError(`cannot read the cluster at ${kube.server} (${kube.source}): ${e.message}`, 1);
        throw e;
      }
      process.stdout.write(output === 'json' ? JSON.stringify(report, null, 2) + '\n' : renderStatus(report));
    },
  );
}
