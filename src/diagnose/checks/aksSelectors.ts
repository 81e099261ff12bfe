/**
 * Check 11 (issue 10): AKS without `add_aks_selectors`. AKS's admissions enforcer adds its own namespace
 * selector expressions to every webhook configuration; Tether's controller sees that as drift and writes
 * its own back, and the two rewrite the configuration forever. With `add_aks_selectors` Tether writes
 * the enforcer's expressions itself and both agree (SPEC §4).
 */
import { AKS_NAMESPACE_SELECTOR } from '../../controllers/webhookConfiguration.js';
import { CLUSTER_AGENT_DEPLOYMENT, envVarFor } from '../../config/index.js';
import { ok, problem, type Check, type CheckOutcome } from '../check.js';
import { describeSelector, type LabelSelector } from '../labelSelector.js';

/** The field manager the enforcer writes with (seen in server-side apply conflicts on AKS). */
export const AKS_ENFORCER_MANAGER = 'admissionsenforcer';
/** AKS's opt-out: a webhook configuration annotated (or labelled) with it is left alone by the enforcer. */
export const AKS_ENFORCER_OPT_OUT = 'admissions.enforcer/disabled';

const ENFORCER_KEYS = new Set((AKS_NAMESPACE_SELECTOR.matchExpressions ?? []).map((e) => e.key));

export interface WebhookConfigurationMeta {
  readonly metadata?: {
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
    readonly managedFields?: readonly { readonly manager?: string; readonly operation?: string; readonly time?: string }[];
  };
  readonly webhooks?: readonly { readonly name: string; readonly namespaceSelector?: LabelSelector }[];
}

/** Pure: what in the configuration shows the enforcer at work, one line each. */
export function enforcerTraces(mwc: WebhookConfigurationMeta): string[] {
  const traces: string[] = [];
  for (const w of mwc.webhooks ?? []) {
    const added = (w.namespaceSelector?.matchExpressions ?? []).filter((e) => ENFORCER_KEYS.has(e.key));
    if (added.length) traces.push(`entry ${w.name}: namespaceSelector has the enforcer's ${describeSelector({ matchExpressions: added })}`);
  }
  for (const m of mwc.metadata?.managedFields ?? []) {
    if (m.manager === AKS_ENFORCER_MANAGER) traces.push(`field manager ${AKS_ENFORCER_MANAGER} wrote the configuration (${m.operation ?? 'Update'}${m.time ? ` at ${m.time}` : ''})`);
  }
  return traces;
}

/** Pure: the configuration opted out of the enforcer. */
export function optedOut(mwc: WebhookConfigurationMeta): boolean {
  return mwc.metadata?.annotations?.[AKS_ENFORCER_OPT_OUT] === 'true' || mwc.metadata?.labels?.[AKS_ENFORCER_OPT_OUT] === 'true';
}

export const aksSelectors: Check = {
  name: 'aks-selectors',
  finds: "AKS without admission_controller.add_aks_selectors: the admissions enforcer and Tether keep rewriting the webhook configuration's namespace selectors.",
  fixes: `Set ${envVarFor('admission_controller.add_aks_selectors')}=true on the cluster agent (Helm: providers.aks.enabled=true).`,
  async run(ctx): Promise<CheckOutcome> {
    const platform = await ctx.platform();
    if (!platform.aks) return ok('not an AKS cluster', platform.evidence);
    if (ctx.config['admission_controller.add_aks_selectors']) return ok('AKS, and admission_controller.add_aks_selectors is true', platform.evidence);

    const name = ctx.config['admission_controller.webhook_name'];
    const mwc = await ctx.kube.get<WebhookConfigurationMeta>(`/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${name}`, ctx.signal);
    if (mwc && optedOut(mwc)) return ok(`AKS, and MutatingWebhookConfiguration ${name} opts out of the admissions enforcer (${AKS_ENFORCER_OPT_OUT}: "true")`, platform.evidence);
    const traces = mwc ? enforcerTraces(mwc) : [];
    return problem(
      'error',
      `AKS without admission_controller.add_aks_selectors: the admissions enforcer rewrites MutatingWebhookConfiguration ${name}'s namespace selectors and Tether writes them back, endlessly`,
      [
        ...platform.evidence,
        'admission_controller.add_aks_selectors is false',
        ...(mwc ? (traces.length ? traces : [`MutatingWebhookConfiguration ${name} shows no rewrite yet`]) : [`no MutatingWebhookConfiguration ${name} yet`]),
      ],
      `Set ${envVarFor('admission_controller.add_aks_selectors')}=true on the cluster agent: kubectl set env deployment/${CLUSTER_AGENT_DEPLOYMENT} -n ${ctx.namespace} ${envVarFor('admission_controller.add_aks_selectors')}=true (Helm: providers.aks.enabled=true).`,
    );
  },
};
