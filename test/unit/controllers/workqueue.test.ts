import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue } from '../../../src/controllers/workqueue.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

test('keys added several times before processing are processed once; never concurrently with themselves', async () => {
  const seen: string[] = [];
  let running = 0;
  let maxRunning = 0;
  const q = new WorkQueue<string>({
    reconcile: async (k) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      seen.push(k);
      await tick(20);
      running--;
    },
  });
  q.add('a');
  q.add('a');
  q.add('b');
  await tick(5);
  q.add('a'); // while a is being processed: once more afterwards
  await tick(100);
  assert.deepEqual(seen, ['a', 'b', 'a']);
  assert.equal(maxRunning, 1);
  await q.shutdown();
});

test('a failing key is retried with doubling backoff, and requeueAfter schedules the next run', async () => {
  const times: number[] = [];
  const errors: number[] = [];
  const q = new WorkQueue<string>({
    baseDelayMs: 10,
    maxDelayMs: 1000,
    reconcile: async () => {
      times.push(Date.now());
      if (times.length < 4) throw new Error('not yet');
      return times.length === 4 ? { requeueAfterMs: 30 } : undefined;
    },
    onError: (_k, _e, delay) => errors.push(delay),
  });
  q.add('x');
  await tick(250);
  assert.deepEqual(errors, [10, 20, 40]);
  assert.equal(times.length, 5, 'the requeueAfter run happened');
  await q.shutdown();
  q.add('x');
  await tick(20);
  assert.equal(times.length, 5, 'nothing runs after shutdown');
});
