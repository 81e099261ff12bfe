/** `tether` as a user runs it: a child process of the built CLI, its JSON log lines collected. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const TETHER_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** The environment without the DD_* variables of whoever runs the tests, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DD_') && k !== 'KUBECONFIG')), ...extra };
}

export interface TetherProcess {
  readonly child: ChildProcess;
  /** Everything written to stderr (JSON log lines) so far. */
  stderr(): string;
  /** Parsed log lines so far. */
  logs(): Array<Record<string, unknown>>;
  readonly exited: Promise<number | null>;
  /** Resolves with the first log line for which `match` is true (rejects if the process exits first). */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * For `.catch(...)` of a wait on `tether start`: the failure, rethrown with the last 6,000 characters of
 * the process's log appended (what it said is usually why the wait failed).
 */
export function withStartLog(p: TetherProcess | undefined): (e: Error) => never {
  return (e) => {
    throw new Error(`${e.message}\ntether start's log:\n${p?.stderr().slice(-6000)}`);
  };
}

/**
 * A node agent's intake listens on the agent's well-known ports (8125, 8126) and sockets under
 * /var/run/datadog by default: tests running side by side would fight over them. Off unless a test
 * sets them.
 */
export const NODE_AGENT_INTAKE_OFF: Readonly<Record<string, string>> = {
  DD_DOGSTATSD_PORT: '0',
  DD_DOGSTATSD_SOCKET: '',
  DD_APM_RECEIVER_PORT: '0',
  DD_APM_RECEIVER_SOCKET: '',
};

export function spawnTether(args: readonly string[], env: Record<string, string> = {}): TetherProcess {
  const withDefaults = args[0] === 'node-agent' ? { ...NODE_AGENT_INTAKE_OFF, ...env } : env;
  const child = spawn(process.execPath, [TETHER_MAIN, ...args], { env: cleanEnv(withDefaults), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stdout!.resume();
  child.stderr!.on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const logs = () =>
    err
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  return {
    child,
    stderr: () => err,
    logs,
    exited,
    waitForLog(match, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = logs().find(match);
          if (found) {
            cleanup();
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`tether ${args[0]}: no such log line within ${timeoutMs} ms; stderr:\n${err.slice(-4000)}`));
        }, timeoutMs);
        const onExit = (code: number | null) => {
          cleanup();
          reject(new Error(`tether ${args[0]} exited with ${code}; stderr:\n${err.slice(-4000)}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          child.stderr!.off('data', check);
          child.off('exit', onExit);
        };
        child.stderr!.on('data', check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export { freePort } from '../../src/devcluster/processes.js';
