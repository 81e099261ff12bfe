/**
 * Issue 19's bounds per sender on the trace receiver, over loopback: idle connections that declare big
 * bodies hold nothing, a stalled body is cut, one sender's share of bytes and requests in flight is its
 * own; and decoding runs on worker threads, so the event loop stays free while a large payload decodes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { InflightBudgets } from '../../../../src/nodeagent/intake/traces/inflight.js';
import { ddTraceEncode, sampleSpan } from '../../../helpers/ddTraceEncode.js';
import { metricValue, send, startTestReceiver } from '../../../helpers/traceReceiver.js';

/** A connection that sends a request's head declaring `length` bytes of body, then `sent` bytes, then nothing. */
async function stalled(port: number, length: number, sent = 0): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  s.on('error', () => undefined);
  s.write(`PUT /v0.4/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/msgpack\r\nContent-Length: ${length}\r\n\r\n`);
  if (sent > 0) s.write(Buffer.alloc(sent));
  return s;
}

describe('trace receiver: bounds per sender', () => {
  test('four idle connections declaring 16 MiB each starve no other tracer (bytes are taken as they arrive)', async () => {
    const r = await startTestReceiver({}, false);
    try {
      const idle = await Promise.all([0, 1, 2, 3].map(() => stalled(r.port, 16 * 1024 * 1024, 1024)));
      await new Promise((res) => setTimeout(res, 200));
      for (let i = 0; i < 5; i++) {
        const a = await send({ port: r.port }, '/v0.4/traces', { body: ddTraceEncode('0.4', [[sampleSpan(i)]]), headers: { 'Datadog-Container-ID': `c${i}` } });
        assert.equal(a.status, 200, a.body);
      }
      for (const s of idle) s.destroy();
    } finally {
      await r.stop();
    }
  });

  test('a body that stalls is cut after the idle timeout (408), and its bytes are given back', async () => {
    const r = await startTestReceiver({ bodyIdleTimeoutMs: 300, maxInflightBytes: 64 * 1024 }, false);
    try {
      const s = await stalled(r.port, 2 * 1024, 1024);
      const answer = await new Promise<string>((resolve) => {
        let got = '';
        s.on('data', (d: Buffer) => (got += d.toString()));
        s.on('close', () => resolve(got));
      });
      assert.match(answer, /^HTTP\/1\.1 408/);
      assert.equal(metricValue(await r.registry.metrics(), 'tether_node_agent_trace_payloads_rejected_total', { reason: 'timeout' }), 1);
      const a = await send({ port: r.port }, '/v0.4/traces', { body: Buffer.concat([ddTraceEncode('0.4', [[sampleSpan(1)]])]) });
      assert.equal(a.status, 200);
    } finally {
      await r.stop();
    }
  });

  test('one origin past its share of bytes or requests in flight is refused; another origin still has the rest', () => {
    const b = new InflightBudgets(100, 60, 2);
    const a1 = b.open('a')!;
    assert.equal(a1.take(50), undefined);
    const a2 = b.open('a')!;
    assert.equal(a2.take(20), 'origin_busy', 'past 60 for origin a');
    assert.equal(b.open('a'), undefined, 'a third request of a');
    const c = b.open('c')!;
    assert.equal(c.take(50), undefined, 'c gets what a could not take');
    assert.equal(c.take(1), 'busy', 'the total is 100');
    a1.release();
    a1.release();
    assert.deepEqual(b.usage('a'), { bytes: 0, requests: 1 });
    assert.equal(b.total.used, 50);
  });

  test('decoding and OTLP conversion run on worker threads: a large payload leaves the event loop free', async () => {
    const r = await startTestReceiver({ output: 'otlp' }, false);
    try {
      const traces = Array.from({ length: 4_000 }, (_, t) => Array.from({ length: 10 }, (_, i) => sampleSpan(t * 10 + i)));
      const body = ddTraceEncode('0.4', traces);
      const h = monitorEventLoopDelay({ resolution: 10 });
      h.enable();
      const a = await send({ port: r.port }, '/v0.4/traces', { body });
      h.disable();
      assert.equal(a.status, 200);
      const p = r.payloads.at(-1)!;
      assert.equal(p.spanCount, 40_000);
      assert.equal(p.otlp!.reduce((n, part) => n + part.items, 0), 40_000);
      // Decoding 40,000 spans takes hundreds of ms; on the event loop it would be one stall that long.
      assert.ok(h.max / 1e6 < 150, `event loop stalled ${(h.max / 1e6).toFixed(0)} ms (payload ${body.length} bytes)`);
    } finally {
      await r.stop();
    }
  });
});
