/**
 * Check 12 (issue 10): service mode without the node-local agent Service. In `service` mode the config
 * webhook points DD_AGENT_HOST at `<local_service_name>.<namespace>.svc.cluster.local` (SPEC §5): without
 * that Service the name does not resolve and every trace and metric is lost; without
 * internalTrafficPolicy Local it reaches some node's agent, not the pod's own, which tags the data with
 * the wrong host.
 */
import { CONFIG_MODE_LABEL, envVarFor, NEVER_MUTATED_NAMESPACES, NODE_AGENT_NAME } from '../../config/index.js';
import { ok, problem, type Check, type CheckOutcome } from '../check.js';
import { capLines } from '../evidence.js';
import type { ListedPod } from '../pods.js';
import { listWorkloads } from '../workloads.js';

/** The node agent's trace and DogStatsD ports (the agent stack's defaults), which the local Service forwards. */
export const TRACE_AGENT_PORT = 8126;
export const DOGSTATSD_PORT = 8125;

interface ServiceObject {
  readonly spec?: { readonly internalTrafficPolicy?: string; readonly selector?: Record<string, string> };
}

/** Pure: the Service the mode needs, as a command that creates it. */
export function localServiceManifest(name: string, namespace: string): string {
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: {
      selector: { 'app.kubernetes.io/name': NODE_AGENT_NAME },
      internalTrafficPolicy: 'Local',
      ports: [
        { name: 'traceport', protocol: 'TCP', port: TRACE_AGENT_PORT, targetPort: TRACE_AGENT_PORT },
        { name: 'dogstatsdport', protocol: 'UDP', port: DOGSTATSD_PORT, targetPort: DOGSTATSD_PORT },
      ],
    },
  };
  return `echo '${JSON.stringify(svc)}' | kubectl apply -f -`;
}

export const serviceModeLocalService: Check = {
  name: 'service-mode-local-service',
  finds: 'Injection mode service without the node-local agent Service (inject_config.local_service_name), or with one whose traffic is not kept on the node.',
  fixes: 'Create the Service in the cluster agent\'s namespace, selecting the node agent pods, with internalTrafficPolicy: Local.',
  async run(ctx): Promise<CheckOutcome> {
    const never = new Set<string>([ctx.namespace, ...NEVER_MUTATED_NAMESPACES]);
    const configured = ctx.config['admission_controller.inject_config.mode'];
    const users: string[] = [];
    if (configured === 'service') users.push(`admission_controller.inject_config.mode is service (${envVarFor('admission_controller.inject_config.mode')})`);
    const [pods, workloads] = await Promise.all([
      ctx.kube.list<ListedPod>('/api/v1/pods', ctx.signal, { labelSelector: `${CONFIG_MODE_LABEL}=service` }),
      listWorkloads(ctx.kube, ctx.signal),
    ]);
    users.push(
      ...capLines([
        ...workloads.filter((w) => !never.has(w.namespace) && w.templateLabels[CONFIG_MODE_LABEL] === 'service').map((w) => `${w.kind.toLowerCase()}/${w.name} -n ${w.namespace}: pod template labelled ${CONFIG_MODE_LABEL}=service`),
        ...pods.filter((p) => !never.has(p.metadata?.namespace ?? '') && !p.metadata?.ownerReferences?.length).map((p) => `pod/${p.metadata?.name} -n ${p.metadata?.namespace}: labelled ${CONFIG_MODE_LABEL}=service`),
      ]),
    );
    if (!users.length) return ok(`service mode is not used (mode ${configured}, no pod labelled ${CONFIG_MODE_LABEL}=service)`);

    const name = ctx.config['admission_controller.inject_config.local_service_name'];
    const host = `${name}.${ctx.namespace}.svc.cluster.local`;
    const svc = await ctx.kube.get<ServiceObject>(`/api/v1/namespaces/${ctx.namespace}/services/${name}`, ctx.signal);
    if (!svc) {
      return problem(
        'error',
        `service mode is used but Service ${ctx.namespace}/${name} does not exist: injected pods send traces and metrics to ${host}, which does not resolve`,
        [...users, `Service ${ctx.namespace}/${name} (admission_controller.inject_config.local_service_name): not found`],
        `Create it, selecting the node agent pods, with internalTrafficPolicy Local: ${localServiceManifest(name, ctx.namespace)}`,
      );
    }
    const policy = svc.spec?.internalTrafficPolicy ?? 'Cluster';
    if (policy !== 'Local') {
      return problem(
        'warning',
        `Service ${ctx.namespace}/${name} has internalTrafficPolicy ${policy}: pods reach any node's agent, not their own, and their data gets the wrong host`,
        [...users, `Service ${ctx.namespace}/${name}: internalTrafficPolicy ${policy}`],
        `kubectl patch service/${name} -n ${ctx.namespace} -p '{"spec":{"internalTrafficPolicy":"Local"}}'`,
      );
    }
    return ok(`service mode is used and Service ${ctx.namespace}/${name} keeps traffic on the node (internalTrafficPolicy Local)`, users);
  },
};
