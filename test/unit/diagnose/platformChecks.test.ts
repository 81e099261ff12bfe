/** The pure parts of the platform and injection checks: probe, namespace choice, per-platform fixes, workload labels, AKS traces. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enforcerTraces, optedOut } from '../../../src/diagnose/checks/aksSelectors.js';
import { labelledOutsideTemplate, moveLabelCommand } from '../../../src/diagnose/checks/labelOnWorkload.js';
import { hostPathRefusal } from '../../../src/diagnose/checks/socketModePlatform.js';
import { chooseProbeNamespace, entriesWithoutMark, probeCarries, probePod, reachabilityFix, tetherEntriesIn, type WebhookEntry } from '../../../src/diagnose/checks/webhookReachable.js';
import { localServiceManifest } from '../../../src/diagnose/checks/serviceModeLocalService.js';
import type { Platform } from '../../../src/diagnose/check.js';
import { workloadOf } from '../../../src/diagnose/workloads.js';
import { mutateInOrder, mutatePod } from '../../../src/admission/webhooks.js';
import { desiredWebhookConfiguration } from '../../../src/controllers/webhookConfiguration.js';
import { applyPatch } from '../../../src/admission/jsonpatch.js';
import type { Pod } from '../../../src/admission/pod.js';
import { testConfig } from '../../helpers/config.js';

const platform = (p: Partial<Platform>): Platform => ({ gke: false, gkeAutopilot: false, eks: false, aks: false, openshift: false, rancher: false, evidence: [], ...p });
const EXCLUDE = { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['datadog', 'kube-system'] }] };
const entry = (e: Partial<WebhookEntry> = {}): WebhookEntry => ({ name: 'datadog.webhook.config', namespaceSelector: EXCLUDE, clientConfig: { service: { namespace: 'datadog', name: 'datadog-admission-controller', port: 443, path: '/injectconfig' } }, ...e });
const ns = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } } });

test("the probe pod carries each webhook's mark only after that webhook mutated it (checked against Tether's own mutations)", () => {
  const config = testConfig();
  const probe = probePod() as unknown as Pod;
  for (const kind of ['config', 'tags', 'lib'] as const) {
    assert.equal(probeCarries(kind, probe), false, `${kind} before`);
    const { patch } = mutatePod(kind, probe, { config, namespace: 'default', tetherNamespace: 'datadog', namespaceLabels: {} });
    assert.equal(probeCarries(kind, applyPatch(probe, patch) as Pod), true, `${kind} after`);
  }
});

test('the reachability probe finds either shape of entries; the single entry counts as reached only with every webhook\'s mark', () => {
  for (const shape of ['separate', 'single'] as const) {
    const config = testConfig({ 'admission_controller.webhook_entries': shape });
    const webhooks = desiredWebhookConfiguration({ config, namespace: 'datadog', caBundlePem: 'PEM' }).webhooks as WebhookEntry[];
    const found = tetherEntriesIn([...webhooks, entry({ name: 'someone.else' })], config);
    assert.deepEqual(found.map((f) => f.entry.name), shape === 'single' ? ['datadog.webhook.inject'] : ['datadog.webhook.config', 'datadog.webhook.tags', 'datadog.webhook.auto.instrumentation']);
    const probe = probePod() as unknown as Pod;
    const facts = { config, namespace: 'default', tetherNamespace: 'datadog', namespaceLabels: {} };
    assert.equal(entriesWithoutMark(found, probe).length, found.length, 'nothing reached');
    const all = mutateInOrder(['config', 'tags', 'lib'], probe, facts).pod;
    assert.deepEqual(entriesWithoutMark(found, all), [], 'every entry reached');
    // Only the config webhook's work on the pod: the single entry (or the other two) did not reach it.
    const configOnly = applyPatch(probe, mutatePod('config', probe, facts).patch) as Pod;
    assert.deepEqual(entriesWithoutMark(found, configOnly).map((f) => f.id), shape === 'single' ? ['inject'] : ['tags', 'lib']);
  }
});

test('the probe goes to the given namespace, else default, else the first one every entry is sent to; never to Tether\'s or kube-system', () => {
  const all = [ns('default'), ns('datadog'), ns('kube-system'), ns('apps')];
  assert.deepEqual(chooseProbeNamespace(all, [entry()], 'datadog', undefined), { namespace: 'default' });
  assert.deepEqual(chooseProbeNamespace(all, [entry()], 'datadog', 'apps'), { namespace: 'apps' });
  // Tether in `default`: default is excluded by the selector, another namespace is used.
  const inDefault = { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['default', 'kube-system'] }] };
  assert.deepEqual(chooseProbeNamespace(all, [entry({ namespaceSelector: inDefault })], 'default', undefined), { namespace: 'apps' });
  assert.match((chooseProbeNamespace(all, [entry()], 'datadog', 'datadog') as { why: string }).why, /never mutated \(Tether's own\)/);
  assert.match((chooseProbeNamespace(all, [entry()], 'datadog', 'nope') as { why: string }).why, /does not exist/);
  const onlyTeam = { matchLabels: { team: 'a' } };
  assert.match((chooseProbeNamespace(all, [entry({ namespaceSelector: onlyTeam })], 'datadog', 'apps') as { why: string }).why, /not sent pods of namespace apps \(namespaceSelector team=a\)/);
  assert.deepEqual(chooseProbeNamespace([...all, ns('zz', { team: 'a' })], [entry({ namespaceSelector: onlyTeam })], 'datadog', undefined), { namespace: 'zz' });
});

test("the reachability fix names the platform's step with the webhook port", () => {
  const config = testConfig({ 'admission_controller.port': 8000 });
  const gke = reachabilityFix(platform({ gke: true }), config, 'datadog', [entry()]);
  assert.match(gke, /gcloud compute firewall-rules create allow-datadog-webhook .* --allow tcp:8000 --source-ranges <CONTROL_PLANE_CIDR>/);
  assert.match(gke, /gke-<CLUSTER>-master/);
  const eks = reachabilityFix(platform({ eks: true }), config, 'datadog', [entry()]);
  assert.match(eks, /aws ec2 authorize-security-group-ingress --group-id <NODE_SECURITY_GROUP> --protocol tcp --port 8000 --source-group <CLUSTER_SECURITY_GROUP>/);
  assert.match(eks, /custom CNI \(Calico, Cilium\).*hostNetwork/);
  const rancher = reachabilityFix(platform({ eks: true, rancher: true }), config, 'datadog', [entry()]);
  assert.match(rancher, /^Rancher on EKS: run the cluster agent on the host network.*kubectl patch deployment\/datadog-cluster-agent -n datadog/);
  assert.match(rancher, /security group/);
  const generic = reachabilityFix(platform({}), config, 'datadog', [entry()]);
  assert.match(generic, /ready endpoints, a NetworkPolicy on port 8000/);
  assert.doesNotMatch(generic, /gcloud|aws /);
  const url = reachabilityFix(undefined, config, 'datadog', [entry({ clientConfig: { url: 'https://10.0.0.5:8000/injectconfig' } })]);
  assert.match(url, /^The entries call https:\/\/10.0.0.5:8000: the API server must reach that address/);
  assert.match(reachabilityFix(platform({ gke: true, rancher: true }), config, 'd', [entry()]), /^Rancher on GKE: GKE private cluster/);
});

test('workloads: the label on the workload (or a CronJob\'s job template) but not on the pod template is found, with a patch to move it', () => {
  const deploy = (name: string, own: Record<string, string>, tpl: Record<string, string>, ns = 'apps') => workloadOf('Deployment', 'apps/v1', { metadata: { name, namespace: ns, labels: own }, spec: { template: { metadata: { labels: tpl }, spec: { containers: [] } } } })!;
  const cron = workloadOf('CronJob', 'batch/v1', {
    metadata: { name: 'report', namespace: 'apps' },
    spec: { jobTemplate: { metadata: { labels: { 'admission.datadoghq.com/enabled': 'true' } }, spec: { template: { metadata: {}, spec: { containers: [] } } } } },
  })!;
  const cronJob = workloadOf('Job', 'batch/v1', {
    metadata: { name: 'report-1', namespace: 'apps', labels: { 'admission.datadoghq.com/enabled': 'true' }, ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'report', controller: true }] },
    spec: { template: { metadata: {}, spec: { containers: [] } } },
  })!;
  const wrong = labelledOutsideTemplate(
    [
      deploy('right', {}, { 'admission.datadoghq.com/enabled': 'true' }),
      deploy('both', { 'admission.datadoghq.com/enabled': 'true' }, { 'admission.datadoghq.com/enabled': 'true' }),
      deploy('wrong', { 'admission.datadoghq.com/enabled': 'true' }, { app: 'x' }),
      deploy('mine', { 'admission.datadoghq.com/enabled': 'true' }, {}, 'datadog'),
      cron,
      cronJob,
    ],
    'datadog',
  );
  assert.deepEqual(wrong.map((w) => `${w.kind}/${w.name}`), ['Deployment/wrong', 'CronJob/report']);
  assert.equal(moveLabelCommand(wrong[0]!), `kubectl patch deployment/wrong -n apps --type merge -p '{"spec":{"template":{"metadata":{"labels":{"admission.datadoghq.com/enabled":"true"}}}}}'`);
  assert.equal(moveLabelCommand(wrong[1]!), `kubectl patch cronjob/report -n apps --type merge -p '{"spec":{"jobTemplate":{"spec":{"template":{"metadata":{"labels":{"admission.datadoghq.com/enabled":"true"}}}}}}}'`);
});

test("socket mode is refused on GKE Autopilot and OpenShift only", () => {
  assert.match(hostPathRefusal(platform({ gke: true, gkeAutopilot: true }))!, /GKE Autopilot/);
  assert.match(hostPathRefusal(platform({ openshift: true, aks: true }))!, /restricted SCC/);
  assert.equal(hostPathRefusal(platform({ gke: true })), undefined);
});

test("AKS: the enforcer's expressions and field manager are traces; its opt-out annotation or label is honoured", () => {
  const mwc = {
    metadata: { managedFields: [{ manager: 'tether', operation: 'Update' }, { manager: 'admissionsenforcer', operation: 'Update', time: '2024-05-01T10:00:00Z' }] },
    webhooks: [
      { name: 'datadog.webhook.config', namespaceSelector: { matchExpressions: [EXCLUDE.matchExpressions[0]!, { key: 'control-plane', operator: 'NotIn', values: ['true'] }, { key: 'kubernetes.azure.com/managedby', operator: 'NotIn', values: ['aks'] }] } },
      { name: 'datadog.webhook.tags', namespaceSelector: EXCLUDE },
    ],
  };
  assert.deepEqual(enforcerTraces(mwc), [
    "entry datadog.webhook.config: namespaceSelector has the enforcer's control-plane notin (true),kubernetes.azure.com/managedby notin (aks)",
    'field manager admissionsenforcer wrote the configuration (Update at 2024-05-01T10:00:00Z)',
  ]);
  assert.equal(optedOut({ metadata: { annotations: { 'admissions.enforcer/disabled': 'true' } } }), true);
  assert.equal(optedOut({ metadata: { labels: { 'admissions.enforcer/disabled': 'true' } } }), true);
  assert.equal(optedOut(mwc), false);
});

test('the local Service manifest selects the node agent and keeps traffic on the node', () => {
  const cmd = localServiceManifest('datadog', 'monitoring');
  const json = JSON.parse(cmd.slice("echo '".length, cmd.indexOf("' | kubectl apply -f -")));
  assert.equal(json.spec.internalTrafficPolicy, 'Local');
  assert.deepEqual(json.spec.selector, { 'app.kubernetes.io/name': 'datadog-agent' });
  assert.deepEqual(json.metadata, { name: 'datadog', namespace: 'monitoring' });
});
