import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AGENT_STACK_ENV_PREFIXES,
  AGENT_STACK_ENV_VARS,
  closestEnvVar,
  CONFIG_KEYS,
  editDistance,
  envVarFor,
  isAgentStackEnvVar,
  OWNED_ENV_PREFIXES,
  parseConfig,
  unknownEnvWarnings,
} from '../../../src/config/index.js';

const TETHER_VARS = CONFIG_KEYS.map(envVarFor);

describe('unknownEnvWarnings', () => {
  test('a misspelt Tether key gets one warning naming the key it was meant to be', () => {
    const env = { DD_LEADER_LEASE_DURATON: '5' };
    // The configuration itself accepts it (the key is outside the prefixes Tether owns) and keeps the default.
    assert.equal(parseConfig({ env })['leader_lease_duration'], 15);
    const warnings = unknownEnvWarnings(env);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^environment variable DD_LEADER_LEASE_DURATON is neither a Tether setting nor one the agent stack is known to read; Tether ignores it: did you mean DD_LEADER_LEASE_DURATION\?$/);
  });

  test('never the value, which could be a secret', () => {
    const secret = 'abcdefghijklmnopqrstuvwxyz0123456789';
    const warnings = unknownEnvWarnings({ DD_CLUSTER_AGENT_AUTH_TOKNE: secret, DD_API_KYE: secret });
    assert.equal(warnings.length, 2);
    assert.ok(warnings.every((w) => !w.includes(secret)));
    assert.match(warnings[0]!, /DD_API_KYE .*did you mean DD_API_KEY\?/);
    assert.match(warnings[1]!, /DD_CLUSTER_AGENT_AUTH_TOKNE .*did you mean DD_CLUSTER_AGENT_AUTH_TOKEN\?/);
  });

  test("Tether's keys, the stack's variables and its families pass silently", () => {
    const env: Record<string, string> = Object.fromEntries([...TETHER_VARS, ...AGENT_STACK_ENV_VARS].map((n) => [n, 'x']));
    Object.assign(env, {
      DD_API_KEY: 'k',
      DD_SITE: 'datadoghq.eu',
      DD_APM_ENABLED: 'true',
      DD_APM_NON_LOCAL_TRAFFIC: 'true',
      DD_DOGSTATSD_NON_LOCAL_TRAFFIC: 'true',
      DD_KUBERNETES_KUBELET_NODENAME: 'node-1',
      DD_TRACE_AGENT_URL: 'unix:///var/run/datadog/apm.socket',
      DD_EXTERNAL_METRICS_PROVIDER_ENABLED: 'true',
      DD_ORCHESTRATOR_EXPLORER_ENABLED: 'true',
      DD_LOGS_CONFIG_CONTAINER_COLLECT_ALL: 'true',
    });
    assert.deepEqual(unknownEnvWarnings(env), []);
  });

  test('only DD_ variables, only those set, and not those under a prefix Tether owns (those are configuration errors)', () => {
    assert.deepEqual(unknownEnvWarnings({ PATH: '/bin', dd_leader_lease_duration: '5', DD_NOPE: undefined, DD_ADMISSION_CONTROLLER_PROT: '1' }), []);
  });

  test('one warning per variable, sorted; without a close key, no guess', () => {
    const warnings = unknownEnvWarnings({ DD_ZZZ_SOMETHING_ELSE: '1', DD_EVN: 'prod' });
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /^environment variable DD_EVN .*did you mean DD_ENV\?$/);
    assert.match(warnings[1]!, /^environment variable DD_ZZZ_SOMETHING_ELSE .*: check its spelling$/);
  });
});

describe('closestEnvVar', () => {
  test('a typo in a family prefix keeps the rest of the name', () => {
    assert.equal(closestEnvVar('DD_TRCE_SAMPLE_RATE'), 'DD_TRACE_SAMPLE_RATE');
    assert.equal(closestEnvVar('DD_APN_ENABLED'), 'DD_APM_ENABLED');
  });

  test('near enough to be a typo, or nothing', () => {
    assert.equal(closestEnvVar('DD_KUBE_RESOURCE_NAMESPACE'), 'DD_KUBE_RESOURCES_NAMESPACE');
    assert.equal(closestEnvVar('DD_LEADER_LEASE_NAEM'), 'DD_LEADER_LEASE_NAME');
    assert.equal(closestEnvVar('DD_FOO'), undefined);
    assert.equal(closestEnvVar('DD_COMPLETELY_UNRELATED_SETTING'), undefined);
  });
});

describe('editDistance', () => {
  test('insertions, deletions, substitutions and adjacent transpositions count one each', () => {
    assert.equal(editDistance('DURATION', 'DURATON'), 1);
    assert.equal(editDistance('DURATION', 'DURATIONS'), 1);
    assert.equal(editDistance('NAME', 'NAEM'), 1);
    assert.equal(editDistance('ENV', 'ENV'), 0);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('', 'abc'), 3);
  });

  test('past the limit it only says so', () => {
    assert.equal(editDistance('kitten', 'sitting', 1), 2);
    assert.equal(editDistance('a', 'abcdef', 2), 3);
  });
});

describe('the agent stack table', () => {
  test("never claims a Tether key or prefix, and no family can swallow a typo of a Tether key", () => {
    for (const name of TETHER_VARS) {
      assert.ok(!AGENT_STACK_ENV_VARS.includes(name), `${name} is Tether's`);
      for (const prefix of AGENT_STACK_ENV_PREFIXES) assert.ok(!name.startsWith(prefix), `${prefix} covers Tether's ${name}`);
    }
    for (const prefix of OWNED_ENV_PREFIXES) assert.ok(!AGENT_STACK_ENV_VARS.some((n) => n.startsWith(prefix)), `${prefix} is Tether's`);
  });

  test('exact names, families need something after the prefix, no duplicates', () => {
    assert.ok(isAgentStackEnvVar('DD_API_KEY'));
    assert.ok(isAgentStackEnvVar('DD_APM_MAX_EPS'));
    assert.ok(isAgentStackEnvVar('DD_APM_OBFUSCATION_HTTP_REMOVE_QUERY_STRING'));
    assert.ok(!isAgentStackEnvVar('DD_APM_RECEIVER_PORT'), "Tether's (the node agent's trace receiver)");
    assert.ok(!isAgentStackEnvVar('DD_APM_'));
    assert.ok(!isAgentStackEnvVar('DD_API_KEYS'));
    assert.equal(new Set(AGENT_STACK_ENV_VARS).size, AGENT_STACK_ENV_VARS.length);
    assert.ok(AGENT_STACK_ENV_VARS.every((n) => /^DD_[A-Z0-9_]+[A-Z0-9]$/.test(n)));
    assert.ok(AGENT_STACK_ENV_PREFIXES.every((p) => /^DD_[A-Z0-9_]+_$/.test(p)));
  });
});
