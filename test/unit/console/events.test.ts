/**
 * The console's event stream (console/events.ts) with a manual clock: changes are coalesced per flush
 * (a pod changed many times is one row, as it is at the end), a storm becomes one `resync`, a node's
 * stream gets only that node's pods (and those that left it), heartbeats come on time, logout and
 * shutdown end streams with `bye`, a client that does not read is cut. Then through the HTTP handler.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClusterStore } from '../../../src/clusteragent/clusterStore.js';
import type { PodView } from '../../../src/clusterview/types.js';
import { createEventHub, type EventSink } from '../../../src/console/events.js';
import type { ConsoleEventName, PodRow } from '../../../src/console/types.js';
import { ADMIN, ENABLED, manualHubTimers, podObject, startConsoleUnderTest, stored, type ConsoleUnderTest } from './harness.js';

interface Received {
  readonly event: ConsoleEventName;
  readonly data: any;
}

function parseSse(text: string): Received[] {
  return text
    .split('\n\n')
    .filter((b) => b.includes('event: '))
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)![1] as ConsoleEventName;
      const data = JSON.parse(/^data: (.*)$/m.exec(block)![1]!);
      return { event, data };
    });
}

function sink(opts: { stuck?: boolean } = {}): EventSink & { text: () => string; ended: boolean; destroyed: boolean; events: () => Received[] } {
  let text = '';
  const s = {
    ended: false,
    destroyed: false,
    writableLength: 0,
    write(chunk: string) {
      text += chunk;
      if (opts.stuck) s.writableLength += chunk.length;
      return true;
    },
    end() {
      s.ended = true;
    },
    destroy() {
      s.destroyed = true;
    },
    text: () => text,
    events: () => parseSse(text),
  };
  return s;
}

const row = (p: PodView): PodRow => ({ namespace: p.namespace, name: p.name, uid: p.uid, node: p.node, phase: p.phase, injected: false, reason: 'no-label' });
const view = (name: string, node: string, phase = 'Running'): PodView => createClusterStore().compact('pods', podObject({ name, node, phase }));

function hub(o: { maxRows?: number; maxBufferedBytes?: number } = {}) {
  const timers = manualHubTimers();
  const h = createEventHub({
    rowOf: row,
    nodeRowOf: (n) => ({ name: n, known: true, pods: 0, injected: 0, missed: 0 }),
    counts: () => ({ nodes: 0, pods: 0, unscheduledPods: 0, injectedPods: 0, missedPods: 0, namespaces: 0 }),
    timers,
    flushMs: 1000,
    heartbeatMs: 15_000,
    maxRows: o.maxRows ?? 100,
    ...(o.maxBufferedBytes !== undefined ? { maxBufferedBytes: o.maxBufferedBytes } : {}),
  });
  return { h, timers };
}

describe('event hub', () => {
  test('starts with hello; changes within a flush are one message, the latest state of each pod', () => {
    const { h, timers } = hub();
    const s = sink();
    h.attach(s);
    assert.equal(s.events()[0]?.event, 'hello');
    const a1 = view('a', 'n1', 'Pending');
    const a2 = view('a', 'n1', 'Running');
    h.podChanged(undefined, a1);
    h.podChanged(a1, a2);
    for (let i = 0; i < 10; i++) h.podChanged(a2, a2);
    const b = view('b', 'n2');
    h.podChanged(undefined, b);
    h.podChanged(b, undefined);
    timers.advance(999);
    assert.equal(s.events().length, 1, 'nothing before the flush period');
    timers.advance(1);
    const pods = s.events().filter((e) => e.event === 'pods');
    assert.equal(pods.length, 1);
    assert.deepEqual(pods[0]!.data.upserted.map((r: PodRow) => [r.name, r.phase]), [['a', 'Running']]);
    // b was added and removed within the flush: a deletion of something the page may have listed.
    assert.deepEqual(pods[0]!.data.deleted, []);
    assert.ok(s.events().some((e) => e.event === 'counts'));
    assert.deepEqual(s.events().find((e) => e.event === 'nodes')!.data.rows.map((r: { name: string }) => r.name).sort(), ['n1', 'n2']);
  });

  test('a storm (more pods than a flush sends) is one resync, not rows', () => {
    const { h, timers } = hub({ maxRows: 50 });
    const s = sink();
    h.attach(s);
    for (let i = 0; i < 150_000; i++) h.podChanged(undefined, view(`p${i % 1000}-${i}`, `n${i % 5000}`));
    timers.advance(1000);
    const names = s.events().map((e) => e.event);
    assert.deepEqual(names, ['hello', 'resync', 'resync', 'counts']);
    assert.deepEqual(s.events()[1]!.data, { what: 'pods', changes: 150_000 });
    assert.deepEqual(s.events()[2]!.data, { what: 'nodes', changes: 5000 });
    assert.ok(s.text().length < 2000, `the storm cost ${s.text().length} bytes`);
  });

  test("a node's stream gets only its pods, and a deletion for a pod that moved away", () => {
    const { h, timers } = hub();
    const mine = sink();
    const other = sink();
    h.attach(mine, { node: 'n1' });
    h.attach(other, { node: 'n2' });
    const a = view('a', 'n1');
    h.podChanged(undefined, a);
    h.podChanged(undefined, view('b', 'n2'));
    timers.advance(1000);
    const podsOf = (s: ReturnType<typeof sink>) => s.events().filter((e) => e.event === 'pods').map((e) => e.data);
    assert.deepEqual(podsOf(mine).map((d) => d.upserted.map((r: PodRow) => r.name)), [['a']]);
    assert.deepEqual(podsOf(other).map((d) => d.upserted.map((r: PodRow) => r.name)), [['b']]);
    // a is rebound (deleted and recreated elsewhere, as a StatefulSet pod): gone from n1, new on n2.
    h.podChanged(a, view('a', 'n2'));
    timers.advance(1000);
    assert.deepEqual(podsOf(mine)[1], { upserted: [], deleted: [{ namespace: 'apps', name: 'a', node: 'n1' }] });
    assert.deepEqual(podsOf(other)[1].upserted.map((r: PodRow) => r.name), ['a']);
  });

  test('heartbeats every period; logout ends the session\'s streams with bye, shutdown the rest', () => {
    const { h, timers } = hub();
    const s1 = sink();
    const s2 = sink();
    h.attach(s1, { sessionId: 'one' });
    h.attach(s2, { sessionId: 'two' });
    timers.advance(15_000);
    timers.advance(15_000);
    assert.equal(s1.events().filter((e) => e.event === 'heartbeat').length, 2);
    h.endSession('one', 'logout');
    assert.deepEqual(s1.events().at(-1), { event: 'bye', data: { reason: 'logout' } });
    assert.ok(s1.ended && !s2.ended);
    h.close();
    assert.deepEqual(s2.events().at(-1), { event: 'bye', data: { reason: 'shutdown' } });
    assert.equal(h.clients(), 0);
  });

  test('a client that does not read is cut off', () => {
    const { h, timers } = hub({ maxBufferedBytes: 1000 });
    const s = sink({ stuck: true });
    h.attach(s);
    for (let i = 0; i < 20; i++) {
      h.podChanged(undefined, view(`p${i}`, 'n1'));
      timers.advance(1000);
    }
    assert.ok(s.destroyed);
    assert.equal(h.clients(), 0);
  });

  test('no stream, nothing kept', () => {
    const { h, timers } = hub();
    h.podChanged(undefined, view('a', 'n1'));
    timers.advance(1000);
    const s = sink();
    h.attach(s);
    timers.advance(1000);
    assert.deepEqual(s.events().map((e) => e.event), ['hello']);
  });
});

describe('events over HTTP', () => {
  let t: ConsoleUnderTest;
  before(async () => {
    t = await startConsoleUnderTest();
    t.store.apply('nodes', 'ADDED', { metadata: { name: 'n1' } });
  });
  after(() => t.close());

  test('without a session: 401; with one: a new injected pod arrives as a row, and logout ends the stream', async () => {
    assert.equal((await t.fetch('/api/v1/console/events')).status, 401);
    const { cookie } = await t.login(ADMIN);
    const res = await t.fetch('/api/v1/console/events?node=n1', { cookie });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const until = async (pred: (events: Received[]) => boolean): Promise<Received[]> => {
      for (;;) {
        const events = parseSse(text);
        if (pred(events)) return events;
        const { value, done } = await reader.read();
        if (done) return parseSse(text);
        text += Buffer.from(value).toString('utf8');
      }
    };
    await until((e) => e.some((x) => x.event === 'hello'));
    t.store.apply('pods', 'ADDED', stored(podObject({ name: 'fresh', node: 'n1', labels: ENABLED })));
    t.timers.advance(1000);
    const events = await until((e) => e.some((x) => x.event === 'pods'));
    const row = events.find((e) => e.event === 'pods')!.data.upserted[0] as PodRow;
    assert.deepEqual([row.name, row.node, row.injected, row.reason], ['fresh', 'n1', true, 'injected']);
    await t.fetch('/api/v1/console/logout', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}', cookie });
    const last = await until((e) => e.some((x) => x.event === 'bye'));
    assert.deepEqual(last.at(-1), { event: 'bye', data: { reason: 'logout' } });
    assert.equal((await reader.read()).done, true);
  });
});
