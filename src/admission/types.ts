/** What the pure admission core takes in and hands back. */
import type { TetherConfig, WebhookKind } from '../config/index.js';
import type { JsonPatchOp } from './jsonpatch.js';
import type { OwnerReference, StringMap } from './pod.js';

/**
 * One thing a webhook did or chose not to do, for the debug log and for `inject --explain`.
 * `warning` decisions are also returned to the API server (and so to `kubectl`) as admission warnings.
 */
export interface Decision {
  readonly webhook: WebhookKind;
  /** `selected`: the pod passed selection (SPEC §3); `skipped` on `pod` means it did not. */
  readonly outcome: 'selected' | 'injected' | 'skipped';
  /** e.g. `env var DD_AGENT_HOST`, `init container datadog-lib-python-init`, `volume datadog`. */
  readonly what: string;
  readonly container?: string;
  readonly detail?: string;
  readonly warning?: boolean;
}

export interface MutationResult {
  readonly patch: readonly JsonPatchOp[];
  readonly decisions: readonly Decision[];
}

/** The owner whose labels supply unified service tags when the pod has none (SPEC §5, tags). */
export type OwnerFact =
  | { readonly found: true; readonly kind: string; readonly name: string; readonly labels: StringMap }
  | { readonly found: false; readonly reason: string };

/**
 * Everything a mutation may depend on besides the pod. Facts that need I/O (owner labels, namespace
 * labels) are resolved by the caller beforehand, only when the webhook says it needs them.
 */
export interface MutationContext {
  readonly config: TetherConfig;
  /** The pod's namespace (the request's, which is set even when the pod's metadata omits it). */
  readonly namespace: string;
  readonly tetherNamespace: string;
  readonly owner?: OwnerFact;
  /** Labels of the pod's namespace, when known (Pod Security level for the init containers). */
  readonly namespaceLabels?: StringMap;
}

/**
 * Where the outside facts come from; the cluster agent implements it over the API server (`kube/`, with
 * the owner cache). Implementations should stop work when `signal` aborts; the webhook server stops
 * waiting then either way. Defined here, with the facts it returns, so that `kube/` implements it
 * without depending on `server/`.
 */
export interface FactResolver {
  /** The pod's owner (for a ReplicaSet, normally its Deployment) with its labels, or why it could not be read. */
  owner(namespace: string, ownerRef: OwnerReference, signal: AbortSignal): Promise<OwnerFact>;
  /** The namespace's labels, or `undefined` when unknown. */
  namespaceLabels(namespace: string, signal: AbortSignal): Promise<StringMap | undefined>;
}
