/**
 * Priority sampling through the real intake: payloads decoded on the worker threads, their traces
 * counted there by root service and env (only the counts come back), observed on the event loop, and
 * the next answer's rate_by_service lowered for the busy key. Without the counts reaching the sampler,
 * every rate stays 1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createNodeIntake, type NodeIntake } from '../../../../src/nodeagent/intake/intake.js';
import { PRIORITY_SAMPLING_WINDOW_MS } from '../../../../src/config/limits.js';
import { testConfig } from '../../../helpers/config.js';
import { ddTraceEncode, sampleSpan } from '../../../helpers/ddTraceEncode.js';
import { recordingLogger } from '../../../helpers/logs.js';

let intake: NodeIntake;
let now = 1_000_000_000;
let url = '';

before(async () => {
  intake = createNodeIntake({
    config: testConfig({ dogstatsd_port: 0, dogstatsd_socket: '', 'apm_config.receiver_port': 0, 'apm_config.receiver_socket': '', 'apm_config.max_traces_per_second': 1 }),
    pods: () => [],
    logger: recordingLogger('info').logger,
    registry: new Registry(),
    timers: { now: () => now, setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout) },
    traceListenPort: 0,
    traceHost: '127.0.0.1',
    windowMs: 3_600_000,
  });
  await intake.start();
  const tcp = intake.status().traces.tcp!;
  url = `http://${tcp.host}:${tcp.port}/v0.4/traces`;
});
after(() => intake.stop(0));

const put = async (traces: number): Promise<Record<string, number>> => {
  const body = ddTraceEncode('0.4', Array.from({ length: traces }, (_, i) => [sampleSpan(0, { traceId: BigInt(i + 1), spanId: BigInt(i + 1) })]));
  const res = await fetch(url, { method: 'PUT', headers: { 'Content-Type': 'application/msgpack', 'X-Datadog-Trace-Count': String(traces) }, body });
  assert.equal(res.status, 200);
  return ((await res.json()) as { rate_by_service: Record<string, number> }).rate_by_service;
};

test('traces counted on the decode worker lower the busy service and env\'s rate toward the target', async () => {
  assert.deepEqual(await put(50), { 'service:,env:': 1 });
  assert.deepEqual(await put(50), { 'service:,env:': 1 }, 'rates change at the end of a window');
  now += PRIORITY_SAMPLING_WINDOW_MS;
  const rates = await put(1);
  // 100 traces in a 10 s window: 10/s toward a target of 1/s.
  assert.equal(rates['service:billing,env:prod'], 0.1);
  assert.deepEqual(intake.status().traces.rateByService, rates);
});
