/**
 * The single webhook entry (issue 22, `admission_controller.webhook_entries: single`): one call applies
 * config, tags and libraries with the same pure functions, as one patch. The pod it makes is the pod the
 * three separate entries make; routes, the webhook configuration and the reviews follow the shape.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import fjp from 'fast-json-patch';
import {
  applyPatch,
  entryEndpoint,
  entryName,
  mutateInOrder,
  mutatePod,
  runWebhookChain,
  webhookEntries,
  type JsonPatchOp,
  type Pod,
} from '../../../src/admission/index.js';
import { WEBHOOK_KINDS } from '../../../src/config/index.js';
import { desiredWebhookConfiguration } from '../../../src/controllers/webhookConfiguration.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { handleAdmission, webhookRoutes } from '../../../src/server/index.js';
import { testConfig } from '../../helpers/config.js';
import { assertSamplePodMutated } from '../../helpers/expectations.js';
import { applyWithOracle } from '../../helpers/patch.js';
import { patchOf, responseOf, reviewBody, samplePod } from '../../helpers/reviews.js';
import { ctx, pod } from '../fixtures.js';
import { configArb, ownerArb, podArb } from './arbitraries.js';

const RUNS = Number(process.env.TETHER_PROPERTY_RUNS ?? 200);
const SINGLE = { 'admission_controller.webhook_entries': 'single' } as const;

describe('the entries of each shape', () => {
  test('separate: one entry per enabled webhook, under the seeds\' names and paths', () => {
    const c = testConfig();
    const entries = webhookEntries(c);
    assert.deepEqual(
      entries.map((e) => [e.id, e.kinds, entryName(e, c), entryEndpoint(e, c)]),
      [
        ['config', ['config'], 'datadog.webhook.config', '/injectconfig'],
        ['tags', ['tags'], 'datadog.webhook.tags', '/injecttags'],
        ['lib', ['lib'], 'datadog.webhook.auto.instrumentation', '/injectlib'],
      ],
    );
  });

  test('single: one entry running the enabled webhooks in the separate entries\' order; none when all are off', () => {
    const c = testConfig({ ...SINGLE, 'admission_controller.inject_tags.enabled': false });
    assert.deepEqual(
      webhookEntries(c).map((e) => [e.id, e.kinds, entryName(e, c), entryEndpoint(e, c)]),
      [['inject', ['config', 'lib'], 'datadog.webhook.inject', '/inject']],
    );
    const off = testConfig({ ...SINGLE, 'admission_controller.inject_config.enabled': false, 'admission_controller.inject_tags.enabled': false, 'admission_controller.auto_instrumentation.enabled': false });
    assert.deepEqual(webhookEntries(off), []);
  });

  test('the server routes the single path only; the webhook configuration has the one entry', () => {
    const c = testConfig(SINGLE);
    assert.deepEqual([...webhookRoutes(c).entries()].map(([path, e]) => [path, e.id]), [['/inject', 'inject']]);
    const d = desiredWebhookConfiguration({ config: c, namespace: 'datadog', caBundlePem: 'PEM' });
    assert.deepEqual(d.webhooks?.map((w) => [w.name, w.clientConfig.service?.path, w.reinvocationPolicy]), [['datadog.webhook.inject', '/inject', 'IfNeeded']]);
  });
});

describe('one review, three mutations', () => {
  test('the single entry\'s patch makes the pod the three entries make, and does not touch its input', () => {
    fc.assert(
      fc.property(podArb, configArb, ownerArb, (p, cfg, owner) => {
        const separate = ctx(cfg, owner ? { owner } : {});
        const single = ctx({ ...cfg, ...SINGLE }, owner ? { owner } : {});
        const frozen = structuredClone(p);
        const r = mutateInOrder(WEBHOOK_KINDS, p, single);
        assert.deepEqual(p, frozen, 'the input pod is not modified');
        // Independent oracle for the combined patch, and the same end state as the separate entries.
        const out = fjp.applyPatch(structuredClone(p), fjp.deepClone(r.patch), true, true).newDocument as Pod;
        assert.deepEqual(out, runWebhookChain(p, separate).pod);
        assert.deepEqual(out, r.pod);
        // The patch is the separate entries' patches one after the other (each computed on a fresh copy):
        // the in-place application shares nothing with the operations it returns.
        const expected: JsonPatchOp[] = [];
        let current = p;
        for (const kind of WEBHOOK_KINDS) {
          const step = mutatePod(kind, current, single);
          expected.push(...step.patch);
          current = applyPatch(current, step.patch);
        }
        assert.deepEqual(r.patch, expected);
      }),
      { numRuns: RUNS },
    );
  });

  test('the chain with the single entry is one pass: nothing of Tether\'s is reinvoked', () => {
    const p = pod({ labels: { 'tags.datadoghq.com/env': 'prod' }, annotations: { 'admission.datadoghq.com/java-lib.version': 'v1' } });
    const separate = runWebhookChain(p, ctx());
    const single = runWebhookChain(p, ctx(SINGLE));
    assert.deepEqual(single.pod, separate.pod);
    const selections = (ds: readonly { what: string; outcome: string }[]) => ds.filter((d) => d.what === 'pod' && d.outcome === 'selected').length;
    assert.equal(selections(single.decisions), 3);
    // The separate chain's reinvocations add decisions (none injected: a second pass changes nothing).
    assert.equal(separate.decisions.filter((d) => d.outcome === 'injected').length, single.decisions.filter((d) => d.outcome === 'injected').length);
  });

  test('handleAdmission on the single entry: one patch with all three webhooks\' work, applied by an independent implementation', async () => {
    const config = testConfig(SINGLE);
    const [entry] = webhookEntries(config);
    const before = samplePod();
    const reply = await handleAdmission(reviewBody({ object: before }), entry!, { config, tetherNamespace: 'datadog', logger: silentLogger() });
    assert.equal(reply.outcome, 'mutated');
    const after = applyWithOracle(before, patchOf(responseOf(reply.body)));
    assertSamplePodMutated('lib', before, after);
    const env = (after.spec as { containers: { env: { name: string }[] }[] }).containers[0]!.env.map((e) => e.name);
    for (const name of ['DD_AGENT_HOST', 'DD_ENTITY_ID', 'DD_ENV', 'PYTHONPATH', 'PORT']) assert.ok(env.includes(name), `${name} in ${env.join(', ')}`);
    const again = await handleAdmission(reviewBody({ object: after }), entry!, { config, tetherNamespace: 'datadog', logger: silentLogger() });
    assert.equal(again.outcome, 'unchanged');
  });
});
