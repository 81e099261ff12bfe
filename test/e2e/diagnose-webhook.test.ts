/**
 * The webhook checks of `tether diagnose` (issue 10, items 4, 5 and 7) against a real control plane:
 * a healthy `tether start` (with --webhook-url, as start.test.ts runs it) passes, then each broken state
 * is created for real and found. The checks read as a user holding only the read permissions listed
 * below (by impersonation), so a read they need and do not declare fails here.
 *
 * Order matters and is kept: the leader repairs any drift it sees within milliseconds, so the states it
 * would repair are created after it is stopped; the fight over the configuration needs it running.
 * Each test restores what it broke.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { caBundleDigest, generateCa, issueServingCertificate } from '../../src/certs/index.js';
import { CLUSTER_AGENT_CA_CONFIGMAP, ENABLED_LABEL, TETHER_FIELD_MANAGER } from '../../src/config/index.js';
import { certificateNames } from '../../src/certs/policy.js';
import { desiredWebhookConfiguration } from '../../src/controllers/webhookConfiguration.js';
import type { Check, CheckResult, DiagnoseContext } from '../../src/diagnose/check.js';
import { CHECKS } from '../../src/diagnose/checks/index.js';
import { networkPolicyCheck } from '../../src/diagnose/checks/networkPolicy.js';
import { createWebhookConfigurationCheck, webhookConfigurationCheck } from '../../src/diagnose/checks/webhookConfiguration.js';
import { webhookServiceCheck } from '../../src/diagnose/checks/webhookService.js';
import { runCheck } from '../../src/diagnose/run.js';
import { createKubeReader, type KubeReader } from '../../src/kube/reader.js';
import { DEFAULT_CONTROLLERS, impersonatingKubeConfig, startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { testConfig } from '../helpers/config.js';
import { eventually } from '../helpers/eventually.js';
import { applyTetherRbac, tetherKubeconfigFile, DIAGNOSE_MANIFEST, DIAGNOSE_SERVICE_ACCOUNT } from '../helpers/rbac.js';
import { freePort, spawnTether, type TetherProcess, withStartLog } from '../helpers/tether.js';

const NS = 'datadog';
const ELSEWHERE = 'elsewhere';
const SECRET = 'webhook-certificate';
const WEBHOOK = 'datadog-webhook';
const SERVICE = 'datadog-admission-controller';
const SERVICE_ACCOUNT = 'datadog-cluster-agent';
const CLUSTER_AGENT_MANIFEST = fileURLToPath(new URL('../../../deploy/cluster-agent.yaml', import.meta.url));
/** The other install of the fight: another agent's name for its writes. */
const OTHER_MANAGER = 'datadog-cluster-agent';

/** What these three checks read, and nothing more: the diagnose ClusterRole must grant at least this. */
const DIAGNOSE_WEBHOOK_RULES: k8s.V1PolicyRule[] = [
  { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], verbs: ['get'] },
  { apiGroups: [''], resources: ['secrets'], resourceNames: [SECRET], verbs: ['get', 'list'] },
  { apiGroups: [''], resources: ['services', 'pods'], verbs: ['get', 'list'] },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: ['list'] },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list'] },
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['list'] },
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get'] },
];

let cp: ControlPlane;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;
let admission: k8s.AdmissionregistrationV1Api;
let discovery: k8s.DiscoveryV1Api;
let networking: k8s.NetworkingV1Api;
let reader: KubeReader;
let tether: TetherProcess;
let webhookUrl: string;
const config = testConfig();
/** The other checks run without the 3 s rewrite observation (they have no fight to see; their own run has). */
const quickConfigurationCheck = createWebhookConfigurationCheck({ observeMs: 0 });

function context(): DiagnoseContext {
  return {
    config,
    namespace: NS,
    serviceAccount: SERVICE_ACCOUNT,
    kube: reader,
    platform: () => Promise.reject(new Error('not needed by the webhook checks')),
    now: () => new Date(),
    signal: AbortSignal.timeout(60_000),
  };
}

const run = (check: Check): Promise<CheckResult> => runCheck(check, context());
const show = (r: CheckResult) => JSON.stringify(r, null, 2);

async function expectStatus(check: Check, status: CheckResult['status'], summary?: RegExp): Promise<CheckResult> {
  const r = await run(check);
  assert.equal(r.status, status, show(r));
  if (summary) assert.match(r.summary, summary, show(r));
  if (status === 'error' || status === 'warning') assert.ok(r.fix.length > 0, 'a problem comes with a fix');
  return r;
}

async function readWebhooks(): Promise<k8s.V1MutatingWebhookConfiguration> {
  return admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
}

async function setWebhooks(webhooks: k8s.V1MutatingWebhook[], fieldManager?: string): Promise<void> {
  const current = await readWebhooks();
  await admission.replaceMutatingWebhookConfiguration({ name: WEBHOOK, body: { ...current, webhooks }, ...(fieldManager ? { fieldManager } : {}) });
}

async function secretData(): Promise<Record<string, string>> {
  const s = await core.readNamespacedSecret({ name: SECRET, namespace: NS });
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

/**
 * Writes the Secret, and publishes its certificates in the CA ConfigMap as the (stopped) leader would:
 * diagnose reads them there, and only the Secret's metadata.
 */
async function setSecretData(data: Record<string, string>): Promise<void> {
  const s = await core.readNamespacedSecret({ name: SECRET, namespace: NS });
  await core.replaceNamespacedSecret({ name: SECRET, namespace: NS, body: { ...s, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) } });
  const cm = await core.readNamespacedConfigMap({ name: CLUSTER_AGENT_CA_CONFIGMAP, namespace: NS });
  await core.replaceNamespacedConfigMap({ name: CLUSTER_AGENT_CA_CONFIGMAP, namespace: NS, body: { ...cm, data: { ...cm.data, 'ca.pem': data['ca.pem'] ?? '', 'cert.pem': data['cert.pem'] ?? '' } } });
}

/** The objects of deploy/cluster-agent.yaml, as shipped. */
function manifest<T>(kind: string): T {
  const doc = parseAllDocuments(readFileSync(CLUSTER_AGENT_MANIFEST, 'utf8')).map((d) => d.toJSON() as { kind?: string }).find((o) => o?.kind === kind);
  assert.ok(doc, `${kind} in deploy/cluster-agent.yaml`);
  return doc as T;
}

const ignoreNotFound = (e: unknown) => {
  if (!(e instanceof k8s.ApiException && e.code === 404)) throw e;
};

before(
  async () => {
    // The EndpointSlice controller too: a Service's slices are what the API server's calls follow.
    cp = await startControlPlane({ controllers: [...DEFAULT_CONTROLLERS, 'endpointslice-controller'] });
    const kc = cp.kubeConfig();
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
    discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    networking = kc.makeApiClient(k8s.NetworkingV1Api);
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    // As `tether diagnose` runs: with only what deploy/diagnose-rbac.yaml grants.
    reader = createKubeReader(await applyTetherRbac(cp, NS, DIAGNOSE_MANIFEST, DIAGNOSE_SERVICE_ACCOUNT));

    const kubeconfigFile = await tetherKubeconfigFile(cp, NS);
    await core.createNamespace({ body: { metadata: { name: 'apps' } } });
    await core.createNamespace({ body: { metadata: { name: ELSEWHERE } } });
    const port = await freePort();
    webhookUrl = `https://127.0.0.1:${port}`;
    tether = spawnTether(['start', '--kubeconfig', kubeconfigFile, '--namespace', NS, '--webhook-url', webhookUrl, '--port', String(port), '--host', '127.0.0.1'], { DD_LEADER_LEASE_DURATION: '3' });
    // Healthy: a labelled dry-run pod comes back mutated through the real API server.
    await eventually(
      'the webhook to mutate a dry-run pod',
      async () => {
        const pod = await core.createNamespacedPod({ namespace: 'apps', dryRun: 'All', body: { metadata: { name: 'probe', labels: { [ENABLED_LABEL]: 'true' } }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] } } });
        assert.ok((pod.spec?.containers[0]?.env ?? []).some((e) => e.name === 'DD_AGENT_HOST'));
      },
      60_000,
      300,
    ).catch(withStartLog(tether));
  },
  { timeout: 60 * 60_000 },
);

after(async () => {
  await tether?.stop(5_000);
  await cp?.stop();
});

describe('webhook checks, with the leader running', () => {
  test('the checks are registered', () => {
    for (const c of [webhookConfigurationCheck, webhookServiceCheck, networkPolicyCheck]) assert.ok(CHECKS.includes(c), c.name);
  });

  test('healthy: webhook-configuration is ok; Tether writes as field manager "tether"', async () => {
    const r = await expectStatus(webhookConfigurationCheck, 'ok', /datadog-webhook: 3 entries as the configuration wants them/);
    const digest = caBundleDigest((await secretData())['ca.pem']!);
    assert.ok(r.evidence.includes(`Secret ${NS}/${SECRET}: CA bundle digest ${digest}`), show(r));
    assert.ok(r.evidence.includes(`entry datadog.webhook.config: CA bundle digest ${digest}`), show(r));
    // What the API server records for Tether's writes (without an explicit field manager, client-node's
    // would show as "node-fetch", like any other Node client).
    const fields = await reader.get<{ metadata: { managedFields: { manager: string }[] } }>(`/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${WEBHOOK}`, AbortSignal.timeout(5_000));
    assert.deepEqual([...new Set(fields!.metadata.managedFields.map((m) => m.manager))], [TETHER_FIELD_MANAGER]);
  });

  test('webhook-service is skipped with why when the entries call --webhook-url', async () => {
    await expectStatus(webhookServiceCheck, 'skipped', new RegExp(`call a URL \\(${webhookUrl}/inject\\w+\\), not a Service`));
  });

  test('another install fighting over datadog-webhook: rewritten repeatedly, by a writer that is not Tether', async () => {
    // The other install wants the entries to call its own Service, in its own namespace, and writes them
    // back whenever they differ, as the leader does.
    const theirs = desiredWebhookConfiguration({ config, namespace: ELSEWHERE, caBundlePem: (await secretData())['ca.pem']! }).webhooks!;
    let fighting = true;
    const fight = (async () => {
      while (fighting) {
        try {
          const current = await readWebhooks();
          if (current.webhooks?.[0]?.clientConfig.service?.namespace !== ELSEWHERE) await setWebhooks(theirs, OTHER_MANAGER);
        } catch (e) {
          if (!(e instanceof k8s.ApiException && e.code === 409)) throw e;
        }
        await sleep(100);
      }
    })();
    try {
      const r = await expectStatus(webhookConfigurationCheck, 'error', /datadog-webhook was rewritten \d+ times in 3 s: another install is fighting over it \(written by datadog-cluster-agent besides Tether\)/);
      assert.match(r.fix, /Only one cluster agent may manage datadog-webhook: uninstall the other one/);
      assert.ok(r.evidence.some((l) => l.startsWith('resourceVersions seen: ')), show(r));
      assert.ok(r.evidence.some((l) => l.startsWith(`field manager ${OTHER_MANAGER}: Update at `)), show(r));
      assert.ok(r.evidence.some((l) => l.startsWith(`field manager ${TETHER_FIELD_MANAGER} (Tether): Update at `)), show(r));
      assert.ok(r.evidence.some((l) => /^leader: tether-/.test(l) || /^leader: \S+ \(Lease datadog\/datadog-leader-election/.test(l)), show(r));
    } finally {
      fighting = false;
      await fight;
    }
    // Alone again, the leader puts its entries back.
    await eventually('the leader to repair the configuration', async () => assert.equal((await run(quickConfigurationCheck)).status, 'ok'));
  });
});

describe('webhook-configuration, with the leader stopped (it would repair each state at once)', () => {
  let original: k8s.V1MutatingWebhook[];
  let originalSecret: Record<string, string>;

  before(async () => {
    await tether.stop(10_000);
    original = (await readWebhooks()).webhooks ?? [];
    originalSecret = await secretData();
  });

  test('still healthy without the leader', async () => {
    await expectStatus(quickConfigurationCheck, 'ok');
  });

  test('an entry missing', async () => {
    await setWebhooks(original.filter((w) => w.name !== 'datadog.webhook.tags'));
    try {
      const r = await expectStatus(quickConfigurationCheck, 'error', /^datadog-webhook: entry datadog\.webhook\.tags is missing/);
      assert.ok(r.evidence.includes('drift: entry datadog.webhook.tags is missing'), show(r));
      assert.ok(r.evidence.some((l) => l.startsWith('leader: ')), show(r));
    } finally {
      await setWebhooks(original);
    }
  });

  test('a setting drifted from what the configuration wants', async () => {
    await setWebhooks(original.map((w) => ({ ...w, timeoutSeconds: 30 })));
    try {
      await expectStatus(quickConfigurationCheck, 'error', /datadog-webhook differs from what the configuration wants: entry datadog\.webhook\.config: timeoutSeconds differs/);
    } finally {
      await setWebhooks(original);
    }
  });

  test("an entry's caBundle is not the Secret's: both digests shown", async () => {
    const other = await generateCa({ commonName: 'someone else', validityHours: 100 });
    await setWebhooks(original.map((w) => (w.name === 'datadog.webhook.config' ? { ...w, clientConfig: { ...w.clientConfig, caBundle: Buffer.from(other.certPem).toString('base64') } } : w)));
    try {
      const r = await expectStatus(quickConfigurationCheck, 'error', /the caBundle of datadog\.webhook\.config is not the Secret's CA bundle/);
      assert.ok(r.evidence.includes(`entry datadog.webhook.config: CA bundle digest ${caBundleDigest(other.certPem)}`), show(r));
      assert.ok(r.evidence.includes(`Secret ${NS}/${SECRET}: CA bundle digest ${caBundleDigest(originalSecret['ca.pem']!)}`), show(r));
      assert.ok(r.evidence.includes(`entry datadog.webhook.tags: CA bundle digest ${caBundleDigest(originalSecret['ca.pem']!)}`), show(r));
    } finally {
      await setWebhooks(original);
    }
  });

  test('the configuration missing', async () => {
    await admission.deleteMutatingWebhookConfiguration({ name: WEBHOOK });
    try {
      await expectStatus(quickConfigurationCheck, 'error', /MutatingWebhookConfiguration datadog-webhook does not exist/);
      await expectStatus(webhookServiceCheck, 'skipped', /does not exist/);
    } finally {
      await admission.createMutatingWebhookConfiguration({ body: { metadata: { name: WEBHOOK }, webhooks: original } });
    }
  });

  const ca = () => ({ certPem: originalSecret['ca.pem']!, keyPem: originalSecret['ca-key.pem']! });
  const names = () => certificateNames(SERVICE, NS, webhookUrl);

  test('the serving certificate expired', async () => {
    const day = 24 * 3_600_000;
    const expired = await issueServingCertificate({ ca: ca(), dnsNames: names(), now: new Date(Date.now() - 3 * day), notAfter: new Date(Date.now() - day) });
    await setSecretData({ ...originalSecret, 'cert.pem': expired.certPem, 'key.pem': expired.keyPem });
    try {
      const r = await expectStatus(quickConfigurationCheck, 'error', /^Secret datadog\/webhook-certificate: the serving certificate expired at /);
      assert.match(r.fix, /kubectl -n datadog annotate secret webhook-certificate tether\.dev\/rotate=certificate/);
    } finally {
      await setSecretData(originalSecret);
    }
  });

  test("the serving certificate's names are not the Service's", async () => {
    const wrong = await issueServingCertificate({ ca: ca(), dnsNames: certificateNames(SERVICE, 'default', webhookUrl), notAfter: new Date(Date.now() + 100 * 3_600_000) });
    await setSecretData({ ...originalSecret, 'cert.pem': wrong.certPem, 'key.pem': wrong.keyPem });
    try {
      await expectStatus(quickConfigurationCheck, 'error', /the serving certificate's names do not include datadog-admission-controller\.datadog, /);
    } finally {
      await setSecretData(originalSecret);
    }
  });

  test('the CA within expiration_threshold (720 h) and not renewed: a warning', async () => {
    const short = await generateCa({ commonName: 'short-lived CA', validityHours: 500 });
    const serving = await issueServingCertificate({ ca: short, dnsNames: names(), notAfter: new Date(Date.now() + 100 * 3_600_000) });
    await setSecretData({ 'ca.pem': short.certPem, 'ca-key.pem': short.keyPem, 'cert.pem': serving.certPem, 'key.pem': serving.keyPem });
    await setWebhooks(original.map((w) => ({ ...w, clientConfig: { ...w.clientConfig, caBundle: Buffer.from(short.certPem).toString('base64') } })));
    try {
      await expectStatus(quickConfigurationCheck, 'warning', /a new CA is due: the CA expires at .*, less than 720h from now, and the leader has not renewed it/);
    } finally {
      await setSecretData(originalSecret);
      await setWebhooks(original);
    }
  });
});

describe('webhook-service, with entries calling the Service', () => {
  let service: k8s.V1Service;

  before(async () => {
    // The configuration as the leader writes it in a cluster (no --webhook-url), and the shipped
    // Deployment and Service. No scheduler runs here: the pods stay Pending, never ready.
    const caPem = (await secretData())['ca.pem']!;
    await setWebhooks(desiredWebhookConfiguration({ config, namespace: NS, caBundlePem: caPem }).webhooks!);
    const deployment = manifest<k8s.V1Deployment>('Deployment');
    await apps.createNamespacedDeployment({ namespace: NS, body: { ...deployment, metadata: { ...deployment.metadata, namespace: NS } } });
    service = manifest<k8s.V1Service>('Service');
    service = await core.createNamespacedService({ namespace: NS, body: { ...service, metadata: { ...service.metadata, namespace: NS } } });
  });

  test('the Service without ready endpoints', async () => {
    await eventually('the EndpointSlice controller to write the slice', async () => {
      const slices = await discovery.listNamespacedEndpointSlice({ namespace: NS, labelSelector: `kubernetes.io/service-name=${SERVICE}` });
      assert.ok(slices.items.length > 0);
    });
    const r = await expectStatus(webhookServiceCheck, 'error', /^Service datadog\/datadog-admission-controller has no ready endpoints/);
    assert.match(r.fix, /kubectl -n datadog get pods -l app=datadog-cluster-agent/);
    assert.ok(r.evidence.some((l) => l.startsWith('cluster agent: Deployment datadog/datadog-cluster-agent, pod labels app=datadog-cluster-agent')), show(r));
  });

  test('healthy: a ready endpoint on port 8000 ("webhook")', async () => {
    // A ready cluster agent pod, as the EndpointSlice controller would list it once one runs.
    await discovery.createNamespacedEndpointSlice({
      namespace: NS,
      body: {
        metadata: { name: 'ready-agent', labels: { 'kubernetes.io/service-name': SERVICE, 'endpointslice.kubernetes.io/managed-by': 'tether-e2e' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['10.0.0.50'], conditions: { ready: true } }],
        ports: [{ name: 'webhook', port: 8000, protocol: 'TCP' }],
      },
    });
    const r = await expectStatus(webhookServiceCheck, 'ok', /^Service datadog\/datadog-admission-controller is in the cluster agent's namespace with 1 ready endpoint, forwarding port 443 to 8000$/);
    assert.ok(r.evidence.includes('port 443 of datadog/datadog-admission-controller → Deployment datadog/datadog-cluster-agent: targetPort "webhook" = containerPort 8000 of container cluster-agent'), show(r));
  });

  test("the Service's targetPort is not the webhook port (by number, or a name no container has)", async () => {
    const patch = (targetPort: number | string) =>
      core.patchNamespacedService({ name: SERVICE, namespace: NS, body: [{ op: 'replace', path: '/spec/ports/0/targetPort', value: targetPort }] }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch));
    try {
      await patch(8443);
      let r = await expectStatus(webhookServiceCheck, 'error', /^port 443 of Service datadog\/datadog-admission-controller does not forward to the webhook's port 8000 \(admission_controller\.port\): it forwards to 8443 \(targetPort 8443\)/);
      assert.match(r.fix, /"path":"\/spec\/ports\/0\/targetPort","value":8000/);
      await patch('https');
      r = await expectStatus(webhookServiceCheck, 'error', /targetPort "https" names no TCP container port/);
    } finally {
      await patch('webhook');
    }
    await expectStatus(webhookServiceCheck, 'ok');
  });

  test('the Service and the Secret in a namespace other than the cluster agent\'s', async () => {
    const secret = await core.readNamespacedSecret({ name: SECRET, namespace: NS });
    const move = async (from: string, to: string) => {
      await core.createNamespacedService({ namespace: to, body: { metadata: { name: SERVICE, namespace: to, labels: service.metadata?.labels ?? {} }, spec: { selector: service.spec?.selector ?? {}, ports: service.spec?.ports ?? [] } } });
      await core.deleteNamespacedService({ name: SERVICE, namespace: from });
      await core.createNamespacedSecret({ namespace: to, body: { metadata: { name: SECRET, namespace: to }, data: secret.data ?? {} } });
      await core.deleteNamespacedSecret({ name: SECRET, namespace: from });
    };
    await move(NS, ELSEWHERE);
    const caPem = Buffer.from(secret.data?.['ca.pem'] ?? '', 'base64').toString('utf8');
    await setWebhooks(desiredWebhookConfiguration({ config, namespace: ELSEWHERE, caBundlePem: caPem }).webhooks!);
    try {
      const r = await expectStatus(webhookServiceCheck, 'error', /^datadog-webhook calls Service elsewhere\/datadog-admission-controller, in a namespace other than the cluster agent's \(datadog\) \(and \d+ more problems: see the evidence\)$/);
      assert.ok(r.evidence.includes('Services named datadog-admission-controller: in elsewhere'), show(r));
      // Secrets are read only in Tether's namespace (a Role): the one elsewhere is not searched for.
      assert.ok(r.evidence.includes('Secret datadog/webhook-certificate: does not exist'), show(r));
      assert.match(r.fix, /Create the Service in datadog/);
      assert.match(r.fix, /the leader then creates datadog\/webhook-certificate/);
    } finally {
      await move(ELSEWHERE, NS);
      await setWebhooks(desiredWebhookConfiguration({ config, namespace: NS, caBundlePem: caPem }).webhooks!);
    }
    await expectStatus(webhookServiceCheck, 'ok');
  });
});

describe('network-policy', () => {
  const labels = { app: 'datadog-cluster-agent' };
  const create = (name: string, spec: k8s.V1NetworkPolicySpec) => networking.createNamespacedNetworkPolicy({ namespace: NS, body: { metadata: { name }, spec } });
  const remove = (name: string) => networking.deleteNamespacedNetworkPolicy({ name, namespace: NS }).catch(ignoreNotFound);

  test('healthy: no NetworkPolicy, and one that isolates other pods only', async () => {
    await expectStatus(networkPolicyCheck, 'ok', /^no NetworkPolicy in datadog$/);
    await create('others', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'] });
    try {
      await expectStatus(networkPolicyCheck, 'ok');
    } finally {
      await remove('others');
    }
  });

  test('a deny-all policy, then one that allows only the API port: the webhook port is blocked', async () => {
    await create('deny-all', { podSelector: {}, policyTypes: ['Ingress'] });
    try {
      let r = await expectStatus(networkPolicyCheck, 'error', /^NetworkPolicy deny-all selects the cluster agent \(Deployment datadog\/datadog-cluster-agent\) and allows no ingress on the webhook port TCP 8000 \("webhook"\)/);
      assert.match(r.fix, /ports: \[\{protocol: TCP, port: 8000\}\]/);
      await create('api-only', { podSelector: { matchLabels: labels }, ingress: [{ ports: [{ protocol: 'TCP', port: 5005 }] }] });
      r = await expectStatus(networkPolicyCheck, 'error', /^NetworkPolicies api-only, deny-all select the cluster agent/);
      // Allowed only from pods: the API server is not one.
      await create('from-pods', { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['datadog-cluster-agent'] }] }, ingress: [{ _from: [{ podSelector: {} }], ports: [{ port: 'webhook' }] }] });
      await expectStatus(networkPolicyCheck, 'warning', /NetworkPolicy from-pods allows the webhook port TCP 8000 \("webhook"\) of Deployment datadog\/datadog-cluster-agent only from pods or namespaces/);
      // The fix the check gives: one more policy allowing TCP 8000 from anywhere.
      await create('datadog-cluster-agent-webhook', { podSelector: { matchLabels: labels }, policyTypes: ['Ingress'], ingress: [{ ports: [{ protocol: 'TCP', port: 8000 }] }] });
      r = await expectStatus(networkPolicyCheck, 'ok');
      assert.ok(r.evidence.includes('Deployment datadog/datadog-cluster-agent: TCP 8000 ("webhook") allowed by datadog-cluster-agent-webhook'), show(r));
    } finally {
      for (const n of ['deny-all', 'api-only', 'from-pods', 'datadog-cluster-agent-webhook']) await remove(n);
    }
  });
});
