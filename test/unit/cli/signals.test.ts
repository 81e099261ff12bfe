/** SIGTERM/SIGINT handling shared by `tether serve`, `start` and `dev` (SPEC §6: a second SIGTERM exits at once). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { untilSignalled } from '../../../src/cli/signals.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { deferred } from '../../helpers/manual.js';

describe('untilSignalled', () => {
  test('the first signal runs stop() once and resolves when it is done', async () => {
    const signals = new EventEmitter();
    const stopped = deferred<void>();
    let calls = 0;
    const exits: number[] = [];
    const done = untilSignalled(() => (calls++, stopped.promise), silentLogger(), 'test', { signals, exit: (c) => exits.push(c) });
    signals.emit('SIGTERM', 'SIGTERM');
    assert.equal(calls, 1);
    stopped.resolve();
    await done;
    assert.deepEqual(exits, []);
    assert.equal(signals.listenerCount('SIGTERM') + signals.listenerCount('SIGINT'), 0, 'handlers removed');
  });

  test('a second signal exits at once (128 + its number), without waiting for the first stop', async () => {
    for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
      const signals = new EventEmitter();
      const exits: number[] = [];
      let calls = 0;
      void untilSignalled(() => (calls++, new Promise<void>(() => {})), silentLogger(), 'test', { signals, exit: (c) => exits.push(c) });
      signals.emit('SIGTERM', 'SIGTERM');
      assert.deepEqual(exits, []);
      signals.emit(signal, signal);
      assert.deepEqual(exits, [code]);
      assert.equal(calls, 1, 'stop() is not called again');
    }
  });
});
