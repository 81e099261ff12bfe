/** Shared fixtures for unit tests of the pure core. */
import { parseConfig, type ConfigKey, type TetherConfig } from '../../src/config/index.js';
import type { MutationContext } from '../../src/admission/types.js';
import type { Pod } from '../../src/admission/pod.js';

/** The defaults, with some keys set as if from a file. */
export function testConfig(values: Partial<Record<ConfigKey, unknown>> = {}): TetherConfig {
  const overrides = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, [v, 'test']]));
  return parseConfig({ overrides });
}

export function ctx(values: Partial<Record<ConfigKey, unknown>> = {}, extra: Partial<MutationContext> = {}): MutationContext {
  return { config: testConfig(values), namespace: 'apps', tetherNamespace: 'datadog', ...extra };
}

export const ENABLED = { 'admission.datadoghq.com/enabled': 'true' } as const;

export function pod(over: { labels?: Record<string, string>; annotations?: Record<string, string>; spec?: Partial<Pod['spec']>; meta?: Record<string, unknown> } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', labels: { ...ENABLED, ...over.labels }, ...(over.annotations ? { annotations: over.annotations } : {}), ...over.meta },
    spec: { containers: [{ name: 'app', image: 'app:1' }], ...over.spec },
  };
}
