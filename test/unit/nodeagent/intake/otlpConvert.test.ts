/**
 * The OTLP conversions, read back through the library's own JSON encoding of the same SDK shapes (the
 * protobuf encoding is the library's too; the e2e test has a real collector and Jaeger decode it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonMetricsSerializer, JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { encodeMetricsRequest, seriesToResourceMetrics } from '../../../../src/nodeagent/intake/otlp/metrics.js';
import { podResourceAttributes, tagsToAttributes } from '../../../../src/nodeagent/intake/otlp/resource.js';
import { encodeTraceRequest, traceIdOf, tracesToSpans } from '../../../../src/nodeagent/intake/otlp/traces.js';
import type { AggregatedSeries, DdSpan, ResolvedOrigin } from '../../../../src/nodeagent/intake/types.js';

const POD: ResolvedOrigin = {
  namespace: 'shop',
  pod: 'web-7d9-x1',
  uid: 'uid-1',
  tags: [
    'env:prod',
    'kube_deployment:web',
    'kube_namespace:shop',
    'kube_node:n1',
    'kube_ownerref_kind:replicaset',
    'kube_replica_set:web-7d9',
    'kube_service:web',
    'kube_service:web-canary',
    'pod_name:web-7d9-x1',
    'service:web',
    'version:1.2',
  ],
};

interface JsonKv {
  key: string;
  value: { stringValue?: string; intValue?: number | string; doubleValue?: number; arrayValue?: { values: { stringValue: string }[] } };
}
const attrs = (kvs: JsonKv[] | undefined): Record<string, unknown> =>
  Object.fromEntries((kvs ?? []).map((kv) => [kv.key, kv.value.stringValue ?? kv.value.doubleValue ?? (kv.value.intValue !== undefined ? Number(kv.value.intValue) : undefined) ?? kv.value.arrayValue?.values.map((v) => v.stringValue)]));
const json = (bytes: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(bytes)) as any;

test('a pod resource: the tags under the semantic conventions, and as themselves (several values as an array)', () => {
  const a = podResourceAttributes(POD);
  assert.equal(a['k8s.namespace.name'], 'shop');
  assert.equal(a['k8s.pod.name'], 'web-7d9-x1');
  assert.equal(a['k8s.pod.uid'], 'uid-1');
  assert.equal(a['k8s.node.name'], 'n1');
  assert.equal(a['k8s.deployment.name'], 'web');
  assert.equal(a['k8s.replicaset.name'], 'web-7d9');
  assert.equal(a['service.name'], 'web');
  assert.equal(a['service.version'], '1.2');
  assert.equal(a['deployment.environment.name'], 'prod');
  assert.equal(a['kube_deployment'], 'web');
  assert.deepEqual(a['kube_service'], ['web', 'web-canary']);
  assert.deepEqual(podResourceAttributes(undefined), {});
  assert.deepEqual(tagsToAttributes(['beta', 'a:b:c', 'x:1', 'x:1']), { beta: '', a: 'b:c', x: '1' });
});

test('series: a delta monotonic sum, a gauge, a summary as histogram + quantile gauge; pod tags on the resource, client tags on the points', () => {
  const base = { origin: POD, startMs: 1_700_000_000_000, endMs: 1_700_000_010_000 };
  const series: AggregatedSeries[] = [
    { ...base, name: 'orders.count', kind: 'sum', tags: [...POD.tags, 'route:/buy'].sort(), value: 12.5 },
    { ...base, name: 'queue.depth', kind: 'gauge', tags: [...POD.tags].sort(), value: 3 },
    {
      ...base,
      name: 'req.latency',
      kind: 'summary',
      tags: [...POD.tags, 'route:/buy'].sort(),
      summary: { count: 4, sum: 10, min: 1, max: 4, quantiles: [{ q: 0.5, value: 2 }, { q: 0.95, value: 4 }] },
    },
    { name: 'lonely', kind: 'sum', tags: ['service:cli', 'x:y'], startMs: base.startMs, endMs: base.endMs, value: 1 },
    { ...base, name: 'broken', kind: 'gauge', tags: [], value: Number.NaN },
  ];
  const { resourceMetrics, points, skipped } = seriesToResourceMetrics(series);
  assert.equal(points, 6);
  assert.equal(skipped, 1);
  assert.equal(resourceMetrics.length, 2);
  const req = json(JsonMetricsSerializer.serializeRequest(resourceMetrics[0]!));
  const rm = req.resourceMetrics[0];
  assert.equal(attrs(rm.resource.attributes)['k8s.deployment.name'], 'web');
  const byName = Object.fromEntries(rm.scopeMetrics[0].metrics.map((m: any) => [m.name, m]));
  const sum = byName['orders.count'].sum;
  assert.equal(sum.aggregationTemporality, 1); // DELTA
  assert.equal(sum.isMonotonic, true);
  assert.equal(sum.dataPoints[0].asDouble, 12.5);
  assert.deepEqual(attrs(sum.dataPoints[0].attributes), { route: '/buy' });
  assert.equal(String(sum.dataPoints[0].startTimeUnixNano), '1700000000000000000');
  assert.equal(String(sum.dataPoints[0].timeUnixNano), '1700000010000000000');
  assert.equal(byName['queue.depth'].gauge.dataPoints[0].asDouble, 3);
  assert.deepEqual(attrs(byName['queue.depth'].gauge.dataPoints[0].attributes), {});
  const h = byName['req.latency'].histogram.dataPoints[0];
  assert.deepEqual([Number(h.count), h.sum, h.min, h.max], [4, 10, 1, 4]);
  const q = byName['req.latency.quantile'].gauge.dataPoints.map((p: any) => [attrs(p.attributes)['quantile'], p.asDouble]);
  assert.deepEqual(q, [['0.5', 2], ['0.95', 4]]);
  // Unknown origin: an empty resource, every tag of its own on the point.
  const lonely = json(JsonMetricsSerializer.serializeRequest(resourceMetrics[1]!)).resourceMetrics[0];
  assert.deepEqual(attrs(lonely.resource.attributes), {});
  assert.deepEqual(attrs(lonely.scopeMetrics[0].metrics[0].sum.dataPoints[0].attributes), { service: 'cli', x: 'y' });
});

test('one protobuf request holds every resource: the concatenation of one encoding per resource', () => {
  const { resourceMetrics } = seriesToResourceMetrics([
    { name: 'a', kind: 'sum', tags: [], startMs: 0, endMs: 1, value: 1, origin: POD },
    { name: 'b', kind: 'sum', tags: [], startMs: 0, endMs: 1, value: 1 },
  ]);
  const body = encodeMetricsRequest(resourceMetrics);
  // Field 1 (resource_metrics), wire type 2, twice at the top level: tag byte 0x0a, then a varint length.
  const top: number[] = [];
  for (let at = 0; at < body.length; ) {
    assert.equal(body[at], 0x0a);
    top.push(at);
    let len = 0;
    let shift = 0;
    let i = at + 1;
    for (;;) {
      const b = body[i++]!;
      len |= (b & 0x7f) << shift;
      shift += 7;
      if (b < 0x80) break;
    }
    at = i + len;
  }
  assert.equal(top.length, 2);
});

function span(over: Partial<DdSpan>): DdSpan {
  return { traceId: 1n, spanId: 2n, parentId: 0n, name: 'express.request', resource: 'GET /buy', service: 'web', type: 'web', start: 1_700_000_000_123_456_789n, duration: 5_000_000n, error: 0, meta: {}, metrics: {}, ...over };
}

test('spans: 128-bit trace id from _dd.p.tid, parent, kind, error status and event, attributes, service per resource', () => {
  const root = span({ traceId: 0xfedcba9876543210n, spanId: 0xffffffffffffffffn, meta: { '_dd.p.tid': '64f0a1b200000000', 'span.kind': 'server', env: 'prod', version: '1.2', 'http.method': 'GET' }, metrics: { _sampling_priority_v1: 1 } });
  const child = span({ traceId: 0xfedcba9876543210n, spanId: 7n, parentId: 0xffffffffffffffffn, name: 'pg.query', resource: 'SELECT 1', service: 'web-postgres', type: 'sql', meta: { 'span.kind': 'client', 'error.message': 'boom', 'error.type': 'Error', 'error.stack': 'at x' }, error: 1 });
  assert.equal(traceIdOf([child, root]), '64f0a1b200000000fedcba9876543210');
  const spans = tracesToSpans([{ traces: [[root, child]], origin: POD }]);
  assert.equal(spans.length, 2);
  const req = json(JsonTraceSerializer.serializeRequest(spans));
  assert.equal(req.resourceSpans.length, 2);
  const bySvc = Object.fromEntries(req.resourceSpans.map((rs: any) => [attrs(rs.resource.attributes)['service.name'], rs]));
  const web = bySvc['web'];
  assert.equal(attrs(web.resource.attributes)['k8s.pod.name'], 'web-7d9-x1');
  assert.equal(attrs(web.resource.attributes)['deployment.environment.name'], 'prod');
  const r = web.scopeSpans[0].spans[0];
  assert.equal(r.traceId, '64f0a1b200000000fedcba9876543210');
  assert.equal(r.spanId, 'ffffffffffffffff');
  assert.equal(r.parentSpanId, undefined);
  assert.equal(r.name, 'GET /buy');
  assert.equal(r.kind, 2); // SERVER (OTLP numbering)
  assert.equal(String(r.startTimeUnixNano), '1700000000123456789');
  assert.equal(String(r.endTimeUnixNano), '1700000000128456789');
  assert.equal(attrs(r.attributes)['operation.name'], 'express.request');
  assert.equal(attrs(r.attributes)['http.method'], 'GET');
  assert.equal(attrs(r.attributes)['_sampling_priority_v1'], 1);
  assert.equal(r.status.code ?? 0, 0);
  const pg = bySvc['web-postgres'];
  assert.equal(attrs(pg.resource.attributes)['k8s.deployment.name'], 'web');
  const c = pg.scopeSpans[0].spans[0];
  assert.equal(c.parentSpanId, 'ffffffffffffffff');
  assert.equal(c.kind, 3); // CLIENT
  assert.deepEqual([c.status.code, c.status.message], [2, 'boom']);
  assert.equal(c.events[0].name, 'exception');
  assert.equal(attrs(c.events[0].attributes)['exception.stacktrace'], 'at x');
  assert.ok(encodeTraceRequest(spans).length > 100);
});

test('spans of an unknown origin keep their own tags, with the tracer service as service.name; a 64-bit trace id is zero-padded', () => {
  const spans = tracesToSpans([{ traces: [[span({ meta: { team: 'a' } })], []] }]);
  const rs = json(JsonTraceSerializer.serializeRequest(spans)).resourceSpans[0];
  assert.deepEqual(attrs(rs.resource.attributes), { 'service.name': 'web' });
  assert.equal(rs.scopeSpans[0].spans[0].traceId, '00000000000000000000000000000001');
  assert.equal(attrs(rs.scopeSpans[0].spans[0].attributes)['team'], 'a');
});
