import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, envVarFor, parseConfig, SCHEMA, CONFIG_KEYS, type KeySpec } from '../../../src/config/index.js';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e.problems.map((p) => `${p.key} | ${p.source} | ${p.message}`);
  }
  assert.fail('expected a ConfigError');
}

test('defaults match the spec table', () => {
  const c = parseConfig({});
  assert.equal(c['admission_controller.port'], 8000);
  assert.equal(c['admission_controller.service_name'], 'datadog-admission-controller');
  assert.equal(c['admission_controller.webhook_name'], 'datadog-webhook');
  assert.equal(c['admission_controller.certificate.secret_name'], 'webhook-certificate');
  assert.equal(c['admission_controller.failure_policy'], 'Ignore');
  assert.equal(c['admission_controller.inject_config.mode'], 'hostip');
  assert.equal(c['admission_controller.auto_instrumentation.container_registry'], 'gcr.io/datadoghq');
  assert.equal(c['cluster_agent.cmd_port'], 5005);
  assert.equal(c['cluster_agent.auth_token'], undefined);
  assert.ok(Object.isFrozen(c));
});

test('environment variables are DD_ + upper-cased key with dots as underscores, and win over the file', () => {
  assert.equal(envVarFor('admission_controller.add_aks_selectors'), 'DD_ADMISSION_CONTROLLER_ADD_AKS_SELECTORS');
  const c = parseConfig({
    file: { path: 't.yaml', text: 'admission_controller:\n  add_aks_selectors: false\n  port: 9000\n' },
    env: { DD_ADMISSION_CONTROLLER_ADD_AKS_SELECTORS: 'true' },
  });
  assert.equal(c['admission_controller.add_aks_selectors'], true);
  assert.equal(c['admission_controller.port'], 9000);
});

test('every key can be set from its environment variable', () => {
  for (const key of CONFIG_KEYS) {
    const spec: KeySpec<unknown> = SCHEMA[key];
    if (spec.default === undefined) continue;
    const raw = typeof spec.default === 'object' ? JSON.stringify(spec.default) : String(spec.default);
    const c = parseConfig({ env: { [envVarFor(key)]: raw } });
    assert.deepEqual(c[key], spec.default, key);
  }
});

test('nested and dotted keys in the file are the same setting', () => {
  const c = parseConfig({ file: { path: 't.yaml', text: 'admission_controller.inject_config:\n  mode: socket\n' } });
  assert.equal(c['admission_controller.inject_config.mode'], 'socket');
});

test('an unknown key in the file names the key and its line', () => {
  const p = problems(() => parseConfig({ file: { path: 't.yaml', text: 'admission_controller:\n  port: 8000\n  mutate_unlabeled: true\n' } }));
  assert.deepEqual(p, ['admission_controller.mutate_unlabeled | file t.yaml:3 | unknown setting (check the spelling against the documented keys)']);
});

test('a wrong type names the key, the source and what was expected; all problems are reported at once', () => {
  const p = problems(() =>
    parseConfig({
      file: { path: 'c.yaml', text: 'admission_controller:\n  timeout_seconds: 45\n' },
      env: { DD_ADMISSION_CONTROLLER_FAILURE_POLICY: 'sometimes' },
    }),
  );
  assert.equal(p.length, 2);
  assert.match(p[0]!, /^admission_controller\.failure_policy \| env DD_ADMISSION_CONTROLLER_FAILURE_POLICY \| expected one of Ignore, Fail/);
  assert.match(p[1]!, /^admission_controller\.timeout_seconds \| file c\.yaml:2 \| expected an integer from 1 to 30; got 45/);
});

test('failure_policy is case-insensitive and normalised', () => {
  assert.equal(parseConfig({ env: { DD_ADMISSION_CONTROLLER_FAILURE_POLICY: 'fail' } })['admission_controller.failure_policy'], 'Fail');
});

test('booleans from the environment accept true/false/1/0 only', () => {
  assert.equal(parseConfig({ env: { DD_ADMISSION_CONTROLLER_MUTATE_UNLABELLED: '1' } })['admission_controller.mutate_unlabelled'], true);
  assert.equal(problems(() => parseConfig({ env: { DD_ADMISSION_CONTROLLER_MUTATE_UNLABELLED: 'yes' } })).length, 1);
});

test('a token shorter than 32 characters is a startup error that does not echo the token', () => {
  const token = 'abcdefghijklmnopqrstuvwxyz0123'; // 30, as in the seed
  const p = problems(() => parseConfig({ env: { DD_CLUSTER_AGENT_AUTH_TOKEN: token } }));
  assert.equal(p.length, 1);
  assert.match(p[0]!, /length must be at least 32, currently: 30/);
  assert.ok(!p[0]!.includes(token));
  assert.equal(parseConfig({ env: { DD_CLUSTER_AGENT_AUTH_TOKEN: token + 'xy' } })['cluster_agent.auth_token'], token + 'xy');
});

test('unknown DD_ADMISSION_CONTROLLER_* variables are errors; other DD_* variables belong to other components', () => {
  const p = problems(() => parseConfig({ env: { DD_ADMISSION_CONTROLLER_MUTATE_UNLABELED: 'true', DD_API_KEY: 'x', DD_SITE: 'y' } }));
  assert.deepEqual(p.map((x) => x.split(' | ')[0]), ['DD_ADMISSION_CONTROLLER_MUTATE_UNLABELED']);
  assert.match(p[0]!, /unknown setting \(did you mean DD_ADMISSION_CONTROLLER_MUTATE_UNLABELLED\?\)$/);
});

test('init_security_context accepts a JSON string (env) or a mapping (file)', () => {
  const fromEnv = parseConfig({ env: { DD_ADMISSION_CONTROLLER_AUTO_INSTRUMENTATION_INIT_SECURITY_CONTEXT: '{"runAsUser":1000}' } });
  assert.deepEqual(fromEnv['admission_controller.auto_instrumentation.init_security_context'], { runAsUser: 1000 });
  const fromFile = parseConfig({ file: { path: 'f', text: 'admission_controller:\n  auto_instrumentation:\n    init_security_context:\n      runAsNonRoot: true\n' } });
  assert.deepEqual(fromFile['admission_controller.auto_instrumentation.init_security_context'], { runAsNonRoot: true });
  assert.equal(problems(() => parseConfig({ env: { DD_ADMISSION_CONTROLLER_AUTO_INSTRUMENTATION_INIT_SECURITY_CONTEXT: '{nope' } })).length, 1);
});

test('invalid YAML and a non-mapping file are reported with their line', () => {
  assert.match(problems(() => parseConfig({ file: { path: 'b.yaml', text: 'a: [\n' } }))[0]!, /^\(file\) \| file b\.yaml:\d+ \| not valid YAML/);
  assert.match(problems(() => parseConfig({ file: { path: 'b.yaml', text: '- 1\n' } }))[0]!, /expected a mapping of settings/);
});

test('the renewal threshold must be below the certificate lifetime', () => {
  const p = problems(() => parseConfig({ env: { DD_ADMISSION_CONTROLLER_CERTIFICATE_EXPIRATION_THRESHOLD: '9000' } }));
  assert.match(p[0]!, /must be less than admission_controller\.certificate\.validity_bound/);
});

test('flags override the environment', () => {
  const c = parseConfig({ env: { DD_ADMISSION_CONTROLLER_INJECT_CONFIG_MODE: 'service' }, overrides: { 'admission_controller.inject_config.mode': ['socket', '--mode'] } });
  assert.equal(c['admission_controller.inject_config.mode'], 'socket');
  assert.match(problems(() => parseConfig({ overrides: { 'admission_controller.inject_config.mode': ['udp', '--mode'] } }))[0]!, /from flag --mode|flag --mode/);
});
