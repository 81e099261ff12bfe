/**
 * The Go parts of the dev and test cluster: built from the Go module proxy by `scripts/control-plane`
 * at pinned versions (see there) and cached in ~/.cache/tether.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: the directory holding `scripts/control-plane`. */
export function repoRoot(): string {
  // This file runs as dist/src/devcluster/binaries.js from a clone or an installed package;
  // walk up instead of hard-coding the depth.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'scripts', 'control-plane'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find scripts/control-plane above ' + import.meta.url);
    dir = parent;
  }
}

let ensured: Promise<string> | undefined;

/**
 * Runs `scripts/control-plane ensure` (builds the binaries on first use, which takes
 * minutes) and returns the bin dir. TETHER_CONTROL_PLANE_BIN short-circuits it, for
 * binaries obtained some other way.
 */
export function ensureControlPlaneBinaries(): Promise<string> {
  const override = process.env['TETHER_CONTROL_PLANE_BIN'];
  if (override) return Promise.resolve(override);
  ensured ??= new Promise<string>((resolve, reject) => {
    const script = path.join(repoRoot(), 'scripts', 'control-plane');
    // stderr is inherited so that a cold build shows its progress instead of looking hung.
    const child = spawn(script, ['ensure'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last) resolve(last);
      else reject(new Error(`${script} ensure exited with ${code}`));
    });
  });
  // Let a later call retry after a failed build.
  ensured.catch(() => (ensured = undefined));
  return ensured;
}
