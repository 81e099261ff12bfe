/** The kubelet's env building (test/helpers/podEnv.ts) that the intake e2e starts its app with. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { injectConfig } from '../../../src/admission/configInjection.js';
import { ENV_EXTERNAL_ENV } from '../../../src/config/index.js';
import { expandKubeRefs, resolveContainerEnv, type PodEnvVar } from '../../helpers/podEnv.js';
import { applyWithOracle } from '../../helpers/patch.js';
import { ctx } from '../fixtures.js';

const vars: Record<string, string> = { A: 'a', B: 'b', EMPTY: '' };
const expand = (s: string): string => expandKubeRefs(s, (n) => vars[n]);

describe('expandKubeRefs: Kubernetes $(VAR) expansion', () => {
  test('references to known variables are replaced, anywhere in the value', () => {
    assert.equal(expand('$(A)'), 'a');
    assert.equal(expand('x-$(A)-$(B)-y'), 'x-a-b-y');
    assert.equal(expand('$(A)$(B)'), 'ab');
    assert.equal(expand('[$(EMPTY)]'), '[]');
  });

  test('unknown references stay literal', () => {
    assert.equal(expand('$(NOPE)'), '$(NOPE)');
    assert.equal(expand('pu-$(NOPE),$(A)'), 'pu-$(NOPE),a');
    assert.equal(expand('$()'), '$()');
  });

  test('$$ escapes the operator: $$(A) is the literal $(A), $$$(A) a dollar then a', () => {
    assert.equal(expand('$$(A)'), '$(A)');
    assert.equal(expand('$$$(A)'), '$a');
    assert.equal(expand('$$'), '$');
    assert.equal(expand('cost: $$5'), 'cost: $5');
  });

  test('a $ not starting an expression, a trailing $ and an unterminated $( are kept as they are', () => {
    assert.equal(expand('$A'), '$A');
    assert.equal(expand('a$'), 'a$');
    assert.equal(expand('$(A'), '$(A');
    assert.equal(expand('x$(A$(B'), 'x$(A$(B');
    assert.equal(expand('$'), '$');
    assert.equal(expand(''), '');
    assert.equal(expand('no refs'), 'no refs');
  });

  test('the name runs to the first closing parenthesis; the result is not expanded again', () => {
    assert.equal(expand('$($(A))'), '$($(A))');
    assert.equal(expandKubeRefs('$(X)', (n) => (n === 'X' ? '$(A)' : vars[n])), '$(A)');
  });
});

describe('resolveContainerEnv: a container env as the kubelet builds it', () => {
  const fields = { 'metadata.uid': 'uid-1', 'status.hostIP': '10.0.0.7' };

  test('fieldRefs resolve; values reference earlier variables only; later and unknown ones stay literal', () => {
    const env: PodEnvVar[] = [
      { name: 'EARLY', value: 'sees $(UID) and $(LATE)' },
      { name: 'UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
      { name: 'HOST', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
      { name: 'BOTH', value: '$(HOST)/$(UID)/$(NOPE)' },
      { name: 'LATE', value: 'late' },
    ];
    assert.deepEqual(resolveContainerEnv(env, fields), { EARLY: 'sees $(UID) and $(LATE)', UID: 'uid-1', HOST: '10.0.0.7', BOTH: '10.0.0.7/uid-1/$(NOPE)', LATE: 'late' });
  });

  test('a variable defined twice: the later definition wins, and references between them see the earlier one', () => {
    const env: PodEnvVar[] = [
      { name: 'X', value: 'one' },
      { name: 'Y', value: '$(X)' },
      { name: 'X', value: '$(X)-two' },
    ];
    assert.deepEqual(resolveContainerEnv(env, fields), { X: 'one-two', Y: 'one' });
  });

  test('an empty value falls back to valueFrom; no value and no source is empty; a field value is not expanded', () => {
    const env: PodEnvVar[] = [
      { name: 'A', value: '', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
      { name: 'B' },
      { name: 'C', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ];
    assert.deepEqual(resolveContainerEnv(env, { 'metadata.uid': 'u', 'metadata.name': '$(A)' }), { A: 'u', B: '', C: '$(A)' });
  });

  test('a field not given, or a source other than fieldRef, is an error naming the variable', () => {
    assert.throws(() => resolveContainerEnv([{ name: 'P', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }], fields), /env var P: no value given for the pod field status\.podIP/);
    assert.throws(() => resolveContainerEnv([{ name: 'S', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }], fields), /env var S: only valueFrom\.fieldRef .* not secretKeyRef/);
  });

  test("the config webhook's DD_EXTERNAL_ENV resolves to the pod's UID (it comes after DD_INTERNAL_POD_UID)", () => {
    const pod = { metadata: { name: 'p', namespace: 'ns', labels: {} }, spec: { containers: [{ name: 'app', image: 'x', env: [{ name: 'OWN', value: '$(DD_AGENT_HOST):8126' }] }] } };
    const { patch } = injectConfig(pod, ctx());
    const env = resolveContainerEnv(applyWithOracle(pod, patch).spec.containers[0]!.env as PodEnvVar[], fields);
    assert.equal(env[ENV_EXTERNAL_ENV], 'it-false,cn-app,pu-uid-1');
    assert.equal(env['DD_ENTITY_ID'], 'uid-1');
    assert.equal(env['OWN'], '10.0.0.7:8126');
  });
});

