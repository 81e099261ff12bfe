/**
 * What Tether's webhooks left in a pod's spec, read at ingest from the pod itself (issue 12): the
 * cluster state keeps these few facts per pod (shared among the pods of one ReplicaSet through the
 * intern pool), never the spec, so the console can say "injected, hostip mode, env:prod, java" or why
 * not without another read of the pod.
 *
 * The marks are the ones the webhooks make and nothing else does (SPEC §5):
 * - config webhook: `DD_ENTITY_ID` in a container's env (every mode adds it); the mode from
 *   `DD_AGENT_HOST` (a `status.hostIP` field reference: hostip; a value: service) or the sockets
 *   (`DD_TRACE_AGENT_URL` unix://, or the sockets' hostPath volumes: socket);
 * - tags webhook: `DD_ENV`, `DD_SERVICE`, `DD_VERSION` values;
 * - library webhook: init containers named `datadog-lib-<lang>-init`.
 * Pure: no clock, no I/O; never throws on odd input (a field of the wrong type counts as absent).
 */
import {
  DOGSTATSD_SOCKET_VOLUME,
  ENV_AGENT_HOST,
  ENV_ENTITY_ID,
  ENV_TRACE_AGENT_URL,
  LIB_LANGUAGES,
  SOCKET_DIR_VOLUME,
  TRACE_SOCKET_VOLUME,
  UNIFIED_SERVICE_TAGS,
} from '../config/index.js';
import { libInitContainerName } from '../admission/libInjection.js';

export type InjectedMode = 'hostip' | 'service' | 'socket' | 'unknown';
export type TagName = 'env' | 'service' | 'version';

export interface PodInjectionFacts {
  /** `DD_ENTITY_ID` in a container: the config webhook went through this pod. */
  readonly config: boolean;
  /** The config mode the env and volumes show; only when `config`. */
  readonly mode?: InjectedMode;
  /** `DD_ENV`/`DD_SERVICE`/`DD_VERSION` values found in the containers (the first container that sets each). */
  readonly tags: Readonly<Partial<Record<TagName, string>>>;
  /** Languages of the library init containers, in `LIB_LANGUAGES` order. */
  readonly libraries: readonly string[];
}

/** A pod without any of the marks (most pods of a cluster that does not opt in): one shared object. */
export const NO_INJECTION: PodInjectionFacts = Object.freeze({ config: false, tags: Object.freeze({}), libraries: Object.freeze([]) as readonly string[] });

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const TAG_ENV: ReadonlyMap<string, TagName> = new Map(
  UNIFIED_SERVICE_TAGS.map((t) => [t.env, t.tag as TagName] as const).filter(([, tag]) => tag === 'env' || tag === 'service' || tag === 'version'),
);
const LIB_INIT: ReadonlyMap<string, string> = new Map(LIB_LANGUAGES.map((l) => [libInitContainerName(l), l]));
const SOCKET_VOLUMES: ReadonlySet<string> = new Set([SOCKET_DIR_VOLUME, TRACE_SOCKET_VOLUME, DOGSTATSD_SOCKET_VOLUME]);

function hostIpRef(valueFrom: unknown): boolean {
  const ref = isObj(valueFrom) ? valueFrom.fieldRef : undefined;
  return isObj(ref) && ref.fieldPath === 'status.hostIP';
}

/**
 * The facts of one pod's `spec`, and a key equal for equal facts (the store interns on it). Returns
 * `NO_INJECTION` (key '') for a pod without any mark.
 */
export function podInjectionFacts(spec: unknown): { readonly key: string; readonly facts: PodInjectionFacts } {
  if (!isObj(spec)) return { key: '', facts: NO_INJECTION };
  let config = false;
  let agentHost: 'hostip' | 'service' | undefined;
  let socketEnv = false;
  const tags: Partial<Record<TagName, string>> = {};
  let anyTag = false;
  for (const list of [spec.initContainers, spec.containers]) {
    for (const c of arr(list)) {
      if (!isObj(c)) continue;
      for (const e of arr(c.env)) {
        if (!isObj(e) || typeof e.name !== 'string') continue;
        const name = e.name;
        if (name === ENV_ENTITY_ID) config = true;
        else if (name === ENV_AGENT_HOST) agentHost ??= hostIpRef(e.valueFrom) ? 'hostip' : typeof e.value === 'string' ? 'service' : undefined;
        else if (name === ENV_TRACE_AGENT_URL) socketEnv ||= typeof e.value === 'string' && e.value.startsWith('unix://');
        else {
          const tag = TAG_ENV.get(name);
          if (tag && tags[tag] === undefined && typeof e.value === 'string') {
            tags[tag] = e.value;
            anyTag = true;
          }
        }
      }
    }
  }
  const libs = new Set<string>();
  for (const c of arr(spec.initContainers)) {
    const lang = isObj(c) && typeof c.name === 'string' ? LIB_INIT.get(c.name) : undefined;
    if (lang) libs.add(lang);
  }
  const socketVolume = arr(spec.volumes).some((v) => isObj(v) && typeof v.name === 'string' && SOCKET_VOLUMES.has(v.name));
  if (!config && !anyTag && libs.size === 0) return { key: '', facts: NO_INJECTION };

  const mode: InjectedMode | undefined = !config ? undefined : socketEnv || socketVolume ? 'socket' : (agentHost ?? 'unknown');
  const libraries = LIB_LANGUAGES.filter((l) => libs.has(l));
  const key = `${config ? 1 : 0}\u0000${mode ?? ''}\u0000${tags.env ?? '\u0001'}\u0000${tags.service ?? '\u0001'}\u0000${tags.version ?? '\u0001'}\u0000${libraries.join(',')}`;
  const facts: PodInjectionFacts = Object.freeze({
    config,
    ...(mode ? { mode } : {}),
    tags: Object.freeze(tags),
    libraries: Object.freeze(libraries),
  });
  return { key, facts };
}

/**
 * `metadata.creationTimestamp` as whole seconds since the Unix epoch (a small integer: no boxed number
 * per pod), or undefined when absent or unreadable.
 */
export function creationSeconds(meta: unknown): number | undefined {
  const ts = isObj(meta) ? meta.creationTimestamp : undefined;
  if (typeof ts !== 'string') return undefined;
  const ms = Date.parse(ts);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}
