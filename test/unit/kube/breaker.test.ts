import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiNotAnswering, createReadBreaker, type ReadBreakerOptions } from '../../../src/kube/breaker.js';
import { deferred, manualClock } from '../../helpers/manual.js';

const SLOW = 250;
const COOL_DOWN = 10_000;

function setup(o: Partial<ReadBreakerOptions> = {}) {
  const clock = manualClock();
  const changes: string[] = [];
  const breaker = createReadBreaker({
    threshold: 3,
    slowMs: SLOW,
    coolDownMs: COOL_DOWN,
    now: clock.now,
    onChange: (state, unanswered) => changes.push(`${state}:${unanswered}`),
    ...o,
  });
  let calls = 0;
  /** A read that is given up on (its signal aborts) after `waitedMs` without an answer. */
  const unanswered = async (waitedMs = SLOW) => {
    const controller = new AbortController();
    const pending = deferred<string>();
    const run = breaker.run(() => (calls++, pending.promise), controller.signal);
    clock.advance(waitedMs);
    controller.abort();
    pending.reject(new Error('aborted'));
    await assert.rejects(run, /aborted/);
  };
  const answering = (value = 'ok') => breaker.run(async () => (calls++, value), new AbortController().signal);
  const failing = (message: string) =>
    breaker.run(async () => {
      calls++;
      throw new Error(message);
    }, new AbortController().signal);
  return { breaker, clock, changes, unanswered, answering, failing, calls: () => calls };
}

describe('read breaker', () => {
  test('closed: reads go through; fewer unanswered reads in a row than the threshold do not open it', async () => {
    const b = setup();
    assert.equal(await b.answering('a'), 'a');
    await b.unanswered();
    await b.unanswered();
    assert.equal(b.breaker.state(), 'closed');
    assert.equal(await b.answering('b'), 'b');
    // The answer reset the count: two more are still below the threshold.
    await b.unanswered();
    await b.unanswered();
    assert.equal(b.breaker.state(), 'closed');
    assert.deepEqual(b.changes, []);
  });

  test('an error is an answer too (403, 404, refused connection): it resets the count', async () => {
    const b = setup();
    await b.unanswered();
    await b.unanswered();
    await assert.rejects(b.failing('forbidden'), /forbidden/);
    await b.unanswered();
    await b.unanswered();
    assert.equal(b.breaker.state(), 'closed');
  });

  test('a read given up on quickly (the client hung up) is not counted', async () => {
    const b = setup();
    for (let i = 0; i < 10; i++) await b.unanswered(SLOW - 1);
    assert.equal(b.breaker.state(), 'closed');
  });

  test('threshold unanswered reads open it: reads fail at once, without being sent, saying why and for how long', async () => {
    const b = setup();
    for (let i = 0; i < 3; i++) await b.unanswered();
    assert.equal(b.breaker.state(), 'open');
    assert.deepEqual(b.changes, ['open:3']);
    const sent = b.calls();
    b.clock.advance(1_000);
    await assert.rejects(
      b.answering(),
      (e: unknown) => e instanceof ApiNotAnswering && e.message === "the API server did not answer Tether's last 3 reads; not asking it again for 9 s",
    );
    assert.equal(b.calls(), sent, 'the read was not sent');
  });

  test('after the cool-down one probe goes through, others still fail at once; an answer closes it', async () => {
    const b = setup();
    for (let i = 0; i < 3; i++) await b.unanswered();
    b.clock.advance(COOL_DOWN);
    const probe = deferred<string>();
    const probing = b.breaker.run(() => probe.promise, new AbortController().signal);
    assert.equal(b.breaker.state(), 'probing');
    await assert.rejects(b.answering(), /not asking it again until a probe read gets an answer/);
    probe.resolve('back');
    assert.equal(await probing, 'back');
    assert.equal(b.breaker.state(), 'closed');
    assert.equal(await b.answering('x'), 'x');
    assert.deepEqual(b.changes, ['open:3', 'closed:0']);
  });

  test('a probe without an answer opens it for another cool-down', async () => {
    const b = setup();
    for (let i = 0; i < 3; i++) await b.unanswered();
    b.clock.advance(COOL_DOWN);
    await b.unanswered();
    assert.equal(b.breaker.state(), 'open');
    b.clock.advance(COOL_DOWN - 1);
    await assert.rejects(b.answering(), ApiNotAnswering);
    b.clock.advance(1);
    assert.equal(await b.answering('again'), 'again');
    assert.deepEqual(b.changes, ['open:3', 'closed:0'], 'opened once, not again while open');
  });

  test('a probe given up on quickly decides nothing: the next read probes again', async () => {
    const b = setup();
    for (let i = 0; i < 3; i++) await b.unanswered();
    b.clock.advance(COOL_DOWN);
    await b.unanswered(1);
    assert.equal(b.breaker.state(), 'open');
    assert.equal(await b.answering('probe 2'), 'probe 2');
    assert.equal(b.breaker.state(), 'closed');
  });
});
