/** How a check with several findings reports one outcome. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Findings } from '../../../src/diagnose/findings.js';

describe('Findings', () => {
  test('nothing found: ok, with the evidence gathered', () => {
    assert.deepEqual(new Findings().evidence('a', 'b', 'a').outcome('fine'), { status: 'ok', summary: 'fine', evidence: ['a', 'b'], fix: '' });
  });
  test('the worst status wins; its first problem is the summary; every problem heads its own evidence; each fix once, numbered, the worst first', () => {
    const r = new Findings()
      .evidence('looked at x')
      .add('warning', 'due soon', 'renew', ['w'])
      .add('error', 'broken', 'repair', ['e'])
      .add('error', 'also broken', 'repair')
      .outcome('fine');
    assert.deepEqual(r, {
      status: 'error',
      summary: 'broken (and 2 more problems: see the evidence)',
      evidence: ['looked at x', 'problem: broken', 'e', 'problem: also broken', 'problem: due soon', 'w'],
      fix: '1. repair\n2. renew',
    });
    assert.deepEqual(new Findings().add('error', 'broken', 'repair', ['e']).outcome('fine'), { status: 'error', summary: 'broken', evidence: ['e'], fix: 'repair' });
    assert.equal(new Findings().add('warning', 'due soon', 'renew').outcome('fine').summary, 'due soon');
  });
});
