/**
 * Properties of the three mutations over generated pods (SPEC §5): the patch applies (checked by an
 * independent JSON Patch implementation), keeps every input field, adds variables at the front, never
 * overwrites what the pod sets, and a second pass gives an empty patch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import fjp from 'fast-json-patch';
import { applyPatch, mutatePod, runWebhookChain, type Container, type Pod } from '../../../src/admission/index.js';
import { WEBHOOK_KINDS } from '../../../src/config/index.js';
import { ctx } from '../fixtures.js';
import { configArb, ownerArb, podArb } from './arbitraries.js';

const RUNS = Number(process.env.TETHER_PROPERTY_RUNS ?? 300);

/** Variables the library webhook may extend in place (append an option or prepend a path). */
const EXTENDED = new Set(['JAVA_TOOL_OPTIONS', 'NODE_OPTIONS', 'PYTHONPATH', 'RUBYOPT']);

/**
 * Where `after` fails to keep what `before` had, or undefined: objects keep every key with a kept value;
 * arrays keep their items in order (new items may be inserted); an extended variable's value must still
 * contain the old one. Plain recursion, no exceptions: it runs inside a subsequence search.
 */
function lost(before: unknown, after: unknown, path: string): string | undefined {
  if (Array.isArray(before)) {
    if (!Array.isArray(after)) return `${path}: array replaced`;
    let j = 0;
    for (const [i, item] of before.entries()) {
      while (j < after.length && lost(item, after[j], '') !== undefined) j++;
      if (j === after.length) return `${path}[${i}] lost or reordered: ${JSON.stringify(item)}`;
      j++;
    }
    return undefined;
  }
  if (typeof before === 'object' && before !== null) {
    if (typeof after !== 'object' || after === null || Array.isArray(after)) return `${path}: object replaced`;
    const a = after as Record<string, unknown>;
    const b = before as Record<string, unknown>;
    for (const k of Object.keys(b)) {
      if (!Object.prototype.hasOwnProperty.call(a, k)) return `${path}.${k} removed`;
      if (k === 'value' && typeof b.name === 'string' && EXTENDED.has(b.name) && typeof b[k] === 'string') {
        if (!String(a[k]).includes((b[k] as string).trim())) return `${path}.value lost its content`;
        continue;
      }
      const l = lost(b[k], a[k], `${path}.${k}`);
      if (l !== undefined) return l;
    }
    return undefined;
  }
  return Object.is(before, after) ? undefined : `${path} changed from ${JSON.stringify(before)} to ${JSON.stringify(after)}`;
}

function assertKeeps(before: unknown, after: unknown, path: string): void {
  const l = lost(before, after, path);
  assert.equal(l, undefined, l);
}

const containersOf = (p: Pod): Container[] => [...p.spec.containers, ...(p.spec.initContainers ?? [])];

test('each webhook: patch applies, keeps every field, prepends env, and is idempotent', () => {
  fc.assert(
    fc.property(podArb, configArb, ownerArb, fc.constantFrom(...WEBHOOK_KINDS), fc.boolean(), (pod, cfg, owner, kind, restricted) => {
      const c = ctx(cfg, { ...(owner ? { owner } : {}), ...(restricted ? { namespaceLabels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } : {}) });
      const frozen = structuredClone(pod);
      const r = mutatePod(kind, pod, c);
      assert.deepEqual(pod, frozen, 'the input pod is not modified');
      // Independent oracle: fast-json-patch validates each operation against the document.
      const out = fjp.applyPatch(structuredClone(pod), fjp.deepClone(r.patch), true, true).newDocument as Pod;
      assert.deepEqual(applyPatch(pod, r.patch), out);
      assertKeeps(pod, out, 'pod');
      // Added variables come first: the original ones follow, in their order.
      containersOf(out).forEach((co) => {
        const orig = containersOf(pod).find((x) => x.name === co.name)?.env ?? [];
        const now = co.env ?? [];
        assert.deepEqual(now.slice(now.length - orig.length).map((e) => e.name), orig.map((e) => e.name), `${co.name}: env order`);
      });
      assert.deepEqual(mutatePod(kind, out, c).patch, [], 'second pass is empty');
    }),
    { numRuns: RUNS },
  );
});

test('the whole chain keeps every field and reaches a fixed point', () => {
  fc.assert(
    fc.property(podArb, configArb, ownerArb, (pod, cfg, owner) => {
      const c = ctx(cfg, owner ? { owner } : {});
      const r = runWebhookChain(pod, c);
      assertKeeps(pod, r.pod, 'pod');
      const out = fjp.applyPatch(structuredClone(pod), fjp.deepClone(r.patch), true, true).newDocument;
      assert.deepEqual(out, r.pod);
      for (const kind of WEBHOOK_KINDS) assert.deepEqual(mutatePod(kind, r.pod, c).patch, [], `${kind} after the chain`);
    }),
    { numRuns: RUNS },
  );
});

test('an unselected pod is never patched', () => {
  fc.assert(
    fc.property(podArb, configArb, fc.constantFrom(...WEBHOOK_KINDS), (pod, cfg, kind) => {
      const labelled = { ...pod, metadata: { ...pod.metadata, labels: { ...pod.metadata?.labels, 'admission.datadoghq.com/enabled': 'false' } } };
      assert.deepEqual(mutatePod(kind, labelled, ctx(cfg)).patch, []);
    }),
    { numRuns: Math.ceil(RUNS / 3) },
  );
});
