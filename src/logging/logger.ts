/**
 * The one place a logger is made: structured JSON (pino) on stderr, so stdout stays free for command
 * output (`inject` writes YAML there). Secrets are redacted by path as a second line of defence; the
 * first is never to pass them to a logger.
 */
import { pino, type Logger } from 'pino';
import type { LogLevel } from '../config/index.js';

export type { Logger };

export const REDACTED_PATHS = ['token', 'authToken', 'auth_token', 'authorization', 'headers.authorization', 'req.headers.authorization', '*.token', 'key', 'keyPem'];

export function createLogger(level: LogLevel, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level, base: { service: 'tether' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, destination as pino.DestinationStream);
}

/** A logger that writes nothing, for library callers and tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
