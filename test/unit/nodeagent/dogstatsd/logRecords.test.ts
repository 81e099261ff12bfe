/**
 * DogStatsD service checks and events, end to end in the intake: parsed whole (fields, UTF-8 lengths,
 * origin fields), held per window under byte budgets of their own (one flooding pod loses its own
 * records, never its neighbour's), flushed with their pods, converted to OTLP log records and posted to
 * a real HTTP server at /v1/logs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { JsonLogsSerializer } from '@opentelemetry/otlp-transformer';
import { Registry } from 'prom-client';
import { createDogStatsDIntake } from '../../../../src/nodeagent/intake/dogstatsd/index.js';
import { parseInto, type ParseSink } from '../../../../src/nodeagent/intake/dogstatsd/parser.js';
import { toLogRecords } from '../../../../src/nodeagent/intake/otlp/logs.js';
import { createOtlpPipeline, otlpUrls } from '../../../../src/nodeagent/intake/otlp/pipeline.js';
import type { DogStatsDEvent, DogStatsDLogRecord, DogStatsDServiceCheck, Origin, OriginResolver, ResolvedOrigin, Sender, TaggedLogRecord } from '../../../../src/nodeagent/intake/types.js';
import type { Attestor } from '../../../../src/nodeagent/intake/attest/attestor.js';
import { DOGSTATSD_LOGS_ORIGIN_MAX_BYTES } from '../../../../src/config/limits.js';
import { testConfig } from '../../../helpers/config.js';
import { recordingLogger } from '../../../helpers/logs.js';
import { manualClock } from '../../../helpers/manual.js';

const WEB: ResolvedOrigin = { namespace: 'shop', pod: 'web-1', uid: 'uid-web', tags: ['kube_namespace:shop', 'pod_name:web-1'] };
const NOISY: ResolvedOrigin = { namespace: 'shop', pod: 'noisy-1', uid: 'uid-noisy', tags: ['kube_namespace:shop', 'pod_name:noisy-1'] };
const resolver: OriginResolver = { resolve: (o) => (o.entityId === WEB.uid ? WEB : o.entityId === NOISY.uid ? NOISY : undefined) };

function parse(text: string): { records: DogStatsDLogRecord[]; errors: string[] } {
  const records: DogStatsDLogRecord[] = [];
  const errors: string[] = [];
  const sink: ParseSink = { sample() {}, serviceCheck: (c) => records.push(c), event: (e) => records.push(e), malformed: (_r, m) => errors.push(m) };
  parseInto(text, sink);
  return { records, errors };
}

describe('DogStatsD service checks and events: parsed whole', () => {
  test('a service check with every field; m: runs to the end of the line, \\n restored', () => {
    const { records, errors } = parse('_sc|redis.can_connect|2|d:1700000000|h:db-1|#env:dev,dd.internal.entity_id:uid-web,dd.internal.card:low|c:ci-abc|m:timed out | after 10s\\nretrying');
    assert.deepEqual(errors, []);
    assert.deepEqual(records, [
      {
        kind: 'service_check',
        name: 'redis.can_connect',
        status: 'critical',
        tags: ['env:dev'],
        origin: { entityId: 'uid-web', containerId: 'abc' },
        timestampMs: 1_700_000_000_000,
        hostname: 'db-1',
        message: 'timed out | after 10s\nretrying',
      } satisfies DogStatsDServiceCheck,
    ]);
  });

  test('an event: lengths in UTF-8 bytes, every field, |e: naming the pod', () => {
    // "héllo" is 6 bytes, "wörld\\nok" 10.
    const { records, errors } = parse('_e{6,10}:héllo|wörld\\nok|d:1700000001|h:node-7|p:low|t:error|k:deploy-42|s:jenkins|#team:a|e:it-false,cn-web,pu-uid-web|x:future');
    assert.deepEqual(errors, []);
    assert.deepEqual(records, [
      {
        kind: 'event',
        title: 'héllo',
        text: 'wörld\nok',
        alertType: 'error',
        priority: 'low',
        tags: ['team:a'],
        origin: { entityId: 'uid-web' },
        timestampMs: 1_700_000_001_000,
        hostname: 'node-7',
        aggregationKey: 'deploy-42',
        sourceType: 'jenkins',
      } satisfies DogStatsDEvent,
    ]);
    const plain = parse('_e{1,0}:a|');
    assert.deepEqual(plain.records, [{ kind: 'event', title: 'a', text: '', alertType: 'info', priority: 'normal', tags: [], origin: {} }]);
    const odd = parse('_e{1,1}:a|b|t:panic|p:urgent').records[0] as DogStatsDEvent;
    assert.deepEqual([odd.alertType, odd.priority], ['info', 'normal'], "a newer client's alert type or priority: the defaults");
  });

  test('lengths that do not fit the line, and bad timestamps, are malformed', () => {
    assert.match(parse('_e{5,5}:héllo|world').errors[0] ?? '', /5 and 5 bytes/, 'counted in characters it would fit: in bytes it does not');
    assert.match(parse('_e{1,2}:a|bcd').errors[0] ?? '', /followed by "\|" or the end/);
    assert.match(parse('_sc|db|0|d:soon').errors[0] ?? '', /timestamp "soon"/);
    assert.match(parse('_e{1,1}:a|b|d:-3').errors[0] ?? '', /timestamp "-3"/);
  });
});

describe('DogStatsD service checks and events: the window', () => {
  const setup = () => {
    const clock = manualClock(1_000_000);
    const log = recordingLogger('debug');
    const registry = new Registry();
    const intake = createDogStatsDIntake({ config: testConfig({ dogstatsd_port: 0, dogstatsd_socket: '' }), resolver, logger: log.logger, registry, clock });
    const flushed: (readonly TaggedLogRecord[])[] = [];
    intake.onFlush((_s, _stats, logs) => flushed.push(logs));
    return { intake, flushed, registry, log };
  };

  test('flushed with their pods and the time they arrived', () => {
    const { intake, flushed } = setup();
    intake.handleDatagram(Buffer.from('_sc|web.up|0|#dd.internal.entity_id:uid-web\n_e{3,2}:oom|hi\nx:1|c'), 'udp');
    intake.flush();
    const [logs] = flushed;
    assert.equal(logs!.length, 2);
    assert.deepEqual(logs![0], { record: { kind: 'service_check', name: 'web.up', status: 'ok', tags: [], origin: { entityId: 'uid-web' } }, receivedMs: 1_000_000, origin: WEB });
    assert.equal(logs![1]!.origin, undefined, 'no origin: no pod');
    intake.flush();
    assert.deepEqual(flushed[1], [], 'the next window starts empty');
  });

  test("their origin is attested like a sample's: a pod claiming another is tagged as itself", () => {
    const clock = manualClock(1_000_000);
    const flushed: (readonly TaggedLogRecord[])[] = [];
    const seen: string[] = [];
    // The sender's address is the web pod's, whatever the line claims.
    const attestor = { origin: (_claim: Origin, sender: Sender) => (seen.push(JSON.stringify(sender)), { entityId: WEB.uid }), stats: () => ({ verdicts: {}, lastMisattribution: null }) } as unknown as Attestor;
    const intake = createDogStatsDIntake({ config: testConfig({ dogstatsd_port: 0, dogstatsd_socket: '' }), resolver, attestor, logger: recordingLogger('debug').logger, clock });
    intake.onFlush((_s, _stats, logs) => flushed.push(logs));
    intake.handleDatagram(Buffer.from(`_sc|up|0|#dd.internal.entity_id:${NOISY.uid}\n_e{1,1}:a|b|#dd.internal.entity_id:${NOISY.uid}`), 'udp', { ip: '10.0.0.5' });
    intake.flush();
    assert.deepEqual(flushed[0]!.map((l) => l.origin), [WEB, WEB]);
    assert.deepEqual(seen, ['{"ip":"10.0.0.5"}', '{"ip":"10.0.0.5"}']);
  });

  test("a pod flooding events loses its own past its byte budget, never its neighbour's; counted by origin and reason", async () => {
    const { intake, flushed, registry } = setup();
    const text = 'x'.repeat(4000);
    const flood = `_e{5,${text.length}}:flood|${text}|#dd.internal.entity_id:${NOISY.uid}`;
    for (let i = 0; i < 400; i++) intake.handleDatagram(Buffer.from(flood), 'udp');
    intake.handleDatagram(Buffer.from(`_e{6,2}:deploy|ok|#dd.internal.entity_id:${WEB.uid}`), 'udp');
    intake.flush();
    const logs = flushed[0]!;
    const noisy = logs.filter((l) => l.origin === NOISY).length;
    assert.ok(noisy > 0 && noisy < 400, `the noisy pod kept some (${noisy}), not all`);
    assert.ok(noisy * 4000 <= DOGSTATSD_LOGS_ORIGIN_MAX_BYTES);
    assert.deepEqual(logs.filter((l) => l.origin === WEB).map((l) => (l.record as DogStatsDEvent).title), ['deploy']);
    const dropped = intake.status().counts.droppedLogRecordsByOrigin['shop/noisy-1']!;
    assert.equal(dropped.origin_bytes, 400 - noisy);
    assert.match(await registry.metrics(), new RegExp(`tether_dogstatsd_log_records_dropped_total\\{reason="origin_bytes",origin="shop/noisy-1"\\} ${400 - noisy}`));
  });
});

describe('DogStatsD service checks and events: OTLP log records', () => {
  const records: TaggedLogRecord[] = [
    { record: { kind: 'service_check', name: 'web.up', status: 'warning', tags: ['team:a'], origin: { entityId: WEB.uid }, hostname: 'db-1' }, origin: WEB, receivedMs: 1_700_000_000_500 },
    { record: { kind: 'event', title: 'deploy', text: 'v2 rolled out', alertType: 'success', priority: 'normal', tags: [], origin: {}, timestampMs: 1_699_999_999_000, aggregationKey: 'd-1' }, receivedMs: 1_700_000_000_600 },
  ];

  test("severity, body, attributes, time; the pod's resource, h: as host.name", () => {
    const json = JSON.parse(Buffer.from(JsonLogsSerializer.serializeRequest(toLogRecords(records))!).toString('utf8')) as {
      resourceLogs: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeLogs: { logRecords: Record<string, unknown>[] }[] }[];
    };
    assert.equal(json.resourceLogs.length, 2, 'one resource per pod and host');
    const attrs = (i: number) => Object.fromEntries(json.resourceLogs[i]!.resource.attributes.map((a) => [a.key, a.value.stringValue]));
    assert.equal(attrs(0)['host.name'], 'db-1');
    assert.equal(attrs(0)['k8s.pod.name'], 'web-1');
    assert.equal(attrs(1)['k8s.pod.name'], undefined);
    const sc = json.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!;
    assert.equal(sc['severityText'], 'WARNING');
    assert.equal(sc['severityNumber'], 13);
    assert.deepEqual(sc['body'], { stringValue: 'web.up: warning' });
    assert.equal(sc['eventName'], 'dd.service_check');
    const scAttrs = Object.fromEntries((sc['attributes'] as { key: string; value: { stringValue?: string } }[]).map((a) => [a.key, a.value.stringValue]));
    assert.deepEqual(scAttrs, { team: 'a', 'dd.service_check.name': 'web.up', 'dd.service_check.status': 'warning' });
    const ev = json.resourceLogs[1]!.scopeLogs[0]!.logRecords[0]!;
    assert.equal(ev['severityText'], 'SUCCESS');
    assert.deepEqual(ev['body'], { stringValue: 'v2 rolled out' });
    assert.equal(String(ev['timeUnixNano']), '1699999999000000000', 'd: is the time');
    assert.equal(String(ev['observedTimeUnixNano']), '1700000000600000000', 'arrival is the observed time');
  });

  describe('the pipeline posts them to /v1/logs', () => {
    let server: http.Server;
    let base = '';
    const seen: { path: string; type: string | undefined; body: Buffer }[] = [];
    before(async () => {
      server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          seen.push({ path: req.url!, type: req.headers['content-type'], body: Buffer.concat(chunks) });
          res.writeHead(200).end();
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });

    test('otlp_endpoint + /v1/logs, or otlp_logs_endpoint; protobuf carrying the records', async () => {
      assert.deepEqual(otlpUrls({ otlp_endpoint: 'http://c:4318/' }), { traces: 'http://c:4318/v1/traces', metrics: 'http://c:4318/v1/metrics', logs: 'http://c:4318/v1/logs' });
      assert.equal(otlpUrls({ otlp_endpoint: 'http://c:4318', otlp_logs_endpoint: 'http://loki:3100/otlp/v1/logs' }).logs, 'http://loki:3100/otlp/v1/logs');
      const pipeline = createOtlpPipeline({ urls: otlpUrls({ otlp_endpoint: base }), registry: new Registry(), logger: recordingLogger('debug').logger, retryMaxMs: 1000, maxElapsedMs: 1000 });
      pipeline.exportLogs(records);
      await pipeline.stop(5_000);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.path, '/v1/logs');
      assert.equal(seen[0]!.type, 'application/x-protobuf');
      assert.ok(seen[0]!.body.includes(Buffer.from('v2 rolled out')) && seen[0]!.body.includes(Buffer.from('web.up: warning')));
    });
  });
});
