/**
 * The admission webhooks' outside facts read live from the API server: a pod's owner and its labels for
 * the tags webhook (SPEC §5: for a ReplicaSet, its Deployment's), and a namespace's labels for the library
 * webhook's Pod Security default. Implements `FactResolver` behind TTL caches with single flight.
 *
 * Three layers, so that each can be tested on its own: the owner-kind table (`ownerKinds.ts`) and the
 * wording of failures (pure), `lookUpOwner` (the RS → Deployment / Job → CronJob walk over an injected reader), and the
 * readers over client-node with the caches around them (`createApiFactResolver`).
 */
import { performance } from 'node:perf_hooks';
import * as k8s from '@kubernetes/client-node';
import type { FactResolver, OwnerFact } from '../admission/types.js';
import type { OwnerReference, StringMap } from '../admission/pod.js';
import {
  FACT_BREAKER_COOL_DOWN_MS,
  FACT_BREAKER_SLOW_READ_MS,
  FACT_BREAKER_THRESHOLD,
  FACT_FAILURE_CACHE_TTL_MS,
  FACT_READ_TIMEOUT_MS,
  NAMESPACE_CACHE_MAX_ENTRIES,
  NAMESPACE_CACHE_TTL_MS,
  OWNER_CACHE_MAX_ENTRIES,
} from '../config/limits.js';
import type { TetherConfig } from '../config/index.js';
import type { Logger } from '../logging/logger.js';
import { silentLogger } from '../logging/logger.js';
import { abortableCall } from './abortable.js';
import { createReadBreaker } from './breaker.js';
import { apiStatus, describeApiError } from './errors.js';
import { OWNER_KINDS, ownerKindOf, unsupportedOwnerReason, type OwnerKind, type OwnerKindKey } from './ownerKinds.js';
import { LoadTimeout, TtlCache, type TtlCacheStats } from './ttlCache.js';

// The owner-kind table is its own module (no client-node), re-exported for the readers' users.
export * from './ownerKinds.js';

// ---------------------------------------------------------------------------------------------------
// Reading failures (pure)

/** What the RBAC message names for a namespace read. */
const NAMESPACES = { group: '', kind: 'Namespace', resource: 'namespaces' } as const;

/** After "reason: " in node-fetch's network errors: the cause, without the URL. */
function networkCause(e: Error): string {
  const m = /reason: (.*)$/s.exec(e.message);
  return m?.[1] ?? e.message;
}

/**
 * One line saying why reading `kind` `namespace/name` failed: what is missing for a 403 (verb, group,
 * resource), plain words for a 404 or an unreachable server, the API server's message otherwise. Never
 * the request (it carries the credentials).
 */
export function readFailureReason(e: unknown, kind: Pick<OwnerKind, 'group' | 'kind' | 'resource'>, what: string): string {
  const status = apiStatus(e);
  const group = kind.group === '' ? '"" (core)' : `"${kind.group}"`;
  switch (status) {
    case 404:
      return `${what} not found`;
    case 403:
      return `forbidden to read ${what}: Tether's RBAC lacks verb "get" on resource "${kind.resource}" in API group ${group}`;
    case 401:
      return `the API server did not accept Tether's credentials (HTTP 401) reading ${what}`;
    case undefined:
      if (e instanceof Error && (e.name === 'FetchError' || typeof (e as NodeJS.ErrnoException).code === 'string')) {
        return `cannot reach the API server to read ${what}: ${networkCause(e)}`;
      }
      return `reading ${what}: ${e instanceof Error ? e.message : String(e)}`;
    default:
      return `reading ${what}: ${describeApiError(e)}`;
  }
}

// ---------------------------------------------------------------------------------------------------
// Objects at the boundary

/** The only parts of an owner object the lookup uses. */
export interface ObjectFacts {
  readonly labels: StringMap;
  /** The ownerReference with `controller: true`, if any. */
  readonly controller?: { readonly apiVersion: string; readonly kind: string; readonly name: string };
}

/** Labels as the API returned them, kept only if they are strings (client-node types them, but does not check). */
export function stringMap(v: unknown): StringMap {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
  return Object.freeze(Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string')));
}

/** `ObjectFacts` of an object's metadata, validated (any field may be absent). */
export function objectFacts(metadata: unknown): ObjectFacts {
  const m = (typeof metadata === 'object' && metadata !== null ? metadata : {}) as { labels?: unknown; ownerReferences?: unknown };
  const refs = Array.isArray(m.ownerReferences) ? (m.ownerReferences as unknown[]) : [];
  const controller = refs.find(
    (r): r is { apiVersion: string; kind: string; name: string; controller: true } =>
      typeof r === 'object' &&
      r !== null &&
      (r as { controller?: unknown }).controller === true &&
      typeof (r as { apiVersion?: unknown }).apiVersion === 'string' &&
      typeof (r as { kind?: unknown }).kind === 'string' &&
      typeof (r as { name?: unknown }).name === 'string',
  );
  return {
    labels: stringMap(m.labels),
    ...(controller ? { controller: { apiVersion: controller.apiVersion, kind: controller.kind, name: controller.name } } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// The owner walk (over an injected reader)

/** Reads one object of a supported kind; rejects with client-node's errors. */
export type ObjectReader = (kind: OwnerKindKey, namespace: string, name: string, signal: AbortSignal) => Promise<ObjectFacts>;
/** Reads a namespace's labels; rejects with client-node's errors. */
export type NamespaceReader = (name: string, signal: AbortSignal) => Promise<StringMap>;

/**
 * The owner whose labels give the pod's tags: the object `kind`/`name`, or, when that kind is followed
 * (ReplicaSet, Job) and the object has a controller of the followed kind, that controller. A controller
 * of another kind (e.g. an Argo Rollout) is not read: the object's own labels are used. Read failures
 * are `found: false` with the reason; rejects only when `signal` aborts.
 */
export async function lookUpOwner(namespace: string, kind: OwnerKindKey, name: string, read: ObjectReader, signal: AbortSignal): Promise<OwnerFact> {
  const spec: OwnerKind = OWNER_KINDS[kind];
  let object: ObjectFacts;
  try {
    object = await read(kind, namespace, name, signal);
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    return { found: false, reason: readFailureReason(e, spec, `${spec.kind} ${namespace}/${name}`) };
  }
  const controller = object.controller;
  if (spec.follow && controller && ownerKindOf(controller) === spec.follow) {
    const parent: OwnerKind = OWNER_KINDS[spec.follow];
    try {
      const p = await read(spec.follow, namespace, controller.name, signal);
      return { found: true, kind: parent.kind, name: controller.name, labels: p.labels };
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      return { found: false, reason: readFailureReason(e, parent, `${parent.kind} ${namespace}/${controller.name} (controller of ${spec.kind} ${name})`) };
    }
  }
  return { found: true, kind: spec.kind, name, labels: object.labels };
}

// ---------------------------------------------------------------------------------------------------
// Readers over client-node

// `abortableCall` moved to kube/abortable.ts (Leases use it too); re-exported for existing importers.
export { abortableCall };

interface Readers {
  readonly readObject: ObjectReader;
  readonly readNamespace: NamespaceReader;
}

/** `get` of each supported kind (and of namespaces) with the clients `kubeConfig` makes. */
export function apiReaders(kubeConfig: k8s.KubeConfig): Readers {
  const apps = kubeConfig.makeApiClient(k8s.AppsV1Api);
  const batch = kubeConfig.makeApiClient(k8s.BatchV1Api);
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  type Read = (p: { name: string; namespace: string }, o: k8s.ConfigurationOptions) => Promise<{ metadata?: k8s.V1ObjectMeta }>;
  const reads: Record<OwnerKindKey, Read> = {
    'apps/ReplicaSet': (p, o) => apps.readNamespacedReplicaSet(p, o),
    'apps/Deployment': (p, o) => apps.readNamespacedDeployment(p, o),
    'apps/StatefulSet': (p, o) => apps.readNamespacedStatefulSet(p, o),
    'apps/DaemonSet': (p, o) => apps.readNamespacedDaemonSet(p, o),
    'batch/Job': (p, o) => batch.readNamespacedJob(p, o),
    'batch/CronJob': (p, o) => batch.readNamespacedCronJob(p, o),
  };
  return {
    readObject: async (kind, namespace, name, signal) => objectFacts((await reads[kind]({ name, namespace }, abortableCall(signal))).metadata),
    readNamespace: async (name, signal) => stringMap((await core.readNamespace({ name }, abortableCall(signal))).metadata?.labels),
  };
}

// ---------------------------------------------------------------------------------------------------
// The resolver: readers behind caches

/** Where the owner cache's TTL comes from: in ms, or `pod_owners_cache_validity` (minutes) of a config. */
export type OwnerCacheTtl =
  | { readonly ownerCacheTtlMs: number; readonly config?: undefined }
  | { readonly config: Pick<TetherConfig, typeof OWNER_CACHE_VALIDITY_KEY>; readonly ownerCacheTtlMs?: undefined };

export type FactResolverOptions = OwnerCacheTtl & {
  /** Default `NAMESPACE_CACHE_TTL_MS`. */
  readonly namespaceCacheTtlMs?: number;
  /** Bound on one lookup whose caller never gives up; default `FACT_READ_TIMEOUT_MS`. */
  readonly readTimeoutMs?: number;
  readonly logger?: Logger;
  /** Clock for cache expiry (tests). */
  readonly now?: () => number;
  /** Told when the breaker in front of the API server opens or closes (a metric). */
  readonly onBreakerChange?: (state: 'open' | 'closed') => void;
};

export type ApiFactResolverOptions = FactResolverOptions & { readonly kubeConfig: k8s.KubeConfig };

const OWNER_CACHE_VALIDITY_KEY = 'admission_controller.inject_tags.pod_owners_cache_validity';

/** `pod_owners_cache_validity` (minutes; 0 = no caching) in ms. */
export function ownerCacheTtlMsOf(config: Pick<TetherConfig, typeof OWNER_CACHE_VALIDITY_KEY>): number {
  return config[OWNER_CACHE_VALIDITY_KEY] * 60_000;
}

export interface CachingFactResolver extends FactResolver {
  /** Cache counters: hits, lookups that joined one under way, reads started, evictions. */
  stats(): { readonly owners: TtlCacheStats; readonly namespaces: TtlCacheStats };
}

type NamespaceResult = { readonly ok: true; readonly labels: StringMap } | { readonly ok: false; readonly reason: string };

function checkTtl(name: string, ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${name} must be a finite number of milliseconds ≥ 0, got ${ms}`);
  return ms;
}

/**
 * `readers` behind one breaker (`kube/breaker.ts`): when the API server stops answering, reviews stop
 * waiting for it. One for both kinds of read: they go to the same server.
 */
function guardedReaders(readers: Readers, log: Logger, now?: () => number, onBreakerChange?: (state: 'open' | 'closed') => void): Readers {
  const breaker = createReadBreaker({
    threshold: FACT_BREAKER_THRESHOLD,
    slowMs: FACT_BREAKER_SLOW_READ_MS,
    coolDownMs: FACT_BREAKER_COOL_DOWN_MS,
    ...(now ? { now } : {}),
    onChange: (state, unanswered) => {
      onBreakerChange?.(state);
      if (state === 'open') {
        log.warn(
          { unanswered, coolDownMs: FACT_BREAKER_COOL_DOWN_MS },
          `the API server did not answer ${unanswered} owner or namespace reads in a row; reviews are answered without those facts, and after ${FACT_BREAKER_COOL_DOWN_MS / 1000} s one read checks whether it answers again`,
        );
      } else log.info('the API server answers owner and namespace reads again');
    },
  });
  return {
    readObject: (kind, namespace, name, signal) => breaker.run(() => readers.readObject(kind, namespace, name, signal), signal),
    readNamespace: (name, signal) => breaker.run(() => readers.readNamespace(name, signal), signal),
  };
}

/** The resolver over any readers (unit tests hand in fakes; `createApiFactResolver` the API server's). */
export function createCachingFactResolver(unguarded: Readers, opts: FactResolverOptions): CachingFactResolver {
  const ownerTtl = checkTtl('ownerCacheTtlMs', opts.ownerCacheTtlMs ?? ownerCacheTtlMsOf(opts.config));
  const namespaceTtl = checkTtl('namespaceCacheTtlMs', opts.namespaceCacheTtlMs ?? NAMESPACE_CACHE_TTL_MS);
  const readTimeoutMs = opts.readTimeoutMs ?? FACT_READ_TIMEOUT_MS;
  const log = opts.logger ?? silentLogger();
  const clock = opts.now ? { now: opts.now } : {};
  const readers = guardedReaders(unguarded, log, opts.now, opts.onBreakerChange);
  // A failure is an answer too (cached briefly, so a burst of pods does not repeat it), but must not
  // outlive a fix: never longer than FACT_FAILURE_CACHE_TTL_MS.
  const owners = new TtlCache<OwnerFact>({
    maxEntries: OWNER_CACHE_MAX_ENTRIES,
    ttlMs: (f) => (f.found ? ownerTtl : Math.min(ownerTtl, FACT_FAILURE_CACHE_TTL_MS)),
    loadTimeoutMs: readTimeoutMs,
    ...clock,
  });
  const namespaces = new TtlCache<NamespaceResult>({
    maxEntries: NAMESPACE_CACHE_MAX_ENTRIES,
    ttlMs: (r) => (r.ok ? namespaceTtl : Math.min(namespaceTtl, FACT_FAILURE_CACHE_TTL_MS)),
    loadTimeoutMs: readTimeoutMs,
    ...clock,
  });
  const elapsed = (t0: number) => Math.round(performance.now() - t0);
  const noAnswer = `the API server did not answer within ${readTimeoutMs} ms`;

  return {
    async owner(namespace: string, ref: OwnerReference, signal: AbortSignal): Promise<OwnerFact> {
      const kind = ownerKindOf(ref);
      const meta = { namespace, owner: `${ref.kind}/${ref.name}` };
      if (!kind) {
        const reason = unsupportedOwnerReason(ref);
        log.debug({ ...meta, found: false, reason }, 'owner lookup: kind not supported');
        return { found: false, reason };
      }
      if (typeof ref.name !== 'string' || ref.name === '') return { found: false, reason: `the ${ref.kind} owner reference has no name` };
      const t0 = performance.now();
      let fact: OwnerFact;
      let source: string;
      try {
        const got = await owners.get(`${namespace}/${kind}/${ref.name}`, (s) => lookUpOwner(namespace, kind, ref.name, readers.readObject, s), signal);
        fact = got.value;
        source = got.source;
      } catch (e) {
        // The caller gave up: it words that itself (resolveFacts: "no answer within N ms").
        if (signal.aborted) throw signal.reason;
        fact = { found: false, reason: e instanceof LoadTimeout ? noAnswer : e instanceof Error ? e.message : String(e) };
        source = 'loaded';
      }
      log.debug(
        { ...meta, cache: source, ms: elapsed(t0), found: fact.found, ...(fact.found ? { labelsOf: `${fact.kind}/${fact.name}` } : { reason: fact.reason }) },
        'owner lookup',
      );
      return fact;
    },

    async namespaceLabels(namespace: string, signal: AbortSignal): Promise<StringMap | undefined> {
      const t0 = performance.now();
      let result: NamespaceResult;
      let source: string;
      try {
        const got = await namespaces.get(
          namespace,
          async (s): Promise<NamespaceResult> => {
            try {
              return { ok: true, labels: await readers.readNamespace(namespace, s) };
            } catch (e) {
              if (s.aborted) throw s.reason;
              return { ok: false, reason: readFailureReason(e, NAMESPACES, `namespace ${namespace}`) };
            }
          },
          signal,
        );
        result = got.value;
        source = got.source;
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        result = { ok: false, reason: e instanceof LoadTimeout ? noAnswer : e instanceof Error ? e.message : String(e) };
        source = 'loaded';
      }
      log.debug({ namespace, cache: source, ms: elapsed(t0), found: result.ok, ...(result.ok ? {} : { reason: result.reason }) }, 'namespace labels lookup');
      // resolveFacts turns a rejection into "labels of namespace X: <reason>" and a warning on the answer.
      if (!result.ok) throw new Error(result.reason);
      return result.labels;
    },

    stats: () => ({ owners: owners.stats, namespaces: namespaces.stats }),
  };
}

/**
 * The `FactResolver` of `tether serve --kubeconfig` and `tether start`: owners and namespaces read from
 * the API server `kubeConfig` points at, cached (owners for `ownerCacheTtlMs`, namespaces for
 * `namespaceCacheTtlMs`), one read per key at a time, each read aborted when nobody waits for it.
 */
export function createApiFactResolver(opts: ApiFactResolverOptions): CachingFactResolver {
  return createCachingFactResolver(apiReaders(opts.kubeConfig), opts);
}
