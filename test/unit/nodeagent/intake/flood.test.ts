/**
 * Issue 19: a hostile pod can cost its own data, never its neighbours'. The real node intake on
 * loopback (trace receiver, decode workers, OTLP pipeline) exporting to a slow OTLP backend; one pod
 * floods it with large payloads, many at once, while another sends as tracers do. Every payload of the
 * normal pod is answered 200 and every one of its spans reaches the backend; the flooder gets 429s,
 * counted.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createNodeIntake } from '../../../../src/nodeagent/intake/intake.js';
import type { PodWithTags } from '../../../../src/nodeagent/podTags.js';
import { testConfig } from '../../../helpers/config.js';
import { ddTraceEncode, sampleSpan } from '../../../helpers/ddTraceEncode.js';
import { recordingLogger } from '../../../helpers/logs.js';
import { metricValue, send } from '../../../helpers/traceReceiver.js';

const pod = (name: string): PodWithTags => ({ namespace: 'shop', name, uid: `uid-${name}`, phase: 'Running', containerIds: [], tags: [`pod_name:${name}`], tagsFrom: 'cluster-agent' });

/** An OTLP/HTTP backend that answers after `delayMs`, counting each marker it sees in the bodies. */
async function slowBackend(delayMs: number, marker: RegExp) {
  const seen = new Set<string>();
  let bytes = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      bytes += body.length;
      for (const m of body.toString('latin1').matchAll(marker)) seen.add(m[0]);
      setTimeout(() => res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end(), delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { seen, bytes: () => bytes, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('trace intake under a flooding pod', () => {
  test("one pod floods (large payloads, many at once): the other pod's payloads are all taken and all its spans exported", async () => {
    const backend = await slowBackend(100, /normal-op-\d+-\d+\./g);
    const registry = new Registry();
    const intake = createNodeIntake({
      config: testConfig({ dogstatsd_port: 0, dogstatsd_socket: '', 'apm_config.receiver_socket': '', otlp_traces_endpoint: backend.url }),
      pods: () => [pod('flood'), pod('normal')],
      logger: recordingLogger('warn').logger,
      registry,
      traceListenPort: 0,
    });
    await intake.start();
    const port = intake.traces.address().tcp!.port;
    try {
      const big = ddTraceEncode('0.4', Array.from({ length: 300 }, (_, t) => Array.from({ length: 10 }, (_, i) => sampleSpan(t * 10 + i, { meta: { blob: 'b'.repeat(300) } }))));
      let stop = false;
      const statuses = new Map<number, number>();
      const flooder = async () => {
        while (!stop) {
          const a = await send({ port }, '/v0.4/traces', { body: big, headers: { 'Datadog-Entity-ID': 'uid-flood' } }).catch(() => ({ status: -1 }));
          statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        }
      };
      const floods = Array.from({ length: 10 }, flooder);
      const sentSpans: string[] = [];
      for (let n = 0; n < 10; n++) {
        const spans = Array.from({ length: 5 }, (_, i) => sampleSpan(i, { resource: `normal-op-${n}-${i}.` }));
        sentSpans.push(...spans.map((s) => s.resource));
        const a = await send({ port }, '/v0.4/traces', { body: ddTraceEncode('0.4', [spans]), headers: { 'Datadog-Entity-ID': 'uid-normal' } });
        assert.equal(a.status, 200, `normal payload ${n}: ${a.status} ${a.body}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      stop = true;
      await Promise.all(floods);
      intake.otlp!.flushTraces();
      for (let i = 0; i < 100 && backend.seen.size < sentSpans.length; i++) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual([...backend.seen].sort(), [...sentSpans].sort(), 'every span of the normal pod exported');
      const text = await registry.metrics();
      const refused = ['sink_full', 'origin_busy', 'busy'].reduce((n, reason) => n + metricValue(text, 'tether_node_agent_trace_payloads_rejected_total', { reason }), 0);
      assert.ok(refused > 0 && (statuses.get(429) ?? 0) === refused, `the flooder was refused (429) and counted: ${JSON.stringify([...statuses])}, ${refused}`);
      assert.equal(metricValue(text, 'tether_node_agent_otlp_dropped_items_total', { signal: 'traces', reason: 'queue_full' }), 0, 'nothing taken was evicted from the export queue');
    } finally {
      await intake.stop(1_000);
      await backend.close();
    }
  });
});
