/** Adding variables to every container and init container, the way the config and tags webhooks do. */
import type { WebhookKind } from '../config/index.js';
import type { EnvVar } from './pod.js';
import { isLibInitContainer } from './libInjection.js';
import type { PodPatchBuilder } from './podPatch.js';
import type { Decision } from './types.js';

/**
 * Prepends each variable (in the order given) to every container and init container (but Tether's own
 * library init containers) that has no
 * variable of that name: added at the front so the container's own `$(VAR)` references resolve,
 * never overwriting what the pod sets.
 */
export function injectEnvEverywhere(b: PodPatchBuilder, vars: readonly EnvVar[], webhook: WebhookKind, decisions: Decision[]): void {
  for (const list of ['containers', 'initContainers'] as const) {
    b.containers(list).forEach((c, i) => {
      if (isLibInitContainer(c)) return;
      for (const v of vars) {
        if (b.env(list, i, v.name)) {
          decisions.push({ webhook, outcome: 'skipped', what: `env var ${v.name}`, container: c.name, detail: 'already set by the pod' });
          continue;
        }
        b.prependEnv(list, i, v);
        decisions.push({ webhook, outcome: 'injected', what: `env var ${v.name}`, container: c.name });
      }
    });
  }
}
