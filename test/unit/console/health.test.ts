import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { webhookHealthOf, type HealthReads } from '../../../src/console/health.js';
import { servingRenewBeforeMs } from '../../../src/certs/policy.js';
import { testConfig } from '../../helpers/config.js';

const HOUR = 3_600_000;

function reads(certificateLeftMs: number): HealthReads {
  const digest = '0123456789abcdef';
  return {
    at: new Date('2026-11-30T00:00:00Z'),
    admission: {
      webhook: {
        name: 'datadog-webhook',
        found: true,
        createdAt: '2026-11-29T00:00:00Z',
        entries: [{ name: 'datadog.webhook.config', caBundleDigest: digest, objectSelector: 'admission.datadoghq.com/enabled=true', rules: [] }],
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
