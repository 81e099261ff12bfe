/**
 * helm, as the chart tests run it (src/devcluster/helm.ts: built once, its own directories), and the
 * chart of this repository rendered and parsed.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { helm, valuesFile } from '../../src/devcluster/helm.js';
import type { ManifestDoc } from './manifests.js';

export { helm, helmBinary, helmEnv, valuesFile, type HelmResult } from '../../src/devcluster/helm.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CHART_DIR = join(REPO_ROOT, 'deploy/helm/tether');
export const RENDER_DEPLOY_SCRIPT = join(REPO_ROOT, 'scripts/render-deploy.mjs');

/**
 * The token `helmTemplate` renders with when `values` name none: without a cluster the chart generates
 * none (it would be another on every render) and fails, as it should for GitOps.
 */
export const TEMPLATE_TOKEN = 'rendered-without-a-cluster-0123456789abcdef';

/** `--set clusterAgent.token=TEMPLATE_TOKEN` unless `values` give a token or a token Secret. */
function tokenArgs(values: Record<string, unknown>): string[] {
  const ca = (values['clusterAgent'] ?? {}) as Record<string, unknown>;
  return ca['token'] || ca['tokenExistingSecret'] ? [] : ['--set', `clusterAgent.token=${TEMPLATE_TOKEN}`];
}

/** The chart's objects for `values` (release tether, namespace datadog unless `extra` says otherwise). */
export async function helmTemplate(values: Record<string, unknown> = {}, extra: readonly string[] = []): Promise<ManifestDoc[]> {
  const r = await helm(['template', 'tether', CHART_DIR, '--namespace', 'datadog', '-f', valuesFile(values), ...tokenArgs(values), ...extra]);
  if (r.code !== 0) throw new Error(`helm template failed (${r.code}): ${r.stderr}`);
  return parseManifests(r.stdout);
}

export function parseManifests(text: string): ManifestDoc[] {
  return parseAllDocuments(text)
    .map((d) => d.toJSON() as ManifestDoc | null)
    .filter((d): d is ManifestDoc => d !== null);
}

/**
 * NOTES.txt for `values`: `helm install --dry-run=client` (nothing is sent to the cluster, but helm wants
 * one to be reachable: `kubeconfig`).
 */
export async function helmNotes(kubeconfig: string, values: Record<string, unknown> = {}, extra: readonly string[] = []): Promise<string> {
  const r = await helm(['install', 'tether', CHART_DIR, '--kubeconfig', kubeconfig, '--namespace', 'datadog', '--dry-run=client', '-f', valuesFile(values), ...tokenArgs(values), ...extra]);
  if (r.code !== 0) throw new Error(`helm install --dry-run failed (${r.code}): ${r.stderr}`);
  const at = r.stdout.indexOf('NOTES:');
  return at < 0 ? '' : r.stdout.slice(at);
}
