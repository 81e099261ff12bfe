/**
 * The two ends of a review: reading a pod at the boundary (which field is wrong, named exactly; paths are
 * built only on failure, so each path is checked here) and writing the answer (text around the base64
 * patch, which must parse to exactly the AdmissionReview the object form gives, whatever the strings hold).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { asPod, encodeAdmissionResponse, InvalidObject, type JsonPatchOp } from '../../../src/admission/index.js';

const container = (extra: Record<string, unknown> = {}) => ({ name: 'app', image: 'app:1', ...extra });
const pod = (spec: Record<string, unknown>, metadata: Record<string, unknown> = { name: 'p' }) => ({ metadata, spec: { containers: [container()], ...spec } });

test('asPod names the first wrong field of a pod by its full path', () => {
  const cases: [unknown, string][] = [
    [pod({ containers: [container(), { image: 'x' }] }), 'request.object.spec.containers[1].name: expected a non-empty string, got nothing'],
    [pod({ containers: [container(), 'app'] }), 'request.object.spec.containers[1]: expected an object, got string "app"'],
    [pod({ containers: [container({ env: [{ name: 'A', value: 'a' }, { name: '' }] })] }), 'request.object.spec.containers[0].env[1].name: expected a non-empty string, got string ""'],
    [pod({ containers: [container({ env: [{ name: 'A', value: 3 }] })] }), 'request.object.spec.containers[0].env[0].value: expected a string, got number 3'],
    [pod({ containers: [container({ env: {} })] }), 'request.object.spec.containers[0].env: expected an array, got an object'],
    [pod({ containers: [container({ volumeMounts: [{ name: 'v', mountPath: '/v' }, { name: 'w' }] })] }), 'request.object.spec.containers[0].volumeMounts[1].mountPath: expected a string, got nothing'],
    [pod({ initContainers: [container(), container({ env: [null] })] }), 'request.object.spec.initContainers[1].env[0]: expected an object, got null'],
    [pod({ volumes: [{ name: 'v' }, { emptyDir: {} }] }), 'request.object.spec.volumes[1].name: expected a non-empty string, got nothing'],
    [pod({}, { name: 7 }), 'request.object.metadata.name: expected a string, got number 7'],
    [pod({}, { annotations: { a: 'x', b: false } }), 'request.object.metadata.annotations["b"]: expected a string, got boolean false'],
    [pod({}, { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'r' }, { apiVersion: 'v1', name: 'x' }] }), 'request.object.metadata.ownerReferences[1].kind: expected a string, got nothing'],
  ];
  for (const [value, message] of cases) {
    assert.throws(
      () => asPod(value, 'request.object'),
      (e: unknown) => e instanceof InvalidObject && e.message === message,
      message,
    );
  }
});

test('asPod accepts a pod with null optional lists and values, and returns it as is', () => {
  const value = pod({ initContainers: null, volumes: null, containers: [container({ env: [{ name: 'A', value: null, valueFrom: {} }], volumeMounts: null })] }, { name: 'p', labels: null });
  assert.equal(asPod(value), value);
});

/** What the answer must parse to: the AdmissionReview built as an object. */
function expected(version: string, uid: string, patch: readonly JsonPatchOp[], warnings: readonly string[], message: string | undefined) {
  const response: Record<string, unknown> = { uid, allowed: true };
  if (patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
  }
  if (warnings.length > 0) response.warnings = warnings.slice(0, 10).map((w) => (w.length > 256 ? w.slice(0, 253) + '...' : w));
  if (message) response.status = { message };
  return { apiVersion: version, kind: 'AdmissionReview', response };
}

test('the encoded answer is the AdmissionReview the object form gives, for any strings in it', () => {
  const text = fc.string({ unit: 'binary', maxLength: 40 });
  const op = fc.record({ op: fc.constant('add' as const), path: text, value: fc.jsonValue({ maxDepth: 3 }) });
  fc.assert(
    fc.property(
      fc.constantFrom('admission.k8s.io/v1', 'admission.k8s.io/v1beta1'),
      text,
      fc.array(op, { maxLength: 4 }),
      fc.array(fc.string({ unit: 'binary', maxLength: 300 }), { maxLength: 12 }),
      fc.option(text, { nil: undefined }),
      (version, uid, patch, warnings, message) => {
        const answer = encodeAdmissionResponse(version as 'admission.k8s.io/v1', uid, { patch, warnings, ...(message !== undefined ? { message } : {}) });
        assert.deepEqual(JSON.parse(answer), expected(version, uid, patch, warnings, message));
      },
    ),
    { numRuns: 500 },
  );
});
