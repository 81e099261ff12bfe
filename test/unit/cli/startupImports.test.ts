/**
 * What the `tether` command loads before it runs a subcommand. @kubernetes/client-node costs about 60 MB
 * of memory (cli/cluster.ts imports it on demand for that reason): `tether serve` without a cluster and
 * `tether inject` must not load it. A pure table reached from the command's static imports (it happened:
 * kube/apiCalls.ts → kube/facts.ts, through diagnose's checks) silently loads it for every command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** dist/test/unit/cli/ → dist/src/cli/main.js. */
const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const FACTS = new URL('../../../src/kube/facts.js', import.meta.url).href;

/** A module loader hook that names every package a process loads, one `LOADED <package>` line each on stderr. */
const HOOK = `export async function load(url, context, next) {
  const m = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(url);
  if (m) process.stderr.write('LOADED ' + m[1] + '\\n');
  return next(url, context);
}`;
const REGISTER = `data:text/javascript,${encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOK)}`)});`)}`;

function packagesLoaded(args: readonly string[]): Set<string> {
  const r = spawnSync(process.execPath, ['--import', REGISTER, ...args], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `node ${args.join(' ')} failed: ${r.stderr}`);
  return new Set([...r.stderr.matchAll(/^LOADED (.+)$/gm)].map((m) => m[1]!));
}

test('the hook sees client-node when something loads it (else the tests below prove nothing)', () => {
  const loaded = packagesLoaded(['--input-type=module', '-e', `await import(${JSON.stringify(FACTS)});`]);
  assert.ok(loaded.has('@kubernetes/client-node'), [...loaded].join(', '));
});

for (const command of [['serve', '--help'], ['inject', '--help'], ['--version']]) {
  test(`tether ${command.join(' ')} does not load @kubernetes/client-node`, () => {
    const loaded = packagesLoaded([MAIN, ...command]);
    assert.ok(loaded.has('commander'), `the hook saw nothing: ${[...loaded].join(', ')}`);
    assert.ok(!loaded.has('@kubernetes/client-node'), `loaded: ${[...loaded].join(', ')}`);
  });
}
