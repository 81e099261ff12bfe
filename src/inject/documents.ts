/**
 * Offline injection over a stream of manifests (YAML or JSON, one or many documents): every Pod and pod
 * template is mutated exactly as the webhook chain would mutate the pods, other documents pass through.
 *
 * The webhook chain's JSON Patch is applied to the parsed YAML document itself, not to a re-serialised
 * copy, so comments, key order and formatting of everything Tether did not touch are kept.
 */
import { Document, isMap, isScalar, isSeq, LineCounter, parseAllDocuments } from 'yaml';
import { POD_SECURITY_ENFORCE_LABEL, type TetherConfig } from '../config/index.js';
import { asPod, InvalidObject, type Pod, type StringMap } from '../admission/pod.js';
import { parsePointer, type JsonPatchOp } from '../admission/jsonpatch.js';
import type { Decision } from '../admission/types.js';
import { runWebhookChain } from '../admission/webhooks.js';
import { podTemplatesOf } from '../admission/workloads.js';

const YAML_VERSION = '1.1';

export interface InjectOptions {
  readonly config: TetherConfig;
  /** Namespace for documents that do not set one. */
  readonly namespace: string;
  /** The namespace the cluster agent runs in (its pods are never mutated; `service` mode points there). */
  readonly tetherNamespace: string;
}

/** Input that cannot be injected: names the document (0-based index, as `kubectl` counts) and line. */
export class InjectInputError extends Error {
  override name = 'InjectInputError';
  constructor(
    readonly documentIndex: number,
    readonly line: number | undefined,
    readonly problem: string,
  ) {
    super(`document ${documentIndex}${line !== undefined ? ` (line ${line})` : ''}: ${problem}`);
  }
}

export interface InjectedTemplate {
  readonly documentIndex: number;
  /** e.g. `Deployment default/web`, `Pod default/app`. */
  readonly object: string;
  readonly decisions: readonly Decision[];
}

export interface InjectResult {
  readonly output: string;
  readonly templates: readonly InjectedTemplate[];
}

export function injectDocuments(text: string, opts: InjectOptions): InjectResult {
  const lines = new LineCounter();
  // YAML 1.1, as kubectl reads manifests: a tag value such as `on` or `0777` must come out quoted,
  // or kubectl would read a boolean or a number where Kubernetes wants a string.
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, version: YAML_VERSION });
  if (!Array.isArray(docs)) return { output: '', templates: [] }; // an empty stream
  const lineOf = (offset: number | undefined) => (offset === undefined ? undefined : lines.linePos(offset).line);

  // Everything is validated before anything is written: bad input yields no partial output.
  const values = docs.map((doc, i) => {
    const err = doc.errors[0];
    if (err) throw new InjectInputError(i, lineOf(err.pos[0]), `not valid YAML or JSON: ${err.message.split('\n')[0]}`);
    // An empty document (`---` with nothing after it) holds nothing, as kubectl sees it.
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return undefined;
    if (!isMap(doc.contents)) throw new InjectInputError(i, lineOf(doc.contents.range?.[0]), 'expected an object (a Kubernetes manifest)');
    return doc.toJS({ maxAliasCount: 1000 }) as Record<string, unknown>;
  });
  const namespaceLabels = namespaceLabelsIn(values);

  const templates: InjectedTemplate[] = [];
  const out: Document[] = [];
  values.forEach((value, i) => {
    if (value === undefined) return;
    // JSON input (a flow mapping) is written back as block YAML; YAML input keeps its own layout.
    const doc = isMap(docs[i]?.contents) && (docs[i]?.contents as { flow?: boolean }).flow ? new Document(value, { version: YAML_VERSION }) : (docs[i] as Document);
    out.push(doc);
    const docNamespace = stringAt(value, ['metadata', 'namespace']) ?? opts.namespace;
    for (const ref of podTemplatesOf(value)) {
      const raw = ref.path.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], value);
      const at = ref.path.length ? ref.path.join('.') : 'the document';
      let pod: Pod;
      try {
        pod = asPod(raw, ref.path.join('.') || 'pod');
      } catch (e) {
        if (e instanceof InvalidObject) throw new InjectInputError(i, lineOf(doc.contents?.range?.[0]), `${at} is not a valid pod: ${e.message}`);
        throw e;
      }
      const namespace = pod.metadata?.namespace ?? docNamespace;
      const chain = runWebhookChain(pod, {
        config: opts.config,
        namespace,
        tetherNamespace: opts.tetherNamespace,
        ...(ref.owner ? { owner: ref.owner } : {}),
        ...(namespaceLabels.has(namespace) ? { namespaceLabels: namespaceLabels.get(namespace) } : {}),
      });
      applyToYaml(doc, ref.path, chain.patch);
      const name = stringAt(value, ['metadata', 'name']) ?? stringAt(value, ['metadata', 'generateName']) ?? '(unnamed)';
      templates.push({ documentIndex: i, object: `${String(value.kind)} ${namespace}/${name}${ref.path.includes('items') ? ` (${ref.path.join('.')})` : ''}`, decisions: chain.decisions });
    }
  });

  const output = out
    .map((d, i) => {
      const text = d.toString({ lineWidth: 0 });
      return i > 0 && !text.startsWith('---') ? `---\n${text}` : text;
    })
    .join('');
  return { output, templates };
}

/** Labels of Namespace documents in the same stream (their Pod Security level shapes the init containers). */
function namespaceLabelsIn(values: readonly (Record<string, unknown> | undefined)[]): Map<string, StringMap> {
  const out = new Map<string, StringMap>();
  for (const v of values) {
    const name = v && v.kind === 'Namespace' ? stringAt(v, ['metadata', 'name']) : undefined;
    const labels = v ? (v.metadata as { labels?: unknown } | undefined)?.labels : undefined;
    if (name && typeof labels === 'object' && labels !== null && POD_SECURITY_ENFORCE_LABEL in labels) out.set(name, labels as StringMap);
  }
  return out;
}

function stringAt(v: unknown, path: readonly string[]): string | undefined {
  const x = path.reduce<unknown>((o, k) => (typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined), v);
  return typeof x === 'string' && x !== '' ? x : undefined;
}

/** Applies `add`/`replace` operations (relative to the pod at `base`) to the YAML document's nodes. */
function applyToYaml(doc: Document, base: readonly string[], ops: readonly JsonPatchOp[]): void {
  for (const op of ops) {
    if (op.op !== 'add' && op.op !== 'replace') throw new Error(`unexpected ${op.op} operation from the webhook chain`);
    const tokens = [...base, ...parsePointer(op.path)];
    const last = tokens.pop() as string;
    const parent = doc.getIn(tokens.map((t) => (/^\d+$/.test(t) ? Number(t) : t)), true);
    const node = doc.createNode(op.value);
    if (isSeq(parent)) {
      if (last === '-') parent.items.push(node);
      else if (op.op === 'add') parent.items.splice(Number(last), 0, node);
      else parent.items[Number(last)] = node;
    } else if (isMap(parent)) {
      parent.set(last, node);
    } else {
      throw new Error(`cannot apply ${op.op} ${op.path}: parent is not a map or list`);
    }
  }
}
