/** SIGTERM/SIGINT handling shared by `tether serve`, `start` and `dev` (SPEC §6: a second SIGTERM exits at once). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { CliError } from '../../../src/cli/errors.js';
import { rethrowListenError, untilSignalled } from '../../../src/cli/signals.js';
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

describe('rethrowListenError', () => {
  test('names the address, IPv6 in brackets', () => {
    const busy = Object.assign(new Error('listen EADDRINUSE: address already in use :::8000'), { syscall: 'listen', code: 'EADDRINUSE' });
    assert.throws(() => rethrowListenError(busy, '::', 8000), (e: Error) => e instanceof CliError && e.message.startsWith('cannot listen on [::]:8000: '));
    assert.throws(() => rethrowListenError(busy, '127.0.0.1', 8000), (e: Error) => e instanceof CliError && e.message.startsWith('cannot listen on 127.0.0.1:8000: '));
    const other = new Error('something else');
    assert.throws(() => rethrowListenError(other, '::', 8000), (e: unknown) => e === other);
  });
});
