/**
 * A Unix-socket sender's pid → its container and pod (`cgroup.ts`), read from `/proc/<pid>/cgroup` and
 * remembered for `ATTEST_PID_CACHE_TTL_MS` (pids are reused: not longer), at most `ATTEST_PID_CACHE_MAX`.
 *
 * The pid is in the node agent's pid namespace: the kernel translates it, and gives 0 for a process the
 * namespace cannot see. A node agent in a pod therefore sees its node's processes only with
 * `hostPID: true` (the chart sets it when sockets are on); without it every pid is 0 and nothing is
 * attested (the claims are used, and counted as unattested).
 */
import { readFileSync } from 'node:fs';
import { ATTEST_PID_CACHE_MAX, ATTEST_PID_CACHE_TTL_MS } from '../../../config/limits.js';
import { parseCgroup, type CgroupFacts } from './cgroup.js';

export interface PidOrigins {
  /** The pid's container and pod (`{}`: no container, a process of the node); undefined when the pid cannot be read (0, gone, no /proc). */
  of(pid: number): CgroupFacts | undefined;
}

export interface PidOriginsOptions {
  /** Default `/proc`. */
  readonly procRoot?: string;
  readonly now?: () => number;
  readonly ttlMs?: number;
  readonly max?: number;
}

export function createPidOrigins(opts: PidOriginsOptions = {}): PidOrigins {
  const root = opts.procRoot ?? '/proc';
  const now = opts.now ?? Date.now;
  const ttl = opts.ttlMs ?? ATTEST_PID_CACHE_TTL_MS;
  const max = opts.max ?? ATTEST_PID_CACHE_MAX;
  const cache = new Map<number, { at: number; facts: CgroupFacts | undefined }>();
  return {
    of(pid) {
      if (!Number.isInteger(pid) || pid <= 0) return undefined;
      const t = now();
      const hit = cache.get(pid);
      if (hit && t - hit.at < ttl) return hit.facts;
      let facts: CgroupFacts | undefined;
      try {
        // Synchronous on purpose: a few hundred bytes of procfs, once per sender per TTL, on the path that
        // parses the sender's datagram anyway; a promise per datagram would cost more.
        facts = parseCgroup(readFileSync(`${root}/${pid}/cgroup`, 'utf8'));
      } catch {
        facts = undefined;
      }
      cache.delete(pid);
      if (cache.size >= max) cache.delete(cache.keys().next().value as number);
      cache.set(pid, { at: t, facts });
      return facts;
    },
  };
}
