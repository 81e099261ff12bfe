/**
 * The node's processes, found by cgroup. containerd's shims daemonize out of its process group, and
 * containers run under the kubelet's `kubepods` cgroups, so stopping the node's own processes does not
 * stop them: the node's daemons run in the cgroup NODE_CGROUP (shims inherit it) and every process in
 * it or in `kubepods` is killed when the node stops, or before a node starts after a killed run.
 * cgroup v1 (these machines) is read through the `pids` hierarchy; v2 through the unified one.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const NODE_CGROUP = 'tether-node';
const KUBEPODS_CGROUP = 'kubepods';

/** The hierarchy whose cgroup.procs lists every process of a cgroup. */
function hierarchy(): string {
  return existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/pids';
}

/** Creates NODE_CGROUP (if missing) and returns its cgroup.procs, where a daemon writes its own pid. */
export async function nodeCgroupProcs(): Promise<string> {
  const dir = join(hierarchy(), NODE_CGROUP);
  await mkdir(dir, { recursive: true });
  return join(dir, 'cgroup.procs');
}

/** Moves `pid` into NODE_CGROUP (its children, e.g. containerd's shims, follow). */
export async function joinNodeCgroup(pid: number): Promise<void> {
  await writeFile(await nodeCgroupProcs(), `${pid}\n`);
}

async function pidsUnder(dir: string): Promise<number[]> {
  const pids: number[] = [];
  const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  for (const line of procs.split('\n')) if (line.trim()) pids.push(Number(line));
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) pids.push(...(await pidsUnder(join(dir, e.name))));
  return pids;
}

/** Removes the (empty) cgroup dirs below and including `dir`, deepest first, in every v1 hierarchy. */
async function removeTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) await removeTree(join(dir, e.name));
  await rmdir(dir).catch(() => undefined);
}

/**
 * SIGKILLs every process of the node (its daemons' cgroup and the pods'), until none is left or
 * `timeoutMs` passes, then removes the cgroups.
 */
export async function killNodeProcesses(timeoutMs = 15_000): Promise<void> {
  const roots = [join(hierarchy(), NODE_CGROUP), join(hierarchy(), KUBEPODS_CGROUP)];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = (await Promise.all(roots.map(pidsUnder))).flat();
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
    if (Date.now() > deadline) throw new Error(`processes of the node still alive after ${timeoutMs} ms: ${pids.slice(0, 10).join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // The kubelet creates kubepods in every v1 hierarchy: remove them all, so the next node starts clean.
  const base = '/sys/fs/cgroup';
  const hierarchies = existsSync(join(base, 'cgroup.controllers')) ? [base] : (await readdir(base, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory()).map((e) => join(base, e.name));
  for (const h of hierarchies) for (const name of [NODE_CGROUP, KUBEPODS_CGROUP]) await removeTree(join(h, name));
}
