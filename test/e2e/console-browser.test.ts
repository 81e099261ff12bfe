/**
 * The web console (issue 12) in a real browser (Debian's Chromium driven by playwright-core) against
 * `tether start` on the real control plane, with two nodes and pods bound to each: each node lists
 * exactly its own pods (the first seed's overview showed every pod on every node: that must not come
 * back); a pod created while the page is open appears, marked injected; node agents' results show, a
 * kubelet 403 with its fix; a broken caBundle shows in the webhook panel and in the diagnose results; a
 * wrong token gets the login page and no data.
 * Screenshots of each state go to test-results/console/.
 *
 * Order matters and is kept: the last test takes the leader Lease away from Tether (so that it does
 * not repair the caBundle it breaks within milliseconds) and does not give it back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { Page } from 'playwright-core';
import { generateCa } from '../../src/certs/index.js';
import { CLUSTER_AGENT_CA_CONFIGMAP, ENABLED_LABEL } from '../../src/config/index.js';
import { CONSOLE_PAGE_PATH } from '../../src/console/types.js';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { launchBrowser, screenshot, type Browser } from '../helpers/browser.js';
import { eventually } from '../helpers/eventually.js';
import { startKubeletDouble, type KubeletDouble } from '../helpers/kubeletDouble.js';
import { applyTetherRbac, tetherKubeconfigFile, NODE_AGENT_MANIFEST, NODE_AGENT_SERVICE_ACCOUNT } from '../helpers/rbac.js';
import { freePort, spawnTether, type TetherProcess, withStartLog } from '../helpers/tether.js';

const NS = 'datadog';
const APPS = 'apps';
const WEBHOOK = 'datadog-webhook';
const LEASE = 'datadog-leader-election';
const TOKEN = randomBytes(24).toString('hex');
/** Waits on the page: a live update goes API server → watch → coalescing → event stream → render. */
const UI_TIMEOUT_MS = 30_000;

/** The pods each node runs, bound before Tether starts (so the labelled ones were created before the webhook). */
const PODS_BEFORE: ReadonlyArray<readonly [name: string, node: string, label: string | undefined]> = [
  ['web-1', 'n1', 'true'],
  ['plain-1', 'n1', undefined],
  ['web-2', 'n2', 'true'],
  ['plain-2', 'n2', undefined],
  ['off-2', 'n2', 'false'],
  ['floating', '', 'true'],
];

let cp: ControlPlane;
let core: k8s.CoreV1Api;
let admission: k8s.AdmissionregistrationV1Api;
let coordination: k8s.CoordinationV1Api;
let tether: TetherProcess;
let apiUrl: string;
let consoleUrl: string;
const kubelets: KubeletDouble[] = [];
const nodeAgents: TetherProcess[] = [];
let browser: Browser;
let page: Page;

function pod(name: string, node: string, label: string | undefined): k8s.V1Pod {
  return {
    metadata: { name, labels: { app: name, ...(label === undefined ? {} : { [ENABLED_LABEL]: label }) } },
    spec: { ...(node ? { nodeName: node } : {}), containers: [{ name: 'app', image: 'registry.example/app:1' }] },
  };
}

/** `namespace/name` of every pod row the page shows in `node`'s expanded list. */
async function podsShownOn(node: string): Promise<string[]> {
  return (await page.locator(`table[data-node="${node}"] tr[data-pod]`).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-pod') ?? ''))).sort();
}

/** Expands `node`'s row from the keyboard (focus, Enter), as someone without a mouse would. */
async function expandNode(node: string): Promise<void> {
  const button = page.locator(`tbody[data-node="${node}"] button.expander`);
  if ((await button.getAttribute('aria-expanded')) !== 'true') {
    await button.focus();
    await page.keyboard.press('Enter');
  }
  await page.locator(`table[data-node="${node}"]`).waitFor({ timeout: UI_TIMEOUT_MS });
}

async function serviceAccountToken(name: string): Promise<string> {
  const r = await core.createNamespacedServiceAccountToken({ name, namespace: NS, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  return r.status!.token;
}

async function secretFile(name: string, text: string): Promise<string> {
  const path = join(cp.dir, name);
  await writeFile(path, text, { mode: 0o600 });
  return path;
}

/** A node agent of `node` reading a kubelet double, as deploy/node-agent.yaml runs it, with `serviceAccount`'s token. */
async function startNodeAgent(node: string, serviceAccount: string): Promise<void> {
  const kubelet = await startKubeletDouble({ controlPlane: cp, nodeName: node });
  kubelets.push(kubelet);
  const ca = await eventually('the CA ConfigMap', async () => {
    const cm = await core.readNamespacedConfigMap({ name: CLUSTER_AGENT_CA_CONFIGMAP, namespace: NS });
    assert.match(cm.data?.['ca.pem'] ?? '', /BEGIN CERTIFICATE/);
    return cm.data!['ca.pem']!;
  });
  const p = spawnTether(['node-agent', '--port', '0', '--host', '127.0.0.1', '-n', NS], {
    DD_KUBERNETES_KUBELET_NODENAME: node,
    DD_KUBERNETES_KUBELET_HOST: kubelet.host,
    DD_KUBERNETES_HTTPS_KUBELET_PORT: String(kubelet.port),
    DD_KUBELET_AUTH_TOKEN_PATH: await secretFile(`${node}.token`, await serviceAccountToken(serviceAccount)),
    DD_KUBELET_CLIENT_CA: await secretFile(`kubelet-${node}-ca.pem`, kubelet.caPem),
    DD_CLUSTER_AGENT_URL: apiUrl,
    DD_CLUSTER_AGENT_AUTH_TOKEN: TOKEN,
    DD_CLUSTER_AGENT_CA_FILE: await secretFile('cluster-agent-ca.pem', ca),
  });
  nodeAgents.push(p);
  await p.waitForLog((l) => /node agent of node/.test(String(l['msg'])));
}

async function goTo(section: string): Promise<void> {
  await page.locator(`header nav a[href="#${section}"]`).click();
  await page.locator(`header nav a[href="#${section}"][aria-current="page"]`).waitFor();
}

before(
  async () => {
    cp = await startControlPlane();
    const kc = cp.kubeConfig();
    core = kc.makeApiClient(k8s.CoreV1Api);
    admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
    coordination = kc.makeApiClient(k8s.CoordinationV1Api);
    await applyTetherRbac(cp, NS, NODE_AGENT_MANIFEST, NODE_AGENT_SERVICE_ACCOUNT);
    const kubeconfigFile = await tetherKubeconfigFile(cp, NS);
    for (const name of ['n1', 'n2']) await core.createNode({ body: { metadata: { name } } });
    await core.createNamespace({ body: { metadata: { name: APPS } } });
    for (const [name, node, label] of PODS_BEFORE) await core.createNamespacedPod({ namespace: APPS, body: pod(name, node, label) });

    const [webhookPort, apiPort] = await Promise.all([freePort(), freePort()]);
    tether = spawnTether(
      ['start', '--kubeconfig', kubeconfigFile, '--namespace', NS, '--webhook-url', `https://127.0.0.1:${webhookPort}`, '--port', String(webhookPort), '--host', '127.0.0.1', '--api-port', String(apiPort)],
      // The console's admin login (its own token in a real install; the same bytes here are enough for the page).
      { DD_LOG_LEVEL: 'debug', DD_LEADER_LEASE_DURATION: '3', DD_CLUSTER_AGENT_AUTH_TOKEN: TOKEN, DD_CLUSTER_AGENT_CONSOLE_ADMIN_TOKEN: TOKEN },
    );
    apiUrl = `https://127.0.0.1:${apiPort}`;
    consoleUrl = `${apiUrl}${CONSOLE_PAGE_PATH}`;
    // The webhook works end to end (a dry-run pod comes back mutated) before the page opens.
    await eventually(
      'the webhook to mutate a dry-run pod',
      async () => {
        const p = await core.createNamespacedPod({ namespace: APPS, body: pod(`probe-${Date.now()}`, 'n1', 'true'), dryRun: 'All' });
        assert.ok(p.spec!.containers[0]!.env?.some((e) => e.name === 'DD_ENTITY_ID'), 'dry-run pod not mutated yet');
      },
      90_000,
      300,
    ).catch(withStartLog(tether));
    browser = await launchBrowser();
    page = await browser.newPage();
  },
  { timeout: 10 * 60_000 },
);

after(async () => {
  await browser?.close();
  await Promise.all(nodeAgents.map((p) => p.stop(5_000)));
  await Promise.all(kubelets.map((k) => k.stop()));
  await tether?.stop(5_000);
  if (process.env['TETHER_KEEP_CONTROL_PLANE'] === '1' && cp) await writeFile(join(cp.dir, 'tether-start.log'), tether.stderr());
  await cp?.stop();
});

describe('web console in a browser', () => {
  test('a wrong token gets the login page with the error, and no data', async () => {
    await page.goto(consoleUrl);
    await page.locator('#token').fill('x'.repeat(48));
    await page.locator('button[type=submit]').click();
    const error = page.locator('#login-error');
    await error.waitFor({ timeout: UI_TIMEOUT_MS });
    assert.match(await error.innerText(), /invalid session token/);
    await screenshot(page, '01-login-wrong-token');
    assert.equal(await page.locator('header.top').count(), 0, 'no console around the login form');
    const text = await page.locator('body').innerText();
    for (const [name] of PODS_BEFORE) assert.ok(!text.includes(name), `${name} is not on the login page`);
    // And the API gives the page nothing either: there is no session.
    const status = await page.evaluate(async () => (await fetch('../api/v1/console/nodes')).status);
    assert.equal(status, 401);
    assert.ok(!tether.stderr().includes(TOKEN), 'the token is in no log line');
  });

  test('the right token opens the overview (from the keyboard)', async () => {
    await page.locator('#token').fill(TOKEN);
    await page.locator('#token').press('Enter');
    await page.locator('.stats').waitFor({ timeout: UI_TIMEOUT_MS });
    await page.locator('.live-live').waitFor({ timeout: UI_TIMEOUT_MS });
    const nodes = page.locator('.stat', { hasText: 'Nodes' }).locator('.stat-value');
    await eventually('two nodes in the overview', async () => assert.equal(await nodes.innerText(), '2'), UI_TIMEOUT_MS);
    await screenshot(page, '02-overview');
    // The session is a cookie the page's script cannot read, and the URL carries no token.
    assert.equal(await page.evaluate<string>('document.cookie'), '');
    assert.ok(!page.url().includes(TOKEN));
  });

  test('each node lists exactly its own pods, with their injection state', async () => {
    await goTo('nodes');
    await page.locator('table.nodes').waitFor({ timeout: UI_TIMEOUT_MS });
    await expandNode('n1');
    await expandNode('n2');
    for (const node of ['n1', 'n2']) {
      const mine = PODS_BEFORE.filter(([, n]) => n === node).map(([name]) => `${APPS}/${name}`).sort();
      await eventually(`${node}'s pods`, async () => assert.deepEqual(await podsShownOn(node), mine), UI_TIMEOUT_MS);
    }
    // Created before the webhook existed: opted in, not injected, and the page says why.
    const web1 = page.locator(`table[data-node="n1"] tr[data-pod="${APPS}/web-1"]`);
    assert.equal(await web1.getAttribute('data-injected'), 'false');
    assert.equal(await web1.getAttribute('data-reason'), 'created-before-webhook');
    assert.equal(await page.locator(`table[data-node="n1"] tr[data-pod="${APPS}/plain-1"]`).getAttribute('data-reason'), 'no-label');
    assert.equal(await page.locator(`table[data-node="n2"] tr[data-pod="${APPS}/off-2"]`).getAttribute('data-reason'), 'label-false');
    await screenshot(page, '03-nodes-own-pods');

    // Search by namespace and pod name lists matches across the cluster, each with its own node.
    await page.locator('#f-pod').fill('web-');
    const search = page.locator('table[aria-label="Matching pods"]');
    await eventually('the pod search', async () => assert.deepEqual((await search.locator('tr[data-pod]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-pod')))).sort(), [`${APPS}/web-1`, `${APPS}/web-2`]), UI_TIMEOUT_MS);
    await page.locator('#f-pod').fill('');
    await search.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
  });

  test('a pod created while the page is open appears on its node, marked injected', async () => {
    await core.createNamespacedPod({ namespace: APPS, body: pod('live-2', 'n2', 'true') });
    const row = page.locator(`table[data-node="n2"] tr[data-pod="${APPS}/live-2"]`);
    await row.waitFor({ timeout: UI_TIMEOUT_MS });
    assert.equal(await row.getAttribute('data-injected'), 'true');
    assert.match(await row.innerText(), /injected/);
    assert.match(await row.innerText(), /hostip/, 'the config mode read from its spec');
    assert.ok(!(await podsShownOn('n1')).includes(`${APPS}/live-2`), 'not on the other node');
    // Its detail: what the webhooks left in its spec.
    await row.locator('button').click();
    await page.locator('.pod-detail').waitFor({ timeout: UI_TIMEOUT_MS });
    await screenshot(page, '04-live-pod-injected');
    await row.locator('button').click();
  });

  test("node agents: each node's last kubelet and cluster agent results, a 403 with its fix", async () => {
    // n1's node agent is as deploy/node-agent.yaml makes it; n2's runs as a service account without kubelet RBAC.
    await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: 'no-rbac' } } });
    await startNodeAgent('n1', NODE_AGENT_SERVICE_ACCOUNT);
    await startNodeAgent('n2', 'no-rbac');
    await goTo('agents');
    const n1 = page.locator('li[data-agent-node="n1"]');
    const n2 = page.locator('li[data-agent-node="n2"]');
    // Reports reach the page through the cluster agent's ConfigMap, re-read every few seconds: reload until they show.
    await eventually(
      'both node agents on the page',
      async () => {
        await page.reload();
        await n2.locator('.upstream').first().waitFor({ timeout: 2_000 });
        assert.match(await n1.innerText(), /Kubelet\s+OK[\s\S]*Cluster agent\s+OK/);
        assert.match(await n2.innerText(), /Kubelet\s+Failing/);
      },
      60_000,
      1_000,
    );
    const n2Text = await n2.innerText();
    assert.match(n2Text, /403/);
    assert.match(n2Text, /forbidden/);
    assert.match(await n2.locator('.fix').first().innerText(), /nodes\/pods/, 'the fix names the missing permission');
    await screenshot(page, '05-node-agents', true);
    // Only the failing ones, as on a large cluster one would look for them.
    await page.locator('#a-state').selectOption('failing');
    await eventually('only n2 listed', async () => assert.deepEqual(await page.locator('li[data-agent-node]').evaluateAll((els) => els.map((e) => e.getAttribute('data-agent-node'))), ['n2']), UI_TIMEOUT_MS);
    await page.locator('#a-state').selectOption('');
  });

  test('a broken caBundle shows in the webhook panel and in the diagnose results', async () => {
    await goTo('webhook');
    await page.locator('section.webhook').waitFor({ timeout: UI_TIMEOUT_MS });
    assert.equal(await page.locator('tr[data-entry="datadog.webhook.config"]').getAttribute('data-ca-match'), 'true');
    await screenshot(page, '06-webhook-healthy', true);

    // Someone else holds the Lease: Tether steps down and no longer repairs the configuration.
    const lease = await coordination.readNamespacedLease({ name: LEASE, namespace: NS });
    // MicroTime: the API server takes only six fractional digits, which client-node writes for this class.
    const now = new k8s.V1MicroTime(Date.now());
    await coordination.replaceNamespacedLease({
      name: LEASE,
      namespace: NS,
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'console-test', leaseDurationSeconds: 3600, acquireTime: now, renewTime: now } },
    });
    await tether.waitForLog((l) => /no longer the leader/.test(String(l['msg'])), 30_000);
    const other = await generateCa({ commonName: 'someone else', validityHours: 100 });
    const mwc = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
    await admission.replaceMutatingWebhookConfiguration({
      name: WEBHOOK,
      body: {
        ...mwc,
        webhooks: mwc.webhooks!.map((w) => (w.name === 'datadog.webhook.config' ? { ...w, clientConfig: { ...w.clientConfig, caBundle: Buffer.from(other.certPem).toString('base64') } } : w)),
      },
    });

    await page.locator('tr[data-entry="datadog.webhook.config"][data-ca-match="false"]').waitFor({ timeout: UI_TIMEOUT_MS });
    await page.locator('section.webhook[data-state="error"]').waitFor({ timeout: UI_TIMEOUT_MS });
    assert.match(await page.locator('[aria-label="Webhook problems"]').innerText(), /caBundle|CA bundle/);
    assert.equal(await page.locator('tr[data-entry="datadog.webhook.tags"]').getAttribute('data-ca-match'), 'true');
    assert.match(await page.locator('section.webhook').innerText(), /console-test/, 'the leader is whoever holds the Lease');
    await screenshot(page, '07-webhook-broken-cabundle', true);

    await goTo('diagnose');
    // Tether ran diagnose once at start; runs are rate-limited, so the button waits until it may run again.
    await page.getByRole('button', { name: 'Run diagnose again' }).click({ timeout: 60_000 });
    const check = page.locator('li[data-check="webhook-configuration"]');
    await page
      .locator('li[data-check="webhook-configuration"][data-status="error"]')
      .waitFor({ timeout: 60_000 })
      .catch(async (e: Error) => {
        await screenshot(page, '08-diagnose-FAILED', true);
        throw new Error(`${e.message}\nthe page shows:\n${await page.locator('main').innerText()}`);
      });
    assert.match(await check.innerText(), /caBundle of datadog\.webhook\.config/);
    assert.match(await check.locator('.fix').innerText(), /\S/, 'with its fix');
    await screenshot(page, '08-diagnose-broken-cabundle', true);
  });

  test('on a phone-sized screen the nodes and their pods still read', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await goTo('nodes');
    await expandNode('n2');
    await page.locator(`table[data-node="n2"] tr[data-pod="${APPS}/live-2"]`).waitFor({ timeout: UI_TIMEOUT_MS });
    // (Expressions as strings: the tests compile without the DOM library.)
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    await screenshot(page, '09-phone-nodes');
  });
});
