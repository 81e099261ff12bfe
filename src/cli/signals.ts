/** What every long-running subcommand shares: shutdown on SIGTERM/SIGINT, `--port 0`, listen errors. */
import { constants } from 'node:os';
import type { Logger } from '../logging/logger.js';
import { CliError } from './errors.js';

/** Where SIGTERM and SIGINT come from: `process`, or a plain emitter in tests. */
export interface SignalSource {
  on(event: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface SignalOptions {
  /** How a second signal ends the process (default `process.exit`); tests pass their own. */
  readonly exit?: (code: number) => void;
  /** Default `process`. */
  readonly signals?: SignalSource;
}

/**
 * Resolves once the first SIGTERM or SIGINT has been handled by `stop()` (for the webhook server: the
 * grace period, then the drain; SPEC §6). A second signal exits at once with 128 + its number, as a
 * shell reports a process killed by it: whoever sends it wants the process gone, not drained.
 */
export function untilSignalled(stop: () => Promise<void>, log: Logger, what: string, o: SignalOptions = {}): Promise<void> {
  const exit = o.exit ?? ((code: number) => process.exit(code));
  const signals = o.signals ?? process;
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, `second signal: ${what} exits now, cutting every connection`);
        exit(128 + (constants.signals[signal] ?? 0));
        return;
      }
      stopping = true;
      log.info({ signal }, `${what} shutting down (a second signal exits at once)`);
      const done = () => {
        signals.off('SIGTERM', onSignal);
        signals.off('SIGINT', onSignal);
        resolve();
      };
      stop().then(
        () => {
          log.info(`${what} stopped`);
          done();
        },
        (e: unknown) => {
          log.error({ err: e }, 'error while shutting down');
          done();
        },
      );
    };
    signals.on('SIGTERM', onSignal);
    signals.on('SIGINT', onSignal);
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
  // `[::]:8000`, not `:::8000`.
  const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
  if (err.syscall === 'listen') throw new CliError(`cannot listen on ${address}: ${err.message}`, 1);
  throw e;
}
