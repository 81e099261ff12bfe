/**
 * helm, as the chart tests run it: built once by scripts/go-tools (or $HELM), with its own config, cache
 * and data directories (never the user's repositories or plugins), and the chart of this repository.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import type { ManifestDoc } from './manifests.js';

const run = promisify(execFile);

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CHART_DIR = join(REPO_ROOT, 'deploy/helm/tether');
export const RENDER_DEPLOY_SCRIPT = join(REPO_ROOT, 'scripts/render-deploy.mjs');

let binary: Promise<string> | undefined;

/** The helm binary: $HELM, else `scripts/go-tools ensure helm` (waits while another process builds it). */
export function helmBinary(): Promise<string> {
  binary ??= process.env['HELM']
    ? Promise.resolve(process.env['HELM'])
    : run(join(REPO_ROOT, 'scripts/go-tools'), ['ensure', 'helm'], { maxBuffer: 16 << 20 }).then(({ stdout }) => stdout.trim().split('\n').pop()!);
  return binary;
}

/** helm's own directories for this process. */
const HELM_HOME = mkdtempSync(join(tmpdir(), 'tether-helm-'));
export const helmEnv = (): NodeJS.ProcessEnv => ({
  PATH: process.env['PATH'] ?? '',
  HOME: HELM_HOME,
  HELM_CONFIG_HOME: join(HELM_HOME, 'config'),
  HELM_CACHE_HOME: join(HELM_HOME, 'cache'),
  HELM_DATA_HOME: join(HELM_HOME, 'data'),
});

export interface HelmResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs helm; resolves with its exit code and output (never rejects on a non-zero exit). */
export async function helm(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<HelmResult> {
  const bin = await helmBinary();
  try {
    const { stdout, stderr } = await run(bin, [...args], { env: helmEnv(), cwd: REPO_ROOT, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    if (typeof err.code !== 'number') throw e;
    return { code: err.code, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** A values file holding `values` (JSON is YAML), for `-f`. */
export function valuesFile(values: Record<string, unknown>): string {
  const file = join(HELM_HOME, `values-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(values));
  return file;
}

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
