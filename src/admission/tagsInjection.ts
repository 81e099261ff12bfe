/** The tags webhook (`/injecttags`): unified service tags from the pod's labels, else its owner's (SPEC §5). */
import { UNIFIED_SERVICE_TAGS } from '../config/index.js';
import { injectEnvEverywhere } from './envInjection.js';
import type { EnvVar, OwnerReference, Pod, StringMap } from './pod.js';
import { PodPatchBuilder } from './podPatch.js';
import type { Decision, MutationContext, MutationResult } from './types.js';

function tagVars(labels: StringMap | undefined): EnvVar[] {
  return UNIFIED_SERVICE_TAGS.flatMap(({ label, env }) => {
    const value = labels?.[label];
    return value === undefined ? [] : [{ name: env, value }];
  });
}

/**
 * The owner whose labels must be read, or undefined when the pod's own labels decide (it has at least
 * one tag label) or it has no owner. The first owner, as the API lists them.
 */
export function ownerToLookUp(pod: Pod): OwnerReference | undefined {
  if (tagVars(pod.metadata?.labels).length > 0) return undefined;
  return pod.metadata?.ownerReferences?.[0];
}

export function injectTags(pod: Pod, ctx: MutationContext): MutationResult {
  const decisions: Decision[] = [];
  let vars = tagVars(pod.metadata?.labels);
  if (vars.length === 0) {
    const owner = ctx.owner;
    if (owner === undefined) {
      decisions.push({ webhook: 'tags', outcome: 'skipped', what: 'unified service tags', detail: 'neither the pod nor a known owner has tags.datadoghq.com/* labels' });
      return { patch: [], decisions };
    }
    if (!owner.found) {
      decisions.push({ webhook: 'tags', outcome: 'skipped', what: 'unified service tags', detail: `could not read the pod's owner: ${owner.reason}`, warning: true });
      return { patch: [], decisions };
    }
    vars = tagVars(owner.labels);
    if (vars.length === 0) {
      decisions.push({ webhook: 'tags', outcome: 'skipped', what: 'unified service tags', detail: `owner ${owner.kind}/${owner.name} has no tags.datadoghq.com/* labels` });
      return { patch: [], decisions };
    }
  }
  const b = new PodPatchBuilder(pod);
  injectEnvEverywhere(b, vars, 'tags', decisions);
  return { patch: b.ops(), decisions };
}
