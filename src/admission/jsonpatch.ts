/**
 * RFC 6902 JSON Patch: the operation type Tether emits, RFC 6901 pointer building, and a small applier
 * used by offline `inject` (to turn a pod template's patch into the mutated template). Tether only emits
 * `add` and `replace`; the applier supports the operations it needs to check them (`test`, `remove` too).
 */

export type JsonPatchOp =
  | { readonly op: 'add' | 'replace' | 'test'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

/** RFC 6901: `~` → `~0`, `/` → `~1` (in that order, so `~1` in a name stays distinct from `/`). */
export function escapePointerToken(token: string | number): string {
  if (typeof token === 'number') return String(token);
  // Most tokens (field names) need no escaping: skip the two replacements on the hot path.
  if (!token.includes('~') && !token.includes('/')) return token;
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

export function pointer(...tokens: readonly (string | number)[]): string {
  return tokens.map((t) => '/' + escapePointerToken(t)).join('');
}

export function parsePointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new JsonPatchError(`JSON pointer ${JSON.stringify(path)} must start with /`);
  return path
    .slice(1)
    .split('/')
    .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
}

export class JsonPatchError extends Error {
  override name = 'JsonPatchError';
}

type Container = Record<string, unknown> | unknown[];

/**
 * Applies `ops` to a deep copy of `doc` and returns it; `doc` is not modified. Throws `JsonPatchError`
 * naming the failing operation when a path does not exist or a `test` fails.
 */
export function applyPatch<T>(doc: T, ops: readonly JsonPatchOp[]): T {
  return applyPatchInPlace(structuredClone(doc), ops);
}

/**
 * Applies `ops` to `doc` itself (for a document the caller owns: one copy for several patches instead of
 * one per patch) and returns the result, a new root only for an operation on the whole document.
 */
export function applyPatchInPlace<T>(doc: T, ops: readonly JsonPatchOp[]): T {
  let root: unknown = doc;
  ops.forEach((op, index) => {
    const where = `operation ${index} (${op.op} ${op.path})`;
    const tokens = parsePointer(op.path);
    if (tokens.length === 0) {
      if (op.op === 'remove') throw new JsonPatchError(`${where}: cannot remove the whole document`);
      if (op.op === 'test') {
        if (!deepEqual(root, op.value)) throw new JsonPatchError(`${where}: test failed`);
        return;
      }
      root = structuredClone(op.value);
      return;
    }
    const parent = resolve(root, tokens.slice(0, -1), where);
    const last = tokens[tokens.length - 1] as string;
    if (Array.isArray(parent)) {
      const isEnd = last === '-';
      const i = isEnd ? parent.length : arrayIndex(last, where);
      switch (op.op) {
        case 'add':
          if (i > parent.length) throw new JsonPatchError(`${where}: index ${i} is past the end (length ${parent.length})`);
          parent.splice(i, 0, structuredClone(op.value));
          return;
        case 'replace':
          if (isEnd || i >= parent.length) throw new JsonPatchError(`${where}: no element ${last}`);
          parent[i] = structuredClone(op.value);
          return;
        case 'remove':
          if (isEnd || i >= parent.length) throw new JsonPatchError(`${where}: no element ${last}`);
          parent.splice(i, 1);
          return;
        case 'test':
          if (!deepEqual(parent[i], op.value)) throw new JsonPatchError(`${where}: test failed`);
          return;
      }
    }
    const obj = parent as Record<string, unknown>;
    const has = Object.prototype.hasOwnProperty.call(obj, last);
    switch (op.op) {
      case 'add':
        obj[last] = structuredClone(op.value);
        return;
      case 'replace':
        if (!has) throw new JsonPatchError(`${where}: no member ${JSON.stringify(last)}`);
        obj[last] = structuredClone(op.value);
        return;
      case 'remove':
        if (!has) throw new JsonPatchError(`${where}: no member ${JSON.stringify(last)}`);
        delete obj[last];
        return;
      case 'test':
        if (!deepEqual(obj[last], op.value)) throw new JsonPatchError(`${where}: test failed`);
        return;
    }
  });
  return root as T;
}

function resolve(root: unknown, tokens: readonly string[], where: string): Container {
  let cur: unknown = root;
  for (const t of tokens) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(t, where)];
    else if (isObject(cur) && Object.prototype.hasOwnProperty.call(cur, t)) cur = cur[t];
    else cur = undefined;
    if (cur === undefined) throw new JsonPatchError(`${where}: path does not exist`);
  }
  if (!Array.isArray(cur) && !isObject(cur)) throw new JsonPatchError(`${where}: parent is not an object or array`);
  return cur;
}

function arrayIndex(token: string, where: string): number {
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new JsonPatchError(`${where}: ${JSON.stringify(token)} is not an array index`);
  return Number(token);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}
