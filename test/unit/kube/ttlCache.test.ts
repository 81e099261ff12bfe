import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LoadTimeout, TtlCache, type TtlCacheOptions } from '../../../src/kube/ttlCache.js';
import { deferred, manualClock } from '../../helpers/manual.js';

function cache<V>(o: Partial<TtlCacheOptions<V>> = {}) {
  return new TtlCache<V>({ maxEntries: 100, ttlMs: () => 1000, loadTimeoutMs: 5_000, ...o });
}

describe('TtlCache', () => {
  test('a value is served from the cache until its TTL is over, then loaded again', async () => {
    const clock = manualClock();
    const c = cache<string>({ ttlMs: () => 1000, now: clock.now });
    let loads = 0;
    const load = async () => `v${++loads}`;
    assert.deepEqual(await c.get('k', load), { value: 'v1', source: 'loaded' });
    clock.advance(999);
    assert.deepEqual(await c.get('k', load), { value: 'v1', source: 'cache' });
    clock.advance(1);
    assert.deepEqual(await c.get('k', load), { value: 'v2', source: 'loaded' });
    assert.deepEqual(c.stats, { hits: 1, shared: 0, loads: 2, evictions: 0 });
  });

  test('single flight: 100 concurrent gets of one key cause one load', async () => {
    const c = cache<string>();
    const d = deferred<string>();
    let loads = 0;
    const all = Array.from({ length: 100 }, () =>
      c.get('rs', () => {
        loads++;
        return d.promise;
      }),
    );
    assert.equal(c.inFlight, 1);
    d.resolve('labels');
    const got = await Promise.all(all);
    assert.equal(loads, 1);
    assert.ok(got.every((g) => g.value === 'labels'));
    assert.equal(got.filter((g) => g.source === 'loaded').length, 1);
    assert.equal(got.filter((g) => g.source === 'shared').length, 99);
    assert.equal(c.inFlight, 0);
    // And the answer is now cached.
    assert.equal((await c.get('rs', () => Promise.reject(new Error('not called')))).source, 'cache');
  });

  test('different keys load separately', async () => {
    const c = cache<string>();
    const keys: string[] = [];
    await Promise.all(['a', 'b', 'a'].map((k) => c.get(k, async () => (keys.push(k), k))));
    assert.deepEqual(keys.sort(), ['a', 'b']);
  });

  test('a waiter that gives up is rejected at once; the others still get the answer and the load is not aborted', async () => {
    const c = cache<string>();
    const d = deferred<string>();
    let loadSignal: AbortSignal | undefined;
    const quitter = new AbortController();
    const first = c.get('k', (s) => ((loadSignal = s), d.promise), quitter.signal);
    const second = c.get('k', () => Promise.reject(new Error('must join, not load')));
    quitter.abort(new Error('my budget is over'));
    await assert.rejects(first, /my budget is over/);
    assert.equal(loadSignal?.aborted, false);
    d.resolve('v');
    assert.deepEqual(await second, { value: 'v', source: 'shared' });
  });

  test('when every waiter gives up, the load is aborted and the next get starts a new one', async () => {
    const c = cache<string>();
    let loadSignal: AbortSignal | undefined;
    const a = new AbortController();
    const b = new AbortController();
    const never = (s: AbortSignal) => ((loadSignal = s), new Promise<string>(() => {}));
    const pa = c.get('k', never, a.signal);
    const pb = c.get('k', never, b.signal);
    const settled = Promise.allSettled([pa, pb]);
    await new Promise((r) => setImmediate(r)); // the load starts on a later tick
    a.abort();
    assert.equal(loadSignal?.aborted, false, 'one waiter is left');
    b.abort();
    await settled;
    assert.equal(loadSignal?.aborted, true);
    assert.equal(c.inFlight, 0);
    assert.deepEqual(await c.get('k', async () => 'fresh'), { value: 'fresh', source: 'loaded' });
    assert.equal(c.stats.loads, 2);
  });

  test('an already aborted signal rejects without loading', async () => {
    const c = cache<string>();
    const ac = new AbortController();
    ac.abort(new Error('gone'));
    await assert.rejects(
      c.get('k', () => assert.fail('no load'), ac.signal),
      /gone/,
    );
    assert.equal(c.stats.loads, 0);
  });

  test('a load that never answers (and ignores its signal) fails after loadTimeoutMs, and its signal is aborted', async () => {
    const c = cache<string>({ loadTimeoutMs: 50 });
    let loadSignal: AbortSignal | undefined;
    const started = Date.now();
    await assert.rejects(
      c.get('k', (s) => ((loadSignal = s), new Promise<string>(() => {}))),
      (e: unknown) => e instanceof LoadTimeout && /no answer within 50 ms/.test(e.message),
    );
    const took = Date.now() - started;
    assert.ok(took >= 45 && took < 1000, `took ${took} ms`);
    assert.equal(loadSignal?.aborted, true);
    assert.equal(c.inFlight, 0);
    assert.equal(c.size, 0, 'a timeout is not cached');
  });

  test('errors are not cached: the next get loads again', async () => {
    const c = cache<string>();
    await assert.rejects(c.get('k', () => Promise.reject(new Error('ECONNREFUSED'))), /ECONNREFUSED/);
    assert.deepEqual(await c.get('k', async () => 'ok'), { value: 'ok', source: 'loaded' });
  });

  test('failures returned as values are kept only for their own (short) TTL', async () => {
    const clock = manualClock();
    type R = { ok: boolean };
    const c = cache<R>({ ttlMs: (r) => (r.ok ? 600_000 : 5_000), now: clock.now });
    let answer: R = { ok: false };
    const load = async () => answer;
    assert.equal((await c.get('k', load)).value.ok, false);
    answer = { ok: true };
    clock.advance(4_999);
    assert.deepEqual(await c.get('k', load), { value: { ok: false }, source: 'cache' }, 'within the failure TTL');
    clock.advance(1);
    assert.deepEqual(await c.get('k', load), { value: { ok: true }, source: 'loaded' }, 'the failure did not stick');
    clock.advance(599_999);
    assert.equal((await c.get('k', load)).source, 'cache', 'a success stays for its full TTL');
  });

  test('TTL 0: nothing is kept, but concurrent gets still share a load', async () => {
    const c = cache<string>({ ttlMs: () => 0 });
    let loads = 0;
    const load = async () => `v${++loads}`;
    const [x, y] = await Promise.all([c.get('k', load), c.get('k', load)]);
    assert.equal(x.value, 'v1');
    assert.equal(y.value, 'v1');
    assert.equal((await c.get('k', load)).value, 'v2');
    assert.equal(c.size, 0);
  });

  test('bounded: beyond maxEntries the least recently used entry goes', async () => {
    const c = cache<string>({ maxEntries: 3, ttlMs: () => 60_000 });
    const loaded: string[] = [];
    const load = (k: string) => async () => (loaded.push(k), k);
    for (const k of ['a', 'b', 'c']) await c.get(k, load(k));
    await c.get('a', load('a')); // a is now the most recently used; b the least
    await c.get('d', load('d'));
    assert.equal(c.size, 3);
    assert.equal(c.stats.evictions, 1);
    assert.equal((await c.get('a', load('a'))).source, 'cache');
    assert.equal((await c.get('c', load('c'))).source, 'cache');
    assert.equal((await c.get('b', load('b'))).source, 'loaded', 'b was evicted');
    assert.deepEqual(loaded, ['a', 'b', 'c', 'd', 'b']);
  });

  test('many distinct keys never hold more than maxEntries', async () => {
    const c = cache<number>({ maxEntries: 50 });
    for (let i = 0; i < 1000; i++) await c.get(`k${i}`, async () => i);
    assert.equal(c.size, 50);
    assert.equal(c.stats.evictions, 950);
  });

  test('maxEntries below 1 is refused', () => {
    assert.throws(() => cache({ maxEntries: 0 }), RangeError);
  });
});
