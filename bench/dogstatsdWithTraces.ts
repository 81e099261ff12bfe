/**
 * `node dist/bench/dogstatsdWithTraces.js [--seconds S] [--rate METRICS_PER_S]` (issue 19): DogStatsD
 * loss at `--rate` metrics/s over UDP (default 250,000) while 20 MiB v0.4 trace payloads arrive at the
 * same time, against the same run without them. The receiver is this process, as in the node agent:
 * the DogStatsD intake and the trace receiver (decoding and OTLP conversion on its worker threads)
 * share one event loop. The DogStatsD sender is `dogstatsd.js --sender` in its own process; the tracer
 * is another process, sending one payload after another.
 *
 * Figures are printed, not asserted: the machine is shared; read the ratio of the two runs.
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createDogStatsDIntake } from '../src/nodeagent/intake/dogstatsd/index.js';
import { createTraceReceiverMetrics } from '../src/nodeagent/intake/traces/metrics.js';
import { createTraceReceiver } from '../src/nodeagent/intake/traces/receiver.js';
import { ddTraceEncode, sampleSpan } from '../test/helpers/ddTraceEncode.js';
import { freeUdpPort, numberFlag } from './common.js';

const args = process.argv.slice(2);
const flag = (name: string, def: number): number => numberFlag(args, name, def);
const SECONDS = flag('seconds', 5);
const RATE = flag('rate', 250_000);
const LINES = 15;
const PAYLOAD_MIB = 20;
const silent = pino({ level: 'silent' });

/** A v0.4 payload of about `mib` MiB: traces of 10 spans with a few hundred bytes of tags each. */
function bigPayload(mib: number): Buffer {
  const one = ddTraceEncode('0.4', [Array.from({ length: 10 }, (_, i) => sampleSpan(i, { meta: { blob: 'b'.repeat(400) } }))]).length;
  const traces = Math.ceil((mib * 1024 * 1024) / one);
  return ddTraceEncode('0.4', Array.from({ length: traces }, (_, t) => Array.from({ length: 10 }, (_, i) => sampleSpan(t * 10 + i, { meta: { blob: 'b'.repeat(400) } }))));
}

/** The tracer process: PUTs one payload after another until `seconds` are over; reports how many and their statuses. */
async function tracer(port: number, seconds: number) {
  const body = bigPayload(PAYLOAD_MIB);
  const end = Date.now() + seconds * 1000;
  const statuses: Record<string, number> = {};
  process.send!({ ready: true, bytes: body.length });
  while (Date.now() < end) {
    const status = await new Promise<number>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/v0.4/traces', method: 'PUT', headers: { 'Content-Type': 'application/msgpack', 'Content-Length': body.length }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(-1));
      req.end(body);
    });
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  process.send!({ statuses });
}

async function run(withTraces: boolean) {
  const port = await freeUdpPort();
  const dsd = createDogStatsDIntake({
    config: { dogstatsd_port: port, dogstatsd_non_local_traffic: false, dogstatsd_socket: '', dogstatsd_buffer_size: 8192, dogstatsd_so_rcvbuf: 8 * 1024 * 1024 },
    resolver: { resolve: () => undefined },
    logger: silent,
  });
  await dsd.start();
  const traces = createTraceReceiver({
    config: { 'apm_config.receiver_port': 0, 'apm_config.apm_non_local_traffic': false, 'apm_config.receiver_socket': '' },
    logger: silent,
    metrics: createTraceReceiverMetrics(new Registry()),
    onPayload: () => true,
    output: 'otlp',
    listenPort: 0,
  });
  await traces.start();
  let tracerChild: ReturnType<typeof fork> | undefined;
  let tracerResult: Promise<{ statuses: Record<string, number> }> | undefined;
  let payloadBytes = 0;
  if (withTraces) {
    tracerChild = fork(fileURLToPath(import.meta.url), ['--tracer', String(traces.address().tcp!.port), String(SECONDS)], { stdio: 'inherit' });
    const child = tracerChild;
    await new Promise<void>((resolve) =>
      child.once('message', (m) => {
        payloadBytes = (m as { bytes: number }).bytes;
        resolve();
      }),
    );
    tracerResult = new Promise((resolve) => child.on('message', (m) => 'statuses' in (m as object) && resolve(m as { statuses: Record<string, number> })));
  }
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const sender = fork(fileURLToPath(new URL('./dogstatsd.js', import.meta.url)), ['--sender', String(port), String(RATE), String(SECONDS), String(LINES)], { stdio: 'inherit' });
  const { sent } = await new Promise<{ sent: number; seconds: number }>((resolve) => sender.once('message', (m) => resolve(m as { sent: number; seconds: number })));
  let last = -1;
  while (dsd.status().counts.datagrams.udp !== last) {
    last = dsd.status().counts.datagrams.udp;
    await new Promise((r) => setTimeout(r, 200));
  }
  loop.disable();
  const statuses = tracerResult ? (await tracerResult).statuses : {};
  const received = dsd.status().counts.datagrams.udp;
  await dsd.stop();
  await traces.stop();
  return {
    sentDatagrams: sent,
    receivedDatagrams: received,
    lossPercent: Math.round((1 - received / Math.max(1, sent)) * 10_000) / 100,
    eventLoopMaxMs: Math.round(loop.max / 1e6),
    eventLoopP99Ms: Math.round(loop.percentile(99) / 1e6),
    tracePayloads: statuses,
    payloadBytes,
  };
}

async function main() {
  if (args[0] === '--tracer') return tracer(Number(args[1]), Number(args[2]));
  const setup = { cores: cpus().length, loadAverage1m: Math.round(loadavg()[0]! * 100) / 100, seconds: SECONDS, targetMetricsPerSec: RATE };
  const without = await run(false);
  const withTraces = await run(true);
  console.log(JSON.stringify({ setup, without, withTraces }, null, 2));
  console.log(
    `DogStatsD at ${RATE.toLocaleString('en-US')} metrics/s: loss ${without.lossPercent} % alone, ${withTraces.lossPercent} % with ${PAYLOAD_MIB} MiB trace payloads arriving (${JSON.stringify(withTraces.tracePayloads)}); event loop max ${without.eventLoopMaxMs} ms vs ${withTraces.eventLoopMaxMs} ms`,
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
