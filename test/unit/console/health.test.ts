import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { webhookHealthOf, type HealthReads } from '../../../src/console/health.js';
import { servingRenewBeforeMs } from '../../../src/certs/policy.js';
import { testConfig } from '../../helpers/config.js';

const HOUR = 3_600_000;

function reads(certificateLeftMs: number, entryNames: readonly string[] = ['datadog.webhook.config']): HealthReads {
  const digest = '0123456789abcdef';
  return {
    at: new Date('2026-11-30T00:00:00Z'),
    admission: {
      webhook: {
        name: 'datadog-webhook',
        found: true,
        createdAt: '2026-11-29T00:00:00Z',
        entries: entryNames.map((name) => ({ name, caBundleDigest: digest, objectSelector: 'admission.datadoghq.com/enabled=true', rules: [] })),
      },
      secret: {
        name: 'webhook-certificate',
        namespace: 'datadog',
        found: true,
        createdAt: '2026-11-29T00:00:00Z',
        caBundleDigest: digest,
        caBundleSource: 'ca.pem',
        certificateExpiresInMs: certificateLeftMs,
        durationBeforeExpiration: `${Math.round(certificateLeftMs / HOUR)}h`,
      },
    },
    leader: { lease: 'datadog/datadog-leader-election', state: 'Running', holderIdentity: 'a' },
    nodeAgents: new Map(),
  };
}

describe('console webhook health: the serving certificate', () => {
  const renewBefore = servingRenewBeforeMs({ caValidityHours: testConfig()['admission_controller.certificate.validity_bound'] });

  test('a fresh one-week serving certificate is healthy (it was compared with the CA threshold of 720 h)', () => {
    const h = webhookHealthOf(reads(167 * HOUR), { servingRenewBeforeMs: renewBefore });
    assert.deepEqual(h.problems, []);
    assert.equal(h.state, 'ok');
  });

  test('less left than the renewal window: the leader is late, a warning', () => {
    const h = webhookHealthOf(reads(renewBefore - HOUR), { servingRenewBeforeMs: renewBefore });
    assert.equal(h.state, 'warning');
    assert.match(h.problems.join('\n'), /within its renewal window/);
  });
});

describe('console webhook health: either shape of entries', () => {
  const renewBefore = servingRenewBeforeMs({ caValidityHours: testConfig()['admission_controller.certificate.validity_bound'] });
  const separate = ['datadog.webhook.config', 'datadog.webhook.tags', 'datadog.webhook.auto.instrumentation'];

  test('the three entries or the single one are healthy, each entry saying what it runs', () => {
    const three = webhookHealthOf(reads(167 * HOUR, separate), { servingRenewBeforeMs: renewBefore });
    assert.equal(three.state, 'ok');
    assert.deepEqual(three.configuration.entries.map((e) => e.runs), ['config', 'tags', 'lib']);
    const one = webhookHealthOf(reads(167 * HOUR, ['datadog.webhook.inject', 'someone.else']), { servingRenewBeforeMs: renewBefore });
    assert.equal(one.state, 'ok');
    assert.deepEqual(one.configuration.entries.map((e) => e.runs), ['inject', 'other']);
  });

  test('both shapes at once: a warning that each pod is sent to Tether four times', () => {
    const both = webhookHealthOf(reads(167 * HOUR, [...separate, 'datadog.webhook.inject']), { servingRenewBeforeMs: renewBefore });
    assert.equal(both.state, 'warning');
    assert.match(both.problems.join('\n'), /has the single entry and datadog\.webhook\.config, datadog\.webhook\.tags, datadog\.webhook\.auto\.instrumentation too: each pod is sent to Tether 4 times/);
  });
});
