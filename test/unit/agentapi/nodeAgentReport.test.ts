/**
 * The node agent report's two wire formats (header, ConfigMap entry) and the merge of what several
 * cluster agent replicas write (agentapi/nodeAgentReport.ts), and the recorder that batches the
 * writes (clusteragent/api/nodeAgentRecorder.ts) against an in-memory ConfigMap with the API server's
 * Conflict semantics and a manual clock.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NODE_AGENT_REPORT_HEADER_MAX_BYTES, NODE_AGENT_REPORT_SUMMARY_MAX_CHARS } from '../../../src/config/limits.js';
import {
  encodeNodeAgentHeader,
  encodeNodeAgentRecord,
  mergeNodeAgentRecords,
  parseNodeAgentHeader,
  parseNodeAgentRecord,
  parseNodeAgentRecords,
  type NodeAgentRecord,
} from '../../../src/agentapi/nodeAgentReport.js';
import { createNodeAgentReportWriter } from '../../../src/clusteragent/api/nodeAgentRecorder.js';
import { Conflict } from '../../../src/kube/configMaps.js';
import { fakeConfigMapStore } from '../../helpers/fakeConfigMapStore.js';
import { recordingLogger } from '../../helpers/logs.js';
import { manualTimers } from '../../helpers/manualTimers.js';

const at = (ms: number) => new Date(ms).toISOString();
const rec = (ms: number, kubelet: NodeAgentRecord['kubelet'] = { state: 'ok' }, clusterAgent: NodeAgentRecord['clusterAgent'] = { state: 'ok' }): NodeAgentRecord => ({ lastSeen: at(ms), kubelet, clusterAgent });

describe('the X-Tether-Node-Agent header', () => {
  test('round trip; ASCII only; the summary cut; garbage and absence are unknown', () => {
    const k = { state: 'failing' as const, code: 'forbidden', status: 403, summary: 'the kubelet refused system:serviceaccount:datadog:default – “nodes/proxy”' };
    const v = encodeNodeAgentHeader(k);
    assert.match(v, /^[\x20-\x7e]+$/);
    assert.deepEqual(parseNodeAgentHeader(v), k);
    const long = encodeNodeAgentHeader({ ...k, summary: 'x'.repeat(5000) });
    assert.ok(long.length <= NODE_AGENT_REPORT_HEADER_MAX_BYTES);
    assert.ok((parseNodeAgentHeader(long).summary ?? '').length <= NODE_AGENT_REPORT_SUMMARY_MAX_CHARS);
    assert.deepEqual(parseNodeAgentHeader(undefined), { state: 'unknown' });
    assert.deepEqual(parseNodeAgentHeader('{not json'), { state: 'unknown' });
    assert.deepEqual(parseNodeAgentHeader('{"kubelet":{"state":"weird"}}'), { state: 'unknown' });
    assert.deepEqual(parseNodeAgentHeader('{"kubelet":{"state":"failing","code":"Bad Code!","status":99999}}'), { state: 'failing' });
    assert.deepEqual(parseNodeAgentHeader('{"kubelet":{"state":"ok","code":"forbidden","summary":"s"}}'), { state: 'ok' }, 'ok carries no problem');
  });

  test('ConfigMap entries: parsed back, malformed ones dropped', () => {
    const r = rec(1_700_000_000_000, { state: 'failing', code: 'unauthorized', status: 401 }, { state: 'failing', code: 'forbidden', status: 403 });
    assert.deepEqual(parseNodeAgentRecord(encodeNodeAgentRecord(r)), r);
    assert.equal(parseNodeAgentRecord('nope'), undefined);
    assert.equal(parseNodeAgentRecord('{"lastSeen":"yesterday","kubelet":{},"clusterAgent":{"state":"ok"}}'), undefined);
    assert.equal(parseNodeAgentRecord(`{"lastSeen":"${at(0)}","kubelet":{}}`), undefined);
    assert.deepEqual([...parseNodeAgentRecords({ a: encodeNodeAgentRecord(r), b: '{' }).keys()], ['a']);
  });
});

describe('mergeNodeAgentRecords', () => {
  test('the newest record per node wins; old and unreadable entries go; nothing to write is no change', () => {
    const current = { n1: encodeNodeAgentRecord(rec(5_000)), n2: encodeNodeAgentRecord(rec(1_000)), old: encodeNodeAgentRecord(rec(10)), junk: '?' };
    const mine = new Map([
      ['n1', rec(4_000, { state: 'failing', code: 'forbidden' })],
      ['n2', rec(2_000, { state: 'failing', code: 'unauthorized' })],
      ['n3', rec(3_000)],
    ]);
    const changes = mergeNodeAgentRecords(current, mine, 500);
    assert.deepEqual(Object.keys(changes).sort(), ['junk', 'n2', 'n3', 'old']);
    assert.equal(changes['old'], null);
    assert.equal(changes['junk'], null);
    assert.equal(parseNodeAgentRecord(changes['n2']!)?.kubelet.code, 'unauthorized');
    assert.deepEqual(mergeNodeAgentRecords({ n1: encodeNodeAgentRecord(rec(5_000)) }, new Map([['n1', rec(5_000)]]), 0), {});
  });

  test('over the size budget: the oldest summaries go first, then the oldest records', () => {
    const summary = 's'.repeat(200);
    const mine = new Map(Array.from({ length: 10 }, (_, i) => [`node-${i}`, rec(1_000 + i, { state: 'failing', code: 'forbidden', summary })] as const));
    const full = mergeNodeAgentRecords(undefined, mine, 0, 1_000_000);
    const size = (c: Record<string, string | null>) => Object.entries(c).reduce((n, [k, v]) => n + k.length + (v?.length ?? 0) + 8, 0);
    const budget = size(full) - 300;
    const slim = mergeNodeAgentRecords(undefined, mine, 0, budget);
    assert.equal(parseNodeAgentRecord(slim['node-0']!)?.kubelet.summary, undefined);
    assert.equal(parseNodeAgentRecord(slim['node-9']!)?.kubelet.summary, summary);
    const tiny = mergeNodeAgentRecords(undefined, mine, 0, 400);
    assert.ok(!('node-0' in tiny) && 'node-9' in tiny, JSON.stringify(Object.keys(tiny)));
  });
});

describe('the node agent report writer', () => {
  const setup = (flushMs = 5_000) => {
    const clock = manualTimers(1_700_000_000_000);
    const store = fakeConfigMapStore('datadog/datadog-node-agents');
    const logs = recordingLogger('debug');
    const w = createNodeAgentReportWriter({ store, logger: logs.logger, timers: { now: clock.now, ...clock.timers }, flushMs, refreshMs: 60_000 });
    return { clock, store, logs, w };
  };

  test('batches: one write per flush period, only when a report changed or its lastSeen is a refresh old', async () => {
    const { clock, store, w } = setup();
    w.record('n1', { state: 'ok' }, { state: 'ok' });
    w.record('n2', { state: 'failing', code: 'unauthorized', status: 401 }, { state: 'ok' });
    assert.deepEqual(clock.pending(), [0], 'the first write is not delayed');
    await w.flush();
    assert.equal(store.writes, 1);
    assert.deepEqual([...parseNodeAgentRecords(store.current?.data).keys()].sort(), ['n1', 'n2']);
    clock.advance(10_000);
    w.record('n1', { state: 'ok' }, { state: 'ok' });
    assert.deepEqual(clock.pending(), [], 'same report, recent: nothing to write');
    w.record('n1', { state: 'failing', code: 'forbidden', status: 403 }, { state: 'ok' });
    assert.equal(clock.pending().length, 1);
    await w.flush();
    assert.equal(store.writes, 2);
    assert.equal(parseNodeAgentRecords(store.current?.data).get('n1')?.kubelet.code, 'forbidden');
    clock.advance(61_000);
    w.record('n1', { state: 'failing', code: 'forbidden', status: 403 }, { state: 'ok' });
    await w.flush();
    assert.equal(store.writes, 3, 'lastSeen refreshed');
    await w.stop();
  });

  test('a refused request keeps the last kubelet report and records the answer', async () => {
    const { store, w } = setup();
    w.record('n1', { state: 'failing', code: 'unauthorized', status: 401 }, { state: 'ok' });
    w.record('n1', undefined, { state: 'failing', code: 'forbidden', status: 403 });
    await w.flush();
    const r = parseNodeAgentRecords(store.current?.data).get('n1');
    assert.equal(r?.kubelet.code, 'unauthorized');
    assert.deepEqual(r?.clusterAgent, { state: 'failing', code: 'forbidden', status: 403 });
    await w.stop();
  });

  test('merges with another replica\'s write on Conflict; a failing write is logged with the RBAC it needs and retried', async () => {
    const { store, logs, w } = setup();
    store.set({ other: encodeNodeAgentRecord(rec(1_700_000_000_000)) });
    const update = store.update.bind(store);
    let conflicts = 1;
    store.update = async (rv, changes, signal) => {
      if (conflicts-- > 0) {
        store.set({ ...store.current!.data, n9: encodeNodeAgentRecord(rec(1_700_000_000_000)) });
        throw new Conflict('changed');
      }
      return update(rv, changes, signal);
    };
    w.record('n1', { state: 'ok' }, { state: 'ok' });
    await w.flush();
    assert.deepEqual([...parseNodeAgentRecords(store.current?.data).keys()].sort(), ['n1', 'n9', 'other']);

    store.get = async () => {
      throw new Error('cannot read ConfigMap datadog/datadog-node-agents: HTTP 403');
    };
    w.record('n2', { state: 'ok' }, { state: 'ok' });
    await w.flush();
    const warn = logs.lines().find((l) => l.level === 'warn' || l.level === 40);
    assert.match(String(warn?.msg), /cannot write node agent reports .*get, update on ConfigMap datadog\/datadog-node-agents \(deploy\/rbac.yaml\)/);
    await w.stop();
  });
});
