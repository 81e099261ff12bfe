/**
 * Baseline (b): the approach most mutating webhooks take. Decode the review, deep-copy the pod, mutate
 * the copy in place, and let a JSON Patch library diff the original against the copy
 * (`fast-json-patch`'s `compare`, the usual choice in Node; Go webhooks do the same with
 * `pod.DeepCopy()` and `jsonpatch.CreatePatch`).
 *
 * The mutations are the ones Tether makes for the benchmark's pods (SPEC §5, default configuration):
 * hostip config, unified service tags from the pod's labels, the Java library. `run.ts` checks before
 * measuring that applying this baseline's patch and applying Tether's give the same pod.
 */
import fastJsonPatch from 'fast-json-patch';
import type { WebhookKind } from '../src/config/index.js';

const { compare } = fastJsonPatch;

type Json = Record<string, unknown>;
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}
interface Mount {
  name: string;
  mountPath: string;
}
interface Container {
  name: string;
  env?: EnvVar[];
  volumeMounts?: Mount[];
  [k: string]: unknown;
}
interface Pod {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  spec: { containers: Container[]; initContainers?: Container[]; volumes?: { name: string }[]; [k: string]: unknown };
  [k: string]: unknown;
}

/**
 * The deep copy. For plain JSON, a JSON round trip is faster in V8 than `structuredClone` (measured
 * on this benchmark's pods; see RESULTS.md), so the baseline gets the faster of the two.
 */
export const deepCopy = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const isLibInit = (c: Container) => /^datadog-lib-(java|js|python|dotnet|ruby)-init$/.test(c.name);

/** Prepends the variables a container does not have yet, in order, keeping the container's own. */
function prependMissing(c: Container, vars: readonly EnvVar[]): void {
  const env = c.env ?? [];
  const missing = vars.filter((v) => !env.some((e) => e.name === v.name));
  if (missing.length > 0) c.env = [...missing.map((v) => ({ ...v })), ...env];
}

function everyContainer(pod: Pod): Container[] {
  return [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].filter((c) => !isLibInit(c));
}

function mutateConfig(pod: Pod): void {
  const vars: EnvVar[] = [
    { name: 'DD_AGENT_HOST', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.hostIP' } } },
    { name: 'DD_ENTITY_ID', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.uid' } } },
    { name: 'DD_INTERNAL_POD_UID', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.uid' } } },
  ];
  for (const c of everyContainer(pod)) {
    const init = (pod.spec.initContainers ?? []).includes(c);
    prependMissing(c, [...vars, { name: 'DD_EXTERNAL_ENV', value: `it-${init},cn-${c.name},pu-$(DD_INTERNAL_POD_UID)` }]);
  }
}

const TAGS = [
  ['tags.datadoghq.com/env', 'DD_ENV'],
  ['tags.datadoghq.com/service', 'DD_SERVICE'],
  ['tags.datadoghq.com/version', 'DD_VERSION'],
] as const;

function mutateTags(pod: Pod): void {
  const labels = pod.metadata?.labels ?? {};
  const vars = TAGS.flatMap(([label, name]) => (labels[label] === undefined ? [] : [{ name, value: labels[label] }]));
  for (const c of everyContainer(pod)) prependMissing(c, vars);
}

const JAVA_OPTION = '-javaagent:/datadog-lib/dd-java-agent.jar';

function mutateJavaLib(pod: Pod): void {
  const version = pod.metadata?.annotations?.['admission.datadoghq.com/java-lib.version'];
  if (version === undefined) return;
  const init = pod.spec.initContainers ?? [];
  if (init.some((c) => c.name === 'datadog-lib-java-init')) return;
  pod.spec.initContainers = [
    {
      name: 'datadog-lib-java-init',
      image: `gcr.io/datadoghq/dd-lib-java-init:${version}`,
      command: ['sh', 'copy-lib.sh', '/datadog-lib'],
      resources: { requests: { cpu: '50m', memory: '20Mi' }, limits: { cpu: '50m', memory: '20Mi' } },
      volumeMounts: [{ name: 'datadog-auto-instrumentation', mountPath: '/datadog-lib' }],
    },
    ...init,
  ];
  const volumes = pod.spec.volumes ?? [];
  if (!volumes.some((v) => v.name === 'datadog-auto-instrumentation')) pod.spec.volumes = [...volumes, { name: 'datadog-auto-instrumentation', emptyDir: {} } as { name: string }];
  for (const c of pod.spec.containers) {
    const mounts = c.volumeMounts ?? [];
    if (!mounts.some((m) => m.name === 'datadog-auto-instrumentation' || m.mountPath.replace(/\/+$/, '') === '/datadog-lib')) {
      c.volumeMounts = [...mounts, { name: 'datadog-auto-instrumentation', mountPath: '/datadog-lib' }];
    }
    const env = c.env ?? [];
    const existing = env.find((e) => e.name === 'JAVA_TOOL_OPTIONS');
    if (!existing) c.env = [{ name: 'JAVA_TOOL_OPTIONS', value: JAVA_OPTION }, ...env];
    else if (!(existing.value ?? '').split(/\s+/).includes(JAVA_OPTION)) existing.value = (existing.value ?? '').trim() === '' ? JAVA_OPTION : `${existing.value} ${JAVA_OPTION}`;
  }
}

const MUTATIONS: Record<WebhookKind, (pod: Pod) => void> = { config: mutateConfig, tags: mutateTags, lib: mutateJavaLib };

/** Copy, mutate, diff: the patch for one pod. */
export function diffPatch(kind: WebhookKind, pod: unknown): unknown[] {
  const original = pod as Pod;
  if (original.metadata?.labels?.['admission.datadoghq.com/enabled'] !== 'true') return [];
  const mutated = deepCopy(original);
  MUTATIONS[kind](mutated);
  return compare(original as unknown as Json, mutated as unknown as Json);
}
