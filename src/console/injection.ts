/**
 * Whether a pod is injected and, when not, why (issue 12), from what the cluster state kept of it (its
 * labels, namespace, creation time, and the marks its spec carries: `clusterview/podInjection.ts`), the
 * configuration, when the webhook configuration was created, and the platform. Pure.
 *
 * Selection is admission's own (`selectPod`): the console never re-states which pods the webhooks take.
 */
import { configMode } from '../admission/configInjection.js';
import type { Pod } from '../admission/pod.js';
import { selectPod } from '../admission/selection.js';
import { webhookEnabled } from '../admission/webhooks.js';
import { NO_INJECTION, type PodInjectionFacts } from '../clusterview/podInjection.js';
import type { ClusterView, PodView } from '../clusterview/types.js';
import { CONFIG_MODE_LABEL, ENABLED_LABEL, ENV_ENTITY_ID, envVarFor, NEVER_MUTATED_NAMESPACES, type TetherConfig } from '../config/index.js';
import { recreateCommand } from '../diagnose/pods.js';
import type { InjectionReason } from './types.js';

export interface InjectionContext {
  readonly config: TetherConfig;
  /** Tether's namespace (never mutated). */
  readonly tetherNamespace: string;
  /** When the MutatingWebhookConfiguration was created (epoch seconds); undefined: there is none (known). */
  readonly webhookSinceS: number | undefined;
  /** Why hostPath volumes are refused on this platform (GKE Autopilot, OpenShift), when they are. */
  readonly hostPathRefused: string | undefined;
}

export const injectionOf = (pod: PodView): PodInjectionFacts => pod.injection ?? NO_INJECTION;

/** The smallest Pod `selectPod` and `configMode` read: the labels. */
const asPod = (pod: PodView): Pod => ({ metadata: { labels: pod.labels }, spec: { containers: [] } }) as unknown as Pod;

export function classifyPod(pod: PodView, ctx: InjectionContext): InjectionReason {
  if (injectionOf(pod).config) return 'injected';
  const selection = selectPod(asPod(pod), { config: ctx.config, namespace: pod.namespace, tetherNamespace: ctx.tetherNamespace });
  if (!selection.selected) {
    if (pod.namespace === ctx.tetherNamespace || (NEVER_MUTATED_NAMESPACES as readonly string[]).includes(pod.namespace)) return 'namespace-excluded';
    const label = pod.labels[ENABLED_LABEL];
    if (label === 'false') return 'label-false';
    return label === undefined ? 'no-label' : 'label-invalid';
  }
  if (!webhookEnabled('config', ctx.config)) return 'webhook-disabled';
  if (ctx.hostPathRefused && configMode(asPod(pod), ctx.config).mode === 'socket') return 'mode-not-allowed';
  if (ctx.webhookSinceS === undefined || (pod.createdS !== undefined && pod.createdS < ctx.webhookSinceS)) return 'created-before-webhook';
  return 'missed';
}

/** Opted in and not injected: the pods a fix applies to. */
export const isMissed = (r: InjectionReason): boolean => r === 'created-before-webhook' || r === 'mode-not-allowed' || r === 'missed' || r === 'webhook-disabled';

/** The reason in words and, when something can be done, the fix (for one pod's detail). */
export function explainPod(pod: PodView, reason: InjectionReason, ctx: InjectionContext, view: Pick<ClusterView, 'workloadOf'>): { explanation: string; fix?: string } {
  const recreate = (): string => {
    const w = view.workloadOf(pod);
    const group = w ? { namespace: pod.namespace, kind: w.kind, name: w.name, pods: [pod.name] } : { namespace: pod.namespace, kind: pod.owner?.kind ?? 'Pod', name: pod.owner?.name ?? pod.name, pods: [pod.name] };
    return recreateCommand(group);
  };
  const unlabelled = ctx.config['admission_controller.mutate_unlabelled'];
  switch (reason) {
    case 'injected': {
      const f = injectionOf(pod);
      const parts = [`the config webhook went through it (${ENV_ENTITY_ID} is set)`, `mode ${f.mode ?? 'unknown'}`];
      const tags = Object.entries(f.tags).map(([k, v]) => `${k}:${v}`);
      if (tags.length) parts.push(`tags ${tags.join(', ')}`);
      if (f.libraries.length) parts.push(`libraries ${f.libraries.join(', ')}`);
      return { explanation: `Injected: ${parts.join('; ')}.` };
    }
    case 'namespace-excluded':
      return { explanation: `Not injected: namespace ${pod.namespace} is ${pod.namespace === ctx.tetherNamespace ? "Tether's own" : 'never mutated'}.` };
    case 'label-false':
      return { explanation: `Not injected: the pod is labelled ${ENABLED_LABEL}="false" (it opted out).` };
    case 'no-label':
      return {
        explanation: `Not injected: the pod has no ${ENABLED_LABEL} label and admission_controller.mutate_unlabelled is ${unlabelled}.`,
        fix: `Add the label ${ENABLED_LABEL}: "true" to the pod template (not the workload's own metadata), then recreate: ${recreate()}`,
      };
    case 'label-invalid':
      return {
        explanation: `Not injected: label ${ENABLED_LABEL}=${JSON.stringify(pod.labels[ENABLED_LABEL])} is neither "true" nor "false".`,
        fix: `Set the label to "true" in the pod template, then recreate: ${recreate()}`,
      };
    case 'webhook-disabled':
      return {
        explanation: 'Not injected: the config webhook is switched off (admission_controller.inject_config.enabled is false).',
        fix: `Set ${envVarFor('admission_controller.inject_config.enabled')}=true on the cluster agent, then recreate: ${recreate()}`,
      };
    case 'mode-not-allowed':
      return {
        explanation: `Not injected: its config mode is socket, and ${ctx.hostPathRefused ?? 'this platform refuses hostPath volumes'}.`,
        fix: `Use hostip or service: ${envVarFor('admission_controller.inject_config.mode')}=hostip, or the label ${CONFIG_MODE_LABEL}: hostip on the pod template; then ${recreate()}`,
      };
    case 'created-before-webhook':
      return {
        explanation:
          ctx.webhookSinceS === undefined
            ? 'Not injected: opted in, but there is no webhook configuration (Tether has not registered its webhooks).'
            : 'Not injected: opted in, but created before the webhook configuration existed; the webhook only sees pod creations.',
        fix: `Recreate it through the webhook: ${recreate()}`,
      };
    case 'missed':
      return {
        explanation: 'Not injected: opted in and created while the webhook existed, but the API server could not reach it (the webhook fails open) or it failed.',
        fix: `Check the webhook's health (and \`tether diagnose --check webhook-reachable\`), then recreate: ${recreate()}`,
      };
  }
}
