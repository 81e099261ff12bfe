/**
 * Check 8 (issue 10): pods that carry the opt-in label but not the injection. The webhook only sees pod
 * creations, so a pod created before it was installed, or while the API server could not reach it
 * (failing open), stays as it was until it is recreated: the seeds' "update existing pods". Grouped by
 * the workload to restart (a Deployment, not its ReplicaSet; a CronJob, not its Job), one command each.
 */
import type { OwnerReference } from '../../admission/pod.js';
import { webhookEnabled } from '../../admission/webhooks.js';
import { ENABLED_LABEL, ENV_ENTITY_ID, NEVER_MUTATED_NAMESPACES } from '../../config/index.js';
import { ApiError } from '../../kube/reader.js';
import { ok, problem, skipped, type Check, type CheckOutcome } from '../check.js';
import { capLines } from '../evidence.js';
import { carriesConfigInjection, controllerOf, groupByOwner, INTERMEDIATE_OWNER_KINDS, isFinished, ownerKey, recreateCommand, type ListedPod } from '../pods.js';

const OWNER_PATHS: Readonly<Record<string, (ns: string, name: string) => string>> = {
  ReplicaSet: (ns, name) => `/apis/apps/v1/namespaces/${ns}/replicasets/${name}`,
  Job: (ns, name) => `/apis/batch/v1/namespaces/${ns}/jobs/${name}`,
};

export const uninjectedPods: Check = {
  name: 'uninjected-pods',
  finds: 'Pods with the opt-in label that carry no injection: created before the webhook, or while the API server could not reach it.',
  fixes: 'Recreate them through the webhook: `kubectl rollout restart` of each owning workload (a bare pod is deleted and created again).',
  async run(ctx): Promise<CheckOutcome> {
    if (!webhookEnabled('config', ctx.config)) {
      return skipped(`the config webhook is disabled (admission_controller.inject_config.enabled), and its ${ENV_ENTITY_ID} is how an injected pod is told apart`);
    }
    const never = new Set<string>([ctx.namespace, ...NEVER_MUTATED_NAMESPACES]);
    const labelled = await ctx.kube.list<ListedPod>('/api/v1/pods', ctx.signal, { labelSelector: `${ENABLED_LABEL}=true` });
    const bare = labelled.filter((p) => !never.has(p.metadata?.namespace ?? '') && !isFinished(p) && !carriesConfigInjection(p));
    if (!bare.length) return ok(`every running pod labelled ${ENABLED_LABEL}=true (${labelled.length}) carries the injection`);

    // Each ReplicaSet or Job once: its own owner is the workload to restart.
    const parents = new Map<string, OwnerReference | undefined>();
    for (const pod of bare) {
      const ns = pod.metadata?.namespace ?? '';
      const direct = controllerOf(pod.metadata);
      if (!direct || !INTERMEDIATE_OWNER_KINDS[direct.kind]) continue;
      const key = ownerKey(ns, direct.kind, direct.name);
      if (parents.has(key)) continue;
      try {
        const owner = await ctx.kube.get<{ metadata?: { ownerReferences?: OwnerReference[] } }>(OWNER_PATHS[direct.kind]!(ns, direct.name), ctx.signal);
        parents.set(key, controllerOf(owner?.metadata));
      } catch (e) {
        // Not allowed to read it: the ReplicaSet or Job itself is named, which is still a fix that works.
        if (!(e instanceof ApiError) || e.status === 0) throw e;
        parents.set(key, undefined);
      }
    }
    const groups = groupByOwner(bare, parents);
    const evidence = capLines(
      groups.map((g) => `${g.kind.toLowerCase()}/${g.name} -n ${g.namespace}: ${g.pods.length} pod${g.pods.length === 1 ? '' : 's'} without ${ENV_ENTITY_ID} (${g.pods.slice(0, 3).join(', ')}${g.pods.length > 3 ? ', …' : ''})`),
    );
    return problem(
      'warning',
      `${bare.length} running pod${bare.length === 1 ? '' : 's'} labelled ${ENABLED_LABEL}=true carr${bare.length === 1 ? 'ies' : 'y'} no injection (created before the webhook or while it was unreachable), in ${groups.length} workload${groups.length === 1 ? '' : 's'}`,
      evidence,
      `Recreate them so the webhook sees them (and first make sure it is reachable: check webhook-reachable): ${capLines(groups.map(recreateCommand)).join('; ')}`,
    );
  },
};
