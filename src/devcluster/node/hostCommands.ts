/** Runs the host's commands (`ip`, `iptables`...) for the node's set-up: one error shape naming the command and its output. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export class HostCommandError extends Error {}

/** Runs `cmd args`; throws a HostCommandError with the command line and its stderr. */
export async function sh(cmd: string, args: readonly string[], opts: { readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number } = {}): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args, { maxBuffer: 32 << 20, timeout: opts.timeoutMs ?? 60_000, ...(opts.env ? { env: opts.env } : {}) });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new HostCommandError(`${cmd} ${args.join(' ')} failed: ${(err.stderr ?? '').trim() || err.message}`);
  }
}

/** The same, for clean-up steps whose target may already be gone. */
export async function shQuiet(cmd: string, args: readonly string[]): Promise<boolean> {
  try {
    await sh(cmd, args);
    return true;
  } catch {
    return false;
  }
}
