/** DogStatsD fields the stack's server treats specially (issue 19, item 5): `|e:`, `dd.internal.card:`, `host:`. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDatagram } from '../../../../src/nodeagent/intake/dogstatsd/parser.js';
import { seriesToResourceMetrics } from '../../../../src/nodeagent/intake/otlp/metrics.js';
import type { AggregatedSeries } from '../../../../src/nodeagent/intake/types.js';

const UID = '3f1c2a90-1b2c-4d5e-8f90-0123456789ab';

describe('DogStatsD fields handled as the stack does', () => {
  test('|e: external data names the pod (the pu- of DD_EXTERNAL_ENV), as Datadog-External-Env does for traces', () => {
    const [s] = parseDatagram(`orders:1|c|#route:/buy|e:it-false,cn-checkout,pu-${UID}`).samples;
    assert.deepEqual(s?.origin, { entityId: UID });
    assert.deepEqual(s?.tags, ['route:/buy']);
  });
  test('the entity id tag, when sent too, is the more specific and wins', () => {
    const [s] = parseDatagram(`orders:1|c|#dd.internal.entity_id:other-uid|e:it-false,cn-checkout,pu-${UID}`).samples;
    assert.equal(s?.origin.entityId, 'other-uid');
  });
  test('|e: without a pod UID (or garbage) names no pod', () => {
    assert.deepEqual(parseDatagram('orders:1|c|e:it-false,cn-checkout').samples[0]?.origin, {});
    assert.deepEqual(parseDatagram('orders:1|c|e:pu-has spaces').samples[0]?.origin, {});
  });
  test('dd.internal.card: is not a tag of the metric', () => {
    assert.deepEqual(parseDatagram('orders:1|c|#a:b,dd.internal.card:high,c:d|card:low').samples[0]?.tags, ['a:b', 'c:d']);
  });
  test('host: is the series\' host in OTLP (the resource\'s host.name), not an attribute', () => {
    const base = { name: 'orders', kind: 'sum' as const, startMs: 0, endMs: 10_000, value: 1 };
    const series: AggregatedSeries[] = [
      { ...base, tags: ['host:edge-1', 'route:/buy'] },
      { ...base, tags: ['route:/buy'] },
    ];
    const { resourceMetrics } = seriesToResourceMetrics(series);
    assert.equal(resourceMetrics.length, 2);
    const withHost = resourceMetrics.find((rm) => rm.resource.attributes['host.name'] === 'edge-1');
    assert.ok(withHost);
    const point = (withHost.scopeMetrics[0]!.metrics[0]!.dataPoints[0] as { attributes: Record<string, unknown> }).attributes;
    assert.deepEqual(point, { route: '/buy' });
  });
});
