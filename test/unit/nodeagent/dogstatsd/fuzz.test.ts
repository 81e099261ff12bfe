/** Whatever a client sends, the parser and aggregator never throw and never hold more than their caps. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createAggregator } from '../../../../src/nodeagent/intake/dogstatsd/aggregator.js';
import { parseDatagram, parseInto, type ParseSink } from '../../../../src/nodeagent/intake/dogstatsd/parser.js';
import { createPrometheusView } from '../../../../src/nodeagent/intake/dogstatsd/prometheus.js';
import type { OriginResolver } from '../../../../src/nodeagent/intake/types.js';

const resolver: OriginResolver = { resolve: (o) => (o.entityId === 'u1' ? { namespace: 'n', pod: 'p', uid: 'u1', tags: ['pod_name:p'] } : undefined) };
const CAP = 20;

/** Lines close to valid: real pieces, shuffled, with the protocol's separators in odd places. */
const piece = fc.constantFrom(
  'metric.name', ':', '1', '-2.5', '1e3', '1e999', 'NaN', '|', 'c', 'g', 'h', 'd', 's', 'ms', 'x', '@', '0.5', '@0', '@2', '#', 'a:b', ',', 'dd.internal.entity_id:u1',
  'dd.internal.entity_id:', 'c:', 'ci-', 'in-', 'abc', 'T', 'T1700000000', 'T-1', '_sc', '_e{', '}', '{', '3,4', '\n', '\r\n', ' ', '\u0000', 'é', '\ud83d\ude00',
);
const nearLine = fc.array(piece, { maxLength: 16 }).map((p) => p.join(''));
const validish = fc
  .record({
    name: fc.constantFrom('a', 'b.c', 'd_e'),
    values: fc.array(fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })), { minLength: 1, maxLength: 4 }),
    type: fc.constantFrom('c', 'g', 'h', 'd', 's', 'ms'),
    rate: fc.option(fc.double({ min: 0.01, max: 1, noNaN: true })),
    tags: fc.array(fc.constantFrom('a:1', 'b:2', 'c', 'dd.internal.entity_id:u1', 'dd.internal.entity_id:u2'), { maxLength: 4 }),
    ts: fc.option(fc.integer({ min: 1, max: 2_000_000_000 })),
  })
  .map((r) => `${r.name}:${r.values.join(':')}|${r.type}${r.rate === null ? '' : `|@${r.rate}`}${r.tags.length ? `|#${r.tags.join(',')}` : ''}${r.ts === null ? '' : `|T${r.ts}`}`);

function run(datagrams: string[]) {
  const agg = createAggregator({ resolver, startMs: 0, maxSeries: CAP, maxSetMembers: 5, maxSetMembersPerWindow: 30 });
  const sink: ParseSink = { sample: (s) => agg.add(s), serviceCheck() {}, event() {}, malformed() {} };
  const view = createPrometheusView({ maxSeries: CAP });
  let t = 0;
  for (const d of datagrams) {
    parseInto(d, sink);
    assert.ok(agg.size <= CAP, `${agg.size} series held`);
    if ((t += 1) % 5 === 0) {
      const { series } = agg.flush(t * 1000);
      assert.ok(series.length <= CAP);
      for (const s of series) {
        if (s.kind === 'summary') {
          assert.ok(s.summary!.count > 0 && s.summary!.min <= s.summary!.max);
          for (const q of s.summary!.quantiles) assert.ok(q.value >= s.summary!.min && q.value <= s.summary!.max, `quantile ${q.value} in [${s.summary!.min}, ${s.summary!.max}]`);
        } else assert.equal(typeof s.value, 'number');
      }
      view.update(series, t * 1000);
      assert.ok(view.size <= CAP);
      view.render();
    }
  }
}

describe('DogStatsD fuzz', () => {
  test('arbitrary bytes: no throw, caps hold', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (bufs) => run(bufs.map((b) => Buffer.from(b).toString('utf8')))),
      { numRuns: 300 },
    );
  });

  test('near-valid lines: no throw, caps hold, every line either taken or named malformed', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.oneof(nearLine, validish), { maxLength: 10 }), { maxLength: 30 }), (datagrams) => {
        for (const lines of datagrams) {
          for (const line of lines) {
            const r = parseDatagram(line);
            for (const e of r.errors) assert.ok(e.message.length > 0 && e.message.length < 300);
            for (const s of r.samples) {
              assert.ok(Number.isFinite(s.value) && s.sampleRate > 0 && s.sampleRate <= 1);
              assert.ok(!s.tags.some((t) => t.startsWith('dd.internal.entity_id:')));
            }
          }
        }
        run(datagrams.map((l) => l.join('\n')));
      }),
      { numRuns: 300 },
    );
  });

  test('valid lines with many distinct tags: held at the cap, drops counted', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 8 }), { minLength: 30, maxLength: 80 }), (ids) => {
        const agg = createAggregator({ resolver, startMs: 0, maxSeries: CAP });
        for (const id of ids) for (const s of parseDatagram(`x:1|c|#id:${id.replace(/[|\n,#]/g, '')}`).samples) agg.add(s);
        assert.ok(agg.size <= CAP);
        const { stats } = agg.flush(1);
        assert.ok(stats.series <= CAP);
        assert.ok(stats.samples - stats.droppedSamples >= stats.series, 'every series held has a sample taken');
        if (new Set(ids.map((id) => id.replace(/[|\n,#]/g, ''))).size > CAP) assert.ok(stats.droppedSamples > 0);
      }),
      { numRuns: 100 },
    );
  });
});
