/** Label selectors as the API server evaluates them. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeSelector, selectorMatches } from '../../../src/diagnose/labelSelector.js';

const pod = { app: 'datadog-cluster-agent', tier: 'web' };

describe('selectorMatches', () => {
  test('an empty selector selects everything, an absent one nothing', () => {
    assert.equal(selectorMatches({}, pod), true);
    assert.equal(selectorMatches({ matchLabels: {}, matchExpressions: [] }, {}), true);
    assert.equal(selectorMatches(undefined, pod), false);
    assert.equal(selectorMatches(null, pod), false);
  });
  test('matchLabels: every pair must be there with that value', () => {
    assert.equal(selectorMatches({ matchLabels: { app: 'datadog-cluster-agent' } }, pod), true);
    assert.equal(selectorMatches({ matchLabels: { app: 'datadog-cluster-agent', tier: 'db' } }, pod), false);
    assert.equal(selectorMatches({ matchLabels: { other: '' } }, pod), false);
  });
  test('In / NotIn / Exists / DoesNotExist, as Kubernetes: NotIn and DoesNotExist match a missing label', () => {
    const m = (operator: string, key: string, values?: string[]) => selectorMatches({ matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] }, pod);
    assert.equal(m('In', 'tier', ['web', 'db']), true);
    assert.equal(m('In', 'tier', ['db']), false);
    assert.equal(m('In', 'missing', ['x']), false);
    assert.equal(m('NotIn', 'tier', ['db']), true);
    assert.equal(m('NotIn', 'tier', ['web']), false);
    assert.equal(m('NotIn', 'missing', ['x']), true);
    assert.equal(m('Exists', 'app'), true);
    assert.equal(m('Exists', 'missing'), false);
    assert.equal(m('DoesNotExist', 'missing'), true);
    assert.equal(m('DoesNotExist', 'app'), false);
    assert.equal(m('Gt', 'app', ['1']), false, 'an operator the API server would refuse selects nothing');
  });
  test('labels and expressions together must all hold', () => {
    const sel = { matchLabels: { app: 'datadog-cluster-agent' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['db'] }] };
    assert.equal(selectorMatches(sel, pod), false);
    assert.equal(selectorMatches(sel, { ...pod, tier: 'db' }), true);
  });
  test('a label present on the object prototype is not a label', () => {
    assert.equal(selectorMatches({ matchExpressions: [{ key: 'toString', operator: 'Exists' }] }, {}), false);
  });
});

describe('describeSelector', () => {
  test("kubectl's notation", () => {
    assert.equal(describeSelector({}), '<all>');
    assert.equal(describeSelector(undefined), '<none>');
    assert.equal(
      describeSelector({ matchLabels: { app: 'x' }, matchExpressions: [{ key: 't', operator: 'In', values: ['a', 'b'] }, { key: 'u', operator: 'NotIn', values: ['c'] }, { key: 'v', operator: 'Exists' }, { key: 'w', operator: 'DoesNotExist' }] }),
      'app=x,t in (a,b),u notin (c),v,!w',
    );
  });
});
