/**
 * The one place a logger is made: structured JSON (pino) on stderr, so stdout stays free for command
 * output (`inject` writes YAML there). Secrets are redacted by path as a second line of defence; the
 * first is never to pass them to a logger.
 */
import { pino, type Logger } from 'pino';
import { SECRET_KEY_KEY } from '../config/conventions.js';
import { CONFIG_KEYS, SCHEMA, type KeySpec, type LogLevel } from '../config/schema.js';

export type { Logger };

const SECRET_CONFIG_KEYS = CONFIG_KEYS.filter((k) => (SCHEMA[k] as KeySpec<unknown>).secret === true);

/**
 * Where a secret sits in the objects Tether handles, should one ever reach a log call: exact paths,
 * never a common word (redacting every `key` hid the work queue's key in each reconcile warning).
 * `*` matches one level, so `*.keyPem` covers `{ pair: { keyPem } }`; the match is case-sensitive,
 * hence both spellings of the header.
 */
export const REDACTED_PATHS = [
  // HTTP credentials: a request's headers (the cluster agent API, the console's session cookie) and
  // the options of an outgoing request.
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.Authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.Authorization',
  // Bearer tokens: a kubeconfig user, a TokenRequest's status, a service-account token file read.
  'token',
  '*.token',
  // Secret configuration keys (`cluster_agent.auth_token`), alone or inside a logged configuration.
  'authToken',
  '*.authToken',
  ...SECRET_CONFIG_KEYS.flatMap((k) => [`["${k}"]`, `*["${k}"]`]),
  // Private keys: a certificate pair (`{ certPem, keyPem }`), a Secret's data, a kubeconfig user.
  'keyPem',
  '*.keyPem',
  `data["${SECRET_KEY_KEY}"]`,
  `*.data["${SECRET_KEY_KEY}"]`,
  '*.keyData',
];

export const REDACTED = '[redacted]';

export function createLogger(level: LogLevel, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level, base: { service: 'tether' }, redact: { paths: REDACTED_PATHS, censor: REDACTED } }, destination as pino.DestinationStream);
}

/** A logger that writes nothing, for library callers and tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
