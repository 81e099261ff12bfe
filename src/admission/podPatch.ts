/**
 * Collects the additions one webhook makes to a pod and emits them as the minimal JSON Patch.
 *
 * Operations are built directly against the pod as received (no deep copy, no diff): edits are recorded
 * per container and emitted in an order that keeps every index valid when the patch is applied in
 * sequence (values set in place first, then prepends, then appends, and init containers prepended last
 * so no earlier path into `initContainers` shifts). A list that does not exist yet is created whole.
 */
import { pointer, type JsonPatchOp } from './jsonpatch.js';
import type { Container, ContainerList, EnvVar, Pod, Volume, VolumeMount } from './pod.js';

interface ContainerEdits {
  /** original env index → new value (the variable keeps its place). */
  readonly values: Map<number, string>;
  readonly prepend: EnvVar[];
  readonly mounts: VolumeMount[];
}

export class PodPatchBuilder {
  private readonly edits: Record<ContainerList, Map<number, ContainerEdits>> = { containers: new Map(), initContainers: new Map() };
  private readonly volumes: Volume[] = [];
  private readonly initContainers: Container[] = [];

  constructor(readonly pod: Pod) {}

  containers(list: ContainerList): readonly Container[] {
    return this.pod.spec[list] ?? [];
  }

  /** The variable named `name` in the container as it will be after this patch (pending additions included). */
  env(list: ContainerList, index: number, name: string): { readonly index: number; readonly env: EnvVar } | { readonly index: -1; readonly env: EnvVar } | undefined {
    const pending = this.edits[list].get(index)?.prepend.find((e) => e.name === name);
    if (pending) return { index: -1, env: pending };
    const env = this.containers(list)[index]?.env ?? [];
    const at = env.findIndex((e) => e.name === name);
    return at >= 0 ? { index: at, env: env[at] as EnvVar } : undefined;
  }

  /** Adds `env` at the front of the container's env, after variables this patch already prepended. */
  prependEnv(list: ContainerList, index: number, env: EnvVar): void {
    this.editsOf(list, index).prepend.push(env);
  }

  /** Sets the value of an existing variable in place. */
  setEnvValue(list: ContainerList, index: number, envIndex: number, value: string): void {
    this.editsOf(list, index).values.set(envIndex, value);
  }

  /** Whether the container mounts a volume of that name or anything at that path (pending mounts included). */
  mounts(list: ContainerList, index: number, name: string, mountPath: string): boolean {
    const all = [...(this.containers(list)[index]?.volumeMounts ?? []), ...(this.edits[list].get(index)?.mounts ?? [])];
    return all.some((m) => m.name === name || normalisePath(m.mountPath) === normalisePath(mountPath));
  }

  addMount(list: ContainerList, index: number, mount: VolumeMount): void {
    this.editsOf(list, index).mounts.push(mount);
  }

  hasVolume(name: string): boolean {
    return (this.pod.spec.volumes ?? []).some((v) => v.name === name) || this.volumes.some((v) => v.name === name);
  }

  addVolume(volume: Volume): void {
    this.volumes.push(volume);
  }

  hasInitContainer(name: string): boolean {
    return this.containers('initContainers').some((c) => c.name === name) || this.initContainers.some((c) => c.name === name);
  }

  /** Init containers are prepended, in the order given, so they run before the pod's own. */
  prependInitContainer(container: Container): void {
    this.initContainers.push(container);
  }

  ops(): JsonPatchOp[] {
    const ops: JsonPatchOp[] = [];
    for (const list of ['containers', 'initContainers'] as const) {
      const sorted = [...this.edits[list].entries()].sort(([a], [b]) => a - b);
      for (const [i, e] of sorted) {
        const c = this.containers(list)[i] as Container;
        for (const [j, value] of [...e.values.entries()].sort(([a], [b]) => a - b)) {
          ops.push({ op: 'add', path: pointer('spec', list, i, 'env', j, 'value'), value });
        }
        if (e.prepend.length > 0) pushInto(ops, pointer('spec', list, i, 'env'), c.env, e.prepend, 'front');
        if (e.mounts.length > 0) pushInto(ops, pointer('spec', list, i, 'volumeMounts'), c.volumeMounts, e.mounts, 'end');
      }
    }
    pushInto(ops, pointer('spec', 'volumes'), this.pod.spec.volumes, this.volumes, 'end');
    pushInto(ops, pointer('spec', 'initContainers'), this.pod.spec.initContainers, this.initContainers, 'front');
    return ops;
  }

  private editsOf(list: ContainerList, index: number): ContainerEdits {
    let e = this.edits[list].get(index);
    if (!e) {
      e = { values: new Map(), prepend: [], mounts: [] };
      this.edits[list].set(index, e);
    }
    return e;
  }
}

/** Adds `items` to the array at `path`: the whole array when it does not exist (or is null), else one op each. */
function pushInto(ops: JsonPatchOp[], path: string, existing: readonly unknown[] | null | undefined, items: readonly unknown[], where: 'front' | 'end'): void {
  if (items.length === 0) return;
  if (existing === undefined || existing === null) {
    ops.push({ op: 'add', path, value: [...items] });
    return;
  }
  items.forEach((value, k) => ops.push({ op: 'add', path: where === 'front' ? `${path}/${k}` : `${path}/-`, value }));
}

/** `/var/run/datadog/` and `/var/run/datadog` are the same mount point. */
function normalisePath(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}
