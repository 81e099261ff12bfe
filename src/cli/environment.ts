/** What every subcommand reports about its environment, once, as soon as its logger exists. */
import { unknownEnvWarnings } from '../config/index.js';
import type { Logger } from '../logging/logger.js';

/** A warning per `DD_*` variable that neither Tether nor the agent stack reads (names only, never values). */
export function warnUnknownEnv(log: Logger, env: Readonly<Record<string, string | undefined>> = process.env): void {
  for (const warning of unknownEnvWarnings(env)) log.warn(warning);
}
