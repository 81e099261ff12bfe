import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrometheusView, sanitizeLabelName, sanitizeMetricName, tagsToLabels } from '../../../../src/nodeagent/intake/dogstatsd/prometheus.js';
import type { AggregatedSeries } from '../../../../src/nodeagent/intake/types.js';

const sum = (name: string, value: number, tags: string[] = []): AggregatedSeries => ({ name, kind: 'sum', tags, startMs: 0, endMs: 1, value });
const gauge = (name: string, value: number, tags: string[] = []): AggregatedSeries => ({ name, kind: 'gauge', tags, startMs: 0, endMs: 1, value });

describe('DogStatsD Prometheus exposition', () => {
  test('names and labels sanitised; bare tags, repeated keys and reserved names', () => {
    assert.equal(sanitizeMetricName('http.requests-total'), 'http_requests_total');
    assert.equal(sanitizeMetricName('9lives'), '_9lives');
    assert.equal(sanitizeLabelName('kube.namespace'), 'kube_namespace');
    assert.equal(sanitizeLabelName('__name__'), 'tag___name__');
    assert.equal(sanitizeLabelName('quantile'), 'tag_quantile');
    assert.deepEqual(tagsToLabels(['kube_service:b', 'canary', 'kube_service:a', 'msg:say "hi"\\\n']), ['canary="true"', 'kube_service="a,b"', 'msg="say \\"hi\\"\\\\\\n"']);
  });

  test('counts accumulate across windows (Prometheus computes the rate), gauges keep the last, summaries: last quantiles, running sum and count', () => {
    const view = createPrometheusView();
    const summary = (count: number, sum: number, p: number): AggregatedSeries => ({
      name: 'lat',
      kind: 'summary',
      tags: ['pod_name:web-1'],
      startMs: 0,
      endMs: 1,
      summary: { count, sum, min: 1, max: p, quantiles: [{ q: 0.5, value: p }] },
    });
    view.update([sum('hits', 2, ['pod_name:web-1']), gauge('temp', 5), summary(2, 10, 7)], 10_000);
    view.update([sum('hits', 3, ['pod_name:web-1']), gauge('temp', 4), summary(1, 3, 3)], 20_000);
    assert.equal(
      view.render(),
      [
        '# TYPE hits counter',
        'hits{pod_name="web-1"} 5',
        '# TYPE lat summary',
        'lat{pod_name="web-1",quantile="0.5"} 3',
        'lat_sum{pod_name="web-1"} 13',
        'lat_count{pod_name="web-1"} 3',
        '# TYPE temp gauge',
        'temp 4',
        '',
      ].join('\n'),
    );
  });

  test('a name never shows with two types; series expire after the TTL; bounded', () => {
    const view = createPrometheusView({ ttlMs: 60_000, maxSeries: 3 });
    view.update([sum('a.b', 1), gauge('a_b', 2), gauge('c', 1), gauge('d', 1), gauge('e', 1)], 0);
    assert.equal(view.size, 3);
    assert.equal(view.dropped, 2);
    assert.match(view.render(), /# TYPE a_b counter\na_b 1\n/);
    view.update([gauge('c', 2)], 61_000);
    assert.equal(view.render(), '# TYPE c gauge\nc 2\n');
  });
});
