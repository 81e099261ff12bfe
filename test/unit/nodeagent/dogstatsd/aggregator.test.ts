import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createAggregator } from '../../../../src/nodeagent/intake/dogstatsd/aggregator.js';
import { parseDatagram } from '../../../../src/nodeagent/intake/dogstatsd/parser.js';
import { Sketch } from '../../../../src/nodeagent/intake/dogstatsd/sketch.js';
import type { Origin, OriginResolver, ResolvedOrigin } from '../../../../src/nodeagent/intake/types.js';

const POD: ResolvedOrigin = { namespace: 'shop', pod: 'web-1', uid: 'uid-web-1', tags: ['kube_deployment:web', 'kube_namespace:shop', 'pod_name:web-1'] };

/** Resolves `uid-web-1` (entity) and `cid-web-1` (container); counts its calls. */
function resolver(): OriginResolver & { calls: Origin[] } {
  const calls: Origin[] = [];
  return {
    calls,
    resolve(o) {
      calls.push(o);
      return o.entityId === 'uid-web-1' || o.containerId === 'cid-web-1' ? POD : undefined;
    },
  };
}

function feed(agg: ReturnType<typeof createAggregator>, text: string) {
  const r = parseDatagram(text);
  assert.deepEqual(r.errors, []);
  for (const s of r.samples) agg.add(s);
}

describe('DogStatsD aggregator', () => {
  test('counts are summed with their sample rate, gauges keep the last, sets count distinct members', () => {
    const agg = createAggregator({ resolver: resolver(), startMs: 0 });
    feed(agg, 'hits:1|c\nhits:2|c|@0.5\nhits:1|c|@0.1\ntemp:5|g\ntemp:7|g\nusers:a|s\nusers:b|s\nusers:a|s');
    const { series, stats } = agg.flush(10_000);
    const by = Object.fromEntries(series.map((s) => [s.name, s]));
    assert.equal(by.hits!.kind, 'sum');
    assert.ok(Math.abs(by.hits!.value! - (1 + 4 + 10)) < 1e-9);
    assert.equal(by.temp!.kind, 'gauge');
    assert.equal(by.temp!.value, 7);
    assert.equal(by.users!.kind, 'gauge');
    assert.equal(by.users!.value, 2);
    assert.ok(series.every((s) => s.startMs === 0 && s.endMs === 10_000 && s.origin === undefined));
    assert.equal(stats.samples, 8);
    assert.equal(stats.seriesNoOrigin, 3);
  });

  test('histograms, timings and distributions are summaries: count and sum with the rate, min, max, quantiles', () => {
    const agg = createAggregator({ resolver: resolver(), startMs: 0 });
    const values = Array.from({ length: 1000 }, (_, i) => i + 1);
    for (let i = 0; i < values.length; i += 50) feed(agg, `lat:${values.slice(i, i + 50).join(':')}|h`);
    feed(agg, 'rt:10|ms|@0.5\nd:3|d');
    const { series } = agg.flush(10_000);
    const lat = series.find((s) => s.name === 'lat')!;
    assert.equal(lat.kind, 'summary');
    const sum = lat.summary!;
    assert.equal(sum.count, 1000);
    assert.equal(sum.sum, 500_500);
    assert.equal(sum.min, 1);
    assert.equal(sum.max, 1000);
    for (const { q, value } of sum.quantiles) {
      const exact = values[Math.ceil(q * 1000) - 1]!;
      assert.ok(Math.abs(value - exact) / exact <= 0.02, `p${q * 100} ${value} vs ${exact}`);
    }
    assert.deepEqual(
      sum.quantiles.map((x) => x.q),
      [0.5, 0.95, 0.99],
    );
    const rt = series.find((s) => s.name === 'rt')!.summary!;
    assert.equal(rt.count, 2);
    assert.equal(rt.sum, 20);
    assert.equal(series.find((s) => s.name === 'd')!.kind, 'summary');
  });

  test('one series per name, type, sorted tags and origin; the tag order the client used does not matter', () => {
    const agg = createAggregator({ resolver: resolver(), startMs: 0 });
    feed(agg, 'x:1|c|#b,a\nx:1|c|#a,b\nx:1|c|#a,b,a\nx:1|g|#a,b\nx:1|c|#a\nx:1|c|#a,b|c:other');
    const { series } = agg.flush(10_000);
    const counts = series.filter((s) => s.kind === 'sum');
    assert.deepEqual(counts.map((s) => [s.tags.join(','), s.value]).sort(), [
      ['a', 1],
      ['a,b', 1],
      ['a,b', 3],
    ]);
    assert.equal(series.length, 4);
  });

  test("a new series is noticed once (a new pod's first metric can be fetched before the flush), not per sample", () => {
    const noticed: Origin[] = [];
    // The pod becomes known only once its first series was noticed: as after the node agent's refresh.
    let known = false;
    const r: OriginResolver = {
      resolve: (o) => (known && o.entityId === 'uid-web-1' ? POD : undefined),
      notice: (o) => {
        noticed.push(o);
        known = true;
      },
    };
    const agg = createAggregator({ resolver: r, startMs: 0 });
    for (let i = 0; i < 50; i++) feed(agg, 'a:1|c|#dd.internal.entity_id:uid-web-1\nb:1|c|#dd.internal.entity_id:uid-web-1');
    assert.deepEqual(noticed.map((o) => o.entityId), ['uid-web-1', 'uid-web-1'], 'once per new series');
    const { series } = agg.flush(10_000);
    assert.equal(series.find((s) => s.name === 'a')?.origin, POD, 'the first window already carries the pod');
  });

  test('pod tags merged once per origin and flush, not per sample; unknown origins keep their own tags and are counted', () => {
    const r = resolver();
    const agg = createAggregator({ resolver: r, startMs: 0 });
    for (let i = 0; i < 100; i++) feed(agg, 'a:1|c|#env:prod,dd.internal.entity_id:uid-web-1\nb:1|g|#dd.internal.entity_id:uid-web-1\nc:1|c|c:cid-web-1\nd:1|c|#dd.internal.entity_id:gone');
    const { series, stats } = agg.flush(10_000);
    // Once per distinct origin (for its byte budget), and again at the flush only for the one not resolved
    // then (a pod that started mid-window is known by the flush).
    assert.deepEqual(r.calls.map((o) => o.entityId ?? o.containerId), ['uid-web-1', 'cid-web-1', 'gone', 'gone']);
    const a = series.find((s) => s.name === 'a')!;
    assert.deepEqual(a.tags, ['env:prod', 'kube_deployment:web', 'kube_namespace:shop', 'pod_name:web-1']);
    assert.equal(a.origin, POD);
    assert.equal(series.find((s) => s.name === 'c')!.origin, POD);
    const d = series.find((s) => s.name === 'd')!;
    assert.deepEqual(d.tags, []);
    assert.equal(d.origin, undefined);
    assert.deepEqual([stats.seriesWithPod, stats.seriesUnknownOrigin, stats.seriesNoOrigin], [3, 1, 0]);
  });

  test('windows: each flush ends one, and the next starts empty where it ended', () => {
    const agg = createAggregator({ resolver: resolver(), startMs: 5_000 });
    feed(agg, 'x:1|c');
    const first = agg.flush(10_000).series;
    assert.deepEqual(
      first.map((s) => [s.startMs, s.endMs, s.value]),
      [[5_000, 10_000, 1]],
    );
    assert.equal(agg.size, 0);
    assert.deepEqual(agg.flush(20_000).series, []);
    feed(agg, 'x:2|c');
    assert.deepEqual(
      agg.flush(30_000).series.map((s) => [s.startMs, s.endMs, s.value]),
      [[20_000, 30_000, 2]],
    );
  });

  test('|T samples go into the window of their own timestamp; the latest timestamp wins for gauges', () => {
    const agg = createAggregator({ resolver: resolver(), startMs: 1_700_000_100_000 });
    feed(agg, 'g:5|g|T1700000003\ng:3|g|T1700000001\nc:1|c|T1700000004\nc:2|c|T1700000009\nc:7|c|T1700000010\nc:1|c');
    const { series } = agg.flush(1_700_000_110_000);
    const rows = series.map((s) => [s.name, s.startMs, s.endMs, s.value]).sort();
    assert.deepEqual(rows, [
      ['c', 1_700_000_000_000, 1_700_000_010_000, 3],
      ['c', 1_700_000_010_000, 1_700_000_020_000, 7],
      ['c', 1_700_000_100_000, 1_700_000_110_000, 1],
      ['g', 1_700_000_000_000, 1_700_000_010_000, 5],
    ]);
  });

  test('a cap on series per window: samples of new series dropped and counted, known series still aggregate', () => {
    const agg = createAggregator({ resolver: resolver(), startMs: 0, maxSeries: 3 });
    for (let i = 0; i < 10; i++) feed(agg, `x:1|c|#id:${i}`);
    feed(agg, 'x:1|c|#id:0');
    assert.equal(agg.size, 3);
    const { series, stats } = agg.flush(10_000);
    assert.equal(series.length, 3);
    assert.equal(stats.droppedSamples, 7);
    assert.equal(series.find((s) => s.tags[0] === 'id:0')!.value, 2);
    // The next window has room again.
    feed(agg, 'y:1|c');
    assert.equal(agg.flush(20_000).series.length, 1);
  });

  test('sets are bounded per set and per window', () => {
    const agg = createAggregator({ resolver: resolver(), startMs: 0, maxSetMembers: 5, maxSetMembersPerWindow: 9 });
    for (let i = 0; i < 10; i++) feed(agg, `a:${i}|s\nb:${i}|s`);
    const { series, stats } = agg.flush(10_000);
    assert.equal(series.find((s) => s.name === 'a')!.value, 5);
    assert.equal(series.find((s) => s.name === 'b')!.value, 4);
    assert.equal(stats.droppedSetMembers, 11);
  });
});

describe('DogStatsD sketch', () => {
  test('quantiles within the relative accuracy over a wide range, negatives and zero included', () => {
    const k = new Sketch(0.01, 2048);
    const values: number[] = [];
    for (let i = -200; i <= 1000; i++) values.push(i === 0 ? 0 : Math.sign(i) * Math.abs(i) ** 2);
    for (const v of values) k.add(v);
    values.sort((a, b) => a - b);
    for (const q of [0, 0.1, 0.25, 0.5, 0.9, 0.99, 1]) {
      const exact = values[Math.max(0, Math.ceil(q * values.length) - 1)]!;
      const got = k.quantile(q);
      assert.ok(Math.abs(got - exact) <= Math.abs(exact) * 0.0101 + 1e-9, `q${q}: ${got} vs ${exact}`);
    }
  });

  test('bounded bins: the lowest collapse, the high quantiles keep their accuracy', () => {
    const k = new Sketch(0.01, 64);
    for (let e = -9; e <= 12; e += 0.01) k.add(10 ** e);
    assert.ok(k.bins <= 64, `bins ${k.bins}`);
    const p99 = k.quantile(0.99);
    const exact = 10 ** (-9 + 0.99 * 21);
    assert.ok(Math.abs(p99 - exact) / exact < 0.05, `p99 ${p99} vs ${exact}`);
    assert.equal(k.min, 10 ** -9);
  });

  test('weights: a value sampled at 25 % counts 4 times', () => {
    const k = new Sketch(0.01, 64);
    k.add(10, 4);
    assert.equal(k.count, 4);
    assert.equal(k.sum, 40);
    assert.ok(Math.abs(k.quantile(0.5) - 10) < 0.11);
    assert.ok(Number.isNaN(new Sketch(0.01, 8).quantile(0.5)));
  });
});
