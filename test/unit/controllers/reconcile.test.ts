/** The controllers' pure decisions: is a Secret's certificate fit, how a webhook configuration drifted. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type * as k8s from '@kubernetes/client-node';
import { parseConfig } from '../../../src/config/index.js';
import { certificateNames } from '../../../src/controllers/certificate.js';
import { formatDuration } from '../../../src/controllers/duration.js';
import { desiredWebhookConfiguration, reconcileWebhookConfiguration, webhookConfigurationDrift } from '../../../src/controllers/webhookConfiguration.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { fakeSecretStore, fakeWebhookStore } from '../../helpers/fakeStores.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('certificate names and durations', () => {
  test('names: the four Service names, then the --webhook-url host', () => {
    assert.deepEqual(certificateNames('svc', 'ns', 'https://[::1]:8443'), ['svc', 'svc.ns', 'svc.ns.svc', 'svc.ns.svc.cluster.local', '::1']);
  });

  test('durations print as Go does in the seeds', () => {
    assert.equal(formatDuration((8643 * 3600 + 34 * 60 + 2.557) * 1000), '8643h34m2.557s');
    assert.equal(formatDuration(61_000), '1m1s');
  });
});

describe('webhook configuration drift', () => {
  const config = parseConfig({ env: {} });
  const desired = desiredWebhookConfiguration({ config, namespace: 'datadog', caBundlePem: 'PEM' });

  /** What the API server gives back: defaults filled in, empty selectors as {} or with empty lists. */
  function asServerReturnsIt(c: k8s.V1MutatingWebhookConfiguration): k8s.V1MutatingWebhookConfiguration {
    const copy = structuredClone(c);
    for (const w of copy.webhooks ?? []) {
      w.namespaceSelector = { ...w.namespaceSelector, matchLabels: {} };
      w.objectSelector = { ...w.objectSelector, matchExpressions: [] };
      w.matchConditions = undefined;
    }
    return { ...copy, metadata: { ...copy.metadata, resourceVersion: '42', uid: 'u' } };
  }

  test('nothing to do when the server returns what was written (no update loop)', () => {
    assert.deepEqual(webhookConfigurationDrift(asServerReturnsIt(desired), desired), []);
  });

  test('every kind of drift is named', () => {
    const actual = asServerReturnsIt(desired);
    actual.webhooks = actual.webhooks!.filter((w) => w.name !== 'datadog.webhook.tags');
    actual.webhooks[0]!.clientConfig.caBundle = b64('other');
    actual.webhooks[1]!.objectSelector = { matchLabels: { a: 'b' } };
    actual.webhooks.push({ ...actual.webhooks[1]!, name: 'someone.else' });
    assert.deepEqual(webhookConfigurationDrift(actual, desired), [
      'entry datadog.webhook.tags is missing',
      'entry someone.else is not Tether\'s',
      'entry datadog.webhook.config: caBundle does not match the Secret',
      'entry datadog.webhook.auto.instrumentation: objectSelector differs',
    ]);
  });

  test('selectors and entries follow the configuration (SPEC §4)', () => {
    const c = parseConfig({ env: { DD_ADMISSION_CONTROLLER_MUTATE_UNLABELLED: 'true', DD_ADMISSION_CONTROLLER_ADD_AKS_SELECTORS: 'true', DD_ADMISSION_CONTROLLER_INJECT_TAGS_ENABLED: 'false' } });
    const d = desiredWebhookConfiguration({ config: c, namespace: 'ns', caBundlePem: 'PEM', webhookUrl: 'https://127.0.0.1:8443/' });
    assert.deepEqual(d.webhooks?.map((w) => [w.name, w.clientConfig.url]), [
      ['datadog.webhook.config', 'https://127.0.0.1:8443/injectconfig'],
      ['datadog.webhook.auto.instrumentation', 'https://127.0.0.1:8443/injectlib'],
    ]);
    assert.deepEqual(d.webhooks?.[0]?.objectSelector, { matchExpressions: [{ key: 'admission.datadoghq.com/enabled', operator: 'NotIn', values: ['false'] }] });
    // Tether's namespace and kube-system never reach the webhook, merged with AKS's expressions (SPEC §4).
    assert.deepEqual(d.webhooks?.[0]?.namespaceSelector?.matchExpressions, [
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['ns', 'kube-system'] },
      { key: 'control-plane', operator: 'DoesNotExist' },
      { key: 'control-plane', operator: 'NotIn', values: ['true'] },
      { key: 'kubernetes.azure.com/managedby', operator: 'NotIn', values: ['aks'] },
    ]);
    assert.deepEqual(desired.webhooks?.[0]?.namespaceSelector, { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['datadog', 'kube-system'] }] });
    assert.deepEqual(desired.webhooks?.[0]?.clientConfig.service, { namespace: 'datadog', name: 'datadog-admission-controller', port: 443, path: '/injectconfig' });
    // A changed setting is drift to repair.
    assert.ok(webhookConfigurationDrift(desired, d).length > 0);
  });
});

describe('webhook-configuration reconcile', () => {
  const config = parseConfig({ env: {} });
  const never = new AbortController().signal;
  const setup = () => {
    const secrets = fakeSecretStore();
    const webhooks = fakeWebhookStore();
    const run = () => reconcileWebhookConfiguration({ webhooks, secrets, config, namespace: 'datadog', logger: silentLogger() }, never);
    return { secrets, webhooks, run };
  };

  test('waits for the Secret, creates the configuration trusting its bundle, then writes only on drift', async () => {
    const { secrets, webhooks, run } = setup();
    await run();
    assert.equal(webhooks.writes, 0, 'no Secret yet: nothing to trust');
    secrets.set({ 'ca.pem': 'CA-BUNDLE', 'cert.pem': 'SERVING' });
    await run();
    assert.deepEqual(webhooks.current?.webhooks.map((w) => Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString()), ['CA-BUNDLE', 'CA-BUNDLE', 'CA-BUNDLE']);
    await run();
    assert.equal(webhooks.writes, 1, 'nothing drifted');
    secrets.set({ 'ca.pem': 'CA-BUNDLE-2', 'cert.pem': 'SERVING' });
    await run();
    assert.equal(webhooks.writes, 2);
    assert.equal(Buffer.from(webhooks.current?.webhooks[0]?.clientConfig.caBundle ?? '', 'base64').toString(), 'CA-BUNDLE-2');
  });

  test('a configuration edited between read and write is a Conflict (retried by the queue), never overwritten blindly', async () => {
    const { secrets, webhooks, run } = setup();
    secrets.set({ 'ca.pem': 'A' });
    await run();
    secrets.set({ 'ca.pem': 'B' });
    const replace = webhooks.replaceWebhooks;
    webhooks.replaceWebhooks = async (_rv, entries, signal) => replace('stale', entries, signal);
    await assert.rejects(run(), /changed since it was read/);
    webhooks.replaceWebhooks = replace;
    await run();
    assert.equal(Buffer.from(webhooks.current?.webhooks[0]?.clientConfig.caBundle ?? '', 'base64').toString(), 'B');
  });
});

describe('deploy/rbac.yaml', () => {
  test('names the objects the configuration defaults name', () => {
    const file = fileURLToPath(new URL('../../../../deploy/rbac.yaml', import.meta.url));
    const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJSON() as { kind: string; rules?: { resources: string[]; resourceNames?: string[] }[] });
    const named = new Map<string, string[]>();
    for (const d of docs) for (const r of d.rules ?? []) for (const res of r.resources) if (r.resourceNames) named.set(res, r.resourceNames);
    const config = parseConfig({ env: {} });
    assert.deepEqual(named.get('secrets'), [config['admission_controller.certificate.secret_name']]);
    assert.deepEqual(named.get('mutatingwebhookconfigurations'), [config['admission_controller.webhook_name']]);
    assert.deepEqual(named.get('leases'), [config.leader_lease_name]);
  });
});
