/**
 * The cluster connection for subcommands that use one. `@kubernetes/client-node` is imported only here,
 * on demand: loading it costs about 60 MB of memory, which `tether serve` without a cluster and
 * `tether inject` should not pay.
 */
import type { FactResolver } from '../admission/index.js';
import type { TetherConfig } from '../config/index.js';
import type { KubeConfigOptions, LoadedKubeConfig } from '../kube/client.js';
import type { Logger } from '../logging/logger.js';
import { CliError } from './errors.js';

/** `loadKubeConfig`, with an unusable configuration reported as a CLI error (exit 1). */
export async function connectToCluster(opts: KubeConfigOptions): Promise<LoadedKubeConfig> {
  const { KubeConfigError, loadKubeConfig } = await import('../kube/client.js');
  try {
    return loadKubeConfig(opts);
  } catch (e) {
    if (e instanceof KubeConfigError) throw new CliError(e.message, 1);
    throw e;
  }
}

/** Owners and namespaces read through the API, cached (`kube/facts.ts`). */
export async function apiFacts(kube: LoadedKubeConfig, config: TetherConfig, logger: Logger, onBreakerChange?: (state: 'open' | 'closed') => void): Promise<FactResolver> {
  const { createApiFactResolver } = await import('../kube/facts.js');
  return createApiFactResolver({ kubeConfig: kube.kubeConfig, config, logger, ...(onBreakerChange ? { onBreakerChange } : {}) });
}
