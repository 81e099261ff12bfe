/**
 * `npm run bench:dogstatsd`: what one core of the node agent's DogStatsD intake takes, with origin
 * tagging on (every line carries `dd.internal.entity_id`, resolved to one of 100 pods at each flush).
 *
 *   node dist/bench/dogstatsd.js [--seconds S] [--rate METRICS_PER_S] [--lines N] [--json]
 *
 * 1. CPU alone: datagrams parsed and aggregated in this process, no socket: the ceiling.
 * 2. Over real UDP on loopback, a sender in its own process sending at `--rate` metrics/s (default
 *    250,000) and then as fast as it can, into (a) a no-op UDP reader that only counts datagrams and
 *    (b) the real intake: datagrams and metrics per second received, the loss, and the receiver's CPU.
 *    The same sender, the same datagrams, the same run.
 *
 * Figures are printed, not asserted: this machine is shared, and the point is the comparison. The
 * sender and the receiver share the machine's cores with whatever else runs.
 */
import { fork, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createDogStatsDIntake, type DogStatsDIntake } from '../src/nodeagent/intake/dogstatsd/index.js';
import type { OriginResolver, ResolvedOrigin } from '../src/nodeagent/intake/types.js';
import { freeUdpPort, numberFlag } from './common.js';

const args = process.argv.slice(2);
const flag = (name: string, def: number): number => numberFlag(args, name, def);
const SECONDS = flag('seconds', 5);
const RATE = flag('rate', 250_000);
const LINES = flag('lines', 15);
const JSON_OUT = args.includes('--json');
const PODS = 100;

/** Datagrams as a client library sends them: several lines, the pod's entity id and a few tags each. */
function makeDatagrams(count: number): Buffer[] {
  const types = ['c', 'c', 'c', 'g', 'h', 'ms', 'd', 's'];
  const out: Buffer[] = [];
  for (let d = 0; d < count; d++) {
    const pod = d % PODS;
    const lines: string[] = [];
    for (let l = 0; l < LINES; l++) {
      const t = types[(d + l) % types.length]!;
      const value = t === 's' ? `user-${(d * 7 + l) % 500}` : String(((d * 31 + l * 17) % 1000) / 10);
      lines.push(`shop.checkout.${['requests', 'latency', 'queue', 'errors', 'bytes'][l % 5]}:${value}|${t}${t === 'c' && l % 3 === 0 ? '|@0.5' : ''}|#env:prod,service:checkout,route:/api/v${l % 4},status:${200 + (l % 3)},dd.internal.entity_id:uid-${pod}`);
    }
    out.push(Buffer.from(lines.join('\n')));
  }
  return out;
}

const POD_TAGS = new Map<string, ResolvedOrigin>();
for (let p = 0; p < PODS; p++) {
  POD_TAGS.set(`uid-${p}`, { namespace: 'shop', pod: `checkout-${p}`, uid: `uid-${p}`, tags: ['kube_namespace:shop', `pod_name:checkout-${p}`, 'kube_deployment:checkout', 'kube_service:checkout', 'env:prod', 'service:checkout', 'version:2'] });
}
const resolver: OriginResolver = { resolve: (o) => (o.entityId ? POD_TAGS.get(o.entityId) : undefined) };
const silent = pino({ level: 'silent' });

function newIntake(port: number): DogStatsDIntake {
  return createDogStatsDIntake({
    config: { dogstatsd_port: port, dogstatsd_non_local_traffic: false, dogstatsd_socket: '', dogstatsd_buffer_size: 8192, dogstatsd_so_rcvbuf: 8 * 1024 * 1024 },
    resolver,
    logger: silent,
  });
}

function cpuOnly(datagrams: Buffer[]) {
  const intake = newIntake(0);
  let n = 0;
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(SECONDS * 1e9);
  let flushes = 0;
  let lastFlush = t0;
  while (process.hrtime.bigint() < deadline) {
    for (let i = 0; i < 1000; i++) intake.handleDatagram(datagrams[n++ % datagrams.length]!, 'udp');
    const now = process.hrtime.bigint();
    // One flush per simulated second: more often than the real 10 s, so flush costs are in the figure.
    if (now - lastFlush > 1_000_000_000n) {
      intake.flush();
      flushes++;
      lastFlush = now;
    }
  }
  intake.flush();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const samples = intake.status().counts.samples;
  return { datagramsPerSec: Math.round(n / secs), metricsPerSec: Math.round(samples / secs), flushes: flushes + 1 };
}

interface Receiver {
  readonly port: number;
  received(): { datagrams: number; metrics: number };
  close(): Promise<void>;
}

async function noopReceiver(): Promise<Receiver> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
  let datagrams = 0;
  socket.on('message', () => void datagrams++);
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return {
    port: socket.address().port,
    received: () => ({ datagrams, metrics: datagrams * LINES }),
    close: () => new Promise((r) => socket.close(() => r())),
  };
}

async function intakeReceiver(): Promise<Receiver> {
  const port = await freeUdpPort();
  const intake = newIntake(port);
  await intake.start();
  return {
    port,
    received: () => ({ datagrams: intake.status().counts.datagrams.udp, metrics: intake.status().counts.samples }),
    close: () => intake.stop(),
  };
}

/** Runs the sender process against `port`: `rate` metrics/s, or as fast as it can (0). */
function runSender(port: number, rate: number): Promise<{ sent: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--sender', String(port), String(rate), String(SECONDS), String(LINES)], { stdio: 'inherit' });
    child.once('message', (m) => resolve(m as { sent: number; seconds: number }));
    child.once('error', reject);
    child.once('exit', (code) => code !== 0 && reject(new Error(`sender exited ${code}`)));
  });
}

async function measure(make: () => Promise<Receiver>, rate: number) {
  const r = await make();
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  const { sent, seconds } = await runSender(r.port, rate);
  // Let the socket buffer drain (whatever is still in it is received, not lost).
  let last = -1;
  while (r.received().datagrams !== last) {
    last = r.received().datagrams;
    await new Promise((res) => setTimeout(res, 100));
  }
  const cpu = process.cpuUsage(cpu0);
  const wall = (Date.now() - t0) / 1000;
  const got = r.received();
  await r.close();
  return {
    sentDatagrams: sent,
    sentMetricsPerSec: Math.round((sent * LINES) / seconds),
    receivedDatagrams: got.datagrams,
    receivedMetricsPerSec: Math.round(got.metrics / seconds),
    lossPercent: Math.round((1 - got.datagrams / Math.max(1, sent)) * 10_000) / 100,
    receiverCpuPercent: Math.round(((cpu.user + cpu.system) / 1e6 / wall) * 100),
  };
}

async function sender(port: number, rate: number, seconds: number, lines: number) {
  const socket = dgram.createSocket('udp4');
  socket.connect(port, '127.0.0.1');
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const datagrams = makeDatagrams(1000);
  const perSec = rate > 0 ? rate / lines : Infinity;
  let sent = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await new Promise<void>((done) => {
    const step = () => {
      const now = performance.now();
      if (now >= end) return done();
      const due = perSec === Infinity ? sent + 2000 : Math.floor(((now - t0) / 1000) * perSec);
      // At most 2000 per turn of the event loop, so the sends' callbacks run between batches.
      let batch = 0;
      while (sent < due && batch < 2000) {
        batch++;
        socket.send(datagrams[sent % datagrams.length]!, () => void 0);
        sent++;
      }
      setImmediate(step);
    };
    step();
  });
  const secs = (performance.now() - t0) / 1000;
  socket.close();
  process.send!({ sent, seconds: secs });
}

async function main() {
  if (args[0] === '--sender') {
    await sender(Number(args[1]), Number(args[2]), Number(args[3]), Number(args[4]));
    return;
  }
  const datagrams = makeDatagrams(1000);
  const bytes = datagrams.reduce((a, d) => a + d.length, 0) / datagrams.length;
  const result = {
    setup: { cores: cpus().length, loadAverage1m: Math.round(loadavg()[0]! * 100) / 100, seconds: SECONDS, linesPerDatagram: LINES, bytesPerDatagram: Math.round(bytes), pods: PODS, targetMetricsPerSec: RATE },
    cpuOnly: cpuOnly(datagrams),
    atRate: { noop: await measure(noopReceiver, RATE), intake: await measure(intakeReceiver, RATE) },
    flatOut: { noop: await measure(noopReceiver, 0), intake: await measure(intakeReceiver, 0) },
  };
  if (JSON_OUT) {
    console.log(JSON.stringify(result));
    return;
  }
  const f = (n: number) => n.toLocaleString('en-US');
  console.log(`DogStatsD intake, one core, origin tagging on (${LINES} lines of ~${Math.round(bytes / LINES)} bytes per datagram, ${PODS} pods)`);
  // Loss on a busy machine is the receiver not being scheduled, not its cost: read it with the load.
  console.log(`  machine: ${result.setup.cores} cores, load average ${result.setup.loadAverage1m} at the start`);
  console.log(`  parse + aggregate, no socket: ${f(result.cpuOnly.metricsPerSec)} metrics/s (${f(result.cpuOnly.datagramsPerSec)} datagrams/s)`);
  for (const [label, pair] of [
    [`UDP at ${f(RATE)} metrics/s`, result.atRate],
    ['UDP as fast as the sender can', result.flatOut],
  ] as const) {
    console.log(`  ${label}:`);
    for (const [name, m] of [
      ['no-op reader', pair.noop],
      ['tether intake', pair.intake],
    ] as const) {
      console.log(
        `    ${name.padEnd(14)} sent ${f(m.sentMetricsPerSec)} metrics/s, received ${f(m.receivedMetricsPerSec)} metrics/s (${f(m.receivedDatagrams)} of ${f(m.sentDatagrams)} datagrams), loss ${m.lossPercent} %, receiver CPU ${m.receiverCpuPercent} %`,
      );
    }
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
