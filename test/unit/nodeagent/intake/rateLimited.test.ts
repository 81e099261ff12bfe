import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rateLimited } from '../../../../src/nodeagent/intake/intake.js';

test('a refresh runs at most one at a time and once per interval; calls in between are dropped', async () => {
  let now = 0;
  let runs = 0;
  let finish: (() => void) | undefined;
  const call = rateLimited(
    () => {
      runs++;
      return new Promise<void>((resolve) => (finish = resolve));
    },
    2_000,
    () => now,
  );
  call();
  call();
  assert.equal(runs, 1);
  now = 5_000;
  call();
  assert.equal(runs, 1, 'the first is still running');
  finish?.();
  await new Promise((r) => setImmediate(r));
  call();
  assert.equal(runs, 2);
  finish?.();
  await new Promise((r) => setImmediate(r));
  now = 6_000;
  call();
  assert.equal(runs, 2, 'within the interval of the last start');
  now = 7_000;
  call();
  assert.equal(runs, 3);
});
