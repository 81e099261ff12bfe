/**
 * `tether serve` as a child process for robustness tests and `npm run fuzz`: started on a free loopback
 * port, its stderr consumed continuously (a full pipe would block the server's logger) and kept only as
 * log messages plus a bounded tail, and its memory read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CertificateFiles } from './certs.js';
import { MEMORY_REPORT_MSG, type MemoryReport } from './gcOnSignal.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const GC_PRELOAD = pathToFileURL(fileURLToPath(new URL('./gcOnSignal.js', import.meta.url))).href;

/** Kept of stderr for error messages: enough for a few dozen log lines, bounded however long the run. */
const TAIL_CHARS = 64 * 1024;

export interface ServeOptions {
  /** Extra environment (DD_* settings); the caller's own DD_* variables are dropped. */
  readonly env?: Record<string, string>;
  /**
   * Preloads `gcOnSignal.js` with `--expose-gc`: `memory()` then collects garbage before measuring.
   * Test-only instrumentation; the server's own code is unchanged.
   */
  readonly gcHook?: boolean;
}

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** e.g. `https://127.0.0.1:40123`. */
  readonly url: string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string | null>;
  /** Still running: not exited and not killed by a signal. */
  alive(): boolean;
  /** The `msg` of every JSON log line so far. */
  messages(): readonly string[];
  /** The last `TAIL_CHARS` characters of stderr. */
  stderrTail(): string;
  /** Resident set size from /proc/<pid>/status, in bytes. */
  rssBytes(): Promise<number>;
  /** With `gcHook`: full GC in the server, then its memory (heap after GC, RSS). */
  memory(): Promise<MemoryReport>;
  /** SIGKILL if still running. */
  kill(): Promise<void>;
}

/** The environment without DD_* variables of whoever runs the tests, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DD_'))), ...extra };
}

export async function readRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

export async function startServe(files: CertificateFiles, o: ServeOptions = {}): Promise<ServeProcess> {
  const nodeArgs = o.gcHook ? ['--expose-gc', '--import', GC_PRELOAD] : [];
  const child = spawn(
    process.execPath,
    [...nodeArgs, MAIN, 'serve', '--tls-cert', files.certFile, '--tls-key', files.keyFile, '--port', '0', '--host', '127.0.0.1', '--namespace', 'datadog'],
    { env: cleanEnv(o.env), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let exitValue: number | string | null | undefined;
  const exited = new Promise<number | string | null>((resolve) =>
    child.on('exit', (code, signal) => {
      exitValue = code ?? signal;
      resolve(exitValue);
    }),
  );

  const messages: string[] = [];
  const memoryWaiters: ((m: MemoryReport) => void)[] = [];
  let tail = '';
  let partial = '';
  let onUrl: ((url: string) => void) | undefined;
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    tail = (tail + d).slice(-TAIL_CHARS);
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    // A line of more than a few MiB (a huge uid logged) is still consumed; only its message is kept.
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      let l: { msg?: string; url?: string } & Partial<MemoryReport>;
      try {
        l = JSON.parse(line) as typeof l;
      } catch {
        continue;
      }
      if (l.msg === MEMORY_REPORT_MSG) {
        memoryWaiters.shift()?.(l as MemoryReport);
        continue;
      }
      if (typeof l.msg === 'string') messages.push(l.msg);
      if (l.url && /listening/.test(l.msg ?? '')) onUrl?.(l.url);
    }
  });

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tether serve did not say where it listens:\n${tail}`)), 15_000);
    onUrl = (u) => {
      clearTimeout(timer);
      resolve(u);
    };
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`tether serve exited with ${code}:\n${tail}`));
    });
  });

  const pid = child.pid!;
  return {
    child,
    pid,
    url,
    exited,
    alive: () => exitValue === undefined,
    messages: () => messages,
    stderrTail: () => tail,
    rssBytes: () => readRssBytes(pid),
    memory() {
      if (!o.gcHook) return Promise.reject(new Error('memory() needs startServe(..., { gcHook: true })'));
      return new Promise<MemoryReport>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no memory report from the server within 10 s')), 10_000);
        memoryWaiters.push((m) => {
          clearTimeout(timer);
          resolve(m);
        });
        child.kill('SIGUSR2');
      });
    },
    async kill() {
      if (exitValue === undefined) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
