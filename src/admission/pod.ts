/**
 * The parts of a Pod that Tether reads or writes, and their validation at the boundary.
 *
 * Every interface keeps an index signature: fields Tether does not know (newer Kubernetes fields,
 * vendor extensions) pass through untouched, because Tether never re-serialises a pod, it only emits
 * JSON Patch operations against the bytes the API server sent.
 */

export type StringMap = Readonly<Record<string, string>>;

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: unknown;
  readonly [field: string]: unknown;
}

export interface VolumeMount {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly?: boolean;
  readonly [field: string]: unknown;
}

export interface Container {
  readonly name: string;
  readonly image?: string;
  readonly env?: readonly EnvVar[];
  readonly volumeMounts?: readonly VolumeMount[];
  /** `Always` on an init container makes it a native sidecar. */
  readonly restartPolicy?: string;
  readonly [field: string]: unknown;
}

export interface Volume {
  readonly name: string;
  readonly [field: string]: unknown;
}

export interface PodSpec {
  readonly containers: readonly Container[];
  readonly initContainers?: readonly Container[];
  readonly volumes?: readonly Volume[];
  readonly [field: string]: unknown;
}

export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid?: string;
  readonly controller?: boolean;
  readonly [field: string]: unknown;
}

export interface ObjectMeta {
  readonly name?: string;
  readonly generateName?: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly labels?: StringMap;
  readonly annotations?: StringMap;
  readonly ownerReferences?: readonly OwnerReference[];
  readonly [field: string]: unknown;
}

export interface Pod {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: ObjectMeta;
  readonly spec: PodSpec;
  readonly [field: string]: unknown;
}

export type ContainerList = 'containers' | 'initContainers';

/** A validation failure: `path` is where in the object (e.g. `spec.containers[1].env[0].name`). */
export class InvalidObject extends Error {
  override name = 'InvalidObject';
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A value as error messages show it: structures by their type only (quoting them could be unbounded, and
 * JSON.stringify overflows the stack on one nested thousands deep), scalars quoted and cut short.
 */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`.slice(0, 60);
}

function expect(cond: boolean, path: string, what: string, got: unknown): void {
  if (!cond) throw new InvalidObject(path, `expected ${what}, got ${describeValue(got)}`);
}

function checkStringMap(v: unknown, path: string): void {
  if (v === undefined || v === null) return;
  expect(isObject(v), path, 'a map of strings', v);
  const map = v as Json;
  // The path is only built for the failure: this runs on every label and annotation of every pod.
  for (const k of Object.keys(map)) {
    const x = map[k];
    if (typeof x !== 'string') expect(false, `${path}[${JSON.stringify(k)}]`, 'a string', x);
  }
}

/**
 * Checks each item of an optional array. Paths are built only for a failure (`${path}[${i}]`): this runs
 * on every env var and mount of every container of every pod, and building them up front was a third of
 * what validating a pod allocated.
 */
function checkArrayOf(v: unknown, path: string, item: (x: Json, path: string, i: number) => void): void {
  if (v === undefined || v === null) return;
  expect(Array.isArray(v), path, 'an array', v);
  const items = v as unknown[];
  for (let i = 0; i < items.length; i++) {
    const x = items[i];
    if (!isObject(x)) expect(false, `${path}[${i}]`, 'an object', x);
    item(x as Json, path, i);
  }
}

function checkName(x: Json, path: string, i: number): void {
  if (typeof x.name !== 'string' || x.name === '') expect(false, `${path}[${i}].name`, 'a non-empty string', x.name);
}

function checkEnvVar(e: Json, path: string, i: number): void {
  checkName(e, path, i);
  if (e.value !== undefined && e.value !== null && typeof e.value !== 'string') expect(false, `${path}[${i}].value`, 'a string', e.value);
}

function checkMount(m: Json, path: string, i: number): void {
  checkName(m, path, i);
  if (typeof m.mountPath !== 'string') expect(false, `${path}[${i}].mountPath`, 'a string', m.mountPath);
}

function checkContainer(c: Json, path: string, i: number): void {
  checkName(c, path, i);
  if (c.env !== undefined && c.env !== null) checkArrayOf(c.env, `${path}[${i}].env`, checkEnvVar);
  if (c.volumeMounts !== undefined && c.volumeMounts !== null) checkArrayOf(c.volumeMounts, `${path}[${i}].volumeMounts`, checkMount);
}

function checkOwnerReference(o: Json, path: string, i: number): void {
  for (const f of ['apiVersion', 'kind', 'name'] as const) {
    if (typeof o[f] !== 'string') expect(false, `${path}[${i}].${f}`, 'a string', o[f]);
  }
}

/** Validates the metadata Tether reads. */
export function checkObjectMeta(meta: unknown, path: string): void {
  if (meta === undefined || meta === null) return;
  expect(isObject(meta), path, 'an object', meta);
  const m = meta as Json;
  for (const f of ['name', 'generateName', 'namespace', 'uid'] as const) {
    if (m[f] !== undefined && m[f] !== null && typeof m[f] !== 'string') expect(false, `${path}.${f}`, 'a string', m[f]);
  }
  checkStringMap(m.labels, `${path}.labels`);
  checkStringMap(m.annotations, `${path}.annotations`);
  checkArrayOf(m.ownerReferences, `${path}.ownerReferences`, checkOwnerReference);
}

/**
 * Checks that `value` has the shape of a Pod as far as Tether reads it and returns it typed.
 * Throws `InvalidObject` naming the first offending field. `path` prefixes the field paths
 * (e.g. `request.object` or `spec.template`).
 */
export function asPod(value: unknown, path = 'pod'): Pod {
  expect(isObject(value), path, 'an object', value);
  const v = value as Json;
  checkObjectMeta(v.metadata, `${path}.metadata`);
  expect(isObject(v.spec), `${path}.spec`, 'an object', v.spec);
  const spec = v.spec as Json;
  expect(Array.isArray(spec.containers), `${path}.spec.containers`, 'an array', spec.containers);
  checkArrayOf(spec.containers, `${path}.spec.containers`, checkContainer);
  checkArrayOf(spec.initContainers, `${path}.spec.initContainers`, checkContainer);
  checkArrayOf(spec.volumes, `${path}.spec.volumes`, checkName);
  return value as Pod;
}

/** How a pod is named in logs and messages: its name, else its generate name (as the seeds' logs do). */
export function describePod(pod: Pod, namespace?: string): string {
  const ns = namespace ?? pod.metadata?.namespace;
  const where = ns ? ` in namespace ${ns}` : '';
  if (pod.metadata?.name) return `pod ${pod.metadata.name}${where}`;
  if (pod.metadata?.generateName) return `pod with generate name ${pod.metadata.generateName}${where}`;
  return `unnamed pod${where}`;
}
