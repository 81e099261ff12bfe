/**
 * The Helm chart installed for real (issue 11): `helm install` into a real control plane, then `tether
 * start` run outside the cluster as the chart's ServiceAccount (impersonation), with the configuration the
 * chart's Deployment gives it and `--webhook-url` (no kubelet runs the pods here): a labelled pod created
 * through the API is mutated; `tether diagnose`, as the chart's tether-diagnose identity, finds nothing
 * wrong; `helm upgrade` keeps the token, the webhook certificate and what the leader wrote; `helm
 * uninstall` leaves nothing of Tether behind but the webhook certificate Secret (documented in NOTES.txt).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { ENABLED_LABEL, parseConfig } from '../../src/config/index.js';
import { CHECKS } from '../../src/diagnose/checks/index.js';
import { impersonatingKubeConfig, startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { eventually } from '../helpers/eventually.js';
import { CHART_DIR, helm, helmBinary, valuesFile } from '../helpers/helm.js';
import { cleanEnv, freePort, spawnTether, TETHER_MAIN, type TetherProcess, withStartLog } from '../helpers/tether.js';

const run = promisify(execFile);

const NS = 'datadog';
const APPS = 'apps';
const RELEASE = 'tether';
const WEBHOOK = 'datadog-webhook';
const CERT_SECRET = 'webhook-certificate';
const TOKEN_SECRET = 'datadog-cluster-agent';
const CA_CONFIGMAP = 'datadog-cluster-agent-ca';
const LEASE = 'datadog-leader-election';
/** Where the node agents export (agents.otlp.endpoint); nothing listens there: no node agent runs here. */
const OTLP_ENDPOINT = 'http://otel-collector.observability:4318';
/** What the install sets beyond the defaults: the diagnose identity the test runs diagnose as, an OTLP endpoint. */
const VALUES = { diagnose: { rbac: { create: true } }, agents: { otlp: { endpoint: OTLP_ENDPOINT } } };

let cp: ControlPlane;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;
let admission: k8s.AdmissionregistrationV1Api;
let coordination: k8s.CoordinationV1Api;
let tether: TetherProcess | undefined;
let installNotes = '';

const kubeconfigArgs = (): string[] => ['--kubeconfig', cp.kubeconfigPath, '--namespace', NS];

async function writeKubeconfig(name: string, user: string): Promise<string> {
  const file = join(cp.dir, `${name}.kubeconfig`);
  await writeFile(file, impersonatingKubeConfig(cp, user).exportConfig(), { mode: 0o600 });
  return file;
}

/** The console's admin token, as the release's Secret holds it. */
async function consoleAdminOf(): Promise<string> {
  const s = await core.readNamespacedSecret({ name: 'datadog-cluster-agent-console', namespace: NS });
  return Buffer.from(s.data?.['admin-token'] ?? '', 'base64').toString();
}

async function tokenOf(): Promise<string> {
  const s = await core.readNamespacedSecret({ name: TOKEN_SECRET, namespace: NS });
  return Buffer.from(s.data?.['token'] ?? '', 'base64').toString();
}

/**
 * `tether start` as the pods of the chart's Deployment would run it: as its ServiceAccount, with the
 * Deployment's literal environment and the token from the chart's Secret; outside the cluster, so with
 * --webhook-url and a local port instead of the pod's.
 */
async function startTether(): Promise<TetherProcess> {
  const deployment = await apps.readNamespacedDeployment({ name: 'datadog-cluster-agent', namespace: NS });
  const container = deployment.spec!.template.spec!.containers[0]!;
  const sa = deployment.spec!.template.spec!.serviceAccountName!;
  const env: Record<string, string> = { DD_CLUSTER_AGENT_AUTH_TOKEN: await tokenOf() };
  for (const e of container.env ?? []) if (e.value !== undefined && e.name !== 'DD_ADMISSION_CONTROLLER_PORT') env[e.name] = e.value;
  const kubeconfig = await writeKubeconfig('cluster-agent', `system:serviceaccount:${NS}:${sa}`);
  const port = await freePort();
  const p = spawnTether(['start', '--kubeconfig', kubeconfig, '--namespace', NS, '--webhook-url', `https://127.0.0.1:${port}`, '--port', String(port), '--api-port', '0', '--host', '127.0.0.1'], env);
  await eventually(
    'the leader to fill in the webhook configuration, the certificate, the CA ConfigMap and the Lease',
    async () => {
      const mwc = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
      assert.equal(mwc.webhooks?.length, 3);
      await core.readNamespacedSecret({ name: CERT_SECRET, namespace: NS });
      assert.ok((await core.readNamespacedConfigMap({ name: CA_CONFIGMAP, namespace: NS })).data?.['ca.pem']);
      assert.ok((await coordination.readNamespacedLease({ name: LEASE, namespace: NS })).spec?.holderIdentity);
    },
    60_000,
    300,
  ).catch(withStartLog(p));
  return p;
}

before(
  async () => {
    [cp] = await Promise.all([startControlPlane(), helmBinary()]);
    const admin = cp.kubeConfig();
    core = admin.makeApiClient(k8s.CoreV1Api);
    apps = admin.makeApiClient(k8s.AppsV1Api);
    admission = admin.makeApiClient(k8s.AdmissionregistrationV1Api);
    coordination = admin.makeApiClient(k8s.CoordinationV1Api);
    await core.createNamespace({ body: { metadata: { name: APPS } } });
  },
  { timeout: 60 * 60_000 },
);

after(async () => {
  await tether?.stop(5_000);
  await cp?.stop();
});

describe('helm install, then tether start as the chart\'s ServiceAccount', () => {
  test('helm install tether deploy/helm/tether -n datadog --create-namespace', async () => {
    const r = await helm(['install', RELEASE, CHART_DIR, ...kubeconfigArgs(), '--create-namespace', '-f', valuesFile(VALUES)]);
    assert.equal(r.code, 0, r.stderr);
    installNotes = r.stdout;
    assert.match(installNotes, /tether diagnose -n datadog/);
    assert.match(await tokenOf(), /^[A-Za-z0-9]{48}$/);
    // A real install (lookup sees the cluster) generates the console's admin token too: not the agents'.
    assert.match(await consoleAdminOf(), /^[A-Za-z0-9]{48}$/);
    assert.notEqual(await consoleAdminOf(), await tokenOf());
    const mwc = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
    assert.equal(mwc.webhooks, undefined, 'the release\'s, empty until the leader fills it');
  });

  test('a labelled pod created through the API is mutated', async () => {
    tether = await startTether();
    const pod = await core.createNamespacedPod({
      namespace: APPS,
      body: { metadata: { name: 'web', labels: { [ENABLED_LABEL]: 'true' } }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] } },
    });
    const env = new Map((pod.spec!.containers[0]!.env ?? []).map((e) => [e.name, e]));
    // The chart's default mode (service): the node-local Service the chart created.
    assert.equal(env.get('DD_AGENT_HOST')?.value, `datadog.${NS}.svc.cluster.local`);
    assert.equal(env.get('DD_ENTITY_ID')?.valueFrom?.fieldRef?.fieldPath, 'metadata.uid');
    const local = await core.readNamespacedService({ name: 'datadog', namespace: NS });
    assert.equal(local.spec?.internalTrafficPolicy, 'Local');
  });

  test('the installed node agent DaemonSet receives where the webhook sends pods (service mode) and exports to agents.otlp', async () => {
    const ds = await apps.readNamespacedDaemonSet({ name: 'datadog-agent', namespace: NS });
    const c = ds.spec!.template.spec!.containers[0]!;
    // The configuration `tether node-agent` reads from that pod spec's literal env, as the API server stored
    // it: an empty value is not stored (omitempty), and the container gets the variable set to "".
    const config = parseConfig({ env: Object.fromEntries((c.env ?? []).filter((e) => !e.valueFrom).map((e) => [e.name, e.value ?? ''])) });
    assert.equal(config.dogstatsd_non_local_traffic, true);
    assert.equal(config['apm_config.apm_non_local_traffic'], true);
    assert.equal(config.dogstatsd_socket, '', 'no socket in service mode');
    assert.equal(config['apm_config.receiver_socket'], '');
    assert.equal(config.otlp_endpoint, OTLP_ENDPOINT);
    assert.deepEqual(
      (c.ports ?? []).map((p) => [p.name, p.containerPort, p.protocol, p.hostPort ?? null]),
      [
        ['status', config['node_agent.port'], 'TCP', null],
        ['dogstatsdport', config.dogstatsd_port, 'UDP', null],
        ['traceport', config['apm_config.receiver_port'], 'TCP', null],
      ],
    );
    assert.equal(c.securityContext?.runAsUser, 65532);
    // The node-local Service the pods are sent to lands on those ports.
    const local = await core.readNamespacedService({ name: 'datadog', namespace: NS });
    assert.deepEqual(local.spec?.ports?.map((p) => [p.port, p.protocol, p.targetPort]), [
      [config.dogstatsd_port, 'UDP', 'dogstatsdport'],
      [config['apm_config.receiver_port'], 'TCP', 'traceport'],
    ]);
    assert.match(installNotes, new RegExp(`traces to ${OTLP_ENDPOINT}/v1/traces,\nDogStatsD metrics to ${OTLP_ENDPOINT}/v1/metrics`));
  });

  test('tether diagnose, as the chart\'s tether-diagnose ServiceAccount, runs every check and finds nothing wrong', async () => {
    const kubeconfig = await writeKubeconfig('diagnose', `system:serviceaccount:${NS}:tether-diagnose`);
    const r = await run(process.execPath, [TETHER_MAIN, 'diagnose', '--kubeconfig', kubeconfig, '-n', NS, '-o', 'json'], { env: cleanEnv(), timeout: 120_000 }).catch(
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: `exit ${e.code}: ${e.stderr}` }),
    );
    const results = JSON.parse(r.stdout) as { name: string; status: string; summary: string }[];
    assert.deepEqual(results.map((x) => x.name), CHECKS.map((c) => c.name));
    const problems = results.filter((x) => x.status === 'error' || x.status === 'warning' || /not allowed/.test(x.summary));
    assert.deepEqual(problems, [], JSON.stringify(results, null, 2));
  });
});

describe('helm upgrade', () => {
  test('keeps the token, the webhook certificate and what the leader wrote', async () => {
    const token = await tokenOf();
    const admin = await consoleAdminOf();
    const cert = await core.readNamespacedSecret({ name: CERT_SECRET, namespace: NS });
    const mwc = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
    const ca = await core.readNamespacedConfigMap({ name: CA_CONFIGMAP, namespace: NS });
    const holder = (await coordination.readNamespacedLease({ name: LEASE, namespace: NS })).spec?.holderIdentity;

    // A change of values, as an upgrade brings: the log level.
    const r = await helm(['upgrade', RELEASE, CHART_DIR, ...kubeconfigArgs(), '-f', valuesFile({ ...VALUES, datadog: { logLevel: 'debug' } })]);
    assert.equal(r.code, 0, r.stderr);
    const deployment = await apps.readNamespacedDeployment({ name: 'datadog-cluster-agent', namespace: NS });
    assert.equal(deployment.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'DD_LOG_LEVEL')?.value, 'debug', 'the upgrade was applied');

    assert.equal(await tokenOf(), token, 'the generated token, read back with lookup');
    assert.equal(await consoleAdminOf(), admin, "the console's admin token, kept the same way");
    const certAfter = await core.readNamespacedSecret({ name: CERT_SECRET, namespace: NS });
    assert.deepEqual(certAfter.data, cert.data);
    assert.equal(certAfter.metadata?.resourceVersion, cert.metadata?.resourceVersion, 'not even rewritten');
    const mwcAfter = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
    assert.deepEqual(mwcAfter.webhooks, mwc.webhooks, 'the entries the leader wrote');
    assert.deepEqual((await core.readNamespacedConfigMap({ name: CA_CONFIGMAP, namespace: NS })).data, ca.data);
    assert.equal((await coordination.readNamespacedLease({ name: LEASE, namespace: NS })).spec?.holderIdentity, holder);
  });
});

describe('helm uninstall', () => {
  test('leaves no Tether object behind but the webhook certificate Secret, as NOTES.txt says', async () => {
    // The cluster agent still runs while helm deletes (its pods take their grace period to stop): the
    // objects it would recreate go after its RBAC.
    const r = await helm(['uninstall', RELEASE, ...kubeconfigArgs()]);
    assert.equal(r.code, 0, r.stderr);
    await tether?.stop(15_000);
    tether = undefined;

    const gone = async (what: string, read: () => Promise<unknown>) => {
      await eventually(`${what} to be deleted`, async () => {
        await read().then(
          () => assert.fail(`${what} is still there`),
          (e: unknown) => assert.ok(e instanceof k8s.ApiException && e.code === 404, String(e)),
        );
      });
    };
    const rbac = cp.kubeConfig().makeApiClient(k8s.RbacAuthorizationV1Api);
    await gone(`MutatingWebhookConfiguration ${WEBHOOK}`, () => admission.readMutatingWebhookConfiguration({ name: WEBHOOK }));
    await gone(`Lease ${LEASE}`, () => coordination.readNamespacedLease({ name: LEASE, namespace: NS }));
    for (const name of [CA_CONFIGMAP, 'datadog-node-agents']) await gone(`ConfigMap ${name}`, () => core.readNamespacedConfigMap({ name, namespace: NS }));
    await gone(`Secret ${TOKEN_SECRET}`, () => core.readNamespacedSecret({ name: TOKEN_SECRET, namespace: NS }));
    for (const name of ['datadog-cluster-agent', 'datadog-agent', 'tether-diagnose']) {
      await gone(`ClusterRole ${name}`, () => rbac.readClusterRole({ name }));
      await gone(`ClusterRoleBinding ${name}`, () => rbac.readClusterRoleBinding({ name }));
      await gone(`ServiceAccount ${name}`, () => core.readNamespacedServiceAccount({ name, namespace: NS }));
    }
    await gone('Role datadog-cluster-agent', () => rbac.readNamespacedRole({ name: 'datadog-cluster-agent', namespace: NS }));
    for (const name of ['datadog-admission-controller', 'datadog-cluster-agent', 'datadog']) await gone(`Service ${name}`, () => core.readNamespacedService({ name, namespace: NS }));
    await gone('Deployment', () => apps.readNamespacedDeployment({ name: 'datadog-cluster-agent', namespace: NS }));
    await gone('DaemonSet', () => apps.readNamespacedDaemonSet({ name: 'datadog-agent', namespace: NS }));

    // Nothing else of the release: every object it labelled.
    const selector = `app.kubernetes.io/instance=${RELEASE}`;
    assert.deepEqual((await core.listNamespacedConfigMap({ namespace: NS, labelSelector: selector })).items.map((o) => o.metadata?.name), []);
    assert.deepEqual((await rbac.listClusterRole({ labelSelector: selector })).items.map((o) => o.metadata?.name), []);

    // What stays, and the command NOTES.txt gives to remove it.
    const left = (await core.listNamespacedSecret({ namespace: NS })).items.map((s) => s.metadata?.name);
    assert.deepEqual(left, [CERT_SECRET]);
    assert.match(installNotes, new RegExp(`kubectl -n ${NS} delete secret ${CERT_SECRET}`));
  });
});
