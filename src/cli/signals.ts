/** What every long-running subcommand shares: shutdown on SIGTERM/SIGINT, `--port 0`, listen errors. */
import type { Logger } from '../logging/logger.js';
import { CliError } from './errors.js';

/**
 * Resolves once a SIGTERM or SIGINT has been handled: `stop()` is called (in-flight work drains); a
 * second signal calls `stop({ drainMs: 0 })` to cut every connection at once.
 */
export function untilSignalled(stop: (opts?: { drainMs?: number }) => Promise<void>, log: Logger, what: string): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: closing every connection now');
        void stop({ drainMs: 0 });
        return;
      }
      stopping = true;
      log.info({ signal }, 'shutting down: letting in-flight admission requests finish');
      stop().then(
        () => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          log.info(`${what} stopped`);
          resolve();
        },
        (e: unknown) => {
          log.error({ err: e }, 'error while shutting down');
          resolve();
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/** `--port 0` asks for a free port (tests, local runs); the config schema itself only allows real ports. */
export function portOverride(flag: string | undefined): { override?: string; listen?: number } {
  if (flag === undefined) return {};
  if (/^\s*0+\s*$/.test(flag)) return { listen: 0 };
  return { override: flag };
}

/** A failure to bind the port becomes one clear message (exit 1); anything else is rethrown as it is. */
export function rethrowListenError(e: unknown, host: string, port: number): never {
  const err = e as NodeJS.ErrnoException;
  if (err.syscall === 'listen') throw new CliError(`cannot listen on ${host}:${port}: ${err.message}`, 1);
  throw e;
}
