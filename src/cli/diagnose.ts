/** `tether diagnose`: runs the checks against the live cluster; flags and wiring only. */
import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { CHECKS } from '../diagnose/checks/index.js';
import { renderCheckListJson, renderCheckListText, renderResultsJson, renderResultsText, selectChecks } from '../diagnose/render.js';
import { exitCodeOf, runChecks } from '../diagnose/run.js';
import { resolveTetherNamespace } from '../kube/namespace.js';
import { connectToCluster } from './cluster.js';
import { CliError } from './errors.js';
import { clusterOptions, parseOutputFormat, type ClusterFlags } from './status.js';

interface DiagnoseFlags extends ClusterFlags {
  serviceAccount?: string;
  check: string[];
  list?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Colour only for a person: stdout is a terminal and NO_COLOR (no-color.org) is not set. */
const wantsColour = (): boolean => process.stdout.isTTY === true && !process.env['NO_COLOR'];

export function registerDiagnose(program: Command): void {
  clusterOptions(program.command('diagnose').description('find what keeps pods from being injected or agents from connecting, with the evidence and the fix; exit 1 when a check finds an error'))
    .option('--service-account <name>', "the cluster agent's service account (default: its Deployment datadog-cluster-agent's, else datadog-cluster-agent)")
    .option('--check <name>', 'run only this check (repeatable; --list shows the names)', collect, [])
    .option('--list', 'list the checks and what each finds, without running them')
    .action(async (flags: DiagnoseFlags) => {
      const output = parseOutputFormat(flags.output);
      const selected = selectChecks(CHECKS, flags.check);
      if ('error' in selected) throw new CliError(selected.error, 2);
      if (flags.list) {
        process.stdout.write(output === 'json' ? renderCheckListJson(selected.checks) : renderCheckListText(selected.checks));
        return;
      }
      const config = loadConfig({ configPath: flags.config, env: process.env });
      const namespace = resolveTetherNamespace(flags.namespace, config);
      const kube = await connectToCluster({ kubeconfig: flags.kubeconfig, context: flags.context, env: process.env });
      const { loadDiagnoseContext } = await import('../diagnose/context.js');
      const { ctx } = await loadDiagnoseContext({ config, namespace, kubeConfig: kube.kubeConfig, ...(flags.serviceAccount ? { serviceAccountFlag: flags.serviceAccount } : {}) });
      const results = await runChecks(selected.checks, ctx);
      process.stdout.write(output === 'json' ? renderResultsJson(results) : renderResultsText(results, { color: wantsColour() }));
      process.exitCode = exitCodeOf(results);
    });
}
