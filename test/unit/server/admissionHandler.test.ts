import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { handleAdmission, renderWarning, type AdmissionDeps, type FactResolver } from '../../../src/server/index.js';
import { RESTRICTED_SECURITY_CONTEXT, type WebhookEntry } from '../../../src/admission/index.js';
import { WEBHOOK_KINDS, type WebhookKind } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { testConfig } from '../../helpers/config.js';
import { recordingLogger } from '../../helpers/logs.js';
import { applyWithOracle } from '../../helpers/patch.js';
import { assertSamplePodMutated } from '../../helpers/expectations.js';
import { admissionReview, patchOf, responseOf, reviewBody, samplePod, untaggedPod, type ReviewOptions } from '../../helpers/reviews.js';

/** A webhook's own entry (the separate shape). */
const one = (kind: WebhookKind): WebhookEntry => ({ id: kind, kinds: [kind] });

const deps = (over: Partial<AdmissionDeps> = {}): AdmissionDeps => ({ config: testConfig(), tetherNamespace: 'datadog', logger: silentLogger(), ...over });

async function review(kind: WebhookKind, o: ReviewOptions, d = deps()) {
  const reply = await handleAdmission(reviewBody(o), one(kind), d);
  return { reply, response: reply.status === 200 ? responseOf(reply.body, o.version) : undefined };
}

describe('handleAdmission: pods that are mutated', () => {
  for (const kind of WEBHOOK_KINDS) {
    test(`${kind}: the patch decodes and applies (fast-json-patch) to the expected pod; a second pass changes nothing`, async () => {
      const pod = samplePod();
      const { reply, response } = await review(kind, { object: pod, uid: `uid-${kind}` });
      assert.equal(reply.status, 200);
      assert.equal(reply.contentType, 'application/json');
      assert.equal(reply.outcome, 'mutated');
      assert.ok(reply.injections > 0);
      assert.equal(response?.uid, `uid-${kind}`);
      assert.equal(response?.allowed, true);
      assert.equal(response?.status, undefined);
      const after = applyWithOracle(pod, patchOf(response!));
      assertSamplePodMutated(kind, pod, after);

      const again = await review(kind, { object: after });
      assert.equal(again.reply.outcome, 'unchanged');
      assert.deepEqual(patchOf(again.response!), []);
    });
  }

  test('v1beta1 is answered in v1beta1 with the same uid', async () => {
    const { reply, response } = await review('config', { version: 'admission.k8s.io/v1beta1', uid: 'beta-uid', object: samplePod() });
    assert.equal(reply.outcome, 'mutated');
    assert.equal(JSON.parse(reply.body).apiVersion, 'admission.k8s.io/v1beta1');
    assert.equal(response?.uid, 'beta-uid');
    assert.ok(patchOf(response!).length > 0);
  });

  test('dryRun requests are answered exactly like the others', async () => {
    const wet = await handleAdmission(reviewBody({ object: samplePod() }), one('lib'), deps());
    const dry = await handleAdmission(reviewBody({ object: samplePod(), dryRun: true }), one('lib'), deps());
    assert.deepEqual(dry, wet);
  });

  test('the namespace comes from the request, else the pod, else default', async () => {
    // The pod's metadata says apps, but the request's namespace (Tether's own) wins: not mutated.
    assert.equal((await review('config', { object: samplePod(), namespace: 'datadog' })).reply.outcome, 'skipped');
    assert.equal((await review('config', { object: samplePod(), namespace: '' })).reply.outcome, 'mutated');
    const inTether = samplePod();
    (inTether.metadata as { namespace: string }).namespace = 'datadog';
    assert.equal((await review('config', { object: inTether, namespace: '' })).reply.outcome, 'skipped');
  });

  test('pods not opted in are skipped, without a patch', async () => {
    const { reply, response } = await review('config', { object: samplePod({ labels: { 'admission.datadoghq.com/enabled': 'false' } }) });
    assert.equal(reply.outcome, 'skipped');
    assert.deepEqual(patchOf(response!), []);
  });

  test('decisions flagged as warnings reach kubectl as admission warnings', async () => {
    const { response } = await review('config', { object: samplePod({ labels: { 'admission.datadoghq.com/enabled': 'yes' } }) });
    assert.equal(response?.warnings?.length, 1);
    assert.match(response!.warnings![0]!, /^tether config: label admission\.datadoghq\.com\/enabled="yes" is neither .*only "true" and "false" are understood\)$/);
    assert.equal(renderWarning({ webhook: 'lib', outcome: 'skipped', what: 'library python', container: 'web', detail: 'why' }), 'tether lib: did not inject library python in container web: why');
  });
});

describe('handleAdmission: requests that are allowed without a patch', () => {
  test('a non-pod object', async () => {
    const { reply, response } = await review('config', {
      kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      resource: { group: 'apps', version: 'v1', resource: 'deployments' },
      object: { metadata: { name: 'd' }, spec: {} },
    });
    assert.equal(reply.status, 200);
    assert.equal(reply.outcome, 'skipped');
    assert.equal(response?.allowed, true);
    assert.equal(response?.patch, undefined);
    assert.match(response?.status?.message ?? '', /only mutates pods being created; CREATE of Deployment\.apps/);
  });

  test('an UPDATE, and a pod subresource', async () => {
    const upd = await review('tags', { operation: 'UPDATE', object: samplePod() });
    assert.equal(upd.response?.allowed, true);
    assert.equal(upd.response?.patch, undefined);
    assert.match(upd.response?.status?.message ?? '', /UPDATE of Pod/);
    const binding = await review('tags', { subResource: 'binding', object: { target: {} } });
    assert.match(binding.response?.status?.message ?? '', /CREATE of Pod\/binding/);
  });

  test('an object that is not a valid pod: fail open, naming the field', async () => {
    const { reply, response } = await review('config', { object: { metadata: { name: 'x' }, spec: { containers: 'nope' } } });
    assert.equal(reply.status, 200);
    assert.equal(reply.outcome, 'error');
    assert.equal(response?.allowed, true);
    assert.equal(response?.patch, undefined);
    assert.match(response?.status?.message ?? '', /could not read the pod.*request\.object\.spec\.containers: expected an array/);
  });

  test('an exception inside the mutation: fail open, with an error log', async () => {
    const rec = recordingLogger('info');
    const facts: FactResolver = {
      // An owner whose labels blow up when read: a bug stand-in deep inside the mutation.
      owner: async (_ns, ref) => ({ found: true, kind: ref.kind, name: ref.name, labels: new Proxy({}, { get: () => { throw new Error('boom'); } }) }),
      namespaceLabels: async () => undefined,
    };
    const { reply, response } = await review('tags', { object: untaggedPod(), uid: 'u-err' }, deps({ facts, logger: rec.logger }));
    assert.equal(reply.status, 200);
    assert.equal(reply.outcome, 'error');
    assert.equal(response?.uid, 'u-err');
    assert.equal(response?.allowed, true);
    assert.equal(response?.patch, undefined);
    assert.match(response?.status?.message ?? '', /^Tether could not run its tags webhook, the pod was not mutated: boom$/);
    assert.ok(rec.lines().some((l) => l.level === 50 && l.uid === 'u-err'), 'an error is logged');
  });
});

describe('handleAdmission: outside facts', () => {
  test("the owner's labels give the tags; the resolver is asked for the pod's first owner", async () => {
    const asked: string[] = [];
    const facts: FactResolver = {
      owner: async (ns, ref) => {
        asked.push(`${ns}/${ref.kind}/${ref.name}`);
        return { found: true, kind: 'Deployment', name: 'web', labels: { 'tags.datadoghq.com/service': 'web-svc' } };
      },
      namespaceLabels: async () => undefined,
    };
    const pod = untaggedPod();
    const { response } = await review('tags', { object: pod }, deps({ facts }));
    assert.deepEqual(asked, ['apps/ReplicaSet/web-7d4b9c']);
    const after = applyWithOracle(pod, patchOf(response!)) as { spec: { containers: { env: unknown[] }[] } };
    assert.deepEqual(after.spec.containers[0]?.env[0], { name: 'DD_SERVICE', value: 'web-svc' });
  });

  test('without a resolver the owner is unknown: no tags, no failure', async () => {
    const { reply, response } = await review('tags', { object: untaggedPod() });
    assert.equal(reply.outcome, 'unchanged');
    assert.equal(response?.allowed, true);
    assert.deepEqual(patchOf(response!), []);
  });

  test('a resolver that throws: the owner is "not found", the pod is allowed with a warning', async () => {
    const facts: FactResolver = {
      owner: () => {
        throw new Error('replicasets.apps "web-7d4b9c" is forbidden');
      },
      namespaceLabels: async () => {
        throw new Error('unreachable');
      },
    };
    const { reply, response } = await review('tags', { object: untaggedPod() }, deps({ facts }));
    assert.equal(reply.status, 200);
    assert.equal(response?.allowed, true);
    assert.deepEqual(patchOf(response!), []);
    assert.match(response?.warnings?.join('\n') ?? '', /could not read the pod's owner: replicasets\.apps "web-7d4b9c" is forbidden/);
  });

  test('an owner slower than the budget: answered within the budget, with a warning, and the resolver is told to stop', async () => {
    let signalled: AbortSignal | undefined;
    const facts: FactResolver = {
      owner: (_ns, _ref, signal) => {
        signalled = signal;
        return new Promise((resolve) => setTimeout(() => resolve({ found: true, kind: 'Deployment', name: 'web', labels: {} }), 5_000).unref());
      },
      namespaceLabels: async () => undefined,
    };
    // timeout_seconds 1 → 1000 ms − 500 ms margin = 500 ms for facts.
    const config = testConfig({ 'admission_controller.timeout_seconds': 1 });
    const started = Date.now();
    const { reply, response } = await review('tags', { object: untaggedPod() }, deps({ facts, config }));
    const took = Date.now() - started;
    assert.ok(took >= 450 && took < 1000, `answered in ${took} ms`);
    assert.equal(reply.status, 200);
    assert.equal(response?.allowed, true);
    assert.match(response?.warnings?.join('\n') ?? '', /could not read the pod's owner: no answer within 500 ms/);
    assert.equal(signalled?.aborted, true);
  });

  test('namespace labels decide the default security context of the init containers', async () => {
    const facts: FactResolver = {
      owner: async () => ({ found: false, reason: 'unused' }),
      namespaceLabels: async (ns) => (ns === 'apps' ? { 'pod-security.kubernetes.io/enforce': 'restricted' } : undefined),
    };
    const pod = samplePod();
    const { response } = await review('lib', { object: pod }, deps({ facts }));
    const after = applyWithOracle(pod, patchOf(response!)) as { spec: { initContainers: { securityContext?: unknown }[] } };
    assert.deepEqual(after.spec.initContainers[0]?.securityContext, RESTRICTED_SECURITY_CONTEXT);
  });

  test('namespace labels that cannot be read: injected anyway, with a warning', async () => {
    const facts: FactResolver = { owner: async () => ({ found: false, reason: 'unused' }), namespaceLabels: () => Promise.reject(new Error('forbidden')) };
    const { reply, response } = await review('lib', { object: samplePod() }, deps({ facts }));
    assert.equal(reply.outcome, 'mutated');
    assert.match(response?.warnings?.join('\n') ?? '', /could not read the labels of namespace apps/);
  });

  test('a failed namespace read is recognised by its fact, not by the wording of its reason', async () => {
    const rec = recordingLogger('info');
    // A reason in no particular wording, and not even an Error.
    const facts: FactResolver = { owner: async () => ({ found: false, reason: 'unused' }), namespaceLabels: () => Promise.reject('ECONNRESET') };
    const { reply, response } = await review('lib', { object: samplePod() }, deps({ facts, logger: rec.logger }));
    assert.equal(reply.outcome, 'mutated');
    assert.match(response?.warnings?.join('\n') ?? '', /could not read the labels of namespace apps; init containers get no Pod Security default/);
    const warning = rec.lines().find((l) => l.msg === 'could not resolve every fact the webhook needs');
    assert.deepEqual(warning?.['problems'], ['labels of namespace apps: ECONNRESET']);
  });

  test('an owner that cannot be read does not claim the namespace labels are missing', async () => {
    const facts: FactResolver = {
      owner: () => Promise.reject(new Error('labels of namespace apps: a misleading reason')),
      namespaceLabels: async () => ({}),
    };
    const { response } = await review('tags', { object: untaggedPod() }, deps({ facts }));
    const warnings = response?.warnings?.join('\n') ?? '';
    assert.match(warnings, /could not read the pod's owner/);
    assert.doesNotMatch(warnings, /could not read the labels of namespace/);
  });
});

describe('handleAdmission: malformed reviews are 400s with a clear message', () => {
  const bad = async (body: string | object) => handleAdmission(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), one('config'), deps());

  test('invalid JSON', async () => {
    const r = await bad('{"apiVersion": ');
    assert.equal(r.status, 400);
    assert.equal(r.outcome, 'rejected');
    assert.match(r.body, /^invalid JSON in the request body: /);
  });

  test('no request, unknown apiVersion, not an object, missing uid', async () => {
    const noRequest = { ...admissionReview(), request: undefined };
    assert.match((await bad(noRequest)).body, /malformed AdmissionReview: request: missing/);
    assert.match((await bad({ ...admissionReview(), apiVersion: 'admission.k8s.io/v2' })).body, /apiVersion: expected one of admission\.k8s\.io\/v1, admission\.k8s\.io\/v1beta1, got "admission\.k8s\.io\/v2"/);
    assert.match((await bad('[1,2]')).body, /must be a JSON object/);
    const r = admissionReview() as { request: Record<string, unknown> };
    delete r.request.uid;
    const noUid = await bad(r);
    assert.equal(noUid.status, 400);
    assert.match(noUid.body, /request\.uid/);
  });
});

describe('handleAdmission: logs', () => {
  test('debug shows the decisions; nothing logs the body or env values', async () => {
    const rec = recordingLogger('debug');
    const pod = samplePod();
    (pod.spec as { containers: { env: unknown[] }[] }).containers[0]!.env.push({ name: 'DB_PASSWORD', value: 'hunter2-secret' });
    await handleAdmission(reviewBody({ object: pod }), one('config'), deps({ logger: rec.logger }));
    await handleAdmission(Buffer.from('{"password":"hunter2-secret"'), one('config'), deps({ logger: rec.logger }));
    assert.ok(rec.lines().some((l) => /^Injecting env var DD_AGENT_HOST into container web of pod web-7d4b9c-x2x9z in namespace apps/.test(String(l.msg))));
    assert.doesNotMatch(rec.text(), /hunter2/);
  });
});
