/**
 * `watchNamed` (one named object, shared by subscribers) against the fake API server, through the real
 * HTTP stack. The timing options go in a spread variable so this file also compiles against, and runs
 * on, the old ListWatch-based watch.ts (which ignores them and waits in real time): the backoff, silent
 * connection and hanging-stop tests fail there.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { watchNamed, type NamedWatchOptions } from '../../../src/kube/watch.js';
import { WATCH_RETRY_BASE_MS, WATCH_TIMEOUT_MARGIN_MS } from '../../../src/config/limits.js';
import { startFakeApiServer, type FakeApiServer, type FakeObject } from '../../helpers/fakeApiServer.js';
import { manualTimers } from '../../helpers/manualTimers.js';
import { logWaiter, type LogLine } from '../../helpers/logWaiter.js';

/** A test that waits this long is hanging: fail it instead of the whole file. Real tests take milliseconds (old code: seconds). */
const HANG_MS = 20_000;
const NS = 'datadog';
const SECRETS = `/api/v1/namespaces/${NS}/secrets`;
const NAME = 'webhook-certificate';
const TIMEOUT_S = 300;

const secret = (name: string, data: Record<string, string> = {}): FakeObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS }, data });

/** Values a subscriber was called with (`absent` or the Secret's `data.v`), awaitable in order. */
function seen() {
  const values: string[] = [];
  let cursor = 0;
  let wake: (() => void) | undefined;
  return {
    values,
    handler: (s: k8s.V1Secret | undefined) => {
      values.push(s ? (s.data?.['v'] ?? 'present') : 'absent');
      wake?.();
    },
    async next(expected: string): Promise<void> {
      while (values.length <= cursor) await new Promise<void>((r) => (wake = r));
      assert.equal(values[cursor++], expected, `calls so far: ${values.join(', ')}`);
    },
  };
}

const servers: FakeApiServer[] = [];
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(prepare?: (server: FakeApiServer) => void) {
  const server = await startFakeApiServer();
  servers.push(server);
  prepare?.(server);
  const time = manualTimers();
  const logs = logWaiter();
  const first = seen();
  const kubeConfig = server.kubeConfig();
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  const firstWatch = server.nextRequest((r) => r.watch);
  const base: NamedWatchOptions<k8s.V1Secret> = {
    kubeConfig,
    path: SECRETS,
    name: NAME,
    list: (fieldSelector) => core.listNamespacedSecret({ namespace: NS, fieldSelector }),
    onChange: first.handler,
    logger: logs.logger,
    what: `Secret ${NS}/${NAME}`,
  };
  // A variable, not a literal: the old options type has no `tuning`, and must still compile.
  const tuning = { tuning: { now: time.now, timers: time.timers, random: () => 0, watchTimeoutSeconds: [TIMEOUT_S, TIMEOUT_S] as const, watchIdleTimeoutMs: 150_000 } };
  const watch = watchNamed<k8s.V1Secret>({ ...base, ...tuning });
  stops.push(() => watch.stop());
  const retry = (): Promise<LogLine> => logs.next((l) => typeof l['retryInMs'] === 'number');
  return { server, time, logs, first, watch, firstWatch, retry, secrets: server.collection(SECRETS) };
}

describe('watchNamed against a fake API server', () => {
  test('undefined when absent after the list, then the object on add and update, undefined on delete; only the named object', { timeout: HANG_MS }, async () => {
    const { watch, first, secrets, firstWatch, server } = await setup((s) => s.collection(SECRETS).add(secret('other')));
    await watch.synced;
    await first.next('absent');
    const w = await firstWatch;
    assert.equal(w.query.get('fieldSelector'), `metadata.name=${NAME}`);
    secrets.add(secret(NAME, { v: '1' }));
    await first.next('1');
    secrets.update(NAME, (s) => (s['data'] = { v: '2' }), NS);
    await first.next('2');
    secrets.update('other', (s) => (s['data'] = { v: 'x' }), NS);
    secrets.remove(NAME, NS);
    await first.next('absent');
    assert.equal(first.values.length, 4);
    assert.equal(server.requests.filter((r) => r.watch).length, 1);
  });

  test('two subscribers share one watch connection; a late one is told the current state at once; unsubscribe stops the calls', { timeout: HANG_MS }, async () => {
    const { watch, first, secrets, server, firstWatch } = await setup((s) => s.collection(SECRETS).add(secret(NAME, { v: '1' })));
    await watch.synced;
    await firstWatch;
    await first.next('1');
    const leader = seen();
    const unsubscribe = watch.subscribe(leader.handler);
    await leader.next('1');
    secrets.update(NAME, (s) => (s['data'] = { v: '2' }), NS);
    await first.next('2');
    await leader.next('2');
    assert.equal(server.requests.filter((r) => r.watch).length, 1, 'one watch request');
    assert.equal(server.requests.filter((r) => !r.watch).length, 1, 'one list request');
    assert.equal(server.openWatches(), 1, 'one open connection');
    unsubscribe();
    secrets.update(NAME, (s) => (s['data'] = { v: '3' }), NS);
    await first.next('3');
    assert.deepEqual(leader.values, ['1', '2']);
    assert.equal(watch.current()?.data?.['v'], '3');
  });

  test('the backoff starts again after a successful reconnect: the 4th failure after a success waits the base delay', { timeout: HANG_MS }, async () => {
    const { watch, first, secrets, server, firstWatch, time, retry } = await setup();
    await watch.synced;
    await firstWatch;
    await first.next('absent');
    server.refuse('reset');
    server.endWatches();
    const delays: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const line = await retry();
      delays.push(line['retryInMs']);
      if (i < 2) time.advance(line['retryInMs'] as number);
    }
    assert.deepEqual(delays, [WATCH_RETRY_BASE_MS, 2 * WATCH_RETRY_BASE_MS, 4 * WATCH_RETRY_BASE_MS]);
    server.refuse(false);
    time.advance(4 * WATCH_RETRY_BASE_MS);
    await server.nextRequest((r) => r.watch);
    secrets.add(secret(NAME, { v: '1' }));
    await first.next('1'); // reconnected

    server.refuse('reset');
    server.endWatches();
    const line = await retry();
    assert.equal(line['retryInMs'], WATCH_RETRY_BASE_MS);
  });

  test('a silent connection is noticed without TCP keep-alive, and a change made meanwhile is delivered', { timeout: HANG_MS }, async () => {
    const { watch, first, secrets, server, firstWatch, time, retry } = await setup((s) => s.collection(SECRETS).add(secret(NAME, { v: '1' })));
    await watch.synced;
    await firstWatch;
    await first.next('1');
    server.silence();
    secrets.update(NAME, (s) => (s['data'] = { v: '2' }), NS);
    server.unsilence();
    // No bookmark seen: the watchdog's limit is the server timeout plus the margin.
    time.advance(TIMEOUT_S * 1000 + WATCH_TIMEOUT_MARGIN_MS);
    const line = await retry();
    time.advance(line['retryInMs'] as number);
    await first.next('2');
    assert.equal(watch.isSynced(), true);
  });

  test('deleted while disconnected and the history compacted (410): the re-list reports it absent', { timeout: HANG_MS }, async () => {
    const { watch, first, secrets, server, firstWatch, time, retry } = await setup((s) => s.collection(SECRETS).add(secret(NAME, { v: '1' })));
    await watch.synced;
    await firstWatch;
    await first.next('1');
    server.refuse('reset');
    server.endWatches();
    const line = await retry();
    secrets.remove(NAME, NS);
    secrets.add(secret('unrelated'));
    server.compact();
    server.refuse(false);
    time.advance(line['retryInMs'] as number);
    await first.next('absent');
    assert.equal(server.requests.filter((r) => !r.watch).length, 2, 'listed again');
  });

  test('stop() while the watch request hangs resolves and closes the connection', { timeout: HANG_MS }, async () => {
    const { watch, first, server, firstWatch } = await setup();
    await watch.synced;
    await firstWatch;
    await first.next('absent');
    // The server ends the watch (its timeout) and goes silent before the client asks again.
    const hanging = server.nextRequest((r) => r.watch);
    server.endWatches();
    server.silence();
    await hanging;
    assert.equal(server.hangingRequests(), 1);
    await watch.stop();
    await server.untilNoOpenRequests();
  });
});
