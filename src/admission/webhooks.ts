/**
 * The three webhooks as one table (SPEC §4, §5): names, endpoints, whether enabled, which outside facts
 * each needs, and the mutation itself; and the entries of the MutatingWebhookConfiguration that serve
 * them (one per webhook, or a single one running all of them: `admission_controller.webhook_entries`).
 * Every caller (the HTTPS server, offline `inject`, the controllers writing the MutatingWebhookConfiguration,
 * `status` and `diagnose`) reads this table.
 */
import { SINGLE_ENTRY_ID, WEBHOOK_ENTRY_SUFFIX, WEBHOOK_KINDS, type TetherConfig, type WebhookKind } from '../config/index.js';
import { injectConfig } from './configInjection.js';
import { applyPatch, applyPatchInPlace, type JsonPatchOp } from './jsonpatch.js';
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
  return entryNameWith(WEBHOOK_ENTRY_SUFFIX[kind], config);
}

const entryNameWith = (suffix: string, config: TetherConfig): string => `${config['admission_controller.webhook_name'].replaceAll('-', '.')}.${suffix}`;

/** Which entry: a webhook's own, or the single entry. The `webhook` label of the server's metrics. */
export type EntryId = WebhookKind | typeof SINGLE_ENTRY_ID;

/** One entry of the MutatingWebhookConfiguration as Tether serves it: the webhooks one call runs, in order. */
export interface WebhookEntry {
  readonly id: EntryId;
  readonly kinds: readonly WebhookKind[];
}

/** Every entry Tether may have written under this configuration's names, whichever shape: what readers of a cluster look for. */
export function knownEntries(config: TetherConfig): readonly WebhookEntry[] {
  return [...WEBHOOK_KINDS.map((k) => ({ id: k, kinds: [k] })), { id: SINGLE_ENTRY_ID, kinds: enabledWebhooks(config).map((h) => h.kind) }];
}

/** The entries the configuration wants, in the order the API server calls them; none when no webhook is enabled. */
export function webhookEntries(config: TetherConfig): WebhookEntry[] {
  const kinds = enabledWebhooks(config).map((h) => h.kind);
  if (kinds.length === 0) return [];
  return config['admission_controller.webhook_entries'] === 'single' ? [{ id: SINGLE_ENTRY_ID, kinds }] : kinds.map((k) => ({ id: k, kinds: [k] }));
}

export function entryName(entry: WebhookEntry, config: TetherConfig): string {
  return entry.id === SINGLE_ENTRY_ID ? entryNameWith(SINGLE_ENTRY_ID, config) : webhookEntryName(entry.id, config);
}

export function entryEndpoint(entry: WebhookEntry, config: TetherConfig): string {
  return entry.id === SINGLE_ENTRY_ID ? config['admission_controller.single_entry.endpoint'] : webhookEndpoint(entry.id, config);
}

/**
 * Which of Tether's entries a name is, for readers of a cluster's configuration (`status`, the console),
 * from the configuration's name alone: `undefined` for an entry that is not Tether's.
 */
export function entryIdOfName(name: string, webhookName: string): EntryId | undefined {
  const prefix = `${webhookName.replaceAll('-', '.')}.`;
  if (!name.startsWith(prefix)) return undefined;
  const suffix = name.slice(prefix.length);
  if (suffix === SINGLE_ENTRY_ID) return SINGLE_ENTRY_ID;
  return WEBHOOK_KINDS.find((k) => WEBHOOK_ENTRY_SUFFIX[k] === suffix);
}

/** The config key that sets an entry's path: for a clear error when two entries share one. */
export function entryEndpointKey(entry: WebhookEntry): string {
  return entry.id === SINGLE_ENTRY_ID ? 'admission_controller.single_entry.endpoint' : WEBHOOKS[entry.id].endpointKey;
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

/** What an entry's webhooks need, together: the facts of each, resolved once for the one call. */
export function neededFactsOf(kinds: readonly WebhookKind[], pod: Pod, ctx: Pick<MutationContext, 'config' | 'namespace' | 'tetherNamespace'>): NeededFacts {
  let needed: NeededFacts = {};
  for (const kind of kinds) needed = { ...needed, ...neededFacts(kind, pod, ctx) };
  return needed;
}

/** Selection, then the webhook's mutation: what one admission request to one webhook's endpoint does. */
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
 * Runs `kinds` in order on `pod`, each on the pod as the previous ones left it (as the API server does
 * with separate entries): the single entry's review, and the first pass of `runWebhookChain`. `patch` is
 * every operation in the order applied, valid against `pod` applied in sequence; `changedBy` says which
 * of `kinds` (by index) changed the pod. `pod` itself is not modified: one copy takes the patches.
 */
export function mutateInOrder(
  kinds: readonly WebhookKind[],
  pod: Pod,
  ctx: MutationContext,
  /** false: the caller wants the patch only (a review): the last patch is not applied, and the returned `pod` is not the final one. */
  finalPod = true,
): { pod: Pod; patch: JsonPatchOp[]; decisions: Decision[]; changedBy: number[] } {
  const decisions: Decision[] = [];
  const patch: JsonPatchOp[] = [];
  const changedBy: number[] = [];
  let current = pod;
  kinds.forEach((kind, i) => {
    const r = mutatePod(kind, current, ctx);
    decisions.push(...r.decisions);
    if (r.patch.length === 0) return;
    patch.push(...r.patch);
    changedBy.push(i);
    if (!finalPod && i === kinds.length - 1) return;
    current = applyPatchInPlace(changedBy.length === 1 ? structuredClone(pod) : current, r.patch);
  });
  return { pod: current, patch, decisions, changedBy };
}

/**
 * Runs the enabled webhooks in order on a pod, as the API server does on a create, reinvoking the earlier
 * ones once when a later one changed the pod (reinvocationPolicy IfNeeded). Returns the final pod.
 * Used by offline `inject` and by tests; the live path calls `mutateInOrder` per request, with its entry's webhooks.
 */
export function runWebhookChain(pod: Pod, ctx: MutationContext): { pod: Pod; patch: JsonPatchOp[]; decisions: Decision[] } {
  const hooks = enabledWebhooks(ctx.config);
  const first = mutateInOrder(hooks.map((h) => h.kind), pod, ctx);
  const { decisions, patch } = first;
  let current = first.pod;
  const changedBy = first.changedBy;
  // The single entry is one call: nothing after it within Tether, so nothing of Tether's is reinvoked.
  if (ctx.config['admission_controller.reinvocation_policy'] === 'IfNeeded' && ctx.config['admission_controller.webhook_entries'] === 'separate') {
    hooks.forEach((h, i) => {
      // A webhook is reinvoked when a webhook after it changed the object.
      if (!changedBy.some((j) => j > i)) return;
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

