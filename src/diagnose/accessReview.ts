/**
 * "May this service account do that?", asked of the API server itself with a SubjectAccessReview
 * (authorization.k8s.io/v1), so the answer is the cluster's authorizers' (RBAC, webhooks, aggregated
 * ClusterRoles), never a re-implementation of RBAC here. Used by the checks that name a missing
 * permission (diagnose/checks/clusterAgentRbac.ts, nodeAgentKubeletRbac.ts).
 */
import type { KubeReader } from '../kube/reader.js';

/** Who is asked about: a service account, as the API server authenticates its tokens. */
export interface Subject {
  readonly user: string;
  readonly groups: readonly string[];
}

export function serviceAccountSubject(namespace: string, name: string): Subject {
  return { user: `system:serviceaccount:${namespace}:${name}`, groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'] };
}

export interface AccessQuestion {
  readonly verb: string;
  /** `""` is core. */
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly name?: string;
  /** Absent: cluster-scoped, or every namespace. */
  readonly namespace?: string;
}

export interface AccessAnswer {
  readonly allowed: boolean;
  /** The authorizer's reason or evaluation error, when it gave one. */
  readonly reason?: string;
}

interface SubjectAccessReviewStatus {
  readonly status?: { readonly allowed?: boolean; readonly reason?: string; readonly evaluationError?: string };
}

export const SUBJECT_ACCESS_REVIEWS_PATH = '/apis/authorization.k8s.io/v1/subjectaccessreviews';

export async function canI(kube: KubeReader, subject: Subject, q: AccessQuestion, signal: AbortSignal): Promise<AccessAnswer> {
  const resourceAttributes = {
    verb: q.verb,
    group: q.group,
    resource: q.resource,
    ...(q.subresource ? { subresource: q.subresource } : {}),
    ...(q.name ? { name: q.name } : {}),
    ...(q.namespace ? { namespace: q.namespace } : {}),
  };
  const review = await kube.create<SubjectAccessReviewStatus>(
    SUBJECT_ACCESS_REVIEWS_PATH,
    { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: subject.user, groups: subject.groups, resourceAttributes } },
    signal,
  );
  const reason = review.status?.evaluationError || review.status?.reason;
  return { allowed: review.status?.allowed === true, ...(reason ? { reason } : {}) };
}

/** `replicasets.apps`, `pods`, `nodes/proxy`: as kubectl and RBAC messages name a resource. */
export function resourceName(group: string, resource: string, subresource?: string): string {
  return `${resource}${subresource ? `/${subresource}` : ''}${group ? `.${group}` : ''}`;
}

/** `get nodes/proxy (node n1)`, `list pods.policy in namespace x`, for evidence lines. */
export function describeQuestion(q: AccessQuestion): string {
  const what = resourceName(q.group, q.resource, q.subresource);
  const where = q.namespace ? ` in namespace ${q.namespace}` : '';
  return `${q.verb} ${what}${q.name ? ` "${q.name}"` : ''}${where}`;
}

/** At most this many reviews in flight: each holds a listener on the run's signal and a connection. */
const REVIEW_CONCURRENCY = 4;

/** The answers to `questions`, in order, asked a few at a time. */
export async function canIAll(kube: KubeReader, subject: Subject, questions: readonly AccessQuestion[], signal: AbortSignal): Promise<AccessAnswer[]> {
  const answers: AccessAnswer[] = new Array<AccessAnswer>(questions.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < questions.length) {
      const i = next++;
      answers[i] = await canI(kube, subject, questions[i]!, signal);
    }
  };
  await Promise.all(Array.from({ length: Math.min(REVIEW_CONCURRENCY, questions.length) }, worker));
  return answers;
}
