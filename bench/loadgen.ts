/**
 * The load generator, run by `run.ts` in a process of its own (`child_process.fork`), never in the
 * server's. It takes one job as an IPC message and answers with one `LoadResult`.
 *
 * - `peak` (closed loop): autocannon with N keep-alive HTTPS connections, each sending the next
 *   review as soon as the previous answer arrives: the server's maximum throughput at that concurrency.
 * - `rate` (open loop, wrk2-like): requests are due at a fixed rate, each at its own scheduled time,
 *   sent on whichever of N keep-alive connections is free, and their latency is measured from the time
 *   they were due, so a server that falls behind shows it in the percentiles (no coordinated omission).
 *   autocannon's own `overallRate` is not used for this: it lets each connection send its whole
 *   per-second quota back to back at the start of every second, so the server sees bursts at full speed
 *   and the latency is that of saturation, not of the rate asked for.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import autocannon from 'autocannon';

export interface LoadJob {
  readonly mode: 'peak' | 'rate';
  /** e.g. `https://127.0.0.1:41234`. */
  readonly url: string;
  readonly path: string;
  readonly bodyFile: string;
  readonly caFile: string;
  readonly connections: number;
  readonly durationSec: number;
  readonly warmupSec: number;
  /** Requests per second (`rate` mode). */
  readonly rate?: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly durationSec: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
  /** `rate` mode: requests that were due but not sent (all connections busy) when the time was up. */
  readonly late?: number;
}

// ---------------------------------------------------------------------------------------------------
// peak: autocannon

// autocannon ships no type declarations; this is the part used here.
interface AutocannonResult {
  requests: { total: number };
  latency: { p50: number; p99: number };
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

async function cannon(job: LoadJob, durationSec: number): Promise<AutocannonResult> {
  return (autocannon as unknown as Autocannon)({
    url: job.url + job.path,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: readFileSync(job.bodyFile),
    connections: job.connections,
    duration: durationSec,
    tlsOptions: { ca: readFileSync(job.caFile, 'utf8') },
  });
}

async function peak(job: LoadJob): Promise<LoadResult> {
  if (job.warmupSec > 0) await cannon(job, job.warmupSec);
  const r = await cannon(job, job.durationSec);
  return {
    requests: r.requests.total,
    durationSec: r.duration,
    rps: r.requests.total / r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

// ---------------------------------------------------------------------------------------------------
// rate: open loop over raw TLS connections, the request bytes built once

const HEADER_END = Buffer.from('\r\n\r\n');

/** One keep-alive HTTPS connection answering one request at a time (responses carry Content-Length). */
class Connection {
  private chunks: Buffer[] = [];
  private received = 0;
  private expected = -1;
  private status = 0;
  private done: ((status: number) => void) | undefined;
  private failed: ((e: Error) => void) | undefined;

  private constructor(private readonly socket: tls.TLSSocket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  static open(url: URL, ca: string): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: url.hostname, port: Number(url.port), ca, servername: 'localhost' }, () => resolve(new Connection(socket)));
      socket.once('error', reject);
    });
  }

  send(request: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      this.done = resolve;
      this.failed = reject;
      this.socket.write(request);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private fail(e: Error): void {
    const f = this.failed;
    this.done = this.failed = undefined;
    f?.(e);
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.received += chunk.length;
    if (this.expected < 0) {
      const all = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks);
      this.chunks = [all];
      const end = all.indexOf(HEADER_END);
      if (end < 0) return;
      const head = all.toString('latin1', 0, end);
      this.status = Number(head.slice(9, 12));
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!length) {
        this.fail(new Error('response without Content-Length'));
        return;
      }
      this.expected = end + HEADER_END.length + Number(length[1]);
    }
    if (this.received >= this.expected) {
      const status = this.status;
      const done = this.done;
      this.chunks = [];
      this.received = 0;
      this.expected = -1;
      this.done = this.failed = undefined;
      done?.(status);
    }
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function openLoop(job: LoadJob, rate: number, durationSec: number, record: boolean): Promise<LoadResult> {
  const url = new URL(job.url);
  const body = readFileSync(job.bodyFile);
  const head = `POST ${job.path} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n`;
  const request = Buffer.concat([Buffer.from(head, 'latin1'), body]);
  const ca = readFileSync(job.caFile, 'utf8');
  const connections = await Promise.all(Array.from({ length: job.connections }, () => Connection.open(url, ca)));

  const total = Math.max(1, Math.round(rate * durationSec));
  const latencies = new Float64Array(total);
  let completed = 0;
  let non2xx = 0;
  let errors = 0;
  const idle = [...connections];
  /** Due times (ns) of requests waiting for a free connection. */
  const waiting: bigint[] = [];
  const intervalNs = 1e9 / rate;
  const start = process.hrtime.bigint();

  const fire = (conn: Connection, due: bigint): void => {
    conn.send(request).then(
      (status) => {
        const ms = Number(process.hrtime.bigint() - due) / 1e6;
        if (status >= 200 && status < 300) latencies[completed++] = ms;
        else non2xx++;
        next(conn);
      },
      () => {
        errors++;
      },
    );
  };
  const next = (conn: Connection): void => {
    const due = waiting.shift();
    if (due !== undefined) fire(conn, due);
    else idle.push(conn);
  };

  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = process.hrtime.bigint();
      const dueCount = Math.min(total, Math.floor(Number(now - start) / intervalNs) + 1);
      for (; sent < dueCount; sent++) {
        const due = start + BigInt(Math.round(sent * intervalNs));
        const conn = idle.pop();
        if (conn) fire(conn, due);
        else waiting.push(due);
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  // Let what was sent finish, up to a few seconds.
  const deadline = Date.now() + 5000;
  while (completed + non2xx + errors < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  for (const c of connections) c.close();
  const measured = latencies.subarray(0, completed).sort();
  const late = total - completed - non2xx - errors;
  return {
    requests: completed,
    durationSec: elapsed,
    rps: completed / elapsed,
    p50Ms: record ? percentile(measured, 50) : NaN,
    p99Ms: record ? percentile(measured, 99) : NaN,
    non2xx,
    errors,
    late,
  };
}

async function fixedRate(job: LoadJob): Promise<LoadResult> {
  const rate = job.rate ?? 0;
  if (!(rate > 0)) throw new Error('rate mode needs a rate');
  if (job.warmupSec > 0) await openLoop(job, rate, job.warmupSec, false);
  return openLoop(job, rate, job.durationSec, true);
}

// ---------------------------------------------------------------------------------------------------

process.once('message', (job: LoadJob) => {
  (job.mode === 'peak' ? peak(job) : fixedRate(job)).then(
    (result) => process.send?.({ ok: true, result }, () => process.exit(0)),
    (e: unknown) => process.send?.({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }, () => process.exit(1)),
  );
});
