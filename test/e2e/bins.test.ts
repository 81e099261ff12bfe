/**
 * Every bin package.json declares stays runnable after a build (issue 10: after `npm test` rebuilt dist/,
 * `npx tether` failed with "Permission denied": tsc writes files without the executable bit and npx had
 * set it only when it first linked the bin). The suite runs on a fresh build (`npm test` builds first),
 * so this checks that build's output; it must not rebuild dist/ itself, which holds the running tests.
 * Also: `kubectl-tether` run the way kubectl runs a plugin (found on the PATH, exec'd with the rest of
 * the command line), since no kubectl binary is available here.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CHECKS } from '../../src/diagnose/checks/index.js';
import { renderCheckListText } from '../../src/diagnose/render.js';
import { cleanEnv } from '../helpers/tether.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
const BINS = Object.entries(pkg.bin);
/** Never install or download anything: only run what is there. */
const NPM_EXEC = ['exec', '--no', '--offline'];

let pluginDir: string;
/**
 * npm exec keeps its links in the npm cache and never refreshes them (a cache made before a bin was added
 * lacks it): a fresh cache per run makes this test about the package, not about the machine's history.
 */
let npmCache: string;

before(async () => {
  pluginDir = await mkdtemp(join(tmpdir(), 'tether-plugin-'));
  npmCache = await mkdtemp(join(tmpdir(), 'tether-npm-cache-'));
});
after(async () => {
  await rm(pluginDir, { recursive: true, force: true });
  await rm(npmCache, { recursive: true, force: true });
});

describe('bins after a build', () => {
  test('package.json declares tether and kubectl-tether', () => {
    assert.deepEqual(BINS.map(([name]) => name).sort(), ['kubectl-tether', 'tether']);
  });

  // First, before anything below runs npm exec: npm sets the mode itself when it links a bin.
  test('every bin file is executable by everyone who can read it', async () => {
    for (const [name, file] of BINS) {
      const mode = (await stat(join(ROOT, file))).mode;
      assert.equal(mode & 0o111, 0o111, `${name} (${file}) has mode ${(mode & 0o777).toString(8)}`);
    }
  });

  test('each bin runs as an executable (its #! line), as npm links it', async () => {
    for (const [name, file] of BINS) {
      const { stdout } = await run(join(ROOT, file), ['--version'], { env: cleanEnv() });
      assert.equal(stdout.trim(), pkg.version, name);
    }
  });

  test('npm exec (npx) runs both bins in the package directory', async () => {
    const env = cleanEnv({ npm_config_cache: npmCache });
    // `npx tether` finds the package by its name; a bin named otherwise needs `--package=.`, as with npx -p.
    for (const args of [['--', 'tether'], ['--package=.', '--', 'kubectl-tether']]) {
      const { stdout } = await run('npm', [...NPM_EXEC, ...args, '--version'], { cwd: ROOT, env, timeout: 120_000 });
      assert.equal(stdout.trim(), pkg.version, `npm exec ${args.join(' ')} --version`);
    }
  });
});

describe('kubectl plugin', () => {
  test('kubectl-tether found on the PATH and exec\'d with the remaining arguments: `kubectl tether diagnose --list`', async () => {
    // kubectl looks for an executable named kubectl-<first args joined by "-"> on the PATH and execs it
    // with the rest; a symlink is what `npm install -g` puts on the PATH.
    await symlink(join(ROOT, pkg.bin['kubectl-tether']!), join(pluginDir, 'kubectl-tether'));
    const env = cleanEnv({ PATH: `${pluginDir}${delimiter}${process.env['PATH'] ?? ''}` });
    const { stdout } = await run('kubectl-tether', ['diagnose', '--list'], { env });
    assert.equal(stdout, renderCheckListText(CHECKS));
    await assert.rejects(run('kubectl-tether', ['diagnose', '--check', 'nosuch'], { env }), (e: { code?: number; stderr?: string }) => {
      assert.equal(e.code, 2);
      assert.match(e.stderr ?? '', /unknown check nosuch; the checks are:/);
      return true;
    });
  });
});
