/**
 * The one place a Kubernetes API client configuration is built (ARCHITECTURE: only `kube/` talks to the
 * API server). Where the configuration comes from, in order: `--kubeconfig`, `KUBECONFIG`, the pod's
 * service account (in-cluster), `~/.kube/config`. A configuration that cannot be loaded is a clear
 * error naming where Tether looked, never a stack trace.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { SERVICE_ACCOUNT_DIR } from '../config/index.js';

export interface KubeConfigOptions {
  /** `--kubeconfig FILE`. */
  readonly kubeconfig?: string;
  /** `--context NAME`: a context of the kubeconfig other than its current one. */
  readonly context?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where the pod's service account directory is looked for: a prefix to SERVICE_ACCOUNT_DIR (tests). */
  readonly fsRoot?: string;
}

export interface LoadedKubeConfig {
  readonly kubeConfig: k8s.KubeConfig;
  /** In words, for the startup log: `--kubeconfig /x`, `KUBECONFIG`, `in-cluster service account`... */
  readonly source: string;
  /** The API server's URL. */
  readonly server: string;
}

export class KubeConfigError extends Error {
  override name = 'KubeConfigError';
}


function fromFile(path: string, source: string): { kc: k8s.KubeConfig; source: string } {
  if (!existsSync(path)) throw new KubeConfigError(`${source}: no such file ${path}`);
  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromFile(path);
  } catch (e) {
    throw new KubeConfigError(`${source}: cannot read kubeconfig ${path}: ${(e as Error).message}`);
  }
  return { kc, source };
}

export function loadKubeConfig(opts: KubeConfigOptions = {}): LoadedKubeConfig {
  const env = opts.env ?? process.env;
  let loaded: { kc: k8s.KubeConfig; source: string };
  if (opts.kubeconfig) {
    loaded = fromFile(opts.kubeconfig, `--kubeconfig ${opts.kubeconfig}`);
  } else if (env['KUBECONFIG']) {
    // Only the first file of a KUBECONFIG list: merging lists is kubectl's business, not ours.
    const first = env['KUBECONFIG'].split(':').find((p) => p !== '') ?? '';
    loaded = fromFile(first, `KUBECONFIG=${env['KUBECONFIG']}`);
  } else if (env['KUBERNETES_SERVICE_HOST'] && existsSync(join(opts.fsRoot ?? '/', SERVICE_ACCOUNT_DIR, 'token'))) {
    // In a pod (`kubectl exec <pod> -- agent status` too): the service account's token and CA.
    const kc = new k8s.KubeConfig();
    kc.loadFromCluster(opts.fsRoot ?? '');
    loaded = { kc, source: 'in-cluster service account' };
  } else {
    const path = join(env['HOME'] ?? homedir(), '.kube', 'config');
    if (!existsSync(path)) {
      throw new KubeConfigError(
        `no Kubernetes API configuration: give --kubeconfig FILE, set KUBECONFIG, run in a pod with a service account, or create ${path}`,
      );
    }
    loaded = fromFile(path, path);
  }
  const kc = loaded.kc;
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new KubeConfigError(`${loaded.source}: no context named ${opts.context} (contexts: ${known.join(', ') || 'none'})`);
    }
    kc.setCurrentContext(opts.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeConfigError(`${loaded.source}: the current context names no cluster`);
  return { kubeConfig: kc, source: loaded.source, server: cluster.server };
}
