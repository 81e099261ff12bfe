/** The `tether inject` command as a user runs it: files, stdin, flags, exit codes, stdout/stderr. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tether-inject-'));
const POD = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    admission.datadoghq.com/enabled: "true"\nspec:\n  containers:\n    - name: app\n      image: app\n';

function tether(args: string[], input?: string, env: Record<string, string> = {}) {
  // Only the variables the test sets: a developer's own DD_* settings must not change the outcome.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DD_')));
  return spawnSync(process.execPath, [MAIN, ...args], { input, encoding: 'utf8', env: { ...clean, ...env } });
}

test('reads a file and writes the mutated YAML to stdout', () => {
  const f = join(dir, 'pod.yaml');
  writeFileSync(f, POD);
  const r = tether(['inject', '-f', f]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /name: DD_AGENT_HOST/);
  assert.equal(r.stderr, '');
});

test('reads stdin with -f -, and --mode overrides the configured mode', () => {
  const r = tether(['inject', '-f', '-', '--mode', 'socket'], POD, { DD_ADMISSION_CONTROLLER_INJECT_CONFIG_MODE: 'service' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /DD_TRACE_AGENT_URL/);
});

test('DD_* variables and --config apply', () => {
  const cfg = join(dir, 'tether.yaml');
  writeFileSync(cfg, 'admission_controller:\n  inject_config:\n    mode: service\n    local_service_name: agent\n');
  const r = tether(['inject', '-f', '-', '--config', cfg, '--tether-namespace', 'monitoring'], POD);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /value: agent\.monitoring\.svc\.cluster\.local/);
});

test('--explain prints every decision to stderr', () => {
  const r = tether(['inject', '-f', '-', '--explain'], POD);
  assert.equal(r.status, 0);
  assert.match(r.stderr, /config +injected env var DD_AGENT_HOST \[app\]/);
});

test('a document that cannot be parsed: exit 1, its index and line on stderr, nothing on stdout', () => {
  const r = tether(['inject', '-f', '-'], POD + '---\nkind: [\n');
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^tether: stdin: document 1 \(line \d+\): not valid YAML or JSON/);
});

test('a configuration error names the key and source; exit 2', () => {
  const r = tether(['inject', '-f', '-'], POD, { DD_ADMISSION_CONTROLLER_INJECT_CONFIG_MODE: 'udp' });
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /admission_controller\.inject_config\.mode \(from env DD_ADMISSION_CONTROLLER_INJECT_CONFIG_MODE\): expected one of hostip, service, socket/);
});

test('a missing file is a clear error', () => {
  const r = tether(['inject', '-f', join(dir, 'nope.yaml')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot read .*nope\.yaml: ENOENT/);
});

test('a DD_* variable nobody reads: one warning on stderr naming the closest key, never the value; inject still works', () => {
  const r = tether(['inject', '-f', '-'], POD, { DD_LEADER_LEASE_DURATON: '5', DD_API_KEY: 'a-key-that-must-not-appear', DD_SITE: 'datadoghq.eu' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /name: DD_AGENT_HOST/);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { level: number; msg: string });
  assert.equal(lines.length, 1, r.stderr);
  assert.equal(lines[0]!.level, 40);
  assert.match(lines[0]!.msg, /DD_LEADER_LEASE_DURATON .*did you mean DD_LEADER_LEASE_DURATION\?/);
  assert.ok(!r.stderr.includes('a-key-that-must-not-appear') && !r.stderr.includes('"5"'));
});
