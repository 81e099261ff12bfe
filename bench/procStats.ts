/**
 * Memory and CPU of a process and its descendants (a server with cluster workers), read from /proc.
 * Linux only, as the benchmark is.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/PID/stat times (`getconf CLK_TCK`, 100 on Linux). */
const CLK_TCK = 100;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // the process is gone
  }
}

/** Fields of /proc/PID/stat after the command name (which may hold spaces): index 0 is field 3 (state). */
function statFields(pid: number): string[] | undefined {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** `pid` and every process below it. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const fields = statFields(Number(name));
    if (!fields) continue;
    const ppid = Number(fields[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const tree: number[] = [];
  const visit = (p: number) => {
    tree.push(p);
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return tree;
}

/** Resident memory (VmRSS) in bytes, 0 for a process that is gone. */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(read(`/proc/${pid}/status`) ?? '');
  return m ? Number(m[1]) * 1024 : 0;
}

/** CPU time used so far (user + system), in seconds. */
export function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  // utime and stime are fields 14 and 15 of /proc/PID/stat.
  return f ? (Number(f[11]) + Number(f[12])) / CLK_TCK : 0;
}

export interface TreeSampler {
  /** Largest sum of RSS over the tree seen since the sampler started, in bytes. */
  maxRss(): number;
  /** CPU seconds used by the tree since the sampler started (processes that exited meanwhile excluded). */
  cpu(): number;
  stop(): void;
}

/** Samples the tree's RSS every `intervalMs` (the tree is re-listed each second, for workers that restart). */
export function sampleTree(pid: number, intervalMs = 100): TreeSampler {
  let pids = processTree(pid);
  let listed = Date.now();
  const startCpu = new Map(pids.map((p) => [p, cpuSeconds(p)]));
  let max = 0;
  const sample = () => {
    if (Date.now() - listed > 1000) {
      pids = processTree(pid);
      listed = Date.now();
    }
    max = Math.max(max, pids.reduce((sum, p) => sum + rssBytes(p), 0));
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    maxRss: () => max,
    cpu: () => processTree(pid).reduce((sum, p) => sum + cpuSeconds(p) - (startCpu.get(p) ?? 0), 0),
    stop: () => clearInterval(timer),
  };
}

/**
 * CPU time the whole machine has spent busy since boot (all cores: user, nice, system, irq, softirq,
 * steal), in seconds.
 */
export function machineBusySeconds(): number {
  const line = (read('/proc/stat') ?? '').split('\n')[0] ?? '';
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / CLK_TCK;
}
