import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createDogStatsDIntake } from '../../../../src/nodeagent/intake/dogstatsd/index.js';
import type { AggregatedSeries, OriginResolver } from '../../../../src/nodeagent/intake/types.js';
import { testConfig } from '../../../helpers/config.js';
import { recordingLogger } from '../../../helpers/logs.js';
import { manualClock } from '../../../helpers/manual.js';

const resolver: OriginResolver = {
  resolve: (o) => (o.entityId === 'uid-1' ? { namespace: 'shop', pod: 'web-1', uid: 'uid-1', tags: ['kube_deployment:web', 'kube_namespace:shop', 'pod_name:web-1'] } : undefined),
};
/** No sockets: these tests hand datagrams in directly. */
const NO_SOCKETS = { dogstatsd_port: 0, dogstatsd_socket: '' };

function setup(over: Record<string, unknown> = {}, start = 1_000_003) {
  const clock = manualClock(start);
  const log = recordingLogger('debug');
  const registry = new Registry();
  const intake = createDogStatsDIntake({ config: testConfig({ ...NO_SOCKETS, ...over }), resolver, logger: log.logger, registry, clock });
  return { clock, log, registry, intake };
}
const dgram = (s: string) => Buffer.from(s);

describe('DogStatsD intake', () => {
  test('flushes on multiples of the window, to every listener and the Prometheus view; stop flushes the rest', async () => {
    const { clock, intake } = setup();
    const flushed: { at: number; series: readonly AggregatedSeries[] }[] = [];
    intake.onFlush((series) => flushed.push({ at: clock.now(), series }));
    await intake.start();
    intake.handleDatagram(dgram('hits:1|c|#dd.internal.entity_id:uid-1\nhits:1|c|#dd.internal.entity_id:uid-1'), 'udp');
    await clock.tick(10_000);
    assert.deepEqual(
      flushed.map((f) => f.at),
      [1_010_000],
      'the first window ends at the next multiple of 10 s',
    );
    const hits = flushed[0]!.series[0]!;
    assert.equal(hits.value, 2);
    assert.deepEqual(hits.tags, ['kube_deployment:web', 'kube_namespace:shop', 'pod_name:web-1']);
    assert.equal(hits.startMs, 1_000_003);
    await clock.tick(10_000);
    assert.deepEqual(
      flushed.map((f) => [f.at, f.series.length]),
      [
        [1_010_000, 1],
        [1_020_000, 0],
      ],
    );
    intake.handleDatagram(dgram('last:1|g'), 'unix');
    await intake.stop();
    assert.equal(flushed.length, 3);
    assert.equal(flushed[2]!.series[0]!.name, 'last');
    assert.equal(clock.pending(), 0, 'no timer left');
    const prom = intake.prometheus();
    assert.match(prom.contentType, /^text\/plain; version=0\.0\.4/);
    const body = [...prom.body].join('');
    assert.match(body, /^hits\{kube_deployment="web",kube_namespace="shop",pod_name="web-1"\} 2$/m);
    assert.match(body, /^last 1$/m);
  });

  test('malformed lines: every one counted by reason, one log line per 10 s naming the first, never the whole datagram', async () => {
    const { clock, log, registry, intake } = setup();
    const long = 'x'.repeat(5000);
    intake.handleDatagram(dgram(`ok:1|c\nbad:1|zz\n${long}`), 'udp');
    intake.handleDatagram(dgram('bad:q|c'), 'udp');
    clock.advance(10_000);
    intake.handleDatagram(dgram(`${long}:1|c|@7`), 'udp');
    const warnings = log.lines().filter((l) => l.level === 40);
    assert.equal(warnings.length, 2);
    assert.match(String(warnings[0]!.msg), /metric "bad" has type "zz"/);
    assert.equal(warnings[0]!.reason, 'unknown-type');
    assert.equal(warnings[0]!.droppedSinceLastLine, 1);
    assert.equal(warnings[1]!.droppedSinceLastLine, 3, 'the lines dropped silently meanwhile are told');
    assert.ok(String(warnings[1]!.line).length <= 121);
    assert.ok(!log.text().includes(long), 'never the whole line or datagram');
    const text = await registry.metrics();
    assert.match(text, /tether_dogstatsd_malformed_lines_total\{reason="unknown-type"\} 1/);
    assert.match(text, /tether_dogstatsd_malformed_lines_total\{reason="no-value"\} 1/);
    assert.match(text, /tether_dogstatsd_malformed_lines_total\{reason="bad-value"\} 1/);
    assert.match(text, /tether_dogstatsd_malformed_lines_total\{reason="bad-sample-rate"\} 1/);
    assert.match(text, /tether_dogstatsd_malformed_lines_total\{reason="bad-event"\} 0/);
    assert.match(text, /tether_dogstatsd_samples_total 1/);
    assert.match(text, /tether_dogstatsd_datagrams_total\{transport="udp"\} 3/);
  });

  test('datagrams longer than dogstatsd_buffer_size are cut there and counted', async () => {
    const { registry, intake } = setup({ dogstatsd_buffer_size: 512 });
    const lines = Array.from({ length: 100 }, (_, i) => `m${i}:1|c`).join('\n');
    intake.handleDatagram(dgram(lines), 'unix');
    const series = intake.flush();
    assert.ok(series.length > 50 && series.length < 100, `${series.length} series`);
    assert.match(await registry.metrics(), /tether_dogstatsd_datagrams_truncated_total\{transport="unix"\} 1/);
  });

  test('origin counters and service checks, events', async () => {
    const { registry, intake } = setup();
    intake.handleDatagram(dgram('a:1|c|#dd.internal.entity_id:uid-1\nb:1|c|#dd.internal.entity_id:nobody\nc:1|c\n_sc|x|0\n_e{1,1}:a|b'), 'udp');
    intake.flush();
    const text = await registry.metrics();
    assert.match(text, /tether_dogstatsd_series_flushed_total\{origin="pod"\} 1/);
    assert.match(text, /tether_dogstatsd_series_flushed_total\{origin="unknown"\} 1/);
    assert.match(text, /tether_dogstatsd_series_flushed_total\{origin="none"\} 1/);
    assert.match(text, /tether_dogstatsd_service_checks_total 1/);
    assert.match(text, /tether_dogstatsd_events_total 1/);
    assert.match(text, /tether_dogstatsd_window_series 3/);
  });

  test('the series cap drops and counts, with a warning per window', async () => {
    const clock = manualClock();
    const log = recordingLogger('debug');
    const registry = new Registry();
    const intake = createDogStatsDIntake({ config: testConfig(NO_SOCKETS), resolver, logger: log.logger, registry, clock, maxSeries: 2 });
    intake.handleDatagram(dgram('a:1|c\nb:1|c\nc:1|c\nd:1|c'), 'udp');
    assert.equal(intake.flush().length, 2);
    assert.match(await registry.metrics(), /tether_dogstatsd_samples_dropped_total\{reason="series_limit",origin="none"\} 2/);
    assert.ok(log.lines().some((l) => /dropped 2 samples \(it held 2 series/.test(String(l.msg))));
  });

  test('a flush listener that throws is logged; the others still get the series', () => {
    const { log, intake } = setup();
    let got = 0;
    intake.onFlush(() => {
      throw new Error('exporter broke');
    });
    const off = intake.onFlush((s) => (got += s.length));
    intake.handleDatagram(dgram('a:1|c'), 'udp');
    intake.flush();
    assert.equal(got, 1);
    assert.ok(log.lines().some((l) => l.level === 50 && /exporter broke/.test(String(l.msg))));
    off();
    intake.handleDatagram(dgram('a:1|c'), 'udp');
    intake.flush();
    assert.equal(got, 1);
  });

  test('a Unix socket that cannot be made is logged with the fix; the intake still runs', async () => {
    // A regular file where its directory should be.
    const dir = mkdtempSync(join(tmpdir(), 'tether-dsd-'));
    writeFileSync(join(dir, 'file'), '');
    const { log, intake } = setup({ dogstatsd_socket: join(dir, 'file', 'dsd.socket') });
    await intake.start();
    const status = intake.status();
    assert.equal(status.socket, null);
    assert.ok(status.socketProblem);
    assert.ok(log.lines().some((l) => l.level === 40 && /Unix socket off: .*DD_DOGSTATSD_SOCKET/.test(String(l.msg))));
    await intake.stop();
    rmSync(dir, { recursive: true, force: true });
  });
});
