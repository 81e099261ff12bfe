import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createAggregator } from '../../../../src/nodeagent/intake/dogstatsd/aggregator.js';
import { DEFAULT_BOUNDS, type DogStatsDBounds } from '../../../../src/nodeagent/intake/dogstatsd/bounds.js';
import { parseDatagram } from '../../../../src/nodeagent/intake/dogstatsd/parser.js';
import { createPrometheusView } from '../../../../src/nodeagent/intake/dogstatsd/prometheus.js';
import type { OriginResolver, ResolvedOrigin } from '../../../../src/nodeagent/intake/types.js';
import { SERIES } from './heapScenario.js';

const pod = (name: string): ResolvedOrigin => ({ namespace: 'shop', pod: name, uid: `uid-${name}`, tags: [`pod_name:${name}`] });
/** `uid-<name>` entity ids resolve to pod `<name>`; the container id `cid-noisy` too, to pod noisy. */
const resolver: OriginResolver = {
  resolve: (o) => (o.entityId?.startsWith('uid-') ? pod(o.entityId.slice(4)) : o.containerId === 'cid-noisy' ? pod('noisy') : undefined),
};

function feed(agg: ReturnType<typeof createAggregator>, text: string) {
  for (const s of parseDatagram(text).samples) agg.add(s);
}
const bounds = (over: Partial<DogStatsDBounds>): DogStatsDBounds => ({ ...DEFAULT_BOUNDS, ...over });

describe('DogStatsD bounds in bytes', () => {
  test('a pod past its byte budget loses its own new series; its neighbour keeps all of its own, and the drops name the pod and the reason', () => {
    const agg = createAggregator({ resolver, startMs: 0, bounds: bounds({ originMaxBytes: 256 * 1024, windowMaxBytes: 1024 * 1024 }) });
    const tags = (i: number) => Array.from({ length: 10 }, (_, t) => `tag${t}:${i}-${'v'.repeat(150)}`).join(',');
    for (let i = 0; i < 2_000; i++) {
      // The noisy pod sends under its entity id and its container id: one pod, one budget.
      feed(agg, i % 2 ? `noisy.m:1|c|#dd.internal.entity_id:uid-noisy,${tags(i)}` : `noisy.m:1|c|c:cid-noisy|#${tags(i)}`);
      if (i % 20 === 0) feed(agg, `quiet.m:1|c|#dd.internal.entity_id:uid-quiet,shard:${i}`);
    }
    const { series, stats } = agg.flush(10_000);
    const quiet = series.filter((s) => s.name === 'quiet.m');
    assert.equal(quiet.length, 100, 'every series of the quiet pod is kept');
    const noisy = series.filter((s) => s.name === 'noisy.m').length;
    assert.ok(noisy > 0 && noisy < 2_000, `${noisy} noisy series kept`);
    assert.equal(stats.drops.get('shop/noisy')?.origin_bytes, 2_000 - noisy);
    assert.equal(stats.drops.get('shop/quiet'), undefined);
    assert.ok(stats.bytes <= 1024 * 1024);
  });

  test('the window budget bounds every origin together, made-up origins included (past 1,000 they share one budget)', () => {
    const agg = createAggregator({ resolver, startMs: 0, bounds: bounds({ windowMaxBytes: 2 * 1024 * 1024 }) });
    for (let i = 0; i < 3_000; i++) feed(agg, `m:1|c|#dd.internal.entity_id:made-up-${i},big:${'x'.repeat(190)},n:${i}`);
    const { stats } = agg.flush(10_000);
    assert.ok(stats.bytes <= 2 * 1024 * 1024 && stats.bytes > 1024 * 1024, `${stats.bytes} bytes`);
    let windowDrops = 0;
    for (const r of stats.drops.values()) windowDrops += r.window_bytes;
    assert.equal(windowDrops, stats.droppedSamples);
    assert.ok(stats.drops.size <= 1_001, `${stats.drops.size} origin labels`);
  });

  test('names and tags past their caps drop the sample, counted by reason; the budget is released at each window', () => {
    const agg = createAggregator({ resolver, startMs: 0, bounds: bounds({ maxNameLength: 10, maxTagLength: 8, maxTags: 2 }) });
    feed(agg, 'a-very-long-name:1|c\nok:1|c|#abcdefghi\nok:1|c|#a,b,c\nok:1|c|#a,b');
    const first = agg.flush(10_000);
    assert.deepEqual(first.series.map((s) => s.tags), [['a', 'b']]);
    assert.deepEqual(first.stats.drops.get('none'), { series_limit: 0, window_bytes: 0, origin_bytes: 0, name_too_long: 1, tag_too_long: 1, too_many_tags: 1 });
    assert.ok(first.stats.bytes > 0);
    assert.equal(agg.bytes, 0);
  });

  test('set members are charged to their origin: past the budget they are dropped, the set still reported', () => {
    const agg = createAggregator({ resolver, startMs: 0, bounds: bounds({ originMaxBytes: 64 * 1024 }) });
    for (let i = 0; i < 5_000; i++) feed(agg, `users:member-${i}-${'m'.repeat(40)}|s|#dd.internal.entity_id:uid-web`);
    const { series, stats } = agg.flush(10_000);
    const users = series[0]!.value!;
    assert.ok(users > 100 && users < 5_000, `${users} members`);
    assert.equal(stats.droppedSetMembers, 5_000 - users);
    assert.equal(stats.drops.get('shop/web')?.origin_bytes, 5_000 - users);
  });

  test('the Prometheus view keeps at most its byte bound and streams its page in chunks', () => {
    const view = createPrometheusView({ maxBytes: 200_000, chunkBytes: 16 * 1024 });
    const series = Array.from({ length: 5_000 }, (_, i) => ({ name: 'm', kind: 'gauge' as const, tags: [`id:${i}`, `pad:${'p'.repeat(100)}`], startMs: 0, endMs: 1, value: i }));
    view.update(series, 1);
    assert.ok(view.bytes <= 200_000, `${view.bytes}`);
    assert.equal(view.dropped, 5_000 - view.size);
    const chunks = [...view.chunks()];
    assert.ok(chunks.length > 5, `${chunks.length} chunks`);
    assert.ok(chunks.every((c) => c.length < 16 * 1024 + 1_000));
    assert.equal(chunks.join('').split('\n').filter((l) => l.startsWith('m{')).length, view.size);
  });

  test(`the review's reproduction: ${SERIES} series with 8 KB tag sets in a 256 MiB heap are bounded, not fatal`, async () => {
    const url = new URL('./heapScenario.js', import.meta.url).href;
    const child = spawn(process.execPath, ['--max-old-space-size=256', '--input-type=module', '-e', `const m = await import(${JSON.stringify(url)}); await m.run();`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, `the child died (heap exhausted?): ${err.slice(-2_000)}`);
    const r = JSON.parse(out) as { series: number; windowBytes: number; dropped: number; pageBytes: number; byOrigin: Record<string, Record<string, number>> };
    assert.ok(r.series > 0 && r.series < SERIES, `${r.series} series kept`);
    assert.equal(r.series + r.dropped, SERIES);
    assert.ok(r.windowBytes <= DEFAULT_BOUNDS.windowMaxBytes);
    assert.ok((r.byOrigin['other']?.window_bytes ?? 0) > 0, 'drops counted under the shared origin past 1,000 origins');
  });
});
