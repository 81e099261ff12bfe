/**
 * `tether status`: the Admission Controller section byte for byte in the admission controller seed's
 * format, the selectors in Go's form, and the other sections from fixed objects.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { caBundleDigest, inspectCertificate } from '../../../src/certs/index.js';
import { loadConfig } from '../../../src/config/index.js';
import type { KubeReader } from '../../../src/kube/reader.js';
import { ApiError } from '../../../src/kube/reader.js';
import {
  admissionStatus,
  clusterAgentApiStatus,
  collectStatus,
  countEndpoints,
  formatLabelSelector,
  goSlice,
  leaderElectionStatus,
  nodeAgentsStatus,
  renderAdmission,
  renderClusterAgentApi,
  renderLeaderElection,
  renderNodeAgents,
  renderStatus,
  type MutatingWebhook,
  type MutatingWebhookConfiguration,
  type ConfigMap,
} from '../../../src/status/index.js';
import { makeCertificate } from '../../helpers/certs.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const LABEL = 'admission.datadoghq.com/enabled';

function entry(name: string, path: string, caBundle: string): MutatingWebhook {
  return {
    name,
    clientConfig: { caBundle: b64(caBundle), service: { namespace: 'default', name: 'datadog-admission-controller', port: 443, path } },
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
    objectSelector: { matchLabels: { [LABEL]: 'true' } },
  };
}

describe('formatLabelSelector (Go LabelSelector.String())', () => {
  test("the seed's object selector", () => {
    assert.equal(
      formatLabelSelector({ matchLabels: { [LABEL]: 'true' } }),
      '&LabelSelector{MatchLabels:map[string]string{admission.datadoghq.com/enabled: true,},MatchExpressions:[]LabelSelectorRequirement{},}',
    );
  });
  test('expressions, several values, keys sorted by bytes, empty and missing selectors', () => {
    assert.equal(
      formatLabelSelector({
        matchLabels: { b: '2', B: '1', a: '' },
        matchExpressions: [
          { key: LABEL, operator: 'NotIn', values: ['false'] },
          { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['datadog', 'kube-system'] },
          { key: 'control-plane', operator: 'DoesNotExist' },
        ],
      }),
      '&LabelSelector{MatchLabels:map[string]string{B: 1,a: ,b: 2,},MatchExpressions:[]LabelSelectorRequirement{' +
        'LabelSelectorRequirement{Key:admission.datadoghq.com/enabled,Operator:NotIn,Values:[false],},' +
        'LabelSelectorRequirement{Key:kubernetes.io/metadata.name,Operator:NotIn,Values:[datadog kube-system],},' +
        'LabelSelectorRequirement{Key:control-plane,Operator:DoesNotExist,Values:[],},},}',
    );
    assert.equal(formatLabelSelector({}), '&LabelSelector{MatchLabels:map[string]string{},MatchExpressions:[]LabelSelectorRequirement{},}');
    assert.equal(formatLabelSelector(undefined), 'nil');
  });
  test("Go's %v of a string slice: the core group prints as []", () => {
    assert.equal(goSlice(['']), '[]');
    assert.equal(goSlice(['', 'apps']), '[ apps]');
    assert.equal(goSlice(['CREATE', 'UPDATE']), '[CREATE UPDATE]');
    assert.equal(goSlice(undefined), '[]');
  });
});

describe('Admission Controller section', () => {
  test("is the seed's `agent status` output line for line (entries sorted by name)", async () => {
    const pair = await makeCertificate(['datadog-admission-controller.default.svc'], 24 * 400);
    const notAfter = inspectCertificate(pair.certPem).notAfter;
    // The seed's 8643h34m2.557676864s, to the millisecond the clock gives.
    const now = new Date(notAfter.getTime() - (8643 * 3_600_000 + 34 * 60_000 + 2_557));
    const ca = pair.certPem;
    const mwc: MutatingWebhookConfiguration = {
      metadata: { name: 'datadog-webhook', creationTimestamp: '2023-09-25T22:32:07Z' },
      webhooks: [entry('datadog.webhook.config', '/injectconfig', ca), entry('datadog.webhook.tags', '/injecttags', ca), entry('datadog.webhook.auto.instrumentation', '/injectlib', ca)],
    };
    // The Secret as metadata only; its certificates as the leader publishes them (public, no key).
    const secret = { metadata: { name: 'webhook-certificate', namespace: 'default', creationTimestamp: '2023-09-25T22:32:07Z' } };
    const certificates: ConfigMap = { data: { 'ca.pem': ca, 'cert.pem': pair.certPem } };
    const status = admissionStatus({ webhookName: 'datadog-webhook', secretName: 'webhook-certificate', namespace: 'default', webhook: { ok: true, value: mwc }, secret: { ok: true, value: secret }, certificates: { ok: true, value: certificates }, now });
    const d = caBundleDigest(ca);
    // The seed's text (seeds/admission-controller-troubleshooting), its digest being of another CA.
    const seed = `Admission Controller
====================

    Webhooks info
    -------------
      MutatingWebhookConfigurations name: datadog-webhook
      Created at: 2023-09-25T22:32:07Z
      ---------
        Name: datadog.webhook.auto.instrumentation
        CA bundle digest: f24b6c0c40feaad2
        Object selector: &LabelSelector{MatchLabels:map[string]string{admission.datadoghq.com/enabled: true,},MatchExpressions:[]LabelSelectorRequirement{},}
        Rule 1: Operations: [CREATE] - APIGroups: [] - APIVersions: [v1] - Resources: [pods]
        Service: default/datadog-admission-controller - Port: 443 - Path: /injectlib
      ---------
        Name: datadog.webhook.config
        CA bundle digest: f24b6c0c40feaad2
        Object selector: &LabelSelector{MatchLabels:map[string]string{admission.datadoghq.com/enabled: true,},MatchExpressions:[]LabelSelectorRequirement{},}
        Rule 1: Operations: [CREATE] - APIGroups: [] - APIVersions: [v1] - Resources: [pods]
        Service: default/datadog-admission-controller - Port: 443 - Path: /injectconfig
      ---------
        Name: datadog.webhook.tags
        CA bundle digest: f24b6c0c40feaad2
        Object selector: &LabelSelector{MatchLabels:map[string]string{admission.datadoghq.com/enabled: true,},MatchExpressions:[]LabelSelectorRequirement{},}
        Rule 1: Operations: [CREATE] - APIGroups: [] - APIVersions: [v1] - Resources: [pods]
        Service: default/datadog-admission-controller - Port: 443 - Path: /injecttags

    Secret info
    -----------
    Secret name: webhook-certificate
    Secret namespace: default
    Created at: 2023-09-25T22:32:07Z
    CA bundle digest: f24b6c0c40feaad2
    Duration before certificate expiration: 8643h34m2.557676864s`;
    const expected = seed.replaceAll('f24b6c0c40feaad2', d).replace('2.557676864s', '2.557s');
    assert.equal(renderAdmission(status).join('\n'), expected);
    assert.equal(status.secret.found && status.secret.caBundleSource, 'ca.pem');
  });

  test('a namespace selector (Tether always sets one) comes before the object selector; a URL entry prints its URL', () => {
    const status = admissionStatus({
      webhookName: 'datadog-webhook',
      secretName: 'webhook-certificate',
      namespace: 'datadog',
      webhook: {
        ok: true,
        value: {
          metadata: { creationTimestamp: '2024-01-01T00:00:00Z' },
          webhooks: [
            {
              name: 'datadog.webhook.config',
              clientConfig: { caBundle: b64('x'), url: 'https://127.0.0.1:8000/injectconfig' },
              rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
              objectSelector: { matchLabels: { [LABEL]: 'true' } },
              namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['datadog', 'kube-system'] }] },
            },
          ],
        },
      },
      secret: { ok: true, value: undefined },
      certificates: { ok: true, value: undefined },
      now: new Date(),
    });
    assert.deepEqual(renderAdmission(status).slice(7), [
      '      ---------',
      '        Name: datadog.webhook.config',
      `        CA bundle digest: ${caBundleDigest('x')}`,
      '        Namespace selector: &LabelSelector{MatchLabels:map[string]string{},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:kubernetes.io/metadata.name,Operator:NotIn,Values:[datadog kube-system],},},}',
      '        Object selector: &LabelSelector{MatchLabels:map[string]string{admission.datadoghq.com/enabled: true,},MatchExpressions:[]LabelSelectorRequirement{},}',
      '        Rule 1: Operations: [CREATE] - APIGroups: [] - APIVersions: [v1] - Resources: [pods]',
      '        URL: https://127.0.0.1:8000/injectconfig',
      '',
      '    Secret info',
      '    -----------',
      '    Error: Secret datadog/webhook-certificate not found',
    ]);
  });

  test('the single entry (webhook_entries single) says it runs every webhook; the three separate entries print as the seed\'s', () => {
    const entry = (name: string) => ({ name, clientConfig: { caBundle: b64('x'), service: { namespace: 'datadog', name: 'datadog-admission-controller', path: '/inject' } } });
    const status = (names: string[]) =>
      admissionStatus({
        webhookName: 'datadog-webhook',
        secretName: 'webhook-certificate',
        namespace: 'datadog',
        webhook: { ok: true, value: { metadata: { creationTimestamp: '2024-01-01T00:00:00Z' }, webhooks: names.map(entry) } },
        secret: { ok: true, value: undefined },
        certificates: { ok: true, value: undefined },
        now: new Date(),
      });
    const single = renderAdmission(status(['datadog.webhook.inject'])).join('\n');
    assert.match(single, /Name: datadog\.webhook\.inject\n(.*\n){2}.*Service: datadog\/datadog-admission-controller - Port: 443 - Path: \/inject\n\s+Webhooks: every enabled one \(config, tags, auto\.instrumentation\) in one call per pod/);
    const separate = renderAdmission(status(['datadog.webhook.config', 'datadog.webhook.tags', 'datadog.webhook.auto.instrumentation', 'other.inject'])).join('\n');
    assert.doesNotMatch(separate, /Webhooks:/);
    const w = status(['datadog.webhook.inject']).webhook;
    assert.equal(w.found && w.entries[0]?.single, true);
  });

  test('missing or unreadable configuration; certificates not published yet; an unreadable certificate', async () => {
    const pair = await makeCertificate();
    const now = new Date();
    const missing = admissionStatus({ webhookName: 'datadog-webhook', secretName: 's', namespace: 'n', webhook: { ok: true, value: undefined }, secret: { ok: false, error: 'GET /api/v1/namespaces/n/secrets/s: HTTP 403: forbidden' }, certificates: { ok: true, value: undefined }, now });
    assert.deepEqual(renderAdmission(missing), [
      'Admission Controller',
      '====================',
      '',
      '    Webhooks info',
      '    -------------',
      '      Error: MutatingWebhookConfiguration datadog-webhook not found',
      '',
      '    Secret info',
      '    -----------',
      '    Error: GET /api/v1/namespaces/n/secrets/s: HTTP 403: forbidden',
    ]);
    const meta = { ok: true as const, value: { metadata: { name: 's' } } };
    const unpublished = admissionStatus({ webhookName: 'w', secretName: 's', namespace: 'n', webhook: { ok: true, value: undefined }, secret: meta, certificates: { ok: true, value: undefined }, now });
    assert.ok(unpublished.secret.found);
    assert.match(unpublished.secret.durationBeforeExpiration, /^unknown: ConfigMap n\/datadog-cluster-agent-ca not found/);
    const published = admissionStatus({ webhookName: 'w', secretName: 's', namespace: 'n', webhook: { ok: true, value: undefined }, secret: meta, certificates: { ok: true, value: { data: { 'ca.pem': pair.certPem, 'cert.pem': pair.certPem } } }, now });
    assert.ok(published.secret.found);
    assert.equal(published.secret.caBundleDigest, caBundleDigest(pair.certPem));
    const broken = admissionStatus({ webhookName: 'w', secretName: 's', namespace: 'n', webhook: { ok: true, value: undefined }, secret: meta, certificates: { ok: true, value: { data: { 'cert.pem': 'garbage' } } }, now });
    assert.ok(broken.secret.found);
    assert.match(broken.secret.durationBeforeExpiration, /^unknown: ConfigMap n\/datadog-cluster-agent-ca cert\.pem: not a PEM certificate/);
  });
});

describe('Leader Election section', () => {
  const now = new Date('2026-01-01T00:00:10Z');
  const lease = (holder: string, renew: string) => ({
    ok: true as const,
    value: { spec: { holderIdentity: holder, leaseDurationSeconds: 15, acquireTime: '2026-01-01T00:00:00.000000Z', renewTime: renew, leaseTransitions: 2 } },
  });
  test('held and renewed in time', () => {
    assert.deepEqual(renderLeaderElection(leaderElectionStatus('datadog', 'datadog-leader-election', lease('pod-a_1', '2026-01-01T00:00:05.000000Z'), now)), [
      'Leader Election',
      '===============',
      '  Leader Election Status:  Running',
      '  Lease: datadog/datadog-leader-election',
      '  Leader Name is: pod-a_1',
      '  Last Acquisition of the lease: 2026-01-01T00:00:00.000000Z',
      '  Renewed leadership: 2026-01-01T00:00:05.000000Z',
      '  Number of leader transitions: 2 transitions',
    ]);
  });
  test('not renewed within its duration: expired; released; absent; unreadable', () => {
    assert.equal(leaderElectionStatus('d', 'l', lease('pod-a', '2025-12-31T23:59:00.000000Z'), now).state, 'Expired');
    assert.equal(leaderElectionStatus('d', 'l', lease('', '2026-01-01T00:00:05.000000Z'), now).state, 'Released');
    const absent = leaderElectionStatus('d', 'l', { ok: true, value: undefined }, now);
    assert.deepEqual(renderLeaderElection(absent).slice(2), ['  Leader Election Status:  Not started', '  Error: Lease d/l not found: no cluster agent replica has run leader election in this namespace']);
    assert.equal(leaderElectionStatus('d', 'l', { ok: false, error: 'HTTP 403' }, now).state, 'Failing');
  });
});

describe('Cluster Agent API section', () => {
  test('Service, ready endpoints (counted by address, unset = ready), the CA ConfigMap digest', () => {
    const slices = [
      { endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: true } }, { addresses: ['10.0.0.2'] }, { addresses: ['10.0.0.3'], conditions: { ready: false } }] },
      { endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: true } }] },
    ];
    assert.deepEqual(countEndpoints(slices), { ready: 2, notReady: 1 });
    const s = clusterAgentApiStatus({
      namespace: 'datadog',
      serviceName: 'datadog-cluster-agent',
      caConfigMapName: 'datadog-cluster-agent-ca',
      service: { ok: true, value: { spec: { ports: [{ port: 5005 }] } } },
      endpointSlices: { ok: true, value: slices },
      caConfigMap: { ok: true, value: { data: { 'ca.pem': 'PEM' } } },
    });
    assert.deepEqual(renderClusterAgentApi(s), [
      'Cluster Agent API',
      '=================',
      '  Service: datadog/datadog-cluster-agent - Port: 5005',
      '  Endpoints: 2 ready, 1 not ready',
      '  CA ConfigMap: datadog/datadog-cluster-agent-ca',
      `  CA bundle digest: ${caBundleDigest('PEM')}`,
    ]);
    const none = clusterAgentApiStatus({
      namespace: 'd',
      serviceName: 's',
      caConfigMapName: 'c',
      service: { ok: true, value: undefined },
      endpointSlices: { ok: false, error: 'HTTP 403: endpointslices forbidden' },
      caConfigMap: { ok: true, value: undefined },
    });
    assert.deepEqual(renderClusterAgentApi(none).slice(2), ['  Service: d/s not found', '  CA ConfigMap: d/c not found', '  Error: HTTP 403: endpointslices forbidden']);
  });
});

describe('Node Agents section', () => {
  test('no ConfigMap: no node agent has reported', () => {
    assert.deepEqual(renderNodeAgents(nodeAgentsStatus('datadog', { ok: true, value: undefined }), '2026-01-01T00:00:00Z'), [
      'Node Agents',
      '===========',
      '  no node agent has reported (ConfigMap datadog/datadog-node-agents not found)',
    ]);
  });
  test('each node sorted, its last results; a malformed report is shown without hiding the others', () => {
    const n = nodeAgentsStatus('datadog', {
      ok: true,
      value: {
        data: {
          'node-b': JSON.stringify({ lastSeen: '2026-01-01T00:00:00Z', kubelet: { state: 'error', code: 'forbidden', summary: 'kubelet answered 403' }, clusterAgent: { state: 'ok' } }),
          'node-a': JSON.stringify({ lastSeen: '2025-12-31T23:58:55Z', kubelet: { state: 'ok' }, clusterAgent: { state: 'error', code: 'unauthorized', summary: 'invalid session token' } }),
          'node-c': '{not json',
        },
      },
    });
    assert.deepEqual(renderNodeAgents(n, '2026-01-01T00:00:00Z'), [
      'Node Agents',
      '===========',
      '  ---------',
      '    Node: node-a',
      '    Last seen: 2025-12-31T23:58:55Z (1m5s ago)',
      '    Kubelet: ok',
      '    Cluster agent: error (unauthorized): invalid session token',
      '  ---------',
      '    Node: node-b',
      '    Last seen: 2026-01-01T00:00:00Z (0s ago)',
      '    Kubelet: error (forbidden): kubelet answered 403',
      '    Cluster agent: ok',
      '  ---------',
      '    Node: node-c',
      `    Error: cannot read its report: not JSON: ${(() => { try { JSON.parse('{not json'); } catch (e) { return (e as Error).message; } return ''; })()}`,
    ]);
  });
});

/** A reader over fixed objects by path (lists: `path` → items), or failing every call. */
function fakeReader(objects: Record<string, unknown>, fail?: ApiError): KubeReader {
  return {
    async get<T>(path: string) {
      if (fail) throw fail;
      return objects[path] as T | undefined;
    },
    async list<T>(path: string) {
      if (fail) throw fail;
      return (objects[path] ?? []) as T[];
    },
    async getMetadata(path: string) {
      if (fail) throw fail;
      const o = objects[path] as { metadata?: object } | undefined;
      return o ? { metadata: { ...o.metadata } } : undefined;
    },
    async watch() {},
    async create<T>(): Promise<T> {
      throw new Error('status never writes');
    },
  };
}

describe('collectStatus', () => {
  const config = loadConfig({ env: {} });
  test("reads each section's objects in Tether's namespace; -o json is the same report", async () => {
    const report = await collectStatus({
      kube: fakeReader({
        '/apis/coordination.k8s.io/v1/namespaces/datadog/leases/datadog-leader-election': { spec: { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: '2026-01-01T00:00:00.000000Z', leaseTransitions: 0 } },
        '/api/v1/namespaces/datadog/services/datadog-cluster-agent': { spec: { ports: [{ port: 5005 }] } },
      }),
      config,
      namespace: 'datadog',
      now: () => new Date('2026-01-01T00:00:01Z'),
      signal: AbortSignal.timeout(5_000),
    });
    assert.equal(report.leaderElection.state, 'Running');
    assert.equal(report.clusterAgentApi.serviceFound, true);
    assert.equal(report.admissionController.webhook.found, false);
    assert.equal(report.nodeAgents.found, false);
    const text = renderStatus(report);
    for (const t of ['Admission Controller\n', '\n\nLeader Election\n', '\n\nCluster Agent API\n', '\n\nNode Agents\n']) assert.ok(text.includes(t), t);
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
  });
  test('no answer to any read: one error, not four sections of it', async () => {
    await assert.rejects(
      collectStatus({ kube: fakeReader({}, new ApiError(0, 'connect ECONNREFUSED')), config, namespace: 'd', now: () => new Date(), signal: AbortSignal.timeout(5_000) }),
      /ECONNREFUSED/,
    );
  });
});
