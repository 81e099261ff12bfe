/**
 * `tether status` and `tether diagnose` on a real control plane, run as the read-only `tether-diagnose`
 * service account (deploy/diagnose-rbac.yaml, by impersonation), against what `tether start` (as its own
 * service account) created: every section's lines match the objects as the API server holds them, and
 * `-o json` carries the same data. `tether status` as the cluster agent's own service account too (what
 * `kubectl exec <pod> -- agent status` runs as).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { caBundleDigest } from '../../src/certs/index.js';
import { CHECKS } from '../../src/diagnose/checks/index.js';
import { renderCheckListText } from '../../src/diagnose/render.js';
import type { StatusReport } from '../../src/status/index.js';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { eventually } from '../helpers/eventually.js';
import { applyTetherRbac, tetherKubeconfigFile, DIAGNOSE_MANIFEST, DIAGNOSE_SERVICE_ACCOUNT, NODE_AGENT_MANIFEST, NODE_AGENT_SERVICE_ACCOUNT } from '../helpers/rbac.js';
import { cleanEnv, freePort, spawnTether, TETHER_MAIN, type TetherProcess, withStartLog } from '../helpers/tether.js';

const NS = 'datadog';
const WEBHOOK = 'datadog-webhook';
const SECRET = 'webhook-certificate';
const LEASE = 'datadog-leader-election';
const API_SERVICE = 'datadog-cluster-agent';
const CA_CONFIGMAP = 'datadog-cluster-agent-ca';
const NODE_AGENTS = 'datadog-node-agents';
const TOKEN = 'status-e2e-token-0123456789abcdef0123456789';

const run = promisify(execFile);

let cp: ControlPlane;
let core: k8s.CoreV1Api;
let tether: TetherProcess;
let diagnoseKubeconfig: string;
/** The cluster agent's own service account: what `kubectl exec <cluster agent pod> -- agent status` runs as. */
let tetherKubeconfig: string;
let webhookUrl: string;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI as a user runs it, as tether-diagnose; resolves with the exit code (never rejects on one). */
async function cli(...args: string[]): Promise<Ran> {
  try {
    const { stdout, stderr } = await run(process.execPath, [TETHER_MAIN, ...args], { env: cleanEnv(), timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    if (typeof err.code !== 'number') throw e;
    return { code: err.code, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

const status = (...extra: string[]) => cli('status', '--kubeconfig', diagnoseKubeconfig, '-n', NS, ...extra);

before(
  async () => {
    cp = await startControlPlane();
    const admin = cp.kubeConfig();
    core = admin.makeApiClient(k8s.CoreV1Api);
    const asDiagnose = await applyTetherRbac(cp, NS, DIAGNOSE_MANIFEST, DIAGNOSE_SERVICE_ACCOUNT);
    // A whole install: the node agents' service account and kubelet RBAC too.
    await applyTetherRbac(cp, NS, NODE_AGENT_MANIFEST, NODE_AGENT_SERVICE_ACCOUNT);
    tetherKubeconfig = await tetherKubeconfigFile(cp, NS);
    diagnoseKubeconfig = join(cp.dir, 'diagnose.kubeconfig');
    await writeFile(diagnoseKubeconfig, asDiagnose.exportConfig(), { mode: 0o600 });
    const port = await freePort();
    webhookUrl = `https://127.0.0.1:${port}`;
    tether = spawnTether(
      ['start', '--kubeconfig', tetherKubeconfig, '--namespace', NS, '--webhook-url', webhookUrl, '--port', String(port), '--api-port', '0', '--host', '127.0.0.1'],
      { DD_CLUSTER_AGENT_AUTH_TOKEN: TOKEN },
    );
    const coordination = admin.makeApiClient(k8s.CoordinationV1Api);
    const admission = admin.makeApiClient(k8s.AdmissionregistrationV1Api);
    await eventually(
      'the webhook configuration, the CA ConfigMap and a leader',
      async () => {
        const mwc = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
        assert.equal(mwc.webhooks?.length, 3);
        await core.readNamespacedConfigMap({ name: CA_CONFIGMAP, namespace: NS });
        assert.ok((await coordination.readNamespacedLease({ name: LEASE, namespace: NS })).spec?.holderIdentity);
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

async function secretText(key: string): Promise<string> {
  const s = await core.readNamespacedSecret({ name: SECRET, namespace: NS });
  return Buffer.from(s.data?.[key] ?? '', 'base64').toString('utf8');
}

describe('tether status (as tether-diagnose)', () => {
  test("Admission Controller: the seed's lines, each value as the API server holds it", async () => {
    const admin = cp.kubeConfig();
    const mwc = await admin.makeApiClient(k8s.AdmissionregistrationV1Api).readMutatingWebhookConfiguration({ name: WEBHOOK });
    const secret = await core.readNamespacedSecret({ name: SECRET, namespace: NS });
    const r = await status();
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    const section = lines.slice(0, lines.indexOf('Leader Election') - 1);
    const digest = caBundleDigest(await secretText('ca.pem'));
    const entries = [
      ['datadog.webhook.auto.instrumentation', '/injectlib'],
      ['datadog.webhook.config', '/injectconfig'],
      ['datadog.webhook.tags', '/injecttags'],
    ].flatMap(([name, path]) => [
      '      ---------',
      `        Name: ${name}`,
      `        CA bundle digest: ${digest}`,
      `        Namespace selector: &LabelSelector{MatchLabels:map[string]string{},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:kubernetes.io/metadata.name,Operator:NotIn,Values:[${NS} kube-system],},},}`,
      '        Object selector: &LabelSelector{MatchLabels:map[string]string{admission.datadoghq.com/enabled: true,},MatchExpressions:[]LabelSelectorRequirement{},}',
      '        Rule 1: Operations: [CREATE] - APIGroups: [] - APIVersions: [v1] - Resources: [pods]',
      `        URL: ${webhookUrl}${path}`,
    ]);
    const created = (d: Date | undefined) => d!.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const expiry = section.at(-1)!;
    assert.deepEqual(section.slice(0, -1), [
      'Admission Controller',
      '====================',
      '',
      '    Webhooks info',
      '    -------------',
      `      MutatingWebhookConfigurations name: ${WEBHOOK}`,
      `      Created at: ${created(mwc.metadata?.creationTimestamp)}`,
      ...entries,
      '',
      '    Secret info',
      '    -----------',
      `    Secret name: ${SECRET}`,
      `    Secret namespace: ${NS}`,
      `    Created at: ${created(secret.metadata?.creationTimestamp)}`,
      `    CA bundle digest: ${digest}`,
    ]);
    // The serving certificate lives a week at most.
    const m = /^    Duration before certificate expiration: (\d+)h\d+m[\d.]+s$/.exec(expiry);
    assert.ok(m, expiry);
    assert.ok(Number(m[1]) >= 160 && Number(m[1]) <= 168, expiry);
  });

  test('Leader Election, Cluster Agent API and Node Agents', async () => {
    const lease = await cp.kubeConfig().makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ name: LEASE, namespace: NS });
    const caPem = (await core.readNamespacedConfigMap({ name: CA_CONFIGMAP, namespace: NS })).data?.['ca.pem'] ?? '';
    const r = await status();
    assert.equal(r.code, 0, r.stderr);
    const text = r.stdout.slice(r.stdout.indexOf('Leader Election'));
    const leader = text.split('\n\n')[0]!.split('\n');
    assert.deepEqual(leader.slice(0, 5), [
      'Leader Election',
      '===============',
      '  Leader Election Status:  Running',
      `  Lease: ${NS}/${LEASE}`,
      `  Leader Name is: ${lease.spec?.holderIdentity}`,
    ]);
    assert.match(leader[5]!, /^  Last Acquisition of the lease: \d{4}-\d\d-\d\dT[\d:.]+Z$/);
    assert.match(leader[6]!, /^  Renewed leadership: \d{4}-\d\d-\d\dT[\d:.]+Z$/);
    assert.equal(leader[7], '  Number of leader transitions: 0 transitions');
    assert.ok(
      text.includes(
        [
          'Cluster Agent API',
          '=================',
          `  Service: ${NS}/${API_SERVICE} not found`,
          `  CA ConfigMap: ${NS}/${CA_CONFIGMAP}`,
          `  CA bundle digest: ${caBundleDigest(caPem)}`,
        ].join('\n'),
      ),
      text,
    );
    assert.ok(text.endsWith(['Node Agents', '===========', `  no node agent has reported (ConfigMap ${NS}/${NODE_AGENTS} not found)`, ''].join('\n')), text);
  });

  test("the API Service's ready endpoints, and each node agent's report once the ConfigMap exists", async () => {
    await core.createNamespacedService({
      namespace: NS,
      body: { metadata: { name: API_SERVICE }, spec: { selector: { app: API_SERVICE }, ports: [{ name: 'agentport', port: 5005, targetPort: 'api' as unknown as k8s.IntOrString }] } },
    });
    // Two replicas, one ready; a slice of our own (its managed-by is not the endpointslice controller's).
    const discovery = cp.kubeConfig().makeApiClient(k8s.DiscoveryV1Api);
    await discovery.createNamespacedEndpointSlice({
      namespace: NS,
      body: {
        metadata: { name: `${API_SERVICE}-test`, labels: { 'kubernetes.io/service-name': API_SERVICE, 'endpointslice.kubernetes.io/managed-by': 'tether-e2e' } },
        addressType: 'IPv4',
        ports: [{ name: 'agentport', port: 5005, protocol: 'TCP' }],
        endpoints: [
          { addresses: ['10.1.0.1'], conditions: { ready: true } },
          { addresses: ['10.1.0.2'], conditions: { ready: false } },
        ],
      },
    });
    const report = (node: string, kubelet: object, clusterAgent: object) => [node, JSON.stringify({ lastSeen: new Date().toISOString(), kubelet, clusterAgent })];
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: {
        metadata: { name: NODE_AGENTS },
        data: Object.fromEntries([
          report('node-b', { state: 'error', code: 'forbidden', summary: 'kubelet answered 403 Forbidden' }, { state: 'ok' }),
          report('node-a', { state: 'ok' }, { state: 'error', code: 'unauthorized', summary: 'cluster agent answered 403 invalid session token' }),
        ]),
      },
    });
    const r = await status();
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(`  Service: ${NS}/${API_SERVICE} - Port: 5005\n  Endpoints: 1 ready, 1 not ready\n`), r.stdout);
    const nodes = r.stdout.slice(r.stdout.indexOf('Node Agents')).split('\n');
    assert.deepEqual(
      nodes.filter((l) => !l.startsWith('    Last seen:')),
      [
        'Node Agents',
        '===========',
        '  ---------',
        '    Node: node-a',
        '    Kubelet: ok',
        '    Cluster agent: error (unauthorized): cluster agent answered 403 invalid session token',
        '  ---------',
        '    Node: node-b',
        '    Kubelet: error (forbidden): kubelet answered 403 Forbidden',
        '    Cluster agent: ok',
        '',
      ],
    );
    assert.equal(nodes.filter((l) => /^    Last seen: \S+Z \(\d+(\.\d+)?s ago\)$/.test(l)).length, 2, nodes.join('\n'));
  });

  test('-o json: the same data', async () => {
    const [text, json] = await Promise.all([status(), status('-o', 'json')]);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as StatusReport;
    const w = report.admissionController.webhook;
    assert.ok(w.found);
    assert.deepEqual(w.entries.map((e) => e.name), ['datadog.webhook.auto.instrumentation', 'datadog.webhook.config', 'datadog.webhook.tags']);
    for (const e of w.entries) {
      assert.ok(text.stdout.includes(`        Name: ${e.name}\n        CA bundle digest: ${e.caBundleDigest}\n`));
      assert.deepEqual(e.rules, [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }]);
      assert.match(e.url ?? '', /^https:\/\/127\.0\.0\.1:\d+\/inject(lib|config|tags)$/);
    }
    const s = report.admissionController.secret;
    assert.ok(s.found);
    assert.equal(s.caBundleSource, 'ca.pem');
    assert.equal(s.caBundleDigest, caBundleDigest(await secretText('ca.pem')));
    assert.ok(s.certificateExpiresAt && s.caExpiresAt && s.caExpiresAt > s.certificateExpiresAt);
    assert.equal(report.leaderElection.state, 'Running');
    assert.ok(text.stdout.includes(`  Leader Name is: ${report.leaderElection.holderIdentity}\n`));
    assert.equal(report.clusterAgentApi.readyEndpoints, 1);
    assert.deepEqual(report.clusterAgentApi.errors, []);
    assert.deepEqual(report.nodeAgents.nodes.map((n) => [n.node, n.kubelet?.state, n.clusterAgent?.code]), [
      ['node-a', 'ok', 'unauthorized'],
      ['node-b', 'error', undefined],
    ]);
  });

  // In the cluster agent's pod, `agent status` runs as the pod's service account (deploy/rbac.yaml),
  // not tether-diagnose: every section must still be read (a 403 shows as a section's error).
  test("as the cluster agent's service account (agent status in its pod): every section read, none refused", async () => {
    const r = await cli('status', '--kubeconfig', tetherKubeconfig, '-n', NS, '-o', 'json');
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as StatusReport;
    const { webhook, secret } = report.admissionController;
    assert.ok(webhook.found, JSON.stringify(webhook));
    assert.ok(secret.found, JSON.stringify(secret));
    assert.equal(report.leaderElection.state, 'Running', report.leaderElection.error);
    assert.deepEqual(report.clusterAgentApi.errors, []);
    assert.ok(report.clusterAgentApi.serviceFound);
    assert.equal(report.clusterAgentApi.readyEndpoints, 1);
    assert.ok(report.clusterAgentApi.caConfigMapFound);
    assert.equal(report.nodeAgents.error, undefined);
    assert.deepEqual(report.nodeAgents.nodes.map((n) => n.node), ['node-a', 'node-b']);
  });

  test('-o anything-else is a usage error', async () => {
    const r = await status('-o', 'yaml');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /-o yaml: expected one of text, json/);
  });
});

describe('tether diagnose (as tether-diagnose)', () => {
  test('--list: each check and what it finds', async () => {
    const r = await cli('diagnose', '--list');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, renderCheckListText(CHECKS));
  });

  test('--check nosuch: exit 2, naming the checks there are', async () => {
    const r = await cli('diagnose', '--kubeconfig', diagnoseKubeconfig, '-n', NS, '--check', 'nosuch');
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`unknown check nosuch; the checks are: ${CHECKS.map((c) => c.name).join(', ') || '\\(none\\)'}`));
    assert.equal(r.stdout, '');
  });

  test('a healthy cluster diagnoses clean, as tether-diagnose: every check runs, none finds a problem or lacks a permission, exit 0', async () => {
    const r = await cli('diagnose', '--kubeconfig', diagnoseKubeconfig, '-n', NS, '-o', 'json');
    const results = JSON.parse(r.stdout) as { name: string; status: string; summary: string }[];
    assert.deepEqual(results.map((x) => x.name), CHECKS.map((c) => c.name));
    const problems = results.filter((x) => x.status === 'error' || x.status === 'warning' || /not allowed/.test(x.summary));
    assert.deepEqual(problems, [], JSON.stringify(results, null, 2));
    assert.equal(r.code, 0, r.stderr);
    // The text form, one line per check (kept for the README with TETHER_KEEP_CONTROL_PLANE=1).
    const text = await cli('diagnose', '--kubeconfig', diagnoseKubeconfig, '-n', NS);
    assert.equal(text.code, 0);
    for (const c of CHECKS) assert.match(text.stdout, new RegExp(`^(ok|skipped)\\s+${c.name}\\s`, 'm'));
    if (process.env['TETHER_KEEP_CONTROL_PLANE'] === '1') await writeFile(join(cp.dir, 'diagnose.txt'), text.stdout);
  });
});
