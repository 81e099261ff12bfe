/** Logs the admission core's decisions at debug level, in the spirit of the seeds' log lines. */
import type { Decision } from '../admission/types.js';
import type { Logger } from './logger.js';

export function logDecisions(log: Logger, pod: string, decisions: readonly Decision[]): void {
  if (!log.isLevelEnabled('debug')) return;
  for (const d of decisions) {
    const where = d.container ? ` into container ${d.container} of ${pod}` : ` into ${pod}`;
    const msg =
      d.outcome === 'selected'
        ? `Mutating ${pod}: ${d.detail ?? ''}`
        : d.outcome === 'injected'
          ? `Injecting ${d.what}${where}${d.detail ? ` (${d.detail})` : ''}`
          : d.what === 'pod'
            ? `Not mutating ${pod}: ${d.detail ?? ''}`
            : `Not injecting ${d.what}${where}: ${d.detail ?? ''}`;
    log.debug({ webhook: d.webhook, outcome: d.outcome, what: d.what, container: d.container, detail: d.detail }, msg);
  }
}
