/**
 * Check 9 (issue 10): the opt-in label put on a workload's own metadata instead of its pod template.
 * The webhook reads labels from the pod it is asked about (SPEC §3); a label on the Deployment never
 * reaches its pods, which the seeds name as a common mistake.
 */
import { ENABLED_LABEL, NEVER_MUTATED_NAMESPACES } from '../../config/index.js';
import { ok, problem, type Check, type CheckOutcome } from '../check.js';
import { capLines } from '../evidence.js';
import { controllerOf } from '../pods.js';
import { listWorkloads, type Workload } from '../workloads.js';

/** Pure: workloads whose own labels (or a CronJob's job template's) carry the opt-in label while their pod template does not. */
export function labelledOutsideTemplate(workloads: readonly Workload[], tetherNamespace: string): Workload[] {
  const never = new Set<string>([tetherNamespace, ...NEVER_MUTATED_NAMESPACES]);
  return workloads.filter(
    (w) =>
      !never.has(w.namespace) &&
      w.ownLabels[ENABLED_LABEL] !== undefined &&
      w.templateLabels[ENABLED_LABEL] === undefined &&
      // A CronJob's Job inherits the job template's labels: the CronJob is reported, not each Job.
      !(w.kind === 'Job' && controllerOf(w.metadata)?.kind === 'CronJob'),
  );
}

/** Pure: the patch that puts the label where the webhook reads it (which also rolls the pods, so they are recreated with it). */
export function moveLabelCommand(w: Workload): string {
  const value = w.ownLabels[ENABLED_LABEL]!;
  const patch = w.templatePath
    .split('.')
    .reduceRight<unknown>((inner, key) => ({ [key]: inner }), { metadata: { labels: { [ENABLED_LABEL]: value } } });
  const top = (patch as { spec: unknown }).spec;
  return `kubectl patch ${w.kind.toLowerCase()}/${w.name} -n ${w.namespace} --type merge -p '${JSON.stringify({ spec: top })}'`;
}

export const labelOnWorkload: Check = {
  name: 'label-on-workload',
  finds: `Workloads whose own metadata carries ${ENABLED_LABEL} while their pod template does not (the webhook reads the pod's labels only).`,
  fixes: `Move the label to the pod template (spec.template.metadata.labels; a CronJob's spec.jobTemplate.spec.template.metadata.labels).`,
  async run(ctx): Promise<CheckOutcome> {
    const workloads = await listWorkloads(ctx.kube, ctx.signal);
    const wrong = labelledOutsideTemplate(workloads, ctx.namespace);
    if (!wrong.length) return ok(`no workload carries ${ENABLED_LABEL} outside its pod template (${workloads.length} workloads)`);
    return problem(
      'warning',
      `${wrong.length} workload${wrong.length === 1 ? '' : 's'} carr${wrong.length === 1 ? 'ies' : 'y'} ${ENABLED_LABEL} on ${wrong.length === 1 ? 'its' : 'their'} own metadata, not on the pod template: ${wrong.length === 1 ? 'its' : 'their'} pods are not injected`,
      capLines(wrong.map((w) => `${w.kind.toLowerCase()}/${w.name} -n ${w.namespace}: metadata has ${ENABLED_LABEL}=${w.ownLabels[ENABLED_LABEL]}, ${w.templatePath}.metadata.labels does not`)),
      `Move the label to the pod template (this rolls the pods, which are then injected): ${capLines(wrong.map(moveLabelCommand)).join('; ')}`,
    );
  },
};
