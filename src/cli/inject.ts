/** `tether inject`: offline mutation of manifests, exactly as the webhooks would mutate their pods. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_NAMESPACE, INJECTION_MODES, loadConfig, OFFLINE_TETHER_NAMESPACE } from '../config/index.js';
import { InjectInputError, injectDocuments } from '../inject/documents.js';
import { createLogger } from '../logging/logger.js';
import { CliError } from './errors.js';
import { warnUnknownEnv } from './environment.js';

interface InjectFlags {
  file: string;
  config?: string;
  mode?: string;
  namespace?: string;
  tetherNamespace?: string;
  explain?: boolean;
}

export function registerInject(program: Command): void {
  program
    .command('inject')
    .description('mutate the Pods and pod templates of manifests as the admission webhooks would (no cluster needed)')
    .requiredOption('-f, --file <file>', 'manifest file (YAML or JSON, several documents allowed); - for stdin')
    .option('--config <file>', 'Tether configuration file (YAML); DD_* environment variables apply too')
    .option('--mode <mode>', `override admission_controller.inject_config.mode (${INJECTION_MODES.join(', ')})`)
    .option('-n, --namespace <ns>', `namespace for documents that set none (default: ${DEFAULT_NAMESPACE})`)
    .option('--tether-namespace <ns>', `namespace the cluster agent runs in (default: kube_resources_namespace, else ${OFFLINE_TETHER_NAMESPACE})`)
    .option('--explain', 'print each injection decision to stderr')
    .action((flags: InjectFlags) => {
      const config = loadConfig({ configPath: flags.config, overrides: { 'admission_controller.inject_config.mode': [flags.mode, '--mode'] } });
      warnUnknownEnv(createLogger(config.log_level));
      const text = readInput(flags.file);
      let result;
      try {
        result = injectDocuments(text, {
          config,
          namespace: flags.namespace ?? DEFAULT_NAMESPACE,
          tetherNamespace: flags.tetherNamespace ?? config.kube_resources_namespace ?? OFFLINE_TETHER_NAMESPACE,
        });
      } catch (e) {
        if (e instanceof InjectInputError) throw new CliError(`${flags.file === '-' ? 'stdin' : flags.file}: ${e.message}`, 1);
        throw e;
      }
      // Warnings name the document and line, like input errors, but the output is still written.
      for (const w of result.warnings) process.stderr.write(`tether inject: ${w.message}\n`);
      if (flags.explain) {
        for (const t of result.templates) {
          process.stderr.write(`${t.object} (document ${t.documentIndex}):\n`);
          for (const d of t.decisions) {
            const where = d.container ? ` [${d.container}]` : '';
            process.stderr.write(`  ${d.webhook.padEnd(6)} ${d.outcome.padEnd(8)} ${d.what}${where}${d.detail ? `: ${d.detail}` : ''}\n`);
          }
        }
      }
      process.stdout.write(result.output);
    });
}

function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${file === '-' ? 'stdin' : file}: ${(e as NodeJS.ErrnoException).message}`, 1);
  }
}
