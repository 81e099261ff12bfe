/** The bench's time budget (bench/run/budget.ts): waits and repeats stop before the run overruns it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTimeBudget } from '../../../bench/run/budget.js';

/** A clock the test moves by hand, in milliseconds. */
function clock() {
  let t = 0;
  return { now: () => t, advance: (sec: number) => (t += sec * 1000) };
}

test('before any run, the slack is the total less the planned runs at the estimate', () => {
  const c = clock();
  const b = createTimeBudget(100, 10, 6, c.now);
  assert.equal(b.slackSec(), 40);
  c.advance(15); // waiting for quiet
  assert.equal(b.slackSec(), 25);
});

test('runs as timed replace the estimate, and a repeat spends slack without counting as a planned run', async () => {
  const c = clock();
  const b = createTimeBudget(100, 10, 6, c.now);
  await b.measured(async () => c.advance(8), true);
  assert.equal(b.runSec(), 8);
  assert.equal(b.slackSec(), 100 - 8 - 9 * 8);
  await b.measured(async () => c.advance(8), false);
  assert.equal(b.slackSec(), 100 - 16 - 9 * 8);
});

test('runs slower than planned make the slack negative: no more waiting', async () => {
  const c = clock();
  const b = createTimeBudget(60, 10, 5, c.now);
  await b.measured(async () => c.advance(7), true);
  assert.ok(b.slackSec() < 0);
});

test('a run that throws is still timed', async () => {
  const c = clock();
  const b = createTimeBudget(100, 2, 1, c.now);
  await assert.rejects(b.measured(async () => { c.advance(30); throw new Error('load generator failed'); }, true));
  assert.equal(b.runSec(), 30);
  assert.equal(b.slackSec(), 100 - 30 - 30);
});
