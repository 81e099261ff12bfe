/**
 * The three webhooks as one table (SPEC §4, §5): names, endpoints, whether enabled, which outside facts
 * each needs, and the mutation itself. Every caller (the HTTPS server, offline `inject`, the controllers
 * writing the MutatingWebhookConfiguration, `status` and `diagnose`) reads this table.
 */
import { WEBHOOK_ENTRY_SUFFIX, WEBHOOK_KINDS, type TetherConfig, type WebhookKind } from '../config/index.js';
import { injectConfig } from './configInjection.js';
import { applyPatch, type JsonPatchOp } from './jsonpatch.js';
import { libNeedsNamespaceLabels, injectLibraries } from './libInjection.js';
import type { OwnerReference, Pod } from './pod.js';
import { selectPod } from './selection.js';
import { injectTags, ownerToLookUp } from './tagsInjection.js';
import type { Decision, MutationContext, MutationResult } from './types.js';

export interface Webhook {
  readonly kind: WebhookKind;
  /** The settings that switch this webhook on and give its path. */
  readonly enabledKey: 'admission_controller.inject_config.enabled' | 'admission_controller.inject_tags.enabled' | 'admission_controller.auto_instrumentation.enabled';
  readonly endpointKey: 'admission_controller.inject_config.endpoint' | 'admission_controller.inject_tags.endpoint' | 'admission_controller.auto_instrumentation.endpoint';
  readonly mutate: (pod: Pod, ctx: MutationContext) => MutationResult;
}

export const WEBHOOKS: Readonly<Record<WebhookKind, Webhook>> = {
  config: { kind: 'config', enabledKey: 'admission_controller.inject_config.enabled', endpointKey: 'admission_controller.inject_config.endpoint', mutate: injectConfig },
  tags: { kind: 'tags', enabledKey: 'admission_controller.inject_tags.enabled', endpointKey: 'admission_controller.inject_tags.endpoint', mutate: injectTags },
  lib: {
    kind: 'lib',
    enabledKey: 'admission_controller.auto_instrumentation.enabled',
    endpointKey: 'admission_controller.auto_instrumentation.endpoint',
    mutate: injectLibraries,
  },
};

export function webhookEnabled(kind: WebhookKind, config: TetherConfig): boolean {
  return config['admission_controller.enabled'] && config[WEBHOOKS[kind].enabledKey];
}

export function webhookEndpoint(kind: WebhookKind, config: TetherConfig): string {
  return config[WEBHOOKS[kind].endpointKey];
}

/** `datadog-webhook` + `auto.instrumentation` → `datadog.webhook.auto.instrumentation` (the names the seeds show). */
export function webhookEntryName(kind: WebhookKind, config: TetherConfig): string {
  return `${config['admission_controller.webhook_name'].replaceAll('-', '.')}.${WEBHOOK_ENTRY_SUFFIX[kind]}`;
}

/** The enabled webhooks in the order the API server calls them (the order of the configuration's entries). */
export function enabledWebhooks(config: TetherConfig): Webhook[] {
  return WEBHOOK_KINDS.filter((k) => webhookEnabled(k, config)).map((k) => WEBHOOKS[k]);
}

/** Outside facts a webhook needs for this pod; the caller resolves them (I/O) before calling `mutatePod`. */
export interface NeededFacts {
  readonly owner?: OwnerReference;
  readonly namespaceLabels?: boolean;
}

export function neededFacts(kind: WebhookKind, pod: Pod, ctx: Pick<MutationContext, 'config' | 'namespace' | 'tetherNamespace'>): NeededFacts {
  if (!selectPod(pod, ctx).selected) return {};
  if (kind === 'tags') {
    const owner = ownerToLookUp(pod);
    return owner ? { owner } : {};
  }
  if (kind === 'lib') return libNeedsNamespaceLabels(pod, ctx.config) ? { namespaceLabels: true } : {};
  return {};
}

/** Selection, then the webhook's mutation: what one admission request to one endpoint does. */
export function mutatePod(kind: WebhookKind, pod: Pod, ctx: MutationContext): MutationResult {
  const selection = selectPod(pod, ctx);
  const selectionDecision: Decision = {
    webhook: kind,
    outcome: selection.selected ? 'selected' : 'skipped',
    what: 'pod',
    detail: selection.warning ? `${selection.reason} (${selection.warning})` : selection.reason,
    ...(selection.warning ? { warning: true } : {}),
  };
  if (!selection.selected) return { patch: [], decisions: [selectionDecision] };
  const result = WEBHOOKS[kind].mutate(pod, ctx);
  return { patch: result.patch, decisions: [selectionDecision, ...result.decisions] };
}

/**
 * Runs the enabled webhooks in order on a pod, as the API server does on a create, reinvoking the earlier
 * ones once when a later one changed the pod (reinvocationPolicy IfNeeded). Returns the final pod.
 * Used by offline `inject` and by tests; the live path calls `mutatePod` per request.
 */
export function runWebhookChain(pod: Pod, ctx: MutationContext): { pod: Pod; patch: JsonPatchOp[]; decisions: Decision[] } {
  const hooks = enabledWebhooks(ctx.config);
  const decisions: Decision[] = [];
  /** Every operation in the order applied: valid against `pod` when applied in sequence. */
  const patch: JsonPatchOp[] = [];
  let current = pod;
  const changedBy = new Set<number>();
  hooks.forEach((h, i) => {
    const r = mutatePod(h.kind, current, ctx);
    decisions.push(...r.decisions);
    if (r.patch.length > 0) {
      current = applyPatch(current, r.patch);
      patch.push(...r.patch);
      changedBy.add(i);
    }
  });
  if (ctx.config['admission_controller.reinvocation_policy'] === 'IfNeeded') {
    hooks.forEach((h, i) => {
      // A webhook is reinvoked when a webhook after it changed the object.
      if (![...changedBy].some((j) => j > i)) return;
      const r = mutatePod(h.kind, current, ctx);
      decisions.push(...r.decisions.filter((d) => d.outcome === 'injected'));
      if (r.patch.length > 0) {
        current = applyPatch(current, r.patch);
        patch.push(...r.patch);
      }
    });
  }
  return { pod: current, patch, decisions };
}

