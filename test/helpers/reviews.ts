/** AdmissionReviews as the API server sends them, and reading the answers back. */
import assert from 'node:assert/strict';
import type { AdmissionVersion } from '../../src/admission/review.js';
import type { JsonPatchOp } from '../../src/admission/jsonpatch.js';

export interface ReviewOptions {
  readonly version?: AdmissionVersion;
  readonly uid?: string;
  readonly operation?: string;
  readonly namespace?: string;
  readonly object?: unknown;
  readonly kind?: { group: string; version: string; kind: string };
  readonly resource?: { group: string; version: string; resource: string };
  readonly subResource?: string;
  readonly dryRun?: boolean;
}

const POD_KIND = { group: '', version: 'v1', kind: 'Pod' };
const POD_RESOURCE = { group: '', version: 'v1', resource: 'pods' };

export function admissionReview(o: ReviewOptions = {}): Record<string, unknown> {
  return {
    apiVersion: o.version ?? 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: o.uid ?? '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: o.kind ?? POD_KIND,
      resource: o.resource ?? POD_RESOURCE,
      ...(o.subResource ? { subResource: o.subResource } : {}),
      requestKind: o.kind ?? POD_KIND,
      requestResource: o.resource ?? POD_RESOURCE,
      namespace: o.namespace ?? 'apps',
      operation: o.operation ?? 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', uid: 'u', groups: ['system:serviceaccounts'] },
      object: o.object,
      oldObject: null,
      dryRun: o.dryRun ?? false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

export const reviewBody = (o: ReviewOptions = {}): Buffer => Buffer.from(JSON.stringify(admissionReview(o)));

/**
 * A pod as the e2e brief describes it: opted in, with an env tag label and a python library annotation,
 * owned by a ReplicaSet (so the tags webhook does not need the owner: the pod has a tag label).
 */
export function samplePod(over: { labels?: Record<string, string>; annotations?: Record<string, string>; name?: string } = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: over.name ?? 'web-7d4b9c-x2x9z',
      namespace: 'apps',
      labels: { app: 'web', 'admission.datadoghq.com/enabled': 'true', 'tags.datadoghq.com/env': 'prod', ...over.labels },
      annotations: { 'admission.datadoghq.com/python-lib.version': 'v2.9.0', ...over.annotations },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d4b9c', uid: 'rs-uid', controller: true }],
    },
    spec: {
      containers: [{ name: 'web', image: 'web:1.0', env: [{ name: 'PORT', value: '8080' }], futureField: { kept: true } }],
      volumes: [{ name: 'data', emptyDir: {} }],
    },
  };
}

/** `samplePod` without its tag label: the tags webhook asks the resolver for the pod's owner. */
export function untaggedPod(): Record<string, unknown> {
  const p = samplePod();
  delete (p.metadata as { labels: Record<string, string> }).labels['tags.datadoghq.com/env'];
  return p;
}

export interface ReviewResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly patchType?: string;
  readonly patch?: string;
  readonly warnings?: string[];
  readonly status?: { message?: string };
}

/** Checks the envelope (version, kind) and returns the response. */
export function responseOf(body: string, version: AdmissionVersion = 'admission.k8s.io/v1'): ReviewResponse {
  const review = JSON.parse(body) as { apiVersion: string; kind: string; response: ReviewResponse };
  assert.equal(review.apiVersion, version);
  assert.equal(review.kind, 'AdmissionReview');
  return review.response;
}

/** The JSON Patch of a response (base64 JSON), or `[]` when it has none. */
export function patchOf(response: ReviewResponse): JsonPatchOp[] {
  if (response.patch === undefined) {
    assert.equal(response.patchType, undefined, 'patchType without a patch');
    return [];
  }
  assert.equal(response.patchType, 'JSONPatch');
  return JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as JsonPatchOp[];
}
