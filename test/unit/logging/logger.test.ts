import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { REDACTED } from '../../../src/logging/logger.js';
import { recordingLogger } from '../../helpers/logs.js';
import { testConfig } from '../../helpers/config.js';

const TOKEN = 'a-token-of-at-least-32-characters-0123456789';
const KEY_PEM = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA\n-----END PRIVATE KEY-----\n';

/** Logs one object and returns the line as written, plus its parsed form. */
function logged(fields: Record<string, unknown>): { text: string; line: Record<string, unknown> } {
  const rec = recordingLogger('info');
  rec.logger.warn(fields, 'message');
  const lines = rec.lines();
  assert.equal(lines.length, 1);
  return { text: rec.text(), line: lines[0]! };
}

describe('logger redaction', () => {
  test('a field named key (the work queue key in every reconcile warning) is logged as it is', () => {
    const { line } = logged({ key: 'certificate', problem: 'connection refused', retryInMs: 1000 });
    assert.equal(line['key'], 'certificate');
    assert.equal(line['problem'], 'connection refused');
  });

  test('common words near secrets are left alone: a secret name, a Secret reference, a token path', () => {
    const { line } = logged({ secret: 'datadog/webhook-certificate', keys: ['cert.pem', 'key.pem'], kubelet_auth_token_path: '/var/run/token' });
    assert.equal(line['secret'], 'datadog/webhook-certificate');
    assert.deepEqual(line['keys'], ['cert.pem', 'key.pem']);
    assert.equal(line['kubelet_auth_token_path'], '/var/run/token');
  });

  test('authorization headers and session cookies of requests are redacted', () => {
    const { text, line } = logged({
      req: { method: 'GET', url: '/version', headers: { authorization: `Bearer ${TOKEN}`, cookie: `session=${TOKEN}`, host: 'x' } },
      headers: { Authorization: `Bearer ${TOKEN}` },
      options: { headers: { authorization: `Bearer ${TOKEN}` } },
    });
    assert.ok(!text.includes(TOKEN), text);
    const req = line['req'] as { headers: Record<string, string>; url: string };
    assert.equal(req.headers['authorization'], REDACTED);
    assert.equal(req.headers['cookie'], REDACTED);
    assert.equal(req.headers['host'], 'x');
    assert.equal(req.url, '/version');
  });

  test('bearer tokens are redacted: alone and one level down (a kubeconfig user, a TokenRequest status)', () => {
    const { text, line } = logged({ token: TOKEN, user: { name: 'tether', token: TOKEN }, status: { token: TOKEN } });
    assert.ok(!text.includes(TOKEN), text);
    assert.equal(line['token'], REDACTED);
    assert.equal((line['user'] as Record<string, string>)['name'], 'tether');
  });

  test('the auth token config key is redacted, alone and inside a logged configuration', () => {
    const config = testConfig({ 'cluster_agent.auth_token': TOKEN });
    const { text, line } = logged({ config, 'cluster_agent.auth_token': TOKEN, authToken: TOKEN });
    assert.ok(!text.includes(TOKEN), text);
    const c = line['config'] as Record<string, unknown>;
    assert.equal(c['cluster_agent.auth_token'], REDACTED);
    assert.equal(c['admission_controller.port'], 8000);
  });

  test('private keys are redacted: a certificate pair, a Secret’s data, a kubeconfig user', () => {
    const b64 = Buffer.from(KEY_PEM).toString('base64');
    const { text, line } = logged({
      keyPem: KEY_PEM,
      pair: { certPem: 'CERT', keyPem: KEY_PEM },
      secret: { data: { 'cert.pem': 'Q0VSVA==', 'key.pem': b64 } },
      user: { certData: 'Q0VSVA==', keyData: b64 },
    });
    assert.ok(!text.includes('PRIVATE KEY') && !text.includes(b64), text);
    assert.equal((line['pair'] as Record<string, string>)['certPem'], 'CERT');
    assert.equal((line['secret'] as { data: Record<string, string> }).data['cert.pem'], 'Q0VSVA==');
  });
});
