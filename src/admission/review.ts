/**
 * AdmissionReview at the boundary (SPEC §6): decoding and validating what the API server sent, and
 * encoding the answer in the same API version with the request's uid. Pure: bytes in the server, JSON here.
 */
import type { JsonPatchOp } from './jsonpatch.js';
import { describeValue } from './pod.js';

export const ADMISSION_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
export type AdmissionVersion = (typeof ADMISSION_VERSIONS)[number];

export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

export interface GroupVersionResource {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
}

export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: GroupVersionKind;
  readonly resource: GroupVersionResource;
  readonly subResource?: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly operation: string;
  readonly userInfo?: { readonly username?: string; readonly [k: string]: unknown };
  /** Not trusted: validated as a Pod only when the request is a pod create. */
  readonly object?: unknown;
  readonly dryRun?: boolean;
  readonly [field: string]: unknown;
}

export interface DecodedReview {
  readonly version: AdmissionVersion;
  readonly request: AdmissionRequest;
}

/** A review that cannot be answered: the server replies 400 with this message. */
export class MalformedReview extends Error {
  override name = 'MalformedReview';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A wrong value in a message: scalars quoted and cut short, structures by their type (never walked). */
function shown(v: unknown): string {
  return typeof v === 'object' && v !== null ? describeValue(v) : (JSON.stringify(v)?.slice(0, 60) ?? 'nothing');
}

function requireString(o: Record<string, unknown>, field: string, path: string, allowEmpty = false): string {
  const v = o[field];
  if (typeof v !== 'string' || (!allowEmpty && v === '')) {
    throw new MalformedReview(`${path}.${field}: expected a ${allowEmpty ? '' : 'non-empty '}string, got ${shown(v)}`);
  }
  return v;
}

function requireGrouped(o: Record<string, unknown>, field: 'kind' | 'resource', path: string): void {
  const v = o[field];
  if (!isObject(v)) throw new MalformedReview(`${path}.${field}: expected an object`);
  requireString(v, 'group', `${path}.${field}`, true);
  requireString(v, 'version', `${path}.${field}`);
  requireString(v, field, `${path}.${field}`);
}

/** Validates a parsed JSON body as an AdmissionReview request. Throws `MalformedReview`. */
export function decodeAdmissionReview(body: unknown): DecodedReview {
  if (!isObject(body)) throw new MalformedReview('the body must be a JSON object (an AdmissionReview)');
  const apiVersion = body.apiVersion;
  if (!ADMISSION_VERSIONS.includes(apiVersion as AdmissionVersion)) {
    throw new MalformedReview(`apiVersion: expected one of ${ADMISSION_VERSIONS.join(', ')}, got ${shown(apiVersion)}`);
  }
  if (body.kind !== 'AdmissionReview') throw new MalformedReview(`kind: expected AdmissionReview, got ${shown(body.kind)}`);
  const request = body.request;
  if (!isObject(request)) throw new MalformedReview('request: missing; an AdmissionReview sent to a webhook must carry a request');
  requireString(request, 'uid', 'request');
  requireString(request, 'operation', 'request');
  requireGrouped(request, 'kind', 'request');
  requireGrouped(request, 'resource', 'request');
  if (request.namespace !== undefined) requireString(request, 'namespace', 'request', true);
  if (request.dryRun !== undefined && request.dryRun !== null && typeof request.dryRun !== 'boolean') {
    throw new MalformedReview('request.dryRun: expected a boolean');
  }
  return { version: apiVersion as AdmissionVersion, request: request as unknown as AdmissionRequest };
}

/** Whether the request is one Tether mutates: a pod (not a subresource such as a binding) being created. */
export function isPodCreate(req: AdmissionRequest): boolean {
  return req.kind.group === '' && req.kind.kind === 'Pod' && req.resource.resource === 'pods' && !req.subResource && req.operation === 'CREATE';
}

export interface AdmissionAnswer {
  readonly patch?: readonly JsonPatchOp[];
  /** Shown by kubectl as "Warning: ..."; used when Tether could not do (all of) its part. */
  readonly warnings?: readonly string[];
  /** `status.message`: why nothing was done, on a fail-open answer. */
  readonly message?: string;
}

/** The API server truncates longer warnings and drops many; keep them readable. */
const MAX_WARNINGS = 10;
const MAX_WARNING_LENGTH = 256;

/**
 * The AdmissionReview response, same version as the request, always `allowed: true` (fail open).
 * Written as text around the base64 patch rather than `JSON.stringify` of an envelope object: the patch
 * is most of the answer, base64 needs no escaping, and stringifying it a second time was a third of the
 * cost of encoding an answer.
 */
export function encodeAdmissionResponse(version: AdmissionVersion, uid: string, answer: AdmissionAnswer): string {
  let response = `{"uid":${JSON.stringify(uid)},"allowed":true`;
  if (answer.patch && answer.patch.length > 0) {
    response += `,"patchType":"JSONPatch","patch":"${Buffer.from(JSON.stringify(answer.patch)).toString('base64')}"`;
  }
  if (answer.warnings && answer.warnings.length > 0) {
    const warnings = answer.warnings.slice(0, MAX_WARNINGS).map((w) => (w.length > MAX_WARNING_LENGTH ? w.slice(0, MAX_WARNING_LENGTH - 3) + '...' : w));
    response += `,"warnings":${JSON.stringify(warnings)}`;
  }
  if (answer.message) response += `,"status":${JSON.stringify({ message: answer.message })}`;
  return `{"apiVersion":${JSON.stringify(version)},"kind":"AdmissionReview","response":${response}}}`;
}
