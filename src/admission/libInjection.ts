/** The library-injection webhook (`/injectlib`): tracing libraries copied in by init containers (SPEC §5). */
import {
  ANNOTATION_PREFIX,
  LIB_INIT_COMMAND,
  LIB_LANGUAGES,
  LIB_MOUNT_PATH,
  LIB_VOLUME,
  libInitImageRepository,
  POD_SECURITY_ENFORCE_LABEL,
  SERVICE_ACCOUNT_DIR,
  SERVICE_ACCOUNT_VOLUME_PREFIX,
  type LibLanguage,
  type TetherConfig,
} from '../config/index.js';
import type { Container, Pod, VolumeMount } from './pod.js';
import { PodPatchBuilder } from './podPatch.js';
import type { Decision, MutationContext, MutationResult } from './types.js';

/** How a language's tracer is switched on in the application containers. */
type EnvEdit =
  | { readonly kind: 'append'; readonly name: string; readonly fragment: string } // space-separated option lists
  | { readonly kind: 'prependPath'; readonly name: string; readonly entry: string } // colon-separated paths
  | { readonly kind: 'set'; readonly name: string; readonly value: string }; // only when absent

const LANGUAGE_ENV: Record<LibLanguage, readonly EnvEdit[]> = {
  java: [{ kind: 'append', name: 'JAVA_TOOL_OPTIONS', fragment: `-javaagent:${LIB_MOUNT_PATH}/dd-java-agent.jar` }],
  js: [{ kind: 'append', name: 'NODE_OPTIONS', fragment: `--require=${LIB_MOUNT_PATH}/node_modules/dd-trace/init` }],
  python: [{ kind: 'prependPath', name: 'PYTHONPATH', entry: `${LIB_MOUNT_PATH}/` }],
  dotnet: [
    { kind: 'set', name: 'CORECLR_ENABLE_PROFILING', value: '1' },
    { kind: 'set', name: 'CORECLR_PROFILER', value: '{846F5F1C-F9AE-4B07-969E-05C26BC060D8}' },
    { kind: 'set', name: 'CORECLR_PROFILER_PATH', value: `${LIB_MOUNT_PATH}/Datadog.Trace.ClrProfiler.Native.so` },
    { kind: 'set', name: 'DD_DOTNET_TRACER_HOME', value: LIB_MOUNT_PATH },
  ],
  ruby: [{ kind: 'append', name: 'RUBYOPT', fragment: `-r${LIB_MOUNT_PATH}/auto_inject` }],
};

/** The context `restricted` Pod Security demands, used when none is configured in such a namespace. */
export const RESTRICTED_SECURITY_CONTEXT = Object.freeze({
  allowPrivilegeEscalation: false,
  runAsNonRoot: true,
  seccompProfile: { type: 'RuntimeDefault' },
  capabilities: { drop: ['ALL'] },
});

export const libInitContainerName = (lang: LibLanguage) => `datadog-lib-${lang}-init`;

const LIB_INIT_NAMES: ReadonlySet<string> = new Set(LIB_LANGUAGES.map(libInitContainerName));

/**
 * Tether's own library init containers only copy files: the config and tags webhooks leave them alone,
 * so the webhooks' result does not depend on their order or on reinvocation.
 */
export function isLibInitContainer(c: Container): boolean {
  return LIB_INIT_NAMES.has(c.name);
}

/** An image tag as the OCI distribution spec allows it. */
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const ANNOTATION = new RegExp(
  `^${ANNOTATION_PREFIX.replaceAll('.', '\\.')}(?:([a-z0-9]([-a-z0-9]*[a-z0-9])?)\\.)?(${LIB_LANGUAGES.join('|')})-lib\\.(version|custom-image)$`,
);

/** One language to inject: its image and the application containers that get it. */
interface LibRequest {
  readonly lang: LibLanguage;
  readonly image: string;
  /** undefined = every application container. */
  readonly containers?: ReadonlySet<string>;
}

/** Reads the library annotations into one request per language, with decisions for anything ignored. */
export function libRequests(pod: Pod, config: TetherConfig, decisions: Decision[]): LibRequest[] {
  const annotations = pod.metadata?.annotations;
  if (!annotations) return [];
  // Most pods carry no library annotation, and a pod that does carries one or two among many others:
  // only those are sorted and read (this runs on every pod, twice: for its facts, then to mutate it).
  const keys: string[] = [];
  for (const key in annotations) if (key.startsWith(ANNOTATION_PREFIX) && ANNOTATION.test(key)) keys.push(key);
  if (keys.length === 0) return [];
  keys.sort();

  const registry = config['admission_controller.auto_instrumentation.container_registry'];
  let containerNames: ReadonlySet<string> | undefined;
  // One entry per language and scope ('' = pod-level, else a container name), in annotation order: a
  // pod has a handful at most, so arrays and scans, not maps.
  const requested: { lang: LibLanguage; scope: string; image: string; custom: boolean }[] = [];
  const note = (what: string, detail: string) => decisions.push({ webhook: 'lib', outcome: 'skipped', what, detail, warning: true });

  for (const key of keys) {
    const m = ANNOTATION.exec(key) as RegExpExecArray;
    const scope = m[1] ?? '';
    const lang = m[3] as LibLanguage;
    const custom = m[4] === 'custom-image';
    const value = (annotations[key] as string).trim();
    if (scope && !(containerNames ??= new Set(pod.spec.containers.map((c) => c.name))).has(scope)) {
      note(`annotation ${key}`, `the pod has no container named ${scope}`);
      continue;
    }
    if (custom ? value === '' || /\s/.test(value) : !IMAGE_TAG.test(value)) {
      note(`annotation ${key}`, `${JSON.stringify(value)} is not a valid ${custom ? 'image reference' : 'image tag'}`);
      continue;
    }
    const image = custom ? value : `${libInitImageRepository(registry, lang)}:${value}`;
    const prev = requested.find((r) => r.lang === lang && r.scope === scope);
    if (!prev) requested.push({ lang, scope, image, custom });
    else if (custom && !prev.custom) Object.assign(prev, { image, custom });
  }

  const requests: LibRequest[] = [];
  for (const lang of LIB_LANGUAGES) {
    const scopes = requested.filter((r) => r.lang === lang);
    const first = scopes[0];
    if (!first) continue;
    if (scopes.some((r) => r.image !== first.image)) {
      // One emptyDir holds one copy of a language's library: two versions would overwrite each other.
      const images = [...new Set(scopes.map((r) => r.image))];
      note(`library ${lang}`, `the annotations ask for different images (${images.join(', ')}); one pod can hold one ${lang} library`);
      continue;
    }
    const podLevel = scopes.some((r) => r.scope === '');
    requests.push({ lang, image: first.image, ...(podLevel ? {} : { containers: new Set(scopes.map((r) => r.scope)) }) });
  }
  return requests;
}

function initSecurityContext(ctx: MutationContext): Record<string, unknown> | undefined {
  const configured = ctx.config['admission_controller.auto_instrumentation.init_security_context'];
  if (configured) return configured;
  if (ctx.namespaceLabels?.[POD_SECURITY_ENFORCE_LABEL] === 'restricted') return structuredClone(RESTRICTED_SECURITY_CONTEXT) as Record<string, unknown>;
  return undefined;
}

/** Whether this pod needs its namespace's labels (the init containers' default security context). */
export function libNeedsNamespaceLabels(pod: Pod, config: TetherConfig): boolean {
  if (config['admission_controller.auto_instrumentation.init_security_context']) return false;
  return libRequests(pod, config, []).length > 0;
}

/**
 * The token mount the ServiceAccount admission plugin gave the pod's containers, for the init containers
 * Tether adds. That plugin runs again after the webhooks and would add it to them itself; that change
 * makes the API server call every webhook entry with `reinvocationPolicy: IfNeeded` a second time, for a
 * second pass that changes nothing (twice the calls per pod). Given only when the pod carries it as the
 * plugin writes it (its first `kube-api-access-` volume, mounted read-only at the default path), so the
 * pod comes out as it would have anyway; never to a pod that opts out of the token.
 */
export function serviceAccountTokenMount(pod: Pod): VolumeMount | undefined {
  if (pod.spec.automountServiceAccountToken === false) return undefined;
  const volume = pod.spec.volumes?.find((v) => v.name.startsWith(SERVICE_ACCOUNT_VOLUME_PREFIX));
  if (!volume) return undefined;
  const mounted = pod.spec.containers.some((c) => c.volumeMounts?.some((m) => m.name === volume.name && m.mountPath === SERVICE_ACCOUNT_DIR && m.readOnly === true));
  return mounted ? { name: volume.name, readOnly: true, mountPath: SERVICE_ACCOUNT_DIR } : undefined;
}

type PlannedEdit = { index: number; container: Container } & ({ set: { envIndex: number; value: string } } | { add: { name: string; value: string } });

/**
 * Plans the env edits for one language in the target containers, or returns the reason the language
 * must be skipped (a variable set with valueFrom cannot be extended).
 */
function planEnv(b: PodPatchBuilder, lang: LibLanguage, targets: number[], decisions: Decision[]): PlannedEdit[] | string {
  const planned: PlannedEdit[] = [];
  for (const index of targets) {
    const container = b.containers('containers')[index] as Container;
    for (const edit of LANGUAGE_ENV[lang]) {
      const found = b.env('containers', index, edit.name);
      if (found && found.env.valueFrom !== undefined && found.env.valueFrom !== null) {
        if (edit.kind === 'set') continue;
        return `container ${container.name} sets ${edit.name} with valueFrom, which cannot be extended`;
      }
      const current = found?.env.value ?? '';
      let next: string | undefined;
      switch (edit.kind) {
        case 'append':
          next = current.split(/\s+/).includes(edit.fragment) ? undefined : current.trim() === '' ? edit.fragment : `${current} ${edit.fragment}`;
          break;
        case 'prependPath':
          next = current.split(':').includes(edit.entry) ? undefined : current === '' ? edit.entry : `${edit.entry}:${current}`;
          break;
        case 'set':
          if (found && current !== edit.value) {
            decisions.push({ webhook: 'lib', outcome: 'skipped', what: `env var ${edit.name}`, container: container.name, detail: 'already set by the pod; kept' });
          }
          next = found ? undefined : edit.value;
          break;
      }
      if (next === undefined) continue;
      if (found && found.index >= 0) planned.push({ index, container, set: { envIndex: found.index, value: next } });
      else planned.push({ index, container, add: { name: edit.name, value: next } });
    }
  }
  return planned;
}

export function injectLibraries(pod: Pod, ctx: MutationContext): MutationResult {
  const decisions: Decision[] = [];
  const requests = libRequests(pod, ctx.config, decisions);
  if (requests.length === 0) return { patch: [], decisions };
  const b = new PodPatchBuilder(pod);
  const cfg = ctx.config;
  const cpu = cfg['admission_controller.auto_instrumentation.init_resources.cpu'];
  const memory = cfg['admission_controller.auto_instrumentation.init_resources.memory'];
  const securityContext = initSecurityContext(ctx);
  const tokenMount = serviceAccountTokenMount(pod);

  for (const req of requests) {
    const name = libInitContainerName(req.lang);
    if (b.hasInitContainer(name)) {
      decisions.push({ webhook: 'lib', outcome: 'skipped', what: `init container ${name}`, detail: 'already present' });
      continue;
    }
    const targets = pod.spec.containers.flatMap((c, i) => (!req.containers || req.containers.has(c.name) ? [i] : []));
    const plan = planEnv(b, req.lang, targets, decisions);
    if (typeof plan === 'string') {
      decisions.push({ webhook: 'lib', outcome: 'skipped', what: `library ${req.lang}`, detail: plan, warning: true });
      continue;
    }
    b.prependInitContainer({
      name,
      image: req.image,
      command: [...LIB_INIT_COMMAND],
      resources: { requests: { cpu, memory }, limits: { cpu, memory } },
      volumeMounts: [{ name: LIB_VOLUME, mountPath: LIB_MOUNT_PATH }, ...(tokenMount ? [tokenMount] : [])],
      ...(securityContext ? { securityContext } : {}),
    });
    decisions.push({ webhook: 'lib', outcome: 'injected', what: `init container ${name}`, detail: `image ${req.image}` });
    if (!b.hasVolume(LIB_VOLUME)) {
      b.addVolume({ name: LIB_VOLUME, emptyDir: {} });
      decisions.push({ webhook: 'lib', outcome: 'injected', what: `volume ${LIB_VOLUME}` });
    }
    for (const index of targets) {
      const c = pod.spec.containers[index] as Container;
      if (b.mounts('containers', index, LIB_VOLUME, LIB_MOUNT_PATH)) continue;
      b.addMount('containers', index, { name: LIB_VOLUME, mountPath: LIB_MOUNT_PATH });
      decisions.push({ webhook: 'lib', outcome: 'injected', what: `volume mount ${LIB_VOLUME} at ${LIB_MOUNT_PATH}`, container: c.name });
    }
    for (const p of plan) {
      if ('set' in p) b.setEnvValue('containers', p.index, p.set.envIndex, p.set.value);
      else b.prependEnv('containers', p.index, { name: p.add.name, value: p.add.value });
      const what = `env var ${'set' in p ? (p.container.env?.[p.set.envIndex]?.name ?? '') : p.add.name}`;
      decisions.push({ webhook: 'lib', outcome: 'injected', what, container: p.container.name });
    }
  }
  return { patch: b.ops(), decisions };
}

