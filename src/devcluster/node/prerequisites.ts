/**
 * What a real node needs of the machine, checked before anything starts, so that a missing part is
 * one error naming it (and its fix) instead of a kubelet log to decipher.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../binaries.js';

export class NodePrerequisiteError extends Error {}

export async function checkNodePrerequisites(): Promise<void> {
  const problems: string[] = [];
  if (process.platform !== 'linux') problems.push(`a real node runs on Linux only (this is ${process.platform})`);
  else {
    if (process.getuid?.() !== 0) problems.push('a real node needs root (network set-up, cgroups, mounts): run as root');
    const filesystems = readFileSync('/proc/filesystems', 'utf8');
    if (!/\boverlay\b/.test(filesystems)) problems.push('the kernel has no overlay filesystem (containerd\'s overlayfs snapshotter needs it)');
    if (!existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables')) problems.push('the kernel has no br_netfilter (Services and host ports on a bridge need it): modprobe br_netfilter');
    if (!existsSync('/sys/fs/cgroup/cgroup.controllers') && !existsSync('/sys/fs/cgroup/pids/cgroup.procs')) problems.push('no cgroup v2 and no cgroup v1 pids hierarchy under /sys/fs/cgroup');
    const { stdout } = await promisify(execFile)(path.join(repoRoot(), 'scripts', 'system-packages'), ['missing', 'node']);
    const missing = stdout.split('\n').filter(Boolean);
    if (missing.length > 0) problems.push(`missing system packages: ${missing.join(' ')} (scripts/system-packages ensure node installs them as root; npm test runs it)`);
    for (const cmd of ['unshare', 'nsenter', 'flock', 'ip']) if (!onPath(cmd)) problems.push(`no ${cmd} on PATH (util-linux / iproute2)`);
  }
  if (problems.length > 0) throw new NodePrerequisiteError(`cannot start a real node:\n  - ${problems.join('\n  - ')}`);
}

function onPath(cmd: string): boolean {
  return (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((dir) => existsSync(path.join(dir, cmd)));
}
