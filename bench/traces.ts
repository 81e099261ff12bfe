/**
 * `npm run bench:traces`: how many spans per second one core of the trace receiver takes, next to
 * baselines measured in the same run. Payloads are what dd-trace sends: its own v0.4 and v0.5 encoders
 * (100 traces of 10 spans each, with the tags a web request span carries). Prints figures, asserts
 * nothing (the machine is shared).
 *
 * 1. Decoding alone, in this process: Tether's decoders, next to a generic MessagePack decode of the
 *    same bytes (@msgpack/msgpack, no validation, no spans built): the floor for any JS decoder.
 * 2. Over HTTP: a server process (the real receiver with a no-op sink, or a no-op HTTP server that
 *    reads the body and answers the same JSON) under autocannon from this process; spans/s, and spans
 *    per CPU-second of the server process (its user + system time from /proc), i.e. per core.
 *
 *   npm run bench:traces -- [--seconds 5] [--connections 4]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { decode as genericDecode } from '@msgpack/msgpack';
import autocannon from 'autocannon';
import { Registry } from 'prom-client';
import { createLogger } from '../src/logging/logger.js';
import { decodeV04 } from '../src/nodeagent/intake/traces/decode04.js';
import { decodeV05 } from '../src/nodeagent/intake/traces/decode05.js';
import { RATE_BY_SERVICE_BODY } from '../src/nodeagent/intake/traces/info.js';
import { createTraceReceiverMetrics } from '../src/nodeagent/intake/traces/metrics.js';
import { createTraceReceiver } from '../src/nodeagent/intake/traces/receiver.js';
import { ddTraceEncode, sampleSpan } from '../test/helpers/ddTraceEncode.js';
import { cpuSeconds } from './procStats.js';

const TRACES = 100;
const SPANS_PER_TRACE = 10;
const SPANS = TRACES * SPANS_PER_TRACE;

function payload(version: '0.4' | '0.5'): Buffer {
  const traces = Array.from({ length: TRACES }, (_, t) =>
    Array.from({ length: SPANS_PER_TRACE }, (_, s) =>
      sampleSpan(s, { traceId: BigInt(t + 1) * 0x100000001n, spanId: BigInt(t * 100 + s + 1), resource: `GET /items/${(t * 7 + s) % 50}` }),
    ),
  );
  return ddTraceEncode(version, traces);
}

// ---- server mode (child process) -------------------------------------------------------------------

async function serve(kind: string): Promise<void> {
  let port: number;
  if (kind === 'receiver') {
    const receiver = createTraceReceiver({
      config: { 'apm_config.receiver_port': 0, 'apm_config.apm_non_local_traffic': false, 'apm_config.receiver_socket': '' },
      listenPort: 0,
      logger: createLogger('warn'),
      metrics: createTraceReceiverMetrics(new Registry()),
      onPayload: () => true,
      version: 'bench',
    });
    await receiver.start();
    port = receiver.address().tcp!.port;
    process.on('SIGTERM', () => process.exit(0));
  } else {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        Buffer.concat(chunks);
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(RATE_BY_SERVICE_BODY) }).end(RATE_BY_SERVICE_BODY);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    process.on('SIGTERM', () => process.exit(0));
  }
  process.stdout.write(JSON.stringify({ port }) + '\n');
}

// ---- driver ------------------------------------------------------------------------------------------

function decodeRate(name: string, fn: () => number, seconds: number): { name: string; spansPerSec: number } {
  for (let i = 0; i < 50; i++) fn(); // warm-up: let the JIT settle
  const until = performance.now() + seconds * 1000;
  let spans = 0;
  const start = performance.now();
  while (performance.now() < until) spans += fn();
  return { name, spansPerSec: spans / ((performance.now() - start) / 1000) };
}

interface AutocannonResult {
  requests: { total: number };
  duration: number;
  non2xx: number;
  errors: number;
}

async function httpRate(kind: 'receiver' | 'noop', version: '0.4' | '0.5', body: Buffer, seconds: number, connections: number) {
  const child = spawn(process.execPath, [process.argv[1]!, '--serve', kind], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const { port } = JSON.parse(line.toString('utf8')) as { port: number };
  const run = (duration: number) =>
    (autocannon as unknown as (o: Record<string, unknown>) => Promise<AutocannonResult>)({
      url: `http://127.0.0.1:${port}/v${version}/traces`,
      method: 'PUT',
      headers: { 'content-type': 'application/msgpack', 'x-datadog-trace-count': String(TRACES), 'datadog-meta-lang': 'nodejs' },
      body,
      connections,
      duration,
    });
  await run(1);
  const cpu0 = cpuSeconds(child.pid!);
  const r = await run(seconds);
  const cpu = cpuSeconds(child.pid!) - cpu0;
  child.kill('SIGTERM');
  await once(child, 'exit');
  const ok = r.requests.total - r.non2xx;
  return {
    server: kind,
    version,
    payloadsPerSec: ok / r.duration,
    spansPerSec: (ok * SPANS) / r.duration,
    serverCpuPerSec: cpu / r.duration,
    spansPerCoreSec: cpu > 0 ? (ok * SPANS) / cpu : 0,
    non2xx: r.non2xx,
    errors: r.errors,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { serve: { type: 'string' }, seconds: { type: 'string' }, connections: { type: 'string' } } });
  if (values.serve) return serve(values.serve);
  const seconds = Number(values.seconds ?? 5);
  const connections = Number(values.connections ?? 4);
  const v04 = payload('0.4');
  const v05 = payload('0.5');
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

  console.log(`trace receiver bench: payloads of ${TRACES} traces x ${SPANS_PER_TRACE} spans as dd-trace encodes them (v0.4 ${v04.length} bytes, v0.5 ${v05.length} bytes); ${seconds} s per run`);
  console.log('\n1. decoding only, one core (this process):');
  const rows = [
    decodeRate('tether decodeV04', () => (decodeV04(v04) as { spans: number }).spans, seconds),
    decodeRate('tether decodeV05', () => (decodeV05(v05) as { spans: number }).spans, seconds),
    decodeRate('@msgpack/msgpack generic decode of the v0.4 bytes (no validation, no spans)', () => (genericDecode(v04, { useBigInt64: true }), SPANS), seconds),
  ];
  for (const r of rows) console.log(`   ${r.name.padEnd(80)} ${fmt(r.spansPerSec).padStart(12)} spans/s`);

  console.log(`\n2. over HTTP (PUT, ${connections} keep-alive connections from autocannon in this process; the server in its own process):`);
  for (const version of ['0.4', '0.5'] as const) {
    for (const kind of ['noop', 'receiver'] as const) {
      const r = await httpRate(kind, version, version === '0.4' ? v04 : v05, seconds, connections);
      console.log(
        `   v${version} ${(kind === 'noop' ? 'no-op HTTP server (reads the body, answers)' : 'tether trace receiver (decode + sink)').padEnd(46)} ${fmt(r.spansPerSec).padStart(10)} spans/s  ` +
          `server CPU ${r.serverCpuPerSec.toFixed(2)} cores  → ${fmt(r.spansPerCoreSec).padStart(10)} spans per core-second  (non-2xx ${r.non2xx}, errors ${r.errors})`,
      );
    }
  }
  console.log('\ntarget: >= 50,000 spans/s per core');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
