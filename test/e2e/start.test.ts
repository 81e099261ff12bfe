/**
 * `tether start` against a real etcd + kube-apiserver + kube-controller-manager, as Tether's own service
 * account (deploy/rbac.yaml, by impersonation): the API server calls Tether's webhooks for real pods,
 * the controllers create and repair the Secret and the MutatingWebhookConfiguration, two replicas elect
 * one leader, and pods are still created when Tether is down.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { caBundleDigest, certificateBlocks, inspectCertificate, isIssuedBy, issueServingCertificate } from '../../src/certs/index.js';
import { ENABLED_LABEL } from '../../src/config/index.js';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { eventually } from '../helpers/eventually.js';
import { tetherKubeconfigFile } from '../helpers/rbac.js';
import { freePort, spawnTether, type TetherProcess, withStartLog } from '../helpers/tether.js';

const NS = 'datadog';
const APPS = 'apps';
const SECRET = 'webhook-certificate';
const WEBHOOK = 'datadog-webhook';
const LEASE = 'datadog-leader-election';
const ENTRIES = ['datadog.webhook.config', 'datadog.webhook.tags', 'datadog.webhook.auto.instrumentation'];
/** Short lease so that failover fits in a test; the production default is 15 s. */
const LEASE_SECONDS = '3';
/** A new CA is used this long after the API server has it (default 60 s). */
const CA_PROPAGATION_SECONDS = '2';

let cp: ControlPlane;
let kubeconfigFile: string;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;
let admission: k8s.AdmissionregistrationV1Api;
let coordination: k8s.CoordinationV1Api;
let webhookPort: number;
let webhookUrl: string;
const replicas: TetherProcess[] = [];

function startReplica(port: number): TetherProcess {
  const p = spawnTether(
    ['start', '--kubeconfig', kubeconfigFile, '--namespace', NS, '--webhook-url', webhookUrl, '--port', String(port), '--host', '127.0.0.1'],
    { DD_LOG_LEVEL: 'debug', DD_LEADER_LEASE_DURATION: LEASE_SECONDS, DD_ADMISSION_CONTROLLER_CERTIFICATE_CA_PROPAGATION_SECONDS: CA_PROPAGATION_SECONDS },
  );
  replicas.push(p);
  return p;
}

async function identityOf(p: TetherProcess): Promise<string> {
  const line = await p.waitForLog((l) => typeof l['identity'] === 'string' && /cluster agent started/.test(String(l['msg'])));
  return line['identity'] as string;
}

async function leaseHolder(): Promise<string | undefined> {
  return (await coordination.readNamespacedLease({ name: LEASE, namespace: NS })).spec?.holderIdentity;
}

function envNames(c: k8s.V1Container): string[] {
  return (c.env ?? []).map((e) => e.name);
}

function labelledPod(name: string, extra: Partial<k8s.V1ObjectMeta> = {}): k8s.V1Pod {
  return {
    metadata: { name, labels: { [ENABLED_LABEL]: 'true', ...extra.labels }, ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
  };
}

const createPod = (body: k8s.V1Pod, dryRun?: boolean) => core.createNamespacedPod({ namespace: APPS, body, ...(dryRun ? { dryRun: 'All' } : {}) });

async function secretData(): Promise<Record<string, string>> {
  const s = await core.readNamespacedSecret({ name: SECRET, namespace: NS });
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

/** The serving certificate. */
const secretPem = async (): Promise<string> => (await secretData())['cert.pem'] ?? '';

/** Every entry's caBundle is the Secret's trust bundle (its CAs). */
async function assertCaBundlesMatchSecret(): Promise<void> {
  const pem = (await secretData())['ca.pem'] ?? '';
  const mwc = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
  for (const w of mwc.webhooks ?? []) {
    assert.equal(caBundleDigest(Buffer.from(w.clientConfig.caBundle ?? '', 'base64')), caBundleDigest(pem), `caBundle of ${w.name}`);
  }
}

/** A dry-run create of a labelled pod comes back with the config webhook's variable: the whole path works. */
async function webhookWorks(): Promise<void> {
  const pod = await createPod(labelledPod(`probe-${Date.now()}`), true);
  assert.ok(envNames(pod.spec!.containers[0]!).includes('DD_AGENT_HOST'), 'dry-run pod not mutated yet');
}

before(
  async () => {
    cp = await startControlPlane();
    const kc = cp.kubeConfig();
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
    coordination = kc.makeApiClient(k8s.CoordinationV1Api);
    kubeconfigFile = await tetherKubeconfigFile(cp, NS);
    await core.createNamespace({ body: { metadata: { name: APPS } } });
    webhookPort = await freePort();
    webhookUrl = `https://127.0.0.1:${webhookPort}`;
    const first = startReplica(webhookPort);
    await eventually('the webhook to mutate a dry-run pod', webhookWorks, 60_000, 300).catch(withStartLog(first));
  },
  { timeout: 60 * 60_000 },
);

after(async () => {
  await Promise.all(replicas.map((r) => r.stop(5_000)));
  // With TETHER_KEEP_CONTROL_PLANE=1 the replicas' logs are kept next to the control plane's.
  if (process.env['TETHER_KEEP_CONTROL_PLANE'] === '1' && cp) {
    await Promise.all(replicas.map((r, i) => writeFile(join(cp.dir, `tether-start-${i}.log`), r.stderr())));
    console.error(`tether logs kept in ${cp.dir}`);
  }
  await cp?.stop();
});

describe('tether start', () => {
  test('creates the Secret and a MutatingWebhookConfiguration as SPEC §4 describes, trusting that Secret', async () => {
    const mwc = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
    assert.deepEqual(mwc.webhooks?.map((w) => w.name), ENTRIES);
    for (const w of mwc.webhooks ?? []) {
      assert.match(w.clientConfig.url ?? '', new RegExp(`^${webhookUrl}/inject(config|tags|lib)$`));
      assert.deepEqual(w.objectSelector?.matchLabels, { [ENABLED_LABEL]: 'true' });
      assert.equal(w.failurePolicy, 'Ignore');
      assert.equal(w.reinvocationPolicy, 'IfNeeded');
      assert.equal(w.timeoutSeconds, 10);
      assert.equal(w.matchPolicy, 'Exact');
      assert.equal(w.sideEffects, 'None');
      assert.deepEqual(w.admissionReviewVersions, ['v1', 'v1beta1']);
      assert.deepEqual(w.rules?.map((r) => [r.operations, r.apiGroups, r.apiVersions, r.resources]), [[['CREATE'], [''], ['v1'], ['pods']]]);
    }
    const data = await secretData();
    const info = inspectCertificate(data['cert.pem']!);
    assert.deepEqual(info.dnsNames, ['datadog-admission-controller', 'datadog-admission-controller.datadog', 'datadog-admission-controller.datadog.svc', 'datadog-admission-controller.datadog.svc.cluster.local']);
    assert.deepEqual(info.ipAddresses, ['127.0.0.1']);
    // The serving certificate lives a week, signed by a CA that lives validity_bound (a year).
    const hours = (info.notAfter.getTime() - Date.now()) / 3_600_000;
    assert.ok(hours > 160 && hours <= 168, `serving certificate validity ${hours}h`);
    const [ca] = certificateBlocks(data['ca.pem']!);
    assert.ok(isIssuedBy(data['cert.pem']!, ca!));
    const caHours = (inspectCertificate(ca!).notAfter.getTime() - Date.now()) / 3_600_000;
    assert.ok(caHours > 8750 && caHours <= 8760, `CA validity ${caHours}h`);
    await assertCaBundlesMatchSecret();
    // Tether's own namespace and kube-system are never sent to the webhook (SPEC §4).
    for (const w of mwc.webhooks ?? []) {
      assert.deepEqual(w.namespaceSelector?.matchExpressions?.map((e) => ({ ...e })), [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [NS, 'kube-system'] }]);
    }
  });

  test('a labelled pod is mutated by all three webhooks', async () => {
    const pod = await createPod(
      labelledPod('full', {
        labels: { 'tags.datadoghq.com/env': 'prod', 'tags.datadoghq.com/service': 'shop', 'tags.datadoghq.com/version': '1.2' },
        annotations: { 'admission.datadoghq.com/java-lib.version': 'v1.40.0' },
      }),
    );
    const app = pod.spec!.containers[0]!;
    for (const v of ['DD_AGENT_HOST', 'DD_ENTITY_ID', 'DD_ENV', 'DD_SERVICE', 'DD_VERSION', 'JAVA_TOOL_OPTIONS']) assert.ok(envNames(app).includes(v), `${v} in ${envNames(app).join(',')}`);
    assert.equal(app.env?.find((e) => e.name === 'DD_AGENT_HOST')?.valueFrom?.fieldRef?.fieldPath, 'status.hostIP');
    assert.equal(app.env?.find((e) => e.name === 'DD_ENV')?.value, 'prod');
    assert.deepEqual(pod.spec!.initContainers?.map((c) => [c.name, c.image]), [['datadog-lib-java-init', 'gcr.io/datadoghq/dd-lib-java-init:v1.40.0']]);
  });

  test('an unlabelled pod and a pod labelled "false" are left alone', async () => {
    const plain = await createPod({ metadata: { name: 'plain' }, spec: { containers: [{ name: 'app', image: 'x' }] } });
    const off = await createPod({ metadata: { name: 'off', labels: { [ENABLED_LABEL]: 'false' } }, spec: { containers: [{ name: 'app', image: 'x' }] } });
    assert.deepEqual(envNames(plain.spec!.containers[0]!), []);
    assert.deepEqual(envNames(off.spec!.containers[0]!), []);
  });

  test('a server-side dry-run create is mutated too, and nothing is stored', async () => {
    const pod = await createPod(labelledPod('dry'), true);
    assert.ok(envNames(pod.spec!.containers[0]!).includes('DD_ENTITY_ID'));
    await assert.rejects(core.readNamespacedPod({ name: 'dry', namespace: APPS }), (e: unknown) => e instanceof k8s.ApiException && e.code === 404);
  });

  test("a Deployment's tags reach its pods through the ReplicaSet; the opt-in label on the Deployment itself does nothing", async () => {
    const tags = { 'tags.datadoghq.com/env': 'staging', 'tags.datadoghq.com/service': 'checkout', 'tags.datadoghq.com/version': '2.3.1' };
    const deployment = (name: string, templateLabel: boolean): k8s.V1Deployment => ({
      metadata: { name, labels: { ...tags, ...(templateLabel ? {} : { [ENABLED_LABEL]: 'true' }) } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name, ...(templateLabel ? { [ENABLED_LABEL]: 'true' } : {}) } },
          spec: { containers: [{ name: 'app', image: 'x' }] },
        },
      },
    });
    await apps.createNamespacedDeployment({ namespace: APPS, body: deployment('checkout', true) });
    await apps.createNamespacedDeployment({ namespace: APPS, body: deployment('wrong-place', false) });
    const podOf = (app: string) =>
      eventually(`a pod of ${app}`, async () => {
        const list = await core.listNamespacedPod({ namespace: APPS, labelSelector: `app=${app}` });
        assert.equal(list.items.length, 1);
        return list.items[0]!;
      });
    const good = await podOf('checkout');
    const env = Object.fromEntries((good.spec!.containers[0]!.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env['DD_ENV'], 'staging');
    assert.equal(env['DD_SERVICE'], 'checkout');
    assert.equal(env['DD_VERSION'], '2.3.1');
    const bad = await podOf('wrong-place');
    assert.deepEqual(envNames(bad.spec!.containers[0]!), []);
  });

  test('a reconcile with nothing to change writes nothing (no update loop)', async () => {
    const rv = async () => [(await admission.readMutatingWebhookConfiguration({ name: WEBHOOK })).metadata?.resourceVersion, (await core.readNamespacedSecret({ name: SECRET, namespace: NS })).metadata?.resourceVersion];
    const before = await rv();
    await new Promise((r) => setTimeout(r, 4_000));
    assert.deepEqual(await rv(), before);
  });

  test('drift in the webhook configuration is repaired: an entry deleted, a caBundle edited, a selector changed', async () => {
    const mwc = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
    const webhooks = (mwc.webhooks ?? []).filter((w) => w.name !== 'datadog.webhook.tags').map((w) => structuredClone(w));
    webhooks[0]!.clientConfig.caBundle = Buffer.from('not the right CA').toString('base64');
    webhooks[1]!.objectSelector = { matchLabels: { something: 'else' } };
    await admission.replaceMutatingWebhookConfiguration({ name: WEBHOOK, body: { ...mwc, webhooks } });
    await eventually('the configuration to be repaired', async () => {
      const now = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
      assert.deepEqual(now.webhooks?.map((w) => w.name), ENTRIES);
      for (const w of now.webhooks ?? []) assert.deepEqual(w.objectSelector?.matchLabels, { [ENABLED_LABEL]: 'true' });
      await assertCaBundlesMatchSecret();
    });
  });

  test('a deleted webhook configuration is recreated', async () => {
    await admission.deleteMutatingWebhookConfiguration({ name: WEBHOOK });
    await eventually('the configuration to be recreated', async () => {
      const now = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
      assert.deepEqual(now.webhooks?.map((w) => w.name), ENTRIES);
    });
    await assertCaBundlesMatchSecret();
  });

  test('a deleted Secret is recreated with a new certificate; the caBundle follows and the server serves it', async () => {
    const old = await secretPem();
    await core.deleteNamespacedSecret({ name: SECRET, namespace: NS });
    await eventually('a new Secret', async () => assert.notEqual(await secretPem(), old));
    await eventually('the caBundle to follow', assertCaBundlesMatchSecret);
    // Only a server presenting the new certificate is trusted by the API server now.
    await eventually('pods to be mutated with the new certificate', webhookWorks);
  });

  test('a serving certificate close to its expiry is renewed from the same CA; the caBundle does not change', async () => {
    const data = await secretData();
    const bundleBefore = data['ca.pem']!;
    // One hour left, far inside the renewal window, signed by the Secret's own CA.
    const short = await issueServingCertificate({
      ca: { certPem: certificateBlocks(bundleBefore).at(-1)!, keyPem: data['ca-key.pem']! },
      dnsNames: ['datadog-admission-controller', 'datadog-admission-controller.datadog', 'datadog-admission-controller.datadog.svc', 'datadog-admission-controller.datadog.svc.cluster.local', '127.0.0.1'],
      notAfter: new Date(Date.now() + 3_600_000),
    });
    const s = await core.readNamespacedSecret({ name: SECRET, namespace: NS });
    await core.replaceNamespacedSecret({ name: SECRET, namespace: NS, body: { ...s, data: { ...s.data, 'cert.pem': Buffer.from(short.certPem).toString('base64'), 'key.pem': Buffer.from(short.keyPem).toString('base64') } } });
    await eventually('the certificate to be renewed', async () => {
      const hours = (inspectCertificate(await secretPem()).notAfter.getTime() - Date.now()) / 3_600_000;
      assert.ok(hours > 100, `${hours}h left`);
    });
    assert.equal((await secretData())['ca.pem'], bundleBefore);
    await assertCaBundlesMatchSecret();
    await eventually('pods to be mutated with the renewed certificate', webhookWorks);
  });

  test('a CA rotation asked for by annotation: the new CA is published first, the serving certificate follows; pods are mutated throughout', async () => {
    const before = await secretData();
    const s = await core.readNamespacedSecret({ name: SECRET, namespace: NS });
    await core.replaceNamespacedSecret({ name: SECRET, namespace: NS, body: { ...s, metadata: { ...s.metadata, annotations: { ...s.metadata?.annotations, 'tether.dev/rotate': 'ca' } } } });
    await eventually('the serving certificate to come from the new CA', async () => {
      const now = await secretData();
      const cas = certificateBlocks(now['ca.pem']!);
      assert.equal(cas.length, 2);
      assert.ok(isIssuedBy(now['cert.pem']!, cas[1]!), 'served from the new CA');
      // Meanwhile the API server keeps calling the webhook and trusting what it serves.
      await webhookWorks();
    });
    const after = await core.readNamespacedSecret({ name: SECRET, namespace: NS });
    assert.equal(after.metadata?.annotations?.['tether.dev/rotate'], undefined, 'the request is consumed');
    assert.ok((await secretData())['ca.pem']!.startsWith(before['ca.pem']!), 'the old CA stays trusted');
    await assertCaBundlesMatchSecret();
  });

  test('two replicas elect one leader; when it stops the other takes over and keeps the certificate valid', async () => {
    const a = replicas[0]!;
    const idA = await identityOf(a);
    assert.equal(await leaseHolder(), idA);
    const b = startReplica(await freePort());
    const idB = await identityOf(b);
    // B serves the same certificate (it follows the Secret) but does not lead.
    await b.waitForLog((l) => l['msg'] === 'serving the certificate from the Secret');
    await new Promise((r) => setTimeout(r, 2 * Number(LEASE_SECONDS) * 1000));
    assert.equal(await leaseHolder(), idA);
    assert.ok(!b.logs().some((l) => l['msg'] === 'became the leader'), 'B must not lead while A renews');

    assert.equal(await a.stop(), 0);
    assert.match(a.stderr(), /released the leader Lease/);
    await eventually('B to lead', async () => assert.equal(await leaseHolder(), idB), 20_000);
    await b.waitForLog((l) => l['msg'] === 'became the leader');

    // B now runs the controllers: a deleted Secret comes back, and the configuration trusts it.
    await core.deleteNamespacedSecret({ name: SECRET, namespace: NS });
    await eventually('B to recreate the Secret', async () => assert.ok((await secretPem()).includes('BEGIN CERTIFICATE')));
    await eventually('the caBundle to follow', assertCaBundlesMatchSecret);
  });

  test('with Tether stopped, labelled pods are still created (fail open), without injection', async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    const pod = await createPod(labelledPod('while-down'));
    assert.deepEqual(envNames(pod.spec!.containers[0]!), []);
  });

  test("with failurePolicy Fail and Tether down, its own namespace and kube-system still create pods (no webhook deadlock)", async () => {
    const mwc = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
    await admission.replaceMutatingWebhookConfiguration({ name: WEBHOOK, body: { ...mwc, webhooks: (mwc.webhooks ?? []).map((w) => ({ ...w, failurePolicy: 'Fail' })) } });
    await eventually('the API server to refuse labelled pods elsewhere', async () => {
      await assert.rejects(createPod(labelledPod(`refused-${Date.now()}`), true), /failed calling webhook/);
    });
    for (const namespace of [NS, 'kube-system']) {
      await core.createNamespacedPod({ namespace, body: labelledPod(`replacement-${namespace}`), dryRun: 'All' });
    }
  });
});
