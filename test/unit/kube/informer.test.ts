/**
 * The informer through its real HTTP transport against a fake API server on loopback
 * (test/helpers/fakeApiServer.ts), with manual timers: the backoff, the watchdog and the server-side
 * timeout are the informer's own waiting, moved by hand; the HTTP runs for real.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApiStatusError,
  InformerStopped,
  objectKey,
  retryDelay,
  startInformer,
  watchIdleLimitMs,
  type InformerOptions,
} from '../../../src/kube/informer.js';
import { kubeConfigTransport, type ApiTransport } from '../../../src/kube/transport.js';
import { WATCH_RETRY_BASE_MS, WATCH_RETRY_MAX_MS, WATCH_TIMEOUT_MARGIN_MS } from '../../../src/config/limits.js';
import { startFakeApiServer, type FakeApiServer, type FakeObject } from '../../helpers/fakeApiServer.js';
import { manualTimers } from '../../helpers/manualTimers.js';
import { logWaiter, type LogLine } from '../../helpers/logWaiter.js';

/** A test that waits this long is hanging: fail it instead of the whole file. Real tests take milliseconds (old code: seconds). */
const HANG_MS = 10_000;
const PODS = '/api/v1/namespaces/apps/pods';
const TIMEOUT_S = 300;
/** The watchdog's limit before any bookmark was seen, and after. */
const IDLE_NO_BOOKMARKS = TIMEOUT_S * 1000 + WATCH_TIMEOUT_MARGIN_MS;
const IDLE = 150_000;
const isRetry = (ms: number) => ms <= WATCH_RETRY_MAX_MS;

const pod = (name: string, labels: Record<string, string> = {}): FakeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'apps', labels },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
});

/** What the tests' store keeps of a pod: its name and labels, not the spec. */
interface Summary {
  readonly name: string;
  readonly labels: Record<string, string>;
}

/** Handler calls as strings (`add apps/a`), awaitable in order. */
function recorder() {
  const seen: string[] = [];
  let cursor = 0;
  let wake: (() => void) | undefined;
  const push = (s: string) => {
    seen.push(s);
    wake?.();
  };
  return {
    seen,
    push,
    /** Waits until the next calls are exactly `expected` (in any order), consuming them. */
    async next(...expected: string[]): Promise<void> {
      while (seen.length - cursor < expected.length) await new Promise<void>((r) => (wake = r));
      const got = seen.slice(cursor, cursor + expected.length);
      cursor += expected.length;
      assert.deepEqual([...got].sort(), [...expected].sort(), `handler calls: ${seen.join(', ')}`);
    },
    rest: () => seen.slice(cursor),
  };
}

const servers: FakeApiServer[] = [];
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(o: Partial<InformerOptions<FakeObject, Summary>> = {}, prepare?: (server: FakeApiServer) => void) {
  const server = await startFakeApiServer();
  servers.push(server);
  prepare?.(server);
  const time = manualTimers();
  const logs = logWaiter();
  const calls = recorder();
  let transforms = 0;
  const firstWatch = server.nextRequest((r) => r.watch);
  const informer = startInformer<FakeObject, Summary>({
    transport: kubeConfigTransport(server.kubeConfig()),
    path: PODS,
    logger: logs.logger,
    what: 'pods in apps',
    transform: (p) => (transforms++, { name: p.metadata.name, labels: p.metadata.labels ?? {} }),
    handlers: {
      onAdd: (_o, key) => calls.push(`add ${key}`),
      onUpdate: (o, old, key) => calls.push(`update ${key} ${JSON.stringify(old.labels)}->${JSON.stringify(o.labels)}`),
      onDelete: (_o, key) => calls.push(`delete ${key}`),
      onSync: () => calls.push('sync'),
    },
    now: time.now,
    timers: time.timers,
    random: () => 0,
    watchTimeoutSeconds: [TIMEOUT_S, 2 * TIMEOUT_S],
    watchIdleTimeoutMs: IDLE,
    ...o,
  });
  stops.push(() => informer.stop());
  const retry = (): Promise<LogLine> => logs.next((l) => typeof l['retryInMs'] === 'number');
  return { server, time, logs, calls, informer, firstWatch, retry, transforms: () => transforms };
}

describe('informer: pure pieces', () => {
  test('keys, retry delays and the watchdog limit', () => {
    assert.equal(objectKey({ metadata: { name: 'a', namespace: 'ns' } }), 'ns/a');
    assert.equal(objectKey({ metadata: { name: 'node-1' } }), 'node-1');
    assert.deepEqual([1, 2, 3, 4, 7, 8, 100].map((n) => retryDelay(n, 500, 30_000)), [500, 1000, 2000, 4000, 30_000, 30_000, 30_000]);
    assert.equal(watchIdleLimitMs(300, false, 150_000, 30_000), 330_000);
    assert.equal(watchIdleLimitMs(300, true, 150_000, 30_000), 150_000);
    assert.equal(watchIdleLimitMs(60, true, 150_000, 30_000), 90_000);
    assert.equal(new ApiStatusError(500, 'InternalError', 'etcd is down').message, 'HTTP 500 InternalError: etcd is down');
  });
});

describe('informer against a fake API server', () => {
  test('lists in pages, keeps only what transform returns, then watches from the list with bookmarks and a server timeout', { timeout: HANG_MS }, async () => {
    const { server, informer, calls, firstWatch, time } = await setup({ pageSize: 2, labelSelector: 'app=web' }, (s) => {
      for (const n of ['a', 'b', 'c', 'd', 'e']) s.collection(PODS).add(pod(n, { app: 'web' }));
      s.collection(PODS).add(pod('other', { app: 'db' }));
    });
    await informer.synced;
    await calls.next('add apps/a', 'add apps/b', 'add apps/c', 'add apps/d', 'add apps/e');
    await calls.next('sync');
    assert.equal(informer.isSynced(), true);
    assert.equal(informer.size, 5);
    assert.deepEqual(informer.get('apps/a'), { name: 'a', labels: { app: 'web' } });
    assert.equal(typeof informer.lastSyncAt, 'number');

    const lists = server.requests.filter((r) => !r.watch);
    assert.deepEqual(lists.map((r) => [r.query.get('limit'), r.query.get('continue'), r.query.get('labelSelector')]), [
      ['2', null, 'app=web'],
      ['2', 'c1', 'app=web'],
      ['2', 'c2', 'app=web'],
    ]);
    assert.ok(lists.every((r) => r.authorization === 'Bearer fake-token'));
    const w = await firstWatch;
    assert.equal(w.query.get('resourceVersion'), String(server.resourceVersion));
    assert.equal(w.query.get('allowWatchBookmarks'), 'true');
    assert.equal(w.query.get('timeoutSeconds'), String(TIMEOUT_S));
    assert.equal(w.query.get('labelSelector'), 'app=web');
    // No bookmark seen yet: the watchdog waits for the server timeout plus the margin.
    assert.ok(time.pending().includes(IDLE_NO_BOOKMARKS), `pending timers: ${time.pending().join(', ')}`);

    const pods = server.collection(PODS);
    pods.add(pod('f', { app: 'web' }));
    await calls.next('add apps/f');
    pods.update('a', (p) => (p.metadata.labels = { app: 'web', v: '2' }), 'apps');
    await calls.next('update apps/a {"app":"web"}->{"app":"web","v":"2"}');
    pods.update('b', (p) => (p.metadata.labels = { app: 'db' }), 'apps'); // leaves the selector
    await calls.next('delete apps/b');
    pods.remove('c', 'apps');
    await calls.next('delete apps/c');
    pods.add(pod('ignored', { app: 'db' }));
    pods.update('a', (p) => (p.metadata.labels = { app: 'web', v: '3' }), 'apps');
    await calls.next('update apps/a {"app":"web","v":"2"}->{"app":"web","v":"3"}');
    assert.deepEqual([...informer.entries()].map(([k]) => k).sort(), ['apps/a', 'apps/d', 'apps/e', 'apps/f']);
    assert.equal(server.requests.filter((r) => r.watch).length, 1);
  });

  test('on a clean end of the watch it watches again from the last resourceVersion, without listing', { timeout: HANG_MS }, async () => {
    const { server, informer, calls, firstWatch } = await setup();
    await informer.synced;
    await firstWatch;
    server.collection(PODS).add(pod('a'));
    await calls.next('sync', 'add apps/a');
    const again = server.nextRequest((r) => r.watch);
    server.endWatches();
    const w = await again;
    assert.equal(w.query.get('resourceVersion'), String(server.resourceVersion), 'from the bookmark sent before the end');
    assert.equal(server.requests.filter((r) => !r.watch).length, 1, 'no second list');
    server.collection(PODS).add(pod('b'));
    await calls.next('add apps/b');
    assert.equal(informer.isSynced(), true);
  });

  test('the backoff starts again after a successful reconnect: the 4th failure after a success waits the base delay', { timeout: HANG_MS }, async () => {
    const { server, informer, calls, firstWatch, time, retry } = await setup();
    await informer.synced;
    await firstWatch;
    await calls.next('sync');
    server.refuse('reset');
    server.endWatches();
    const delays: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const line = await retry();
      delays.push(line['retryInMs']);
      assert.equal(informer.isSynced(), false, 'not synced while the watch fails');
      if (i < 2) time.advance(line['retryInMs'] as number);
    }
    assert.deepEqual(delays, [WATCH_RETRY_BASE_MS, 2 * WATCH_RETRY_BASE_MS, 4 * WATCH_RETRY_BASE_MS]);
    server.refuse(false);
    const back = server.nextRequest((r) => r.watch);
    time.advance(4 * WATCH_RETRY_BASE_MS);
    await back;
    server.collection(PODS).add(pod('a'));
    await calls.next('add apps/a'); // the reconnected watch delivers events
    assert.equal(informer.isSynced(), true);
    assert.equal(informer.status().failures, 0);

    server.refuse('reset');
    server.endWatches();
    const line = await retry();
    assert.equal(line['retryInMs'], WATCH_RETRY_BASE_MS, 'the count restarted at the reconnect');
    assert.equal(server.requests.filter((r) => !r.watch).length, 1, 'reconnects never listed again');
  });

  test('a watch that goes silent without closing is cut by the client-side watchdog, and what happened meanwhile is seen', { timeout: HANG_MS }, async () => {
    const { server, informer, calls, firstWatch, time, retry, logs } = await setup({}, (s) => {
      s.collection(PODS).add(pod('a'));
      s.collection(PODS).add(pod('b'));
    });
    await informer.synced;
    await firstWatch;
    await calls.next('add apps/a', 'add apps/b', 'sync');
    // The server sends bookmarks (one before each timeout): from the next watch on, the watchdog's limit is IDLE.
    const second = server.nextRequest((r) => r.watch);
    server.endWatches();
    await second;
    assert.ok(time.pending().includes(IDLE), `pending timers: ${time.pending().join(', ')}`);

    server.silence();
    server.collection(PODS).add(pod('c'));
    server.collection(PODS).remove('a', 'apps');
    server.unsilence();
    assert.deepEqual(calls.rest(), [], 'nothing arrives on the dead connection');
    assert.equal(server.openWatches(), 1);

    time.advance(IDLE - 1);
    assert.equal(informer.isSynced(), true, 'not yet');
    time.advance(1);
    const line = await retry();
    assert.match(String(line['msg']), /went silent/);
    assert.equal(line['retryInMs'], WATCH_RETRY_BASE_MS);
    assert.equal(informer.isSynced(), false);
    await server.untilNoOpenRequests(); // the dead connection was closed by the client
    const third = server.nextRequest((r) => r.watch);
    time.advance(WATCH_RETRY_BASE_MS);
    await third;
    await calls.next('add apps/c', 'delete apps/a');
    assert.equal(informer.isSynced(), true);
    assert.deepEqual([...informer.entries()].map(([k]) => k).sort(), ['apps/b', 'apps/c']);
    assert.equal(server.requests.filter((r) => !r.watch).length, 1, 're-watched from the last resourceVersion, no list');
    assert.ok(!logs.lines().some((l) => JSON.stringify(l).includes('fake-token')), 'the token is never logged');
  });

  for (const as of ['event', 'status'] as const) {
    test(`410 Gone (${as === 'event' ? 'an ERROR event' : 'HTTP 410'}) → a re-list that delivers deletes for vanished objects and updates for changed ones`, { timeout: HANG_MS }, async () => {
      const { server, informer, calls, firstWatch, time, retry, transforms } = await setup({}, (s) => {
        for (const n of ['a', 'b', 'c']) s.collection(PODS).add(pod(n, { v: '1' }));
      });
      await informer.synced;
      await firstWatch;
      await calls.next('add apps/a', 'add apps/b', 'add apps/c', 'sync');
      assert.equal(transforms(), 3);
      // Disconnected while b is deleted, c changed and d created; then the history is compacted.
      server.refuse('reset');
      server.endWatches();
      const line = await retry();
      const pods = server.collection(PODS);
      pods.remove('b', 'apps');
      pods.update('c', (p) => (p.metadata.labels = { v: '2' }), 'apps');
      pods.add(pod('d', { v: '1' }));
      server.compact(as);
      server.refuse(false);
      const relist = server.nextRequest((r) => !r.watch);
      time.advance(line['retryInMs'] as number);
      await relist;
      await calls.next('delete apps/b', 'update apps/c {"v":"1"}->{"v":"2"}', 'add apps/d', 'sync');
      assert.equal(transforms(), 5, 'a, whose resourceVersion did not change, was not transformed again');
      assert.deepEqual([...informer.entries()].map(([k]) => k).sort(), ['apps/a', 'apps/c', 'apps/d']);
      // And it watches from the new list.
      pods.add(pod('e'));
      await calls.next('add apps/e');
      assert.equal(informer.isSynced(), true);
    });
  }

  test('a continue token that expired mid-list: the list starts over after the backoff', { timeout: HANG_MS }, async () => {
    const { server, informer, calls, time, retry } = await setup({ pageSize: 1 }, (s) => {
      s.collection(PODS).add(pod('a'));
      s.collection(PODS).add(pod('b'));
    });
    // Expire the token as soon as the first page was asked for.
    await server.nextRequest((r) => !r.watch);
    server.expireContinueTokens();
    const line = await retry();
    assert.match(String(line['problem']), /HTTP 410 Expired: The provided continue parameter is too old/);
    time.advance(line['retryInMs'] as number);
    await informer.synced;
    await calls.next('add apps/a', 'add apps/b', 'sync');
  });

  test('a watch closed at once with nothing in it is a failure with backoff, not a tight loop of re-watches', { timeout: HANG_MS }, async () => {
    const { server, informer, firstWatch, retry, calls } = await setup();
    await informer.synced;
    await firstWatch;
    await calls.next('sync');
    server.endWatches(undefined, { bookmark: false }); // the manual clock does not move: "at once"
    const line = await retry();
    assert.match(String(line['problem']), /closed at once, with no event/);
    assert.equal(server.requests.filter((r) => r.watch).length, 1, 'no re-watch before the backoff');
  });

  test('an object the transform throws on is left out and logged; the others are kept, and the watch goes on', { timeout: HANG_MS }, async () => {
    const { server, informer, calls, firstWatch, logs } = await setup(
      {
        transform: (p) => {
          if (p.metadata.labels?.['bad']) throw new Error('no name here');
          return { name: p.metadata.name, labels: p.metadata.labels ?? {} };
        },
      },
      (s) => {
        s.collection(PODS).add(pod('a'));
        s.collection(PODS).add(pod('odd', { bad: 'yes' }));
      },
    );
    await informer.synced;
    await firstWatch;
    await calls.next('add apps/a', 'sync');
    assert.deepEqual([...informer.entries()].map(([k]) => k), ['apps/a']);
    assert.equal((await logs.next((l) => l['object'] === 'apps/odd'))['problem'], 'no name here');
    server.collection(PODS).update('a', (p) => (p.metadata.labels = { bad: 'now' }), 'apps');
    await calls.next('delete apps/a');
    server.collection(PODS).update('odd', (p) => (p.metadata.labels = {}), 'apps');
    await calls.next('add apps/odd');
    assert.equal(informer.isSynced(), true);
  });

  test('a 403 is a failure with backoff, worded with the API server message; the first success resolves synced', { timeout: HANG_MS }, async () => {
    const { server, informer, time, retry } = await setup({}, (s) => s.refuse(403));
    const line = await retry();
    assert.match(String(line['problem']), /HTTP 403 InternalError: refused by the fake API server/);
    assert.equal(informer.status().lastError, line['problem']);
    server.refuse(false);
    time.advance(line['retryInMs'] as number);
    await informer.synced;
    assert.equal(informer.status().failures, 0);
  });

  test('stop() resolves while a list or a watch request hangs, closes the connection, and rejects synced if never synced', { timeout: HANG_MS }, async () => {
    const { server, informer } = await setup({}, (s) => s.silence());
    await server.nextRequest();
    assert.equal(server.hangingRequests(), 1);
    await informer.stop();
    await assert.rejects(informer.synced, InformerStopped);
    await server.untilNoOpenRequests();

    const second = await setup();
    await second.informer.synced;
    await second.firstWatch;
    second.server.silence();
    await second.informer.stop();
    await second.server.untilNoOpenRequests();
    assert.equal(second.informer.isSynced(), false);
  });

  test('stop() resolves even with a transport that never answers and ignores its signal; so does aborting the signal', { timeout: HANG_MS }, async () => {
    const time = manualTimers();
    let calls = 0;
    const deaf: ApiTransport = { get: () => (calls++, new Promise(() => {})) };
    const controller = new AbortController();
    const informer = startInformer({ transport: deaf, path: PODS, logger: logWaiter().logger, now: time.now, timers: time.timers, signal: controller.signal });
    assert.equal(calls, 1);
    controller.abort();
    await informer.stop();
    await assert.rejects(informer.synced, InformerStopped);
  });

  test('a handler that throws is logged and does not stop the others or the informer', { timeout: HANG_MS }, async () => {
    const { server, informer, calls, firstWatch, logs } = await setup();
    informer.addHandlers({
      onAdd: () => {
        throw new Error('boom');
      },
    });
    const removeOther = informer.addHandlers({ onAdd: (_o, key) => calls.push(`other ${key}`) });
    await informer.synced;
    await firstWatch;
    await calls.next('sync');
    server.collection(PODS).add(pod('a'));
    await calls.next('add apps/a', 'other apps/a');
    const line = await logs.next((l) => String(l['msg']).includes('threw'));
    assert.equal(line['problem'], 'boom');
    removeOther();
    server.collection(PODS).add(pod('b'));
    await calls.next('add apps/b');
  });
});
