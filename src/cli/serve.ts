/** `tether serve`: the webhook server alone (SPEC §6). */
import type { Command } from 'commander';

export function registerServe(program: Command): void {
  program.command('serve').description('run the admission webhook server alone (no cluster needed)');
}
