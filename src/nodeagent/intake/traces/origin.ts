/**
 * Where a trace payload says it came from, read off its HTTP headers (pure). What tracers send:
 * - `Datadog-Container-ID`: the container id the tracer found in `/proc/self/cgroup` (cgroup v1, or
 *   v2 without a private cgroup namespace);
 * - `Datadog-Entity-ID`: `ci-<container id>`, or `in-<inode>` (the inode of its cgroup directory, on
 *   cgroup v2 hosts where the id is not visible), or, from older tracers, the bare `DD_ENTITY_ID` (the
 *   pod UID the webhook injects);
 * - `Datadog-External-Env`: `DD_EXTERNAL_ENV` passed through, `it-<bool>,cn-<container name>,pu-<pod uid>`
 *   (what the stack's admission controller injects, so that the pod is known without cgroups).
 * All unverified: the resolver maps them to a pod of this node, or to none.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Origin } from '../types.js';

/** Ids are short tokens; anything else (spaces, control characters, kilobytes) is not an id and is ignored. */
const ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,252}$/;
const INODE = /^\d{1,20}$/;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined) return undefined;
  const t = s.trim();
  return t === '' ? undefined : t;
}

const id = (s: string | undefined): string | undefined => (s !== undefined && ID.test(s) ? s : undefined);

/** `it-false,cn-app,pu-<uid>` → the pod UID, if any. */
export function podUidFromExternalEnv(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  for (const part of value.split(',', 8)) {
    const p = part.trim();
    if (p.startsWith('pu-')) return id(p.slice(3));
  }
  return undefined;
}

export function originFromHeaders(headers: IncomingHttpHeaders): Origin {
  let containerId = id(header(headers, 'datadog-container-id'));
  let entityId: string | undefined;
  let cgroupInode: string | undefined;
  const entity = header(headers, 'datadog-entity-id');
  if (entity !== undefined) {
    if (entity.startsWith('ci-')) containerId ??= id(entity.slice(3));
    else if (entity.startsWith('in-')) cgroupInode = INODE.test(entity.slice(3)) ? entity.slice(3) : undefined;
    else entityId = id(entity);
  }
  entityId ??= podUidFromExternalEnv(header(headers, 'datadog-external-env'));
  const origin: { entityId?: string; containerId?: string; cgroupInode?: string } = {};
  if (entityId !== undefined) origin.entityId = entityId;
  if (containerId !== undefined) origin.containerId = containerId;
  if (cgroupInode !== undefined) origin.cgroupInode = cgroupInode;
  return origin;
}

/** `Datadog-Meta-Lang` and `Datadog-Meta-Tracer-Version`, when sent (bounded: they are labels in logs). */
export function tracerFromHeaders(headers: IncomingHttpHeaders): { lang?: string; tracerVersion?: string } {
  const out: { lang?: string; tracerVersion?: string } = {};
  const lang = id(header(headers, 'datadog-meta-lang'));
  const version = id(header(headers, 'datadog-meta-tracer-version'));
  if (lang !== undefined) out.lang = lang;
  if (version !== undefined) out.tracerVersion = version;
  return out;
}

/** `X-Datadog-Trace-Count`: how many traces the tracer says the payload holds (counted when it is dropped unread). */
export function declaredTraceCount(headers: IncomingHttpHeaders): number | undefined {
  const v = header(headers, 'x-datadog-trace-count');
  if (v === undefined || !/^\d{1,9}$/.test(v)) return undefined;
  return Number(v);
}
