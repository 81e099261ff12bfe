/** What the node agent's clients reject with, as the tests expect it. */
import assert from 'node:assert/strict';
import { UpstreamError, type ProblemCode } from '../../src/nodeagent/problems.js';

/** The `UpstreamError` `p` rejects with (with the problem `code`, when given); fails when it resolves. */
export async function expectUpstreamError(p: Promise<unknown>, code?: ProblemCode): Promise<UpstreamError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof UpstreamError, `expected an UpstreamError, got ${String(e)}`);
    if (code !== undefined) assert.equal(e.problem.code, code, e.message);
    return e;
  }
  assert.fail(code ? `expected a ${code} problem` : 'expected a failure');
}
