/** The `tether inject` command as a user runs it: files, stdin, flags, exit codes, stdout/stderr. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/inject/', import.meta.url));

/** `diff` of input and output, as a user would run it. */
function diff(input: string, output: string): string {
  const a = join(dir, 'diff-in');
  const b = join(dir, 'diff-out');
  writeFileSync(a, input);
  writeFileSync(b, output);
  return spawnSync('diff', [a, b], { encoding: 'utf8' }).stdout;
}

test('a duplicated key: one warning per key on stderr with the document and line, the last value used, exit 0', () => {
  const f = join(FIXTURES, 'duplicate-selector.yaml');
  const r = tether(['inject', '-f', f]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    r.stderr,
    'tether inject: document 0 (line 12): key "selector" appears twice; using the last value, as kubectl does\n' +
      'tether inject: document 0 (line 25): key "imagePullPolicy" appears twice; using the last value, as kubectl does\n',
  );
  assert.match(r.stdout, /name: DD_AGENT_HOST/);
});

test('documents with nothing to inject come out byte for byte: comments, indentation, `---`, a `|` scalar at the end of a file without a final newline', () => {
  const input = readFileSync(join(FIXTURES, 'multi-service-configmap.yaml'), 'utf8').split('---\napiVersion: apps/v1')[0]! + '---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n    name: notes\ndata:\n    motd: |\n        hello';
  const r = tether(['inject', '-f', '-'], input);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, input);
  assert.equal(r.stderr, '');
});

test('`diff` of input and output shows only the injection: added lines, and the one line whose value was extended', () => {
  const f = join(FIXTURES, 'deployment-comments-eof-block.yaml');
  const input = readFileSync(f, 'utf8');
  const r = tether(['inject', '-f', f]);
  assert.equal(r.status, 0, r.stderr);
  const d = diff(input, r.stdout);
  const removed = d.split('\n').filter((l) => l.startsWith('< '));
  assert.deepEqual(removed, ['<               value: "-Xmx512m"'], d);
  assert.match(d, /^> +value: "-Xmx512m -javaagent:\/datadog-lib\/dd-java-agent\.jar"$/m);
  // The ConfigMap after it, ending in a block scalar with no final newline, is untouched.
  assert.ok(r.stdout.endsWith('  banner.txt: |\n    Welcome'));
  for (const name of ['cronjob.yaml', 'list.yaml', 'four-space-indent.yaml', 'multi-service-configmap.yaml', 'duplicate-selector.yaml', 'pod-block-scalar-at-eof.yaml']) {
    const text = readFileSync(join(FIXTURES, name), 'utf8');
    const out = tether(['inject', '-f', '-', '--mode', 'socket'], text);
    assert.equal(out.status, 0, out.stderr);
    assert.notEqual(out.stdout, text, name);
    assert.doesNotMatch(diff(text, out.stdout), /^[<-] /m, `${name}: diff shows more than added lines`);
  }
});

test('a second inject over the output changes nothing', () => {
  const f = join(FIXTURES, 'deployment-comments-eof-block.yaml');
  const once = tether(['inject', '-f', f]).stdout;
  const twice = tether(['inject', '-f', '-'], once);
  assert.equal(twice.status, 0, twice.stderr);
  assert.equal(twice.stdout, once);
});
