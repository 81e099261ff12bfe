/**
 * Check `webhook-service` (issue 10, item 5): the Service the webhook entries call is in the cluster
 * agent's namespace (so is the certificate Secret), has ready endpoints, and forwards to the port the
 * webhook listens on (`admission_controller.port`; a named targetPort resolved against the cluster agent's
 * containers, and as the EndpointSlices resolved it). Entries that call a URL (`--webhook-url`) have no
 * Service: skipped.
 */
import type * as k8s from '@kubernetes/client-node';
import { enabledWebhooks } from '../../admission/index.js';
import { WEBHOOK_SERVICE_PORT } from '../../config/index.js';
import { skipped, type Check, type DiagnoseContext } from '../check.js';
import { findClusterAgentPods, type ClusterAgentPods } from '../clusterAgent.js';
import { Findings } from '../findings.js';
import { describeLabels, describeSelector, selectorMatches } from '../labelSelector.js';
import { readWebhookConfiguration } from '../webhookObjects.js';

/** The label EndpointSlices carry with their Service's name. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

// ---------------------------------------------------------------------------------------------------
// pure parts

export interface ResolvedTargetPort {
  /** The container port traffic goes to; undefined when a named port names nothing. */
  readonly port?: number;
  /** How, for evidence. */
  readonly how: string;
}

/**
 * Where a Service port forwards for pods with these containers: a numeric targetPort as it is, an absent
 * one as the port itself (the API server's default), a named one as the container port of that name and
 * protocol (as the endpoints controller resolves it).
 */
export function resolveTargetPort(servicePort: Pick<k8s.V1ServicePort, 'port' | 'targetPort' | 'protocol'>, containers: readonly k8s.V1Container[]): ResolvedTargetPort {
  const target = servicePort.targetPort ?? servicePort.port;
  if (typeof target === 'number') return { port: target, how: `targetPort ${target}` };
  if (/^\d+$/.test(target)) return { port: Number(target), how: `targetPort ${target}` };
  const protocol = servicePort.protocol ?? 'TCP';
  for (const c of containers) {
    const p = (c.ports ?? []).find((x) => x.name === target && (x.protocol ?? 'TCP') === protocol);
    if (p) return { port: p.containerPort, how: `targetPort "${target}" = containerPort ${p.containerPort} of container ${c.name}` };
  }
  return { how: `targetPort "${target}" names no ${protocol} container port (containers: ${containers.map((c) => `${c.name} [${(c.ports ?? []).map((p) => `${p.name ?? '-'}=${p.containerPort}`).join(', ')}]`).join('; ') || 'none'})` };
}

export interface EndpointCount {
  readonly ready: number;
  readonly notReady: number;
  /** The ports the slices resolved the Service port to (by the Service port's name). */
  readonly ports: number[];
  /** Not-ready endpoints, for evidence: their pod or address. */
  readonly notReadyTargets: string[];
}

/**
 * Ready endpoints of a Service's slices. `conditions.ready` absent counts as ready, as the API documents
 * ("an unknown state ... should be interpreted as ready").
 */
export function countEndpoints(slices: readonly k8s.V1EndpointSlice[], servicePortName: string | undefined): EndpointCount {
  let ready = 0;
  let notReady = 0;
  const ports = new Set<number>();
  const notReadyTargets: string[] = [];
  for (const s of slices) {
    for (const e of s.endpoints ?? []) {
      if (e.conditions?.ready === false) {
        notReady += 1;
        notReadyTargets.push(e.targetRef?.name ? `${e.targetRef.kind ?? 'Pod'} ${e.targetRef.name}` : (e.addresses ?? []).join(','));
      } else ready += 1;
    }
    for (const p of s.ports ?? []) if ((p.name ?? '') === (servicePortName ?? '') && typeof p.port === 'number') ports.add(p.port);
  }
  return { ready, notReady, ports: [...ports], notReadyTargets };
}

// ---------------------------------------------------------------------------------------------------
// I/O

interface Named {
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
}

/** Every namespace holding an object of this name (a field-selected list: RBAC may restrict it to that name). */
async function namespacesHolding(ctx: DiagnoseContext, resource: 'services', name: string): Promise<string[]> {
  const items = await ctx.kube.list<Named>(`/api/v1/${resource}`, ctx.signal, { fieldSelector: `metadata.name=${name}` });
  return items.map((i) => i.metadata?.namespace ?? '').filter(Boolean).sort();
}

export const webhookServiceCheck: Check = {
  name: 'webhook-service',
  finds: "The webhook's Service or certificate Secret in a namespace other than the cluster agent's, the Service without ready endpoints, or its target port not the webhook's port.",
  fixes: "Keep the Service and the Secret in the cluster agent's namespace (Tether's -n), make the cluster agent pods ready and selected by the Service, and point the Service's targetPort at admission_controller.port (the container port named webhook).",
  async run(ctx) {
    const { config, namespace } = ctx;
    const name = config['admission_controller.webhook_name'];
    const serviceName = config['admission_controller.service_name'];
    const secretName = config['admission_controller.certificate.secret_name'];
    const webhookPort = config['admission_controller.port'];
    if (enabledWebhooks(config).length === 0) return skipped('the admission controller is disabled (admission_controller.enabled, or every webhook disabled): there is no webhook Service');
    const mwc = await readWebhookConfiguration(ctx);
    if (!mwc) return skipped(`MutatingWebhookConfiguration ${name} does not exist, so no Service is called (the webhook-configuration check says why)`);
    const webhooks = mwc.webhooks ?? [];
    const refs = webhooks.flatMap((w) => (w.clientConfig?.service ? [{ entry: w.name, ...w.clientConfig.service }] : []));
    if (refs.length === 0) {
      const url = webhooks.find((w) => w.clientConfig?.url)?.clientConfig?.url;
      return skipped(`the entries of ${name} call a URL${url ? ` (${url})` : ''}, not a Service (tether start --webhook-url): there is no Service to check`);
    }

    const f = new Findings();
    const called = [...new Set(refs.map((r) => `${r.namespace}/${r.name}:${r.port ?? WEBHOOK_SERVICE_PORT}`))];
    f.evidence(`${name} entries call Service ${called.join(', ')}`, `cluster agent namespace: ${namespace} (service account ${ctx.serviceAccount})`);
    const namespaceCmd = `Run Tether with its namespace set to where it is deployed (\`-n\`, kube_resources_namespace; deploy/cluster-agent.yaml sets DD_KUBE_RESOURCES_NAMESPACE from the pod's namespace)`;

    const elsewhere = refs.filter((r) => r.namespace !== namespace);
    if (elsewhere.length > 0) {
      f.add(
        'error',
        `${name} calls Service ${elsewhere[0]!.namespace}/${elsewhere[0]!.name}, in a namespace other than the cluster agent's (${namespace})`,
        `${namespaceCmd}: its leader then points every entry at ${namespace}/${serviceName}. If another install wrote these entries, uninstall it.`,
        elsewhere.map((r) => `entry ${r.entry}: Service ${r.namespace}/${r.name}`),
      );
    }

    const serviceNamespaces = await namespacesHolding(ctx, 'services', serviceName);
    f.evidence(`Services named ${serviceName}: ${serviceNamespaces.length > 0 ? serviceNamespaces.map((n) => `in ${n}`).join(', ') : 'none'}`);
    if (!serviceNamespaces.includes(namespace)) {
      const other = serviceNamespaces.length > 0 ? `; there is one in ${serviceNamespaces.join(', ')}, which is not the cluster agent's namespace` : '';
      f.add(
        'error',
        `Service ${namespace}/${serviceName} does not exist${other}`,
        `Create the Service in ${namespace}: \`kubectl -n ${namespace} apply -f deploy/cluster-agent.yaml\` (or the chart's Service with -n ${namespace}); it must select the cluster agent pods and forward port ${WEBHOOK_SERVICE_PORT} to ${webhookPort}.${serviceNamespaces.length > 0 ? ` Then delete the stray one (\`kubectl -n ${serviceNamespaces[0]} delete service ${serviceName}\`) if nothing uses it.` : ''}`,
      );
    } else if (serviceNamespaces.length > 1) {
      f.evidence(`another Service ${serviceName} exists in ${serviceNamespaces.filter((n) => n !== namespace).join(', ')}: another install?`);
    }

    // The Secret in the cluster agent's namespace, as metadata: diagnose reads Secrets only there
    // (a Role), so a stray copy elsewhere is not searched for.
    const secretMeta = await ctx.kube.getMetadata(`/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(secretName)}`, ctx.signal);
    f.evidence(`Secret ${namespace}/${secretName}: ${secretMeta ? 'exists' : 'does not exist'}`);
    if (!secretMeta) {
      f.add(
        'error',
        `Secret ${secretName} is not in the cluster agent's namespace ${namespace}`,
        `${namespaceCmd}: the leader then creates ${namespace}/${secretName} and serves its certificate. A copy in another namespace (\`kubectl get secrets -A --field-selector metadata.name=${secretName}\`) is not used: delete it when nothing uses it.`,
      );
    }

    // The Service actually called (the first entry's), as the API server sees it.
    const ref = refs[0]!;
    const svc = await ctx.kube.get<k8s.V1Service>(`/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/services/${encodeURIComponent(ref.name)}`, ctx.signal);
    if (!svc) {
      if (ref.namespace !== namespace || ref.name !== serviceName) f.add('error', `Service ${ref.namespace}/${ref.name}, which ${name} calls, does not exist`, `${namespaceCmd}, and create the Service (deploy/cluster-agent.yaml).`);
      return f.outcome('');
    }
    const svcId = `${ref.namespace}/${ref.name}`;
    const agents: ClusterAgentPods[] = ref.namespace === namespace ? await findClusterAgentPods(ctx) : [];
    const selector = svc.spec?.selector;
    f.evidence(
      `Service ${svcId}: selector ${selector && Object.keys(selector).length > 0 ? describeLabels(selector) : '<none: endpoints are managed by hand>'}, ports ${(svc.spec?.ports ?? []).map((p) => `${p.name ?? '-'} ${p.port}→${p.targetPort ?? p.port}/${p.protocol ?? 'TCP'}`).join(', ')}`,
      ...(agents.length > 0 ? agents.map((a) => `cluster agent: ${a.source}, pod labels ${describeLabels(a.labels)}`) : [`cluster agent: no Deployment or pod in ${namespace} runs as service account ${ctx.serviceAccount}`]),
    );
    if (selector && Object.keys(selector).length > 0 && agents.length > 0 && !agents.some((a) => selectorMatches({ matchLabels: selector }, a.labels))) {
      f.add(
        'error',
        `Service ${svcId} selects ${describeLabels(selector)}, which none of the cluster agent's pods carry`,
        `Make the Service's selector match the cluster agent's pod labels (${describeLabels(agents[0]!.labels)}): \`kubectl -n ${ref.namespace} edit service ${ref.name}\`.`,
      );
    }

    // The port the entries call, and where it forwards.
    const callPort = ref.port ?? WEBHOOK_SERVICE_PORT;
    const sp = (svc.spec?.ports ?? []).find((p) => p.port === callPort);
    const slices = await ctx.kube.list<k8s.V1EndpointSlice>(`/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(ref.namespace)}/endpointslices`, ctx.signal, {
      labelSelector: `${SERVICE_NAME_LABEL}=${ref.name}`,
    });
    const endpoints = countEndpoints(slices, sp?.name);
    f.evidence(`EndpointSlices of ${svcId}: ${slices.length}, ${endpoints.ready} ready and ${endpoints.notReady} not ready endpoints${endpoints.notReadyTargets.length ? ` (not ready: ${endpoints.notReadyTargets.join(', ')})` : ''}`);
    if (endpoints.ready === 0) {
      f.add(
        'error',
        `Service ${svcId} has no ready endpoints: the API server has no pod to send reviews to (they fail, and pods are created uninjected)`,
        `Make the cluster agent pods ready and selected by the Service: \`kubectl -n ${ref.namespace} get pods${selector ? ` -l ${describeSelector({ matchLabels: selector })}` : ''}\`, \`kubectl -n ${ref.namespace} get endpointslices -l ${SERVICE_NAME_LABEL}=${ref.name}\`; a pod that is not ready fails /readyz (its log says why: usually no certificate yet).`,
      );
    }

    if (!sp) {
      f.add('error', `Service ${svcId} has no port ${callPort}, the port ${name} calls`, `Give the Service a port ${callPort} with targetPort ${webhookPort} (deploy/cluster-agent.yaml: port ${WEBHOOK_SERVICE_PORT}, targetPort webhook).`);
      return f.outcome('');
    }
    const wrong: string[] = [];
    for (const a of agents) {
      const r = resolveTargetPort(sp, a.containers);
      f.evidence(`port ${sp.port} of ${svcId} → ${a.source}: ${r.how}`);
      if (r.port !== webhookPort) wrong.push(r.port === undefined ? `${r.how} in ${a.source}` : `it forwards to ${r.port} (${r.how}) in ${a.source}`);
    }
    if (agents.length === 0 && typeof (sp.targetPort ?? sp.port) === 'number' && (sp.targetPort ?? sp.port) !== webhookPort) wrong.push(`it forwards to ${sp.targetPort ?? sp.port}`);
    for (const p of endpoints.ports) if (p !== webhookPort) wrong.push(`its EndpointSlices resolve it to port ${p}`);
    if (wrong.length > 0) {
      f.add(
        'error',
        `port ${sp.port} of Service ${svcId} does not forward to the webhook's port ${webhookPort} (admission_controller.port): ${wrong[0]}`,
        `Set the Service's targetPort to ${webhookPort}, or to the name of the cluster agent's container port ${webhookPort} (deploy/cluster-agent.yaml names it webhook): \`kubectl -n ${ref.namespace} patch service ${ref.name} --type=json -p '[{"op":"replace","path":"/spec/ports/${(svc.spec?.ports ?? []).indexOf(sp)}/targetPort","value":${webhookPort}}]'\`. If the webhook listens elsewhere on purpose, set admission_controller.port to match.`,
        wrong.slice(1),
      );
    }
    return f.outcome(`Service ${svcId} is in the cluster agent's namespace with ${endpoints.ready} ready endpoint${endpoints.ready === 1 ? '' : 's'}, forwarding port ${sp.port} to ${webhookPort}`);
  },
};
