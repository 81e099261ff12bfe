/**
 * The machine-wide lock of the real node: one node per machine (its bridge, iptables chains, the
 * kubelet's port and /var/run/datadog are the host's), so a second test file or `tether dev --node real`
 * waits for the first to stop. Held by a `flock` child reading our stdin: when this process exits, even
 * killed, the pipe closes and the lock is released.
 */
import { spawn } from 'node:child_process';
import { NODE_LOCK_FILE } from './layout.js';

export interface NodeLock {
  release(): void;
}

export function acquireNodeLock(timeoutMs = 30 * 60_000): Promise<NodeLock> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', ['--exclusive', '--timeout', String(Math.ceil(timeoutMs / 1000)), NODE_LOCK_FILE, '-c', 'echo locked; read -r _'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('locked')) {
        child.stdout.removeAllListeners('data');
        resolve({ release: () => child.stdin.end() });
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', (e) => reject(new Error(`cannot take the real node's lock ${NODE_LOCK_FILE}: ${e.message}`)));
    child.on('exit', (code) => {
      if (!out.includes('locked')) reject(new Error(`another real node held ${NODE_LOCK_FILE} for ${Math.round(timeoutMs / 1000)} s (flock exited ${code}${err ? `: ${err.trim()}` : ''})`));
    });
  });
}
