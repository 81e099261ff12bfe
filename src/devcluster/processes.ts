/**
 * The dev and test cluster's processes (etcd, kube-apiserver, kube-controller-manager; containerd, a
 * kubelet...): started detached with their output in a log file, watched so that none outlives the
 * Node process that started it (even when that one is SIGKILLed), waited for, and stopped in order.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** its stdout and stderr */
  readonly logPath: string;
  /** resolves when it has exited (or failed to spawn) */
  readonly exited: Promise<void>;
}

export interface StartProcessOptions {
  /** the process's environment (default: this process's) */
  readonly env?: NodeJS.ProcessEnv;
}

// Safety net for a test that never calls stop() or crashes: kill everything we started
// when this Node process exits. ('exit' handlers must be synchronous.)
const liveProcs = new Set<ManagedProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of liveProcs) killGroup(p.child, 'SIGKILL');
    for (const d of liveDirs) {
      if (!keepDirs()) fs.rmSync(d, { recursive: true, force: true });
    }
  });
}

/** TETHER_KEEP_CONTROL_PLANE=1 keeps a cluster's directory (its logs) after it stops. */
export const keepDirs = (): boolean => process.env['TETHER_KEEP_CONTROL_PLANE'] === '1';

/** Signals `child`'s whole process group (it was spawned detached); no-op once it has exited. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Children are spawned detached (own process group), so signal the whole group.
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/**
 * Spawns `bin args` in `dir`, detached (its own process group), its output appended to
 * `dir/<name>.log`. Killed by the exit hook if this process exits first; see ProcessGroup for
 * the watchdog that covers a signal death too.
 */
export function startProcess(
  name: string,
  bin: string,
  args: readonly string[],
  dir: string,
  opts: StartProcessOptions = {},
): ManagedProcess {
  installExitHook();
  const logPath = path.join(dir, `${name}.log`);
  const fd = fs.openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(bin, args, {
      cwd: dir,
      // detached: own process group, so a Ctrl-C aimed at the test runner's group does
      // not race our orderly shutdown (the watchdog and exit hook still kill them).
      detached: true,
      stdio: ['ignore', fd, fd],
      ...(opts.env ? { env: opts.env } : {}),
    });
  } finally {
    fs.closeSync(fd);
  }
  // Do not keep the test process alive just because a component is running.
  child.unref();
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const proc: ManagedProcess = { name, child, logPath, exited };
  liveProcs.add(proc);
  void exited.then(() => liveProcs.delete(proc));
  return proc;
}

/**
 * The exit hook does not run when the test process is killed by a signal (e.g. the test
 * runner's timeout, or SIGKILL). This watchdog does: a detached shell that reads pids from
 * a pipe whose write end only we hold; when we die, the pipe hits EOF and it kills them
 * (and removes `dir`, unless keepDirs()).
 */
export class Watchdog {
  private readonly child: ChildProcess;
  constructor(dir: string) {
    const script = [
      'pids=""',
      'while read -r p; do pids="$pids $p"; done',
      // -pid: each component is a process group leader (spawned detached).
      'for p in $pids; do kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null; done',
      '[ "$KEEP" = 1 ] || rm -rf -- "$1"',
    ].join('\n');
    this.child = spawn('/bin/sh', ['-c', script, 'tether-control-plane-watchdog', dir], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', KEEP: keepDirs() ? '1' : '0' },
    });
    this.child.unref();
    (this.child.stdin as net.Socket | null)?.unref();
    this.child.stdin?.on('error', () => {});
  }
  watch(p: ManagedProcess): void {
    if (p.child.pid !== undefined) this.child.stdin?.write(`${p.child.pid}\n`);
  }
  /** Disarm: kill it before an orderly shutdown so it cannot signal a recycled pid later. */
  disarm(): void {
    killGroup(this.child, 'SIGKILL');
  }
}

/** SIGTERM to the process group, SIGKILL if it is still there after `graceMs`. */
export async function stopProcess(p: ManagedProcess, graceMs: number): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  killGroup(p.child, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), graceMs);
  });
  const late = await Promise.race([p.exited.then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) {
    killGroup(p.child, 'SIGKILL');
    await p.exited;
  }
}

/** The last `lines` lines of `file`, for an error message. */
export function tail(file: string, lines = 40): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n');
  } catch (e) {
    return `(cannot read ${file}: ${(e as Error).message})`;
  }
}

/** A part of the cluster did not start; the message names it and carries the tail of its log. */
export class StartError extends Error {}

/** Polls `check` until it returns true; fails early (with the log tail) if `proc` dies. */
export async function waitUntil(
  what: string,
  proc: ManagedProcess,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  let delay = 50;
  for (;;) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new StartError(
        `${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode}) while waiting for ${what}; ` +
          `last lines of ${proc.logPath}:\n${tail(proc.logPath)}`,
      );
    }
    try {
      if (await check()) return;
    } catch (e) {
      lastError = (e as Error).message;
    }
    if (Date.now() > deadline) {
      throw new StartError(
        `timed out after ${timeoutMs} ms waiting for ${what}` +
          (lastError ? ` (last error: ${lastError})` : '') +
          `; last lines of ${proc.logPath}:\n${tail(proc.logPath)}`,
      );
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 500);
  }
}

/**
 * A loopback port that was free a moment ago. Another process could grab it in between:
 * callers retry when a component reports "address already in use" (see startControlPlane()).
 */
export async function freePort(): Promise<number> {
  // Bind to port 0 and release it.
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The processes of one cluster, sharing one temporary directory (certificates, configs, data,
 * `<name>.log` per process) and one watchdog. start() adds a process; stop() stops them in
 * reverse start order, then removes the directory. A caller can keep adding processes to a
 * group another function created (a node's containerd and kubelet beside the control plane).
 */
export class ProcessGroup {
  private readonly procs: ManagedProcess[] = [];
  private stopping: Promise<void> | undefined;

  private constructor(
    /** the group's temporary directory */
    readonly dir: string,
    private readonly watchdog: Watchdog,
  ) {}

  /** A new group in a fresh `os.tmpdir()/<prefix>XXXXXX` directory. */
  static async create(prefix: string): Promise<ProcessGroup> {
    installExitHook();
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
    liveDirs.add(dir);
    return new ProcessGroup(dir, new Watchdog(dir));
  }

  /** Starts `bin args` (see startProcess()) as a member of the group. */
  start(name: string, bin: string, args: readonly string[], opts: StartProcessOptions = {}): ManagedProcess {
    // A process started after stop() would outlive the group (its watchdog is disarmed).
    if (this.stopping) throw new Error(`cannot start ${name}: its process group in ${this.dir} is stopped`);
    const p = startProcess(name, bin, args, this.dir, opts);
    this.procs.push(p);
    this.watchdog.watch(p);
    return p;
  }

  /** The processes started so far, in start order. */
  get processes(): readonly ManagedProcess[] {
    return this.procs;
  }

  /**
   * Stops every process, last started first (each gets `graceMs` after SIGTERM), then removes
   * the directory unless keepDirs(). Safe to call more than once.
   */
  stop(graceMs = 3000): Promise<void> {
    return (this.stopping ??= (async () => {
      this.watchdog.disarm();
      for (const p of this.procs.slice().reverse()) await stopProcess(p, graceMs);
      liveDirs.delete(this.dir);
      if (!keepDirs()) await fsp.rm(this.dir, { recursive: true, force: true });
    })());
  }
}
