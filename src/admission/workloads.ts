/**
 * Where the pod template sits in each workload kind, and which object's labels act as the pods'
 * owner labels: what offline `inject` needs to mutate a Deployment exactly as the webhook would
 * mutate the pods it creates.
 */
import type { ObjectMeta, StringMap } from './pod.js';
import type { OwnerFact } from './types.js';

export interface PodTemplateRef {
  /** Path tokens from the document root to the object that has `metadata` and `spec` like a Pod. */
  readonly path: readonly string[];
  /**
   * The object whose labels the tags webhook would read through the API for these pods: the workload
   * itself (a Deployment's pods are owned by a ReplicaSet, whose owner is the Deployment), the Job a
   * CronJob creates (its labels come from the job template), none for a bare Pod.
   */
  readonly owner?: OwnerFact;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function get(doc: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((o, k) => (isObject(o) ? o[k] : undefined), doc);
}

function labelsOf(meta: unknown): StringMap {
  const labels = isObject(meta) ? (meta as ObjectMeta).labels : undefined;
  return isObject(labels) ? (labels as StringMap) : {};
}

/** Kinds whose pods come from `spec.template`. */
const TEMPLATE_KINDS: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['apps/v1', 'apps/v1beta1', 'apps/v1beta2', 'extensions/v1beta1'],
  ReplicaSet: ['apps/v1', 'apps/v1beta2', 'extensions/v1beta1'],
  StatefulSet: ['apps/v1', 'apps/v1beta1', 'apps/v1beta2'],
  DaemonSet: ['apps/v1', 'apps/v1beta2', 'extensions/v1beta1'],
  Job: ['batch/v1'],
  ReplicationController: ['v1'],
};

/** The pod templates of one manifest document (a List yields one per item that has one). */
export function podTemplatesOf(doc: unknown, base: readonly string[] = []): PodTemplateRef[] {
  if (!isObject(doc)) return [];
  const kind = doc.kind;
  const apiVersion = doc.apiVersion;
  if (typeof kind !== 'string' || typeof apiVersion !== 'string') return [];
  if (kind === 'Pod' && apiVersion === 'v1') return [{ path: base }];
  if (kind === 'List' || kind.endsWith('List')) {
    const items = doc.items;
    return Array.isArray(items) ? items.flatMap((item, i) => podTemplatesOf(item, [...base, 'items', String(i)])) : [];
  }
  const name = String(get(doc, ['metadata', 'name']) ?? '');
  if (TEMPLATE_KINDS[kind]?.includes(apiVersion) && isObject(get(doc, ['spec', 'template']))) {
    return [{ path: [...base, 'spec', 'template'], owner: { found: true, kind, name, labels: labelsOf(doc.metadata) } }];
  }
  if (kind === 'CronJob' && apiVersion.startsWith('batch/') && isObject(get(doc, ['spec', 'jobTemplate', 'spec', 'template']))) {
    const jobMeta = get(doc, ['spec', 'jobTemplate', 'metadata']);
    return [{ path: [...base, 'spec', 'jobTemplate', 'spec', 'template'], owner: { found: true, kind: 'Job', name: `${name}-<scheduled>`, labels: labelsOf(jobMeta) } }];
  }
  return [];
}
