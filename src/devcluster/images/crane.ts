/**
 * go-containerregistry's `crane`, built from the Go module proxy by `scripts/go-tools ensure crane`
 * (TETHER_CRANE names another binary), and the few commands the image build runs with it: a registry
 * on loopback for the image being assembled, `append` (layers onto an empty OCI base), `mutate` (the
 * config: entrypoint, user, env...) and `pull --format=oci` (the OCI image layout).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../binaries.js';

const run = promisify(execFile);

let ensured: Promise<string> | undefined;

/** The crane binary (built on first use: about a minute, cached under ~/.cache/tether). */
export function ensureCrane(): Promise<string> {
  const override = process.env['TETHER_CRANE'];
  if (override) return Promise.resolve(override);
  ensured ??= run(join(repoRoot(), 'scripts', 'go-tools'), ['ensure', 'crane'], { maxBuffer: 1 << 20, timeout: 30 * 60_000 }).then(
    ({ stdout }) => stdout.trim().split('\n').pop()!,
    (e: Error & { stderr?: string }) => {
      ensured = undefined;
      throw new Error(`cannot build crane (scripts/go-tools ensure crane): ${(e.stderr ?? e.message).trim().split('\n').slice(-5).join('\n')}`);
    },
  );
  return ensured;
}

/** `crane version`: part of every image's cache key (another crane may write other bytes). */
export async function craneVersion(crane: string): Promise<string> {
  return (await run(crane, ['version'])).stdout.trim();
}

/** One crane command; its stderr's tail in the error when it fails. */
export async function crane(bin: string, args: readonly string[]): Promise<string> {
  try {
    return (await run(bin, args, { maxBuffer: 16 << 20, timeout: 10 * 60_000 })).stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`crane ${args[0]} failed: ${(err.stderr ?? err.message).trim().split('\n').slice(-5).join('\n')}`);
  }
}

export interface LocalRegistry {
  /** `127.0.0.1:PORT`. */
  readonly host: string;
  close(): Promise<void>;
}

/**
 * `crane registry serve` on 127.0.0.1, an in-memory registry that lives for one build: `mutate` and
 * `pull` read images from a registry, not from files.
 */
export async function serveRegistry(bin: string): Promise<LocalRegistry> {
  const child: ChildProcess = spawn(bin, ['registry', 'serve', '--address', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`crane registry serve did not start in 30 s: ${log.trim()}`)), 30_000);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      log += d;
      const m = /serving on port (\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`crane registry serve exited with ${code}: ${log.trim()}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    host: `127.0.0.1:${port}`,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
