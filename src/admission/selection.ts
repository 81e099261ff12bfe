/** Which pods are mutated at all (SPEC §3). */
import { ENABLED_LABEL, NEVER_MUTATED_NAMESPACES } from '../config/index.js';
import type { Pod } from './pod.js';
import type { MutationContext } from './types.js';

export interface Selection {
  readonly selected: boolean;
  readonly reason: string;
  /** Set when the label holds something other than "true"/"false": worth telling the user. */
  readonly warning?: string;
}

/**
 * Labels are read from the pod itself (the pod template), never from its owner: a label on a
 * Deployment's own metadata does nothing, which is one of the seeds' common mistakes.
 */
export function selectPod(pod: Pod, ctx: Pick<MutationContext, 'config' | 'namespace' | 'tetherNamespace'>): Selection {
  if (ctx.namespace === ctx.tetherNamespace) return { selected: false, reason: `namespace ${ctx.namespace} is Tether's own` };
  if ((NEVER_MUTATED_NAMESPACES as readonly string[]).includes(ctx.namespace)) {
    return { selected: false, reason: `namespace ${ctx.namespace} is never mutated` };
  }
  const label = pod.metadata?.labels?.[ENABLED_LABEL];
  if (label === 'true') return { selected: true, reason: `label ${ENABLED_LABEL}="true"` };
  if (label === 'false') return { selected: false, reason: `label ${ENABLED_LABEL}="false"` };
  const unlabelled = ctx.config['admission_controller.mutate_unlabelled'];
  const because = unlabelled ? 'admission_controller.mutate_unlabelled is true' : 'admission_controller.mutate_unlabelled is false';
  if (label === undefined) return { selected: unlabelled, reason: `no ${ENABLED_LABEL} label and ${because}` };
  return {
    selected: unlabelled,
    reason: `label ${ENABLED_LABEL}=${JSON.stringify(label)} is neither "true" nor "false" and ${because}`,
    warning: `label ${ENABLED_LABEL} has value ${JSON.stringify(label)}; only "true" and "false" are understood`,
  };
}
