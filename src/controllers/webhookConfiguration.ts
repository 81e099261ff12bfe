/**
 * The webhook-configuration controller (SPEC §4, §7, leader only): keeps the MutatingWebhookConfiguration
 * `webhook_name` exactly as the configuration wants it (one entry per enabled webhook, selectors,
 * policies) with the Secret's certificate as `caBundle`. Any drift (an entry deleted or added, a
 * caBundle edited, a selector changed) is repaired; when nothing differs nothing is written, so the
 * controller's own update does not trigger another (no update loop). The comparison fills in the
 * defaults the API server adds, so a server-defaulted field never looks like drift.
 */
import { isDeepStrictEqual } from 'node:util';
import type * as k8s from '@kubernetes/client-node';
import { entryEndpoint, entryName, webhookEntries } from '../admission/index.js';
import { ENABLED_LABEL, NEVER_MUTATED_NAMESPACES, WEBHOOK_SERVICE_PORT, type TetherConfig } from '../config/index.js';
import type { SecretStore } from '../kube/secrets.js';
import type { WebhookConfigurationStore } from '../kube/webhookConfigurations.js';
import type { Logger } from '../logging/logger.js';
import { trustBundlePem } from '../certs/policy.js';
import type { ReconcileResult } from './workqueue.js';

type Webhook = k8s.V1MutatingWebhook;
type Configuration = k8s.V1MutatingWebhookConfiguration;

export interface DesiredWebhookInput {
  readonly config: TetherConfig;
  /** Tether's namespace: where the Service is. */
  readonly namespace: string;
  /** The PEM the API server must trust: the Secret's trust bundle (`trustBundlePem`). */
  readonly caBundlePem: string;
  /** `--webhook-url`: entries call `<url><endpoint>` instead of the Service (running outside the cluster). */
  readonly webhookUrl?: string;
}

/** AKS's admissions enforcer rewrites webhooks without these namespace selectors (SPEC §4). */
export const AKS_NAMESPACE_SELECTOR: k8s.V1LabelSelector = {
  matchExpressions: [
    { key: 'control-plane', operator: 'DoesNotExist' },
    { key: 'control-plane', operator: 'NotIn', values: ['true'] },
    { key: 'kubernetes.azure.com/managedby', operator: 'NotIn', values: ['aks'] },
  ],
};

/** The label every namespace carries with its own name (Kubernetes 1.21+). */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/**
 * Tether's own namespace and kube-system are never sent to the webhook (SPEC §4): with failurePolicy
 * Fail an outage of Tether would otherwise block its own replacement pods and the cluster's system pods.
 * The code skips them too; this makes the API server not even call. Merged with the AKS expressions.
 */
export function namespaceSelector(config: TetherConfig, namespace: string): k8s.V1LabelSelector {
  const excluded = [...new Set([namespace, ...NEVER_MUTATED_NAMESPACES])];
  return {
    matchExpressions: [
      { key: NAMESPACE_NAME_LABEL, operator: 'NotIn', values: excluded },
      ...(config['admission_controller.add_aks_selectors'] ? (AKS_NAMESPACE_SELECTOR.matchExpressions ?? []) : []),
    ],
  };
}

export function objectSelector(config: TetherConfig): k8s.V1LabelSelector {
  return config['admission_controller.mutate_unlabelled']
    ? { matchExpressions: [{ key: ENABLED_LABEL, operator: 'NotIn', values: ['false'] }] }
    : { matchLabels: { [ENABLED_LABEL]: 'true' } };
}

/** Pure: the configuration object Tether wants. */
export function desiredWebhookConfiguration(input: DesiredWebhookInput): Configuration {
  const { config, namespace } = input;
  const caBundle = Buffer.from(input.caBundlePem, 'utf8').toString('base64');
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: config['admission_controller.webhook_name'] },
    webhooks: webhookEntries(config).map((entry): Webhook => {
      const path = entryEndpoint(entry, config);
      return {
        name: entryName(entry, config),
        clientConfig: input.webhookUrl
          ? { url: input.webhookUrl.replace(/\/+$/, '') + path, caBundle }
          : { service: { namespace, name: config['admission_controller.service_name'], port: WEBHOOK_SERVICE_PORT, path }, caBundle },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: '*' }],
        failurePolicy: config['admission_controller.failure_policy'],
        reinvocationPolicy: config['admission_controller.reinvocation_policy'],
        timeoutSeconds: config['admission_controller.timeout_seconds'],
        matchPolicy: 'Exact',
        sideEffects: 'None',
        admissionReviewVersions: ['v1', 'v1beta1'],
        objectSelector: objectSelector(config),
        namespaceSelector: namespaceSelector(config, namespace),
      };
    }),
  };
}

/** A selector with empty lists dropped, so `{}` and `{matchLabels: {}}` compare equal, as they mean the same. */
function normalSelector(s: k8s.V1LabelSelector | undefined): object {
  const out: Record<string, unknown> = {};
  if (s?.matchLabels && Object.keys(s.matchLabels).length > 0) out['matchLabels'] = s.matchLabels;
  if (s?.matchExpressions && s.matchExpressions.length > 0) {
    out['matchExpressions'] = s.matchExpressions.map((e) => ({ key: e.key, operator: e.operator, values: e.values ?? [] }));
  }
  return out;
}

/**
 * The fields Tether manages, with the API server's defaults filled in (admissionregistration/v1
 * defaulting), so that what the server returns compares equal to what Tether sent.
 */
function managedFields(w: Webhook): Record<string, unknown> {
  const svc = w.clientConfig.service;
  return {
    clientConfig: {
      url: w.clientConfig.url ?? null,
      service: svc ? { namespace: svc.namespace, name: svc.name, port: svc.port ?? 443, path: svc.path ?? null } : null,
      caBundle: w.clientConfig.caBundle ?? null,
    },
    rules: (w.rules ?? []).map((r) => ({
      operations: r.operations ?? [],
      apiGroups: r.apiGroups ?? [],
      apiVersions: r.apiVersions ?? [],
      resources: r.resources ?? [],
      scope: r.scope ?? '*',
    })),
    failurePolicy: w.failurePolicy ?? 'Fail',
    reinvocationPolicy: w.reinvocationPolicy ?? 'Never',
    timeoutSeconds: w.timeoutSeconds ?? 10,
    matchPolicy: w.matchPolicy ?? 'Equivalent',
    sideEffects: w.sideEffects,
    admissionReviewVersions: w.admissionReviewVersions,
    objectSelector: normalSelector(w.objectSelector),
    namespaceSelector: normalSelector(w.namespaceSelector),
    matchConditions: w.matchConditions ?? [],
  };
}

/** Pure: how `actual` differs from `desired`, one line per difference; empty when nothing needs writing. */
export function webhookConfigurationDrift(actual: Pick<Configuration, 'webhooks'>, desired: Pick<Configuration, 'webhooks'>): string[] {
  const drift: string[] = [];
  const have = actual.webhooks ?? [];
  const want = desired.webhooks ?? [];
  const haveNames = have.map((w) => w.name);
  const wantNames = want.map((w) => w.name);
  for (const n of wantNames) if (!haveNames.includes(n)) drift.push(`entry ${n} is missing`);
  for (const n of haveNames) if (!wantNames.includes(n)) drift.push(`entry ${n} is not Tether's`);
  if (drift.length === 0 && !isDeepStrictEqual(haveNames, wantNames)) drift.push(`entries are in the order ${haveNames.join(', ')}`);
  for (const w of want) {
    const h = have.find((x) => x.name === w.name);
    if (!h) continue;
    const a = managedFields(h);
    const d = managedFields(w);
    for (const field of Object.keys(d)) {
      if (!isDeepStrictEqual(a[field], d[field])) drift.push(`entry ${w.name}: ${field === 'clientConfig' ? clientConfigDrift(h, w) : `${field} differs`}`);
    }
  }
  return drift;
}

function clientConfigDrift(actual: Webhook, desired: Webhook): string {
  if ((actual.clientConfig.caBundle ?? '') !== (desired.clientConfig.caBundle ?? '')) return 'caBundle does not match the Secret';
  return 'clientConfig (service or URL) differs';
}

export interface WebhookControllerDeps {
  readonly webhooks: WebhookConfigurationStore;
  readonly secrets: SecretStore;
  readonly config: TetherConfig;
  readonly namespace: string;
  readonly webhookUrl?: string;
  readonly logger: Logger;
}

/** One reconcile: read the Secret and the configuration, write only what differs. */
export async function reconcileWebhookConfiguration(deps: WebhookControllerDeps, signal: AbortSignal): Promise<ReconcileResult> {
  const { config, namespace, logger: log, webhooks: store } = deps;
  const name = store.name;
  const caBundlePem = trustBundlePem((await deps.secrets.get(signal))?.data);
  if (!caBundlePem) {
    // The certificate controller creates it; its write is an event that brings us back here.
    log.debug({ secret: deps.secrets.id }, `waiting for the certificate Secret before writing ${name}`);
    return {};
  }
  const desired = desiredWebhookConfiguration({ config, namespace, caBundlePem, ...(deps.webhookUrl ? { webhookUrl: deps.webhookUrl } : {}) });
  const want = desired.webhooks ?? [];
  const actual = await store.get(signal);
  if (!actual) {
    await store.create(want, signal);
    log.info({ webhook: name, entries: want.map((w) => w.name) }, `The Webhook ${name} was not found, created it`);
    return {};
  }
  const drift = webhookConfigurationDrift({ webhooks: [...actual.webhooks] }, desired);
  if (drift.length === 0) {
    log.debug({ webhook: name }, `Webhook ${name} reconciled successfully`);
    return {};
  }
  // Replace the whole list of entries (they are all Tether's), keeping the object's other metadata; a
  // concurrent edit is a Conflict, retried from a fresh read.
  await store.replaceWebhooks(actual.resourceVersion, want, signal);
  log.info({ webhook: name, drift }, `The Webhook ${name} was found, updating it: ${drift.join('; ')}`);
  return {};
}
