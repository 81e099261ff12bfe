/**
 * The tags webhook (`/injecttags`): unified service tags from the pod's labels, else its owner's (SPEC §5).
 * Whose labels win is the shared tagger's decision (`tagging/podTags.ts`), so the env/service/version the
 * webhook injects are the ones the cluster agent's API tags the pod with.
 */
import { podDecidesServiceTags, unifiedServiceTags } from '../tagging/podTags.js';
import { injectEnvEverywhere } from './envInjection.js';
import type { EnvVar, OwnerReference, Pod } from './pod.js';
import { PodPatchBuilder } from './podPatch.js';
import type { Decision, MutationContext, MutationResult } from './types.js';

/**
 * The owner whose labels must be read, or undefined when the pod's own labels decide (it has at least
 * one tag label) or it has no owner. The first owner, as the API lists them.
 */
export function ownerToLookUp(pod: Pod): OwnerReference | undefined {
  if (podDecidesServiceTags(pod.metadata?.labels)) return undefined;
  return pod.metadata?.ownerReferences?.[0];
}

export function injectTags(pod: Pod, ctx: MutationContext): MutationResult {
  const decisions: Decision[] = [];
  const owner = ctx.owner;
  const chosen = unifiedServiceTags(pod.metadata?.labels, owner?.found ? owner.labels : undefined);
  if (chosen.from === 'none') {
    const skipped = (detail: string, warning?: true): MutationResult => {
      decisions.push({ webhook: 'tags', outcome: 'skipped', what: 'unified service tags', detail, ...(warning ? { warning } : {}) });
      return { patch: [], decisions };
    };
    if (owner === undefined) return skipped('neither the pod nor a known owner has tags.datadoghq.com/* labels');
    if (!owner.found) return skipped(`could not read the pod's owner: ${owner.reason}`, true);
    return skipped(`owner ${owner.kind}/${owner.name} has no tags.datadoghq.com/* labels`);
  }
  const vars: EnvVar[] = chosen.values.map((v) => ({ name: v.env, value: v.value }));
  const b = new PodPatchBuilder(pod);
  injectEnvEverywhere(b, vars, 'tags', decisions);
  return { patch: b.ops(), decisions };
}
