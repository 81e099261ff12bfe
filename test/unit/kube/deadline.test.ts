import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deadline, DeadlineExceeded, untilAborted } from '../../../src/kube/deadline.js';
import { manualClock } from '../../helpers/manual.js';

describe('deadline', () => {
  test('aborts after ms on the given timers, with DeadlineExceeded', async () => {
    const clock = manualClock();
    const d = deadline(500, undefined, clock);
    await clock.tick(499);
    assert.equal(d.signal.aborted, false);
    await clock.tick(1);
    assert.ok(d.signal.reason instanceof DeadlineExceeded);
    assert.equal((d.signal.reason as Error).message, 'no answer within 500 ms');
  });

  test("aborts with the parent, with the parent's reason, and clears its timer", async () => {
    const clock = manualClock();
    const parent = new AbortController();
    const d = deadline(500, parent.signal, clock);
    const reason = new Error('stopping');
    parent.abort(reason);
    assert.equal(d.signal.reason, reason);
    assert.equal(clock.pending(), 0);
  });

  test('an aborted parent or no time left: aborted at once', () => {
    const clock = manualClock();
    const parent = new AbortController();
    parent.abort();
    assert.equal(deadline(500, parent.signal, clock).signal.aborted, true);
    assert.ok(deadline(0, undefined, clock).signal.reason instanceof DeadlineExceeded);
    assert.equal(clock.pending(), 0);
  });

  test('dispose clears the timer and the listener on the parent', () => {
    const clock = manualClock();
    const parent = new AbortController();
    const d = deadline(500, parent.signal, clock);
    d.dispose();
    assert.equal(clock.pending(), 0);
    parent.abort();
    assert.equal(d.signal.aborted, false);
  });
});

describe('untilAborted', () => {
  test('rejects when the signal aborts, though the call never settles', async () => {
    const controller = new AbortController();
    const waiting = untilAborted(new Promise<never>(() => {}), controller.signal);
    controller.abort(new Error('gave up'));
    await assert.rejects(waiting, /gave up/);
  });

  test("passes the call's result or error through", async () => {
    const never = new AbortController().signal;
    assert.equal(await untilAborted(Promise.resolve(7), never), 7);
    await assert.rejects(untilAborted(Promise.reject(new Error('403')), never), /403/);
  });
});
