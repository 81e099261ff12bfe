/**
 * The real node's binaries, built once at pinned versions by scripts/go-tools (containerd, runc, the CNI
 * plugins, CoreDNS) and scripts/control-plane (kubelet, kube-proxy, kube-scheduler) into ~/.cache/tether.
 * A build that fails is one error naming the part and the tail of its output.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../binaries.js';

export interface NodeBinaries {
  readonly containerd: string;
  readonly ctr: string;
  readonly runc: string;
  readonly cniBinDir: string;
  readonly coredns: string;
  readonly kubelet: string;
  readonly kubeProxy: string;
  readonly kubeScheduler: string;
}

const PARTS = ['control-plane-node', 'containerd', 'runc', 'cni', 'coredns'] as const;

let ensured: Promise<NodeBinaries> | undefined;

export function ensureNodeBinaries(): Promise<NodeBinaries> {
  ensured ??= (async () => {
    const script = path.join(repoRoot(), 'scripts', 'go-tools');
    let stdout: string;
    try {
      ({ stdout } = await promisify(execFile)(script, ['ensure', ...PARTS], { maxBuffer: 64 << 20, timeout: 60 * 60_000 }));
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      const tailLines = (err.stderr ?? '').trim().split('\n').slice(-25).join('\n');
      throw new Error(`building the real node's parts (${PARTS.join(', ')}) failed: ${err.message.split('\n')[0]}\n${tailLines}`);
    }
    const lines = stdout.trim().split('\n');
    const [k8sDir, containerd, runc, cniBridge, coredns] = lines.slice(-PARTS.length) as [string, string, string, string, string];
    return {
      containerd,
      ctr: path.join(path.dirname(containerd), 'ctr'),
      runc,
      cniBinDir: path.dirname(cniBridge),
      coredns,
      kubelet: path.join(k8sDir, 'kubelet'),
      kubeProxy: path.join(k8sDir, 'kube-proxy'),
      kubeScheduler: path.join(k8sDir, 'kube-scheduler'),
    };
  })();
  ensured.catch(() => (ensured = undefined));
  return ensured;
}
