/**
 * The OpenTelemetry Collector (built by scripts/go-tools) as an OTLP/HTTP sink for traces and metrics:
 * what it receives is written as OTLP JSON lines to a file, read back here as resources (their
 * attributes) with the span and metric names under each. Used where the sender is a pod, which reaches
 * it on the node's address.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './helm.js';

export interface ReceivedResource {
  readonly signal: 'traces' | 'metrics';
  /** Resource attributes, values as strings. */
  readonly attributes: Readonly<Record<string, string>>;
  /** Span names (traces) or metric names (metrics). */
  readonly names: readonly string[];
}

export interface OtlpFileCollector {
  /** The base URL to give a node agent (DD_OTLP_ENDPOINT, the chart's agents.otlp.endpoint). */
  readonly endpoint: string;
  received(): Promise<ReceivedResource[]>;
  stop(): Promise<void>;
}

interface AnyValue {
  stringValue?: string;
  intValue?: string;
  boolValue?: boolean;
  doubleValue?: number;
}
interface Line {
  resourceSpans?: { resource?: { attributes?: { key: string; value: AnyValue }[] }; scopeSpans?: { spans?: { name: string }[] }[] }[];
  resourceMetrics?: { resource?: { attributes?: { key: string; value: AnyValue }[] }; scopeMetrics?: { metrics?: { name: string }[] }[] }[];
}

const str = (v: AnyValue): string => String(v.stringValue ?? v.intValue ?? v.boolValue ?? v.doubleValue ?? '');
const attrs = (a: { key: string; value: AnyValue }[] | undefined): Record<string, string> => Object.fromEntries((a ?? []).map((kv) => [kv.key, str(kv.value)]));

/** The Collector's config: OTLP/HTTP in on `endpoint`, every signal of `pipelines` appended to `file` as OTLP JSON lines. */
export function fileCollectorConfig(endpoint: string, file: string, pipelines: readonly ('traces' | 'metrics' | 'logs')[]): string {
  return `receivers:
  otlp:
    protocols:
      http:
        endpoint: ${endpoint}
exporters:
  file:
    path: ${file}
    append: true
    flush_interval: 100ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
${pipelines.map((p) => `    ${p}:\n      receivers: [otlp]\n      exporters: [file]\n`).join('')}`;
}

/**
 * A collector build (Jaeger v2 is one too) started on `config`, resolved once it logs that it is ready;
 * `onSpawn` sees the process at once (to stop it even when it never gets ready).
 */
export async function startCollectorProcess(bin: string, config: string, what: string, onSpawn?: (child: ChildProcess) => void): Promise<ChildProcess> {
  const child = spawn(bin, ['--config', `file:${config}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  onSpawn?.(child);
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString('utf8');
      if (err.includes('Everything is ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready: ${err.slice(-3000)}`)));
  });
  return child;
}

export async function startOtlpFileCollector(host: string, port: number): Promise<OtlpFileCollector> {
  const { stdout } = await promisify(execFile)(join(REPO_ROOT, 'scripts/go-tools'), ['ensure', 'otelcol'], { maxBuffer: 1 << 20, timeout: 30 * 60_000 });
  const bin = stdout.trim().split('\n').pop()!;
  const dir = await mkdtemp(join(tmpdir(), 'tether-otelcol-'));
  const file = join(dir, 'received.jsonl');
  const config = join(dir, 'otelcol.yaml');
  await writeFile(config, fileCollectorConfig(`${host}:${port}`, file, ['traces', 'metrics']));
  const child = await startCollectorProcess(bin, config, 'the OpenTelemetry Collector');
  return {
    endpoint: `http://${host}:${port}`,
    async received() {
      const text = await readFile(file, 'utf8').catch(() => '');
      const out: ReceivedResource[] = [];
      for (const raw of text.split('\n')) {
        if (!raw.trim()) continue;
        const line = JSON.parse(raw) as Line;
        for (const rs of line.resourceSpans ?? []) out.push({ signal: 'traces', attributes: attrs(rs.resource?.attributes), names: (rs.scopeSpans ?? []).flatMap((s) => (s.spans ?? []).map((x) => x.name)) });
        for (const rm of line.resourceMetrics ?? []) out.push({ signal: 'metrics', attributes: attrs(rm.resource?.attributes), names: (rm.scopeMetrics ?? []).flatMap((s) => (s.metrics ?? []).map((x) => x.name)) });
      }
      return out;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
