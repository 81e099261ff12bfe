/**
 * The cluster's workloads as diagnose needs them: each one's own labels and its pod template's labels
 * (found through `admission/workloads.ts`, the same table offline `inject` uses), so a check can tell a
 * label put on the workload from one on its pods, or find the pods a template will create.
 */
import { podTemplatesOf } from '../admission/workloads.js';
import type { ObjectMeta } from '../admission/pod.js';
import type { KubeReader } from '../kube/reader.js';

/** The workload kinds listed, with the collection each is read from (all namespaces). */
export const WORKLOAD_KINDS = [
  { kind: 'Deployment', apiVersion: 'apps/v1', path: '/apis/apps/v1/deployments' },
  { kind: 'StatefulSet', apiVersion: 'apps/v1', path: '/apis/apps/v1/statefulsets' },
  { kind: 'DaemonSet', apiVersion: 'apps/v1', path: '/apis/apps/v1/daemonsets' },
  { kind: 'Job', apiVersion: 'batch/v1', path: '/apis/batch/v1/jobs' },
  { kind: 'CronJob', apiVersion: 'batch/v1', path: '/apis/batch/v1/cronjobs' },
] as const;

export interface Workload {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly metadata: ObjectMeta;
  /** Labels on the workload itself and, for a CronJob, on its job template: what does nothing for the webhook. */
  readonly ownLabels: Readonly<Record<string, string>>;
  /** Labels of the pod template: what the pods it creates carry. */
  readonly templateLabels: Readonly<Record<string, string>>;
  /** Where the template is, for fixes: `spec.template` or `spec.jobTemplate.spec.template`. */
  readonly templatePath: string;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const labelsAt = (o: unknown): Record<string, string> => {
  const l = isObject(o) && isObject(o['metadata']) ? o['metadata']['labels'] : undefined;
  return isObject(l) ? (l as Record<string, string>) : {};
};

/** Pure: one listed object (list items carry no kind) as a Workload; undefined when it has no pod template. */
export function workloadOf(kind: string, apiVersion: string, item: Json): Workload | undefined {
  const [ref] = podTemplatesOf({ ...item, kind, apiVersion });
  if (!ref) return undefined;
  const template = ref.path.reduce<unknown>((o, k) => (isObject(o) ? o[k] : undefined), item);
  const metadata = (isObject(item['metadata']) ? item['metadata'] : {}) as ObjectMeta;
  const jobTemplate = kind === 'CronJob' && isObject(item['spec']) ? item['spec']['jobTemplate'] : undefined;
  return {
    kind,
    namespace: metadata.namespace ?? '',
    name: metadata.name ?? '',
    metadata,
    ownLabels: { ...labelsAt(jobTemplate), ...(metadata.labels ?? {}) },
    templateLabels: labelsAt(template),
    templatePath: ref.path.join('.'),
  };
}

/** Every workload of `WORKLOAD_KINDS` in the cluster (a kind the server does not serve lists as empty). */
export async function listWorkloads(kube: KubeReader, signal: AbortSignal): Promise<Workload[]> {
  const lists = await Promise.all(WORKLOAD_KINDS.map(async (k) => (await kube.list<Json>(k.path, signal)).flatMap((item) => workloadOf(k.kind, k.apiVersion, item) ?? [])));
  return lists.flat();
}
