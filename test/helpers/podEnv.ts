/**
 * A container's environment as the kubelet builds it from the pod spec (pure), so that a test can start
 * a process with exactly what a container of an injected pod would see:
 *
 * - `valueFrom.fieldRef` read from the pod's fields (`metadata.uid`, `status.hostIP`, ...), given by the
 *   caller; a field or source it does not give is an error naming the variable;
 * - `value` with its `$(VAR)` references expanded against the variables defined EARLIER in the same list
 *   (a later one, or one not defined at all, stays literally `$(VAR)`); `$$` is an escaped `$`;
 *   values from `valueFrom` are not expanded. A name defined twice: the later one wins.
 *
 * The expansion follows Kubernetes' `third_party/forked/golang/expansion` (what the kubelet's
 * makeEnvironmentVariables calls) character for character: an unterminated `$(` and a `$` before
 * anything else are kept as they are.
 */

export interface PodEnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly fieldRef?: { readonly fieldPath: string } } & Readonly<Record<string, unknown>>;
}

const OPERATOR = '$';
const OPENER = '(';
const CLOSER = ')';

/** `$(NAME)` expanded with `lookup` (undefined: kept literally), `$$` → `$`, as the kubelet does. */
export function expandKubeRefs(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== OPERATOR || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const next = input[cursor + 1];
    if (next === OPERATOR) {
      out += OPERATOR; // `$$`: an escaped operator
    } else if (next === OPENER) {
      const close = input.indexOf(CLOSER, cursor + 2);
      if (close < 0) {
        // Unterminated: `$(` kept, the rest copied as it is.
        out += OPERATOR + OPENER;
      } else {
        const name = input.slice(cursor + 2, close);
        out += lookup(name) ?? `${OPERATOR}${OPENER}${name}${CLOSER}`;
        cursor = close - 1; // advanced past `)` below
      }
    } else {
      out += OPERATOR + next; // not an expression: both kept
    }
    cursor += 1;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

/**
 * The environment of a container whose spec lists `env`, `fields` being the pod's downward-API fields
 * (`{ 'metadata.uid': uid, 'status.hostIP': '127.0.0.1' }`). Throws on a source it cannot resolve.
 */
export function resolveContainerEnv(env: readonly PodEnvVar[], fields: Readonly<Record<string, string>>): Record<string, string> {
  const out = new Map<string, string>();
  for (const v of env) {
    let value: string;
    if (v.value !== undefined && v.value !== '') {
      value = expandKubeRefs(v.value, (name) => out.get(name));
    } else if (v.valueFrom !== undefined) {
      const path = v.valueFrom.fieldRef?.fieldPath;
      if (path === undefined) throw new Error(`env var ${v.name}: only valueFrom.fieldRef is resolved here, not ${Object.keys(v.valueFrom).join(', ')}`);
      const field = fields[path];
      if (field === undefined) throw new Error(`env var ${v.name}: no value given for the pod field ${path} (have ${Object.keys(fields).join(', ') || 'none'})`);
      value = field;
    } else {
      value = '';
    }
    out.set(v.name, value);
  }
  return Object.fromEntries(out);
}
