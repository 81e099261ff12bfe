/**
 * The name the CLI was called by. The image puts it on PATH as `tether` and as `agent`, the name the
 * agent stack's guides use (`kubectl exec <pod> -- agent status`): both are the same CLI, and help and
 * error messages say the name that was typed.
 */
import { basename } from 'node:path';

export const CLI_NAMES = ['tether', 'agent'] as const;
export type CliName = (typeof CLI_NAMES)[number];

/** From `process.argv[1]`: `/usr/bin/agent` → `agent`; anything else (main.js, kubectl-tether) → `tether`. */
export function invokedAs(script: string | undefined): CliName {
  return script !== undefined && basename(script) === 'agent' ? 'agent' : 'tether';
}
