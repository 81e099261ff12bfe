/**
 * The Node flags Tether's cluster agent ships with: the chart's `clusterAgent.nodeOptions` (its
 * NODE_OPTIONS), read from values.yaml so that the bench measures the server as it runs in a cluster,
 * and the chart stays the one place that says which flags those are.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { chartDir } from '../../src/devcluster/helm.js';

export function chartNodeOptions(): string[] {
  const values = parse(readFileSync(join(chartDir(), 'values.yaml'), 'utf8')) as { clusterAgent?: { nodeOptions?: unknown } };
  const flags = values.clusterAgent?.nodeOptions ?? '';
  if (typeof flags !== 'string') throw new Error(`deploy/helm/tether/values.yaml: clusterAgent.nodeOptions must be a string, not ${JSON.stringify(flags)}`);
  return flags.split(/\s+/).filter(Boolean);
}
