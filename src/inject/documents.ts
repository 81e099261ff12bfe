/**
 * Offline injection over a stream of manifests (YAML or JSON, one or many documents): every Pod and pod
 * template is mutated exactly as the webhook chain would mutate the pods, other documents pass through.
 *
 * The output is the input with the injection added, and nothing else: a document with nothing to inject
 * comes out byte for byte, and the webhook chain's JSON Patch is written into a mutated document's own
 * text, in its own formatting (sourceEdit.ts), so `diff` of input and output shows exactly the injection.
 * Duplicate keys are read as kubectl reads them (the last value wins) and reported as warnings.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, visit, type Document } from 'yaml';
import { POD_SECURITY_ENFORCE_LABEL, type TetherConfig } from '../config/index.js';
import { asPod, InvalidObject, type Pod, type StringMap } from '../admission/pod.js';
import { applyPatch, pointer, type JsonPatchOp } from '../admission/jsonpatch.js';
import type { Decision } from '../admission/types.js';
import { runWebhookChain } from '../admission/webhooks.js';
import { podTemplatesOf } from '../admission/workloads.js';
import { duplicateKeyMessage, duplicateKeys } from './duplicateKeys.js';
import { parseManifests, toValue } from './parse.js';
import { writeMutated } from './reformat.js';

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

/** Something the user should know that does not stop the injection (the CLI prints it on stderr). */
export interface InjectWarning {
  readonly documentIndex: number;
  readonly line: number | undefined;
  /** `document N (line L): …` */
  readonly message: string;
}

export interface InjectResult {
  /** The input with the injection added; byte for byte the input where nothing was injected. */
  readonly output: string;
  readonly templates: readonly InjectedTemplate[];
  /** Duplicate keys (the last value used), and documents that had to be re-formatted. */
  readonly warnings: readonly InjectWarning[];
  /** Indices of documents that could not be edited in place and were re-serialised instead. */
  readonly reformatted: readonly number[];
}

export function injectDocuments(text: string, opts: InjectOptions): InjectResult {
  const lines = new LineCounter();
  const docs = parseManifests(text, lines);
  const lineOf = (offset: number | undefined) => (offset === undefined ? undefined : lines.linePos(offset).line);

  // Everything is validated before anything is written: bad input yields no partial output.
  const values = docs.map((doc, i) => {
    const err = doc.errors[0];
    if (err) throw new InjectInputError(i, lineOf(err.pos[0]), `not valid YAML or JSON: ${err.message.split('\n')[0]}`);
    // An empty document (`---` with nothing after it) holds nothing, as kubectl sees it.
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return undefined;
    if (!isMap(doc.contents)) throw new InjectInputError(i, lineOf(doc.contents.range?.[0]), 'expected an object (a Kubernetes manifest)');
    try {
      return toValue(doc) as Record<string, unknown>;
    } catch (e) {
      // An alias whose anchor is in another document (anchors are per document), or too many aliases.
      if (e instanceof ReferenceError) throw new InjectInputError(i, lineOf(unresolvedAlias(doc) ?? doc.contents.range?.[0]), `not valid YAML or JSON: ${e.message}`);
      // A YAML 1.1 merge key whose value is not a mapping (`<<: text`): kubectl refuses it too.
      const merge = badMergeKey(doc);
      if (merge !== undefined) throw new InjectInputError(i, lineOf(merge), `not valid YAML: a merge key (<<) must be followed by a mapping or an alias of one (${e instanceof Error ? e.message : String(e)})`);
      throw e;
    }
  });
  const warnings: InjectWarning[] = docs.flatMap((doc, i) => duplicateKeys(doc).map((d) => warning(i, lineOf(d.offset), duplicateKeyMessage(d))));
  const namespaceLabels = namespaceLabelsIn(values);

  // Each document's own source text, back to back: their concatenation is the input, byte for byte.
  const starts = docs.map((d, i) => (i === 0 ? 0 : d.range[0]));
  const templates: InjectedTemplate[] = [];
  const reformatted: number[] = [];
  // A stream with no document (empty, or only comments) has nothing to inject either.
  if (docs.length === 0) return { output: text, templates, warnings, reformatted };
  const pieces = values.map((value, i) => {
    const source = text.slice(starts[i], starts[i + 1] ?? text.length);
    if (value === undefined) return source;
    const docNamespace = stringAt(value, ['metadata', 'namespace']) ?? opts.namespace;
    /** The chain's operations for every pod template of the document, as paths from the document root. */
    const ops: JsonPatchOp[] = [];
    for (const ref of podTemplatesOf(value)) {
      const raw = ref.path.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], value);
      const at = ref.path.length ? ref.path.join('.') : 'the document';
      let pod: Pod;
      try {
        pod = asPod(raw, ref.path.join('.') || 'pod');
      } catch (e) {
        if (e instanceof InvalidObject) throw new InjectInputError(i, lineOf(docs[i]?.contents?.range?.[0]), `${at} is not a valid pod: ${e.message}`);
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
      const base = pointer(...ref.path);
      ops.push(...chain.patch.map((op) => ({ ...op, path: base + op.path })));
      const name = stringAt(value, ['metadata', 'name']) ?? stringAt(value, ['metadata', 'generateName']) ?? '(unnamed)';
      templates.push({ documentIndex: i, object: `${String(value.kind)} ${namespace}/${name}${ref.path.includes('items') ? ` (${ref.path.join('.')})` : ''}`, decisions: chain.decisions });
    }
    // A document nothing is added to comes out exactly as it came in.
    if (ops.length === 0) return source;
    const written = writeMutated(source, ops, applyPatch(value, ops), i);
    if (written.reformatted !== undefined) {
      reformatted.push(i);
      warnings.push(warning(i, lineOf(starts[i]), `could not be edited in place (${written.reformatted}); written re-formatted, so its diff shows more than the injection`));
    }
    return written.text;
  });
  return { output: pieces.join(''), templates, warnings, reformatted };
}

function warning(documentIndex: number, line: number | undefined, problem: string): InjectWarning {
  return { documentIndex, line, message: `document ${documentIndex}${line !== undefined ? ` (line ${line})` : ''}: ${problem}` };
}

/** Where the first alias without an anchor before it in its document is. */
function unresolvedAlias(doc: Document): number | undefined {
  let at: number | undefined;
  visit(doc, {
    Alias(_, alias) {
      if (at === undefined && alias.resolve(doc) === undefined) at = alias.range?.[0];
    },
  });
  return at;
}

/** Where the first merge key (`<<`, unquoted) whose value is not a mapping, an alias or a list of those is. */
function badMergeKey(doc: Document): number | undefined {
  let at: number | undefined;
  visit(doc, {
    Pair(_, pair) {
      if (at !== undefined || !isScalar(pair.key) || pair.key.source !== '<<' || pair.key.type !== 'PLAIN') return;
      const ok = (n: unknown): boolean => isMap(n) || isAlias(n);
      if (!(ok(pair.value) || (isSeq(pair.value) && pair.value.items.every(ok)))) at = pair.key.range?.[0];
    },
  });
  return at;
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
