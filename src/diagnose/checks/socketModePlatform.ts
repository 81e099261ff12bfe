/**
 * Check 10 (issue 10): socket mode where hostPath volumes are refused. Socket mode mounts the agent's
 * socket directory from the host (SPEC §5); GKE Autopilot's Warden and OpenShift's restricted SCC reject
 * such pods, so injected pods are never created. There the mode must be `hostip` or `service`.
 */
import { CONFIG_MODE_LABEL, envVarFor, NEVER_MUTATED_NAMESPACES } from '../../config/index.js';
import { ok, problem, type Check, type CheckOutcome, type Platform } from '../check.js';
import { capLines } from '../evidence.js';
import { platformName } from '../platform.js';
import type { ListedPod } from '../pods.js';
import { listWorkloads } from '../workloads.js';

/** Pure: why hostPath is refused on this platform, or undefined where it is not. */
export function hostPathRefusal(p: Platform): string | undefined {
  if (p.gkeAutopilot) return 'GKE Autopilot refuses pods with hostPath volumes (GKE Warden blocks them)';
  if (p.openshift) return "OpenShift's restricted SCC refuses pods with hostPath volumes";
  return undefined;
}

export const socketModePlatform: Check = {
  name: 'socket-mode-platform',
  finds: 'Socket injection mode on GKE Autopilot or OpenShift (restricted SCC), where the hostPath volume it adds makes pods be refused.',
  fixes: `Use mode hostip or service: ${envVarFor('admission_controller.inject_config.mode')}=hostip, and ${CONFIG_MODE_LABEL}=hostip on pods labelled socket.`,
  async run(ctx): Promise<CheckOutcome> {
    const platform = await ctx.platform();
    const refusal = hostPathRefusal(platform);
    if (!refusal) return ok(`hostPath volumes are not refused on ${platformName(platform)}`, platform.evidence);

    const never = new Set<string>([ctx.namespace, ...NEVER_MUTATED_NAMESPACES]);
    const evidence: string[] = [];
    const configured = ctx.config['admission_controller.inject_config.mode'];
    if (configured === 'socket') evidence.push(`admission_controller.inject_config.mode is socket (${envVarFor('admission_controller.inject_config.mode')})`);
    const [pods, workloads] = await Promise.all([
      ctx.kube.list<ListedPod>('/api/v1/pods', ctx.signal, { labelSelector: `${CONFIG_MODE_LABEL}=socket` }),
      listWorkloads(ctx.kube, ctx.signal),
    ]);
    const labelled = [
      ...workloads.filter((w) => w.templateLabels[CONFIG_MODE_LABEL] === 'socket').map((w) => ({ what: `${w.kind.toLowerCase()}/${w.name} -n ${w.namespace}`, namespace: w.namespace, where: `${w.templatePath}.metadata.labels` })),
      ...pods.filter((p) => !p.metadata?.ownerReferences?.length).map((p) => ({ what: `pod/${p.metadata?.name} -n ${p.metadata?.namespace}`, namespace: p.metadata?.namespace ?? '', where: 'metadata.labels' })),
    ].filter((x) => !never.has(x.namespace));
    evidence.push(...capLines(labelled.map((l) => `${l.what}: ${l.where} has ${CONFIG_MODE_LABEL}=socket`)));
    if (!evidence.length) return ok(`socket mode is not used (mode ${configured}, no pod labelled ${CONFIG_MODE_LABEL}=socket) on ${platformName(platform)}`, platform.evidence);

    const fixes: string[] = [];
    if (configured === 'socket') {
      fixes.push(`set ${envVarFor('admission_controller.inject_config.mode')}=hostip (or service) on the cluster agent (Helm: datadog.apm.socketEnabled=false, datadog.apm.portEnabled=true; Operator: features.admissionController.agentCommunicationMode hostip)`);
    }
    if (labelled.length) fixes.push(`change the ${CONFIG_MODE_LABEL} label to hostip (or service) in ${capLines(labelled.map((l) => l.what), 5).join(', ')}`);
    return problem(
      'error',
      `socket injection mode is used on ${platformName(platform)}: ${refusal}, so injected pods are not created`,
      [...evidence, ...platform.evidence],
      `Use hostip or service mode: ${fixes.join('; ')}.`,
    );
  },
};
