/**
 * helm, as the dev cluster and the tests run it: built once by `scripts/go-tools ensure helm` (or $HELM),
 * with config, cache and data directories of its own (never the user's repositories or plugins), and
 * this package's chart.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './binaries.js';

const run = promisify(execFile);

/** The chart `helm install` installs (deploy/ is rendered from it). */
export const chartDir = (): string => join(repoRoot(), 'deploy', 'helm', 'tether');

let binary: Promise<string> | undefined;

/** The helm binary: $HELM, else `scripts/go-tools ensure helm` (waits while another process builds it). */
export function helmBinary(): Promise<string> {
  binary ??= process.env['HELM']
    ? Promise.resolve(process.env['HELM'])
    : run(join(repoRoot(), 'scripts', 'go-tools'), ['ensure', 'helm'], { maxBuffer: 16 << 20, timeout: 30 * 60_000 }).then(({ stdout }) => stdout.trim().split('\n').pop()!);
  binary.catch(() => (binary = undefined));
  return binary;
}

let home: string | undefined;
/** helm's own directories for this process. */
export function helmEnv(): NodeJS.ProcessEnv {
  home ??= mkdtempSync(join(tmpdir(), 'tether-helm-'));
  return {
    PATH: process.env['PATH'] ?? '',
    HOME: home,
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_DATA_HOME: join(home, 'data'),
  };
}

export interface HelmResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs helm; resolves with its exit code and output (never rejects on a non-zero exit). */
export async function helm(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<HelmResult> {
  const bin = await helmBinary();
  try {
    const { stdout, stderr } = await run(bin, [...args], { env: helmEnv(), cwd: repoRoot(), timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    if (typeof err.code !== 'number') throw e;
    return { code: err.code, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** A values file holding `values` (JSON is YAML), for `-f`; in helm's own directory. */
export function valuesFile(values: Record<string, unknown>): string {
  const file = join(helmEnv()['HOME']!, `values-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(values), { mode: 0o600 });
  return file;
}
