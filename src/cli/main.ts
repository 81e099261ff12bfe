#!/usr/bin/env node
/** The `tether` command: parses flags and hands over to one module per subcommand. */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/index.js';
import { registerInject } from './inject.js';
import { registerServe } from './serve.js';
import { registerStart } from './start.js';
import { registerDev } from './dev.js';
import { registerNodeAgent } from './nodeAgent.js';
import { registerStatus } from './status.js';
import { registerDiagnose } from './diagnose.js';
import { registerConsole } from './console.js';
import { CliError } from './errors.js';
import { registerImage } from './image.js';
import { invokedAs } from './invocation.js';

/** The version is package.json's (dist/src/cli/main.js → the package root), stated nowhere else. */
const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const name = invokedAs(process.argv[1]);
const program = new Command()
  .name(name)
  .description('Open cluster agent for Kubernetes observability: admission webhook, offline inject, cluster agent')
  .version(version)
  .showHelpAfterError()
  .exitOverride();

registerInject(program);
registerServe(program);
registerStart(program);
registerDev(program);
registerNodeAgent(program);
registerStatus(program);
registerDiagnose(program);
registerConsole(program);
registerImage(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // --help and --version end here too, with exit code 0.
    process.exitCode = e.exitCode;
  } else if (e instanceof ConfigError || e instanceof CliError) {
    process.stderr.write(`${name}: ${e.message}\n`);
    process.exitCode = e instanceof CliError ? e.exitCode : 2;
  } else {
    process.stderr.write(`${name}: unexpected error: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 70;
  }
}
