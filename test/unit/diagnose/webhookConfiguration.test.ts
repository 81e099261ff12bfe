/**
 * The webhook-configuration check's pure parts (certificates, digests, writers, rewrites) and its whole
 * run over an in-memory API (the end-to-end test runs it against a real control plane).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { caBundleDigest, generateCa, issueServingCertificate, type CertificatePair } from '../../../src/certs/index.js';
import { parseConfig, ROTATE_ANNOTATION } from '../../../src/config/index.js';
import { certificateNames, certificateSettings } from '../../../src/certs/policy.js';
import { desiredWebhookConfiguration } from '../../../src/controllers/webhookConfiguration.js';
import type { DiagnoseContext } from '../../../src/diagnose/check.js';
import {
  caBundleComparison,
  certificateFindings,
  createWebhookConfigurationCheck,
  describeWriters,
  distinctVersions,
  mergeManagedFields,
} from '../../../src/diagnose/checks/webhookConfiguration.js';
import { webhookUrlOf } from '../../../src/diagnose/webhookObjects.js';
import { fakeReader } from '../../helpers/fakeKubeReader.js';

const HOUR = 3_600_000;
const NS = 'datadog';
const config = parseConfig({ env: {} });
const NAMES = certificateNames('datadog-admission-controller', NS);
const settings = certificateSettings(config, NAMES);

let ca: CertificatePair;
let serving: CertificatePair;
let now: Date;

function secretData(c = ca, s = serving): Record<string, string> {
  // The public half only: what the leader publishes in the CA ConfigMap, all diagnose reads (issue 20).
  return { 'ca.pem': c.certPem, 'cert.pem': s.certPem };
}

before(async () => {
  now = new Date();
  ca = await generateCa({ commonName: 'test CA', validityHours: 8760, now });
  serving = await issueServingCertificate({ ca, dnsNames: NAMES, notAfter: new Date(now.getTime() + 168 * HOUR), now });
});

describe('certificateFindings', () => {
  test('a fresh CA and serving certificate for the Service names: nothing to say but the dates', () => {
    const r = certificateFindings({ data: secretData(), annotations: {} }, settings, now);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings, []);
    assert.ok(r.evidence.some((l) => /^serving certificate: 16\dh\d+m.* before expiration$/.test(l)), r.evidence.join('\n'));
    assert.ok(r.evidence.some((l) => l.startsWith('CA CN=test CA: valid until')));
  });
  test('an expired serving certificate is an error', () => {
    const later = new Date(now.getTime() + 200 * HOUR);
    const r = certificateFindings({ data: secretData(), annotations: {} }, settings, later);
    assert.match(r.errors.join('\n'), /the serving certificate expired at/);
  });
  test('an expired CA is an error, and what it signed is no longer trusted', () => {
    const r = certificateFindings({ data: secretData(), annotations: {} }, settings, new Date(now.getTime() + 9000 * HOUR));
    assert.match(r.errors.join('\n'), /no CA of the trust bundle \(ca\.pem\) is usable/);
    assert.match(r.errors.join('\n'), /not signed by a usable CA/);
  });
  test('names the API server calls missing from the serving certificate', async () => {
    const other = await issueServingCertificate({ ca, dnsNames: ['datadog-admission-controller', 'datadog-admission-controller.default.svc'], notAfter: new Date(now.getTime() + 168 * HOUR), now });
    const r = certificateFindings({ data: secretData(ca, other), annotations: {} }, settings, now);
    assert.match(r.errors.join('\n'), /names do not include datadog-admission-controller\.datadog, datadog-admission-controller\.datadog\.svc,/);
  });
  test('a serving certificate from a CA not in the bundle is not trusted', async () => {
    const otherCa = await generateCa({ commonName: 'other CA', validityHours: 100, now });
    const foreign = await issueServingCertificate({ ca: otherCa, dnsNames: NAMES, notAfter: new Date(now.getTime() + 50 * HOUR), now });
    const r = certificateFindings({ data: secretData(ca, foreign), annotations: {} }, settings, now);
    assert.match(r.errors.join('\n'), /not signed by a usable CA of the trust bundle/);
  });
  test('within expiration_threshold: a CA is due (a warning: the leader should have renewed it)', async () => {
    const shortCa = await generateCa({ commonName: 'short CA', validityHours: 500, now });
    const s = await issueServingCertificate({ ca: shortCa, dnsNames: NAMES, notAfter: new Date(now.getTime() + 168 * HOUR), now });
    const r = certificateFindings({ data: secretData(shortCa, s), annotations: {} }, settings, now);
    assert.deepEqual(r.errors, []);
    assert.match(r.warnings.join('\n'), /a new CA is due: the CA expires at .*, less than 720h from now/);
  });
  test("within the serving certificate's renewal window: a new one is due", () => {
    const r = certificateFindings({ data: secretData(), annotations: {} }, settings, new Date(now.getTime() + 160 * HOUR));
    assert.deepEqual(r.errors, []);
    assert.match(r.warnings.join('\n'), /a new serving certificate is due: .*within its renewal window/);
  });
  test('a rotation asked for and not done', () => {
    const r = certificateFindings({ data: secretData(), annotations: { [ROTATE_ANNOTATION]: 'certificate' } }, settings, now);
    assert.match(r.warnings.join('\n'), /tether\.dev\/rotate=certificate/);
  });
  test('a Secret with no certificate at all', () => {
    assert.match(certificateFindings({ data: {}, annotations: {} }, settings, now).errors.join(), /holds no ca\.pem nor cert\.pem/);
  });
});

describe('caBundleComparison', () => {
  test("each entry's digest against the Secret's, both shown", () => {
    const desired = desiredWebhookConfiguration({ config, namespace: NS, caBundlePem: ca.certPem });
    const webhooks = desired.webhooks!.map((w, i) => (i === 1 ? { ...w, clientConfig: { ...w.clientConfig, caBundle: Buffer.from(serving.certPem).toString('base64') } } : w));
    const r = caBundleComparison(webhooks, ca.certPem, 'datadog/webhook-certificate');
    assert.deepEqual(r.mismatched, ['datadog.webhook.tags']);
    assert.equal(r.evidence[0], `Secret datadog/webhook-certificate: CA bundle digest ${caBundleDigest(ca.certPem)}`);
    assert.equal(r.evidence[2], `entry datadog.webhook.tags: CA bundle digest ${caBundleDigest(serving.certPem)}`);
    assert.deepEqual(caBundleComparison(desired.webhooks!, ca.certPem, 'x').mismatched, []);
  });
});

describe('writers and rewrites', () => {
  test('managed fields newest first, Tether marked, the others named', () => {
    const r = describeWriters([
      { manager: 'tether', operation: 'Update', time: '2026-01-01T00:00:02Z' },
      { manager: 'datadog-cluster-agent', operation: 'Update', time: '2026-01-01T00:00:03Z' },
      { manager: 'kubectl-edit', operation: 'Update', time: '2026-01-01T00:00:01Z' },
    ]);
    assert.deepEqual(r.others, ['datadog-cluster-agent', 'kubectl-edit']);
    assert.equal(r.lines[0], 'field manager datadog-cluster-agent: Update at 2026-01-01T00:00:03Z');
    assert.equal(r.lines[1], 'field manager tether (Tether): Update at 2026-01-01T00:00:02Z');
  });
  test('writers across reads: one that left the list since is still seen, at its latest time', () => {
    const merged = mergeManagedFields([
      [{ manager: 'datadog-cluster-agent', operation: 'Update', time: '2026-01-01T00:00:01Z' }],
      [{ manager: 'tether', operation: 'Update', time: '2026-01-01T00:00:02Z' }],
      undefined,
      [{ manager: 'datadog-cluster-agent', operation: 'Update', time: '2026-01-01T00:00:03Z' }],
    ]);
    assert.deepEqual(describeWriters(merged).others, ['datadog-cluster-agent']);
    assert.deepEqual(merged.map((m) => m.time).sort(), ['2026-01-01T00:00:02Z', '2026-01-01T00:00:03Z']);
  });
  test('resourceVersions seen, repeats folded, absence shown', () => {
    assert.deepEqual(distinctVersions(['1', '1', '2', '2', undefined, '5']), ['1', '2', '-', '5']);
    assert.deepEqual(distinctVersions(['7', '7', '7']), ['7']);
  });
});

describe('webhookUrlOf', () => {
  test('the --webhook-url read back from the entries; none for a Service', () => {
    const url = desiredWebhookConfiguration({ config, namespace: NS, caBundlePem: ca.certPem, webhookUrl: 'https://127.0.0.1:8443/' });
    assert.equal(webhookUrlOf(url.webhooks!, config), 'https://127.0.0.1:8443');
    assert.equal(webhookUrlOf(desiredWebhookConfiguration({ config, namespace: NS, caBundlePem: ca.certPem }).webhooks!, config), undefined);
  });
  test('the single entry\'s URL too (its own path, /inject)', () => {
    const single = parseConfig({ env: { DD_ADMISSION_CONTROLLER_WEBHOOK_ENTRIES: 'single' } });
    const url = desiredWebhookConfiguration({ config: single, namespace: NS, caBundlePem: ca.certPem, webhookUrl: 'https://127.0.0.1:8443/base/' });
    assert.deepEqual(url.webhooks?.map((w) => w.clientConfig.url), ['https://127.0.0.1:8443/base/inject']);
    assert.equal(webhookUrlOf(url.webhooks!, single), 'https://127.0.0.1:8443/base');
  });
});

describe('the check over an in-memory API', () => {
  const MWC = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/datadog-webhook';
  const SECRET = `/api/v1/namespaces/${NS}/secrets/webhook-certificate`;
  const check = createWebhookConfigurationCheck({ observeMs: 0 });
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  function context(objects: Record<string, unknown>): DiagnoseContext {
    return { config, namespace: NS, serviceAccount: 'datadog-cluster-agent', kube: fakeReader(objects), platform: () => Promise.reject(new Error('unused')), now: () => now, signal: new AbortController().signal };
  }
  const CA_CONFIGMAP = `/api/v1/namespaces/${NS}/configmaps/datadog-cluster-agent-ca`;
  // The Secret's metadata (all diagnose may read of it) and its certificates as the leader publishes them.
  const published = () => ({ [SECRET]: { metadata: { name: 'webhook-certificate', namespace: NS }, data: { 'ca-key.pem': b64('never read') } }, [CA_CONFIGMAP]: { data: secretData() } });
  const mwc = (webhooks = desiredWebhookConfiguration({ config, namespace: NS, caBundlePem: ca.certPem }).webhooks!) => ({
    metadata: { name: 'datadog-webhook', resourceVersion: '10', managedFields: [{ manager: 'tether', operation: 'Update', time: '2026-01-01T00:00:00Z' }] },
    webhooks,
  });

  test('healthy: ok, with the digests as evidence', async () => {
    const r = await check.run(context({ [MWC]: mwc(), ...published() }));
    assert.equal(r.status, 'ok', JSON.stringify(r, null, 2));
    assert.ok(r.evidence.includes(`entry datadog.webhook.config: CA bundle digest ${caBundleDigest(ca.certPem)}`));
  });
  test('reads the Secret as metadata only and its certificates from the CA ConfigMap; without the ConfigMap, says the leader publishes it', async () => {
    const r = await check.run(context({ [MWC]: mwc(), [SECRET]: published()[SECRET] }));
    assert.equal(r.status, 'error');
    assert.match(r.summary, /^ConfigMap datadog\/datadog-cluster-agent-ca does not exist: the leader publishes the certificates of Secret datadog\/webhook-certificate there/);
  });
  test('missing: an error that says the leader creates it', async () => {
    const r = await check.run(context({ ...published() }));
    assert.equal(r.status, 'error');
    assert.match(r.summary, /MutatingWebhookConfiguration datadog-webhook does not exist/);
    assert.ok(r.evidence.some((l) => l.startsWith('leader: none (Lease datadog/datadog-leader-election does not exist')));
  });
  test('an entry missing is named in the summary; a changed field as drift', async () => {
    const [a, b, c] = mwc().webhooks;
    let r = await check.run(context({ [MWC]: mwc([a!, c!]), ...published() }));
    assert.equal(r.status, 'error');
    assert.match(r.summary, /^datadog-webhook: entry datadog\.webhook\.tags is missing/);
    r = await check.run(context({ [MWC]: mwc([a!, { ...b!, failurePolicy: 'Fail' }, c!]), ...published() }));
    assert.match(r.summary, /differs from what the configuration wants: entry datadog\.webhook\.tags: failurePolicy differs/);
  });
  test('a caBundle that is not the Secret\'s: both digests, and who wrote it', async () => {
    const other = desiredWebhookConfiguration({ config, namespace: NS, caBundlePem: serving.certPem }).webhooks!;
    const obj = { ...mwc(other), metadata: { ...mwc().metadata, managedFields: [{ manager: 'datadog-cluster-agent', operation: 'Update', time: '2026-01-01T00:00:05Z' }] } };
    const r = await check.run(context({ [MWC]: obj, ...published() }));
    assert.equal(r.status, 'error');
    assert.match(r.summary, /the caBundle of datadog\.webhook\.config, datadog\.webhook\.tags, datadog\.webhook\.auto\.instrumentation is not the Secret's CA bundle/);
    assert.ok(r.evidence.includes(`Secret datadog/webhook-certificate: CA bundle digest ${caBundleDigest(ca.certPem)}`));
    assert.ok(r.evidence.includes(`entry datadog.webhook.tags: CA bundle digest ${caBundleDigest(serving.certPem)}`));
    assert.ok(r.evidence.includes('field manager datadog-cluster-agent: Update at 2026-01-01T00:00:05Z'));
  });
  test('disabled admission controller: skipped', async () => {
    const off = parseConfig({ env: { DD_ADMISSION_CONTROLLER_ENABLED: 'false' } });
    const r = await check.run({ ...context({}), config: off });
    assert.equal(r.status, 'skipped');
  });
});
