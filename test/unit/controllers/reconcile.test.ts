/** The controllers' pure decisions: is a Secret's certificate fit, how a webhook configuration drifted. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type * as k8s from '@kubernetes/client-node';
import { CLUSTER_AGENT_CA_CONFIGMAP, NODE_AGENTS_CONFIGMAP, parseConfig, SHUTDOWN_DRAIN_MS } from '../../../src/config/index.js';
import { certificateNames } from '../../../src/certs/policy.js';
import { formatDuration } from '../../../src/format/duration.js';
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
    assert.deepEqual(named.get('configmaps'), [CLUSTER_AGENT_CA_CONFIGMAP, NODE_AGENTS_CONFIGMAP]);
  });

  test('lets the leader create the CA ConfigMap and read and update it, and nothing more on ConfigMaps', () => {
    const file = fileURLToPath(new URL('../../../../deploy/rbac.yaml', import.meta.url));
    const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJSON() as { kind: string; rules?: { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] }[] });
    const rules = docs.filter((d) => d.kind === 'Role' || d.kind === 'ClusterRole').flatMap((d) => d.rules ?? []).filter((r) => r.resources.includes('configmaps'));
    assert.ok(rules.every((r) => r.apiGroups.length === 1 && r.apiGroups[0] === ''));
    assert.deepEqual(rules.filter((r) => !r.resourceNames).flatMap((r) => r.verbs), ['create']);
    assert.deepEqual(rules.filter((r) => r.resourceNames).flatMap((r) => r.verbs).sort(), ['get', 'update']);
    assert.ok(docs.filter((d) => d.kind === 'ClusterRole').every((d) => !(d.rules ?? []).some((r) => r.resources.includes('configmaps'))), 'ConfigMaps only in the namespace Role');
  });
});

describe('deploy/cluster-agent.yaml', () => {
  const file = fileURLToPath(new URL('../../../../deploy/cluster-agent.yaml', import.meta.url));
  const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJSON() as k8s.KubernetesObject);
  const deployment = docs.find((d) => d.kind === 'Deployment') as k8s.V1Deployment;
  const service = docs.find((d) => d.kind === 'Service') as k8s.V1Service;
  const pod = deployment.spec!.template.spec!;
  const container = pod.containers[0]!;
  const env = (name: string) => container.env?.find((e) => e.name === name)?.value;

  test('its termination grace period covers the shutdown: grace period, then the drain (SPEC §6)', () => {
    const grace = env('DD_SHUTDOWN_GRACE_SECONDS');
    const config = parseConfig({ env: grace === undefined ? {} : { DD_SHUTDOWN_GRACE_SECONDS: grace } });
    const defaults = parseConfig({ env: {} });
    assert.equal(config.shutdown_grace_seconds, defaults.shutdown_grace_seconds, 'the manifest states the default grace period');
    assert.ok(
      pod.terminationGracePeriodSeconds! >= config.shutdown_grace_seconds + SHUTDOWN_DRAIN_MS / 1000,
      `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} < ${config.shutdown_grace_seconds} + ${SHUTDOWN_DRAIN_MS / 1000}`,
    );
  });

  test('names, ports and paths are the configuration defaults and deploy/rbac.yaml', () => {
    const config = parseConfig({ env: {} });
    const rbac = fileURLToPath(new URL('../../../../deploy/rbac.yaml', import.meta.url));
    const account = parseAllDocuments(readFileSync(rbac, 'utf8')).map((d) => d.toJSON() as k8s.KubernetesObject).find((d) => d.kind === 'ServiceAccount')!;
    assert.equal(pod.serviceAccountName, account.metadata?.name);
    assert.equal(deployment.metadata?.namespace, account.metadata?.namespace);
    assert.equal(service.metadata?.namespace, account.metadata?.namespace);
    assert.equal(deployment.spec?.replicas, 2);
    assert.deepEqual(container.args, ['start']);

    assert.equal(service.metadata?.name, config['admission_controller.service_name']);
    const port = container.ports?.find((p) => p.containerPort === config['admission_controller.port']);
    assert.ok(port?.name, `a named container port ${config['admission_controller.port']}`);
    assert.deepEqual(service.spec?.ports?.map((p) => [p.port, p.targetPort]), [[443, port.name]]);
    assert.deepEqual(service.spec?.selector, deployment.spec?.selector.matchLabels);
    assert.deepEqual(deployment.spec?.template.metadata?.labels, deployment.spec?.selector.matchLabels);

    for (const [probe, path] of [[container.readinessProbe, '/readyz'], [container.livenessProbe, '/healthz']] as const) {
      assert.deepEqual(probe?.httpGet, { path, port: port.name, scheme: 'HTTPS' });
    }
  });
});
