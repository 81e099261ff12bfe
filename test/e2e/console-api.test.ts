/**
 * The console API (issue 12) served by `tether start` against a real control plane, as Tether's own
 * service account (deploy/rbac.yaml): two nodes with pods bound to each (no scheduler: spec.nodeName is
 * set at creation), each node's list holds exactly its own pods (the seed's bug cannot come back); a pod
 * created while the event stream is open arrives on it, marked injected; after the webhook's caBundle is
 * broken, the health answer and the diagnose results say so.
 *
 * The leader repairs a broken caBundle within milliseconds, so for the last test Tether is restarted
 * while another identity holds the Lease: it serves the webhook, the API and the console, and leaves
 * the configuration as the test breaks it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import * as k8s from '@kubernetes/client-node';
import { generateCa } from '../../src/certs/index.js';
import { ENABLED_LABEL } from '../../src/config/index.js';
import type { DiagnoseAnswer, PodRow, PodsPage, SessionAnswer, WebhookHealth } from '../../src/console/types.js';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { eventually } from '../helpers/eventually.js';
import { tetherKubeconfigFile } from '../helpers/rbac.js';
import { freePort, spawnTether, type TetherProcess, withStartLog } from '../helpers/tether.js';

const NS = 'datadog';
const APPS = 'apps';
const WEBHOOK = 'datadog-webhook';
const LEASE = 'datadog-leader-election';
const TOKEN = 't'.repeat(16) + '-console-e2e-agents-token-0123456789';
/** The console's admin token: not the node agents' TOKEN (issue 20). */
const ADMIN = 'a'.repeat(16) + '-console-e2e-admin-token-0123456789';
const VIEWER = 'v'.repeat(16) + '-console-e2e-viewer-token-012345678';
const NODES = { 'node-a': ['a1', 'a2'], 'node-b': ['b1', 'b2'] } as const;

let cp: ControlPlane;
let core: k8s.CoreV1Api;
let admission: k8s.AdmissionregistrationV1Api;
let coordination: k8s.CoordinationV1Api;
let kubeconfigFile: string;
let webhookPort: number;
let apiPort: number;
let tether: TetherProcess | undefined;
let caPem = '';

function start(): TetherProcess {
  tether = spawnTether(
    ['start', '--kubeconfig', kubeconfigFile, '--namespace', NS, '--webhook-url', `https://127.0.0.1:${webhookPort}`, '--port', String(webhookPort), '--api-port', String(apiPort), '--host', '127.0.0.1'],
    { DD_CLUSTER_AGENT_AUTH_TOKEN: TOKEN, DD_CLUSTER_AGENT_CONSOLE_ADMIN_TOKEN: ADMIN, DD_CLUSTER_AGENT_CONSOLE_VIEWER_TOKEN: VIEWER, DD_LEADER_LEASE_DURATION: '3', DD_LOG_LEVEL: 'debug' },
  );
  return tether;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A request to the cluster agent API, trusting the webhook Secret's CA (which issues its certificate). */
function call(method: string, path: string, o: { cookie?: string; token?: string; body?: unknown } = {}): Promise<Answer> {
  const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: apiPort,
        path,
        method,
        ca: caPem,
        agent: false,
        headers: {
          ...(payload !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}),
          ...(o.cookie ? { Cookie: o.cookie } : {}),
          ...(o.token ? { Authorization: `Bearer ${o.token}` } : {}),
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function login(token: string): Promise<string> {
  const r = await call('POST', '/api/v1/console/login', { body: { token } });
  assert.equal(r.status, 200, r.body);
  const set = (r.headers['set-cookie'] as string[])[0]!;
  assert.match(set, /HttpOnly; Secure; SameSite=Strict/);
  return set.split(';')[0]!;
}

async function getJson<T>(path: string, cookie: string): Promise<T> {
  const r = await call('GET', path, { cookie });
  assert.equal(r.status, 200, `${path}: ${r.status} ${r.body}`);
  return JSON.parse(r.body) as T;
}

async function secretCa(): Promise<string> {
  const s = await core.readNamespacedSecret({ name: 'webhook-certificate', namespace: NS });
  return Buffer.from(s.data?.['ca.pem'] ?? '', 'base64').toString('utf8');
}

const pod = (name: string, node: string, labelled: boolean): k8s.V1Pod => ({
  metadata: { name, ...(labelled ? { labels: { [ENABLED_LABEL]: 'true' } } : {}) },
  spec: { nodeName: node, containers: [{ name: 'app', image: 'registry.example/app:1' }] },
});

before(
  async () => {
    cp = await startControlPlane();
    const kc = cp.kubeConfig();
    core = kc.makeApiClient(k8s.CoreV1Api);
    admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
    coordination = kc.makeApiClient(k8s.CoordinationV1Api);
    kubeconfigFile = await tetherKubeconfigFile(cp, NS);
    await core.createNamespace({ body: { metadata: { name: APPS } } });
    for (const node of Object.keys(NODES)) await core.createNode({ body: { metadata: { name: node } } });
    [webhookPort, apiPort] = await Promise.all([freePort(), freePort()]);
    const t = start();
    await eventually(
      'the webhook to mutate a dry-run pod and the API to serve',
      async () => {
        const dry = await core.createNamespacedPod({ namespace: APPS, body: pod(`probe-${Date.now()}`, 'node-a', true), dryRun: 'All' });
        assert.ok((dry.spec?.containers[0]?.env ?? []).some((e) => e.name === 'DD_ENTITY_ID'));
        caPem = await secretCa();
        assert.equal((await call('GET', '/api/v1/console/session')).status, 401);
      },
      90_000,
      300,
    ).catch(withStartLog(t));
    for (const [node, names] of Object.entries(NODES)) {
      for (const name of names) await core.createNamespacedPod({ namespace: APPS, body: pod(name, node, name.endsWith('1')) });
    }
  },
  { timeout: 60 * 60_000 },
);

after(async () => {
  await tether?.stop(5_000);
  await cp?.stop();
});

describe('the console API of tether start', () => {
  test('a wrong token is refused (403), no cookie at all is 401', async () => {
    assert.equal((await call('POST', '/api/v1/console/login', { body: { token: 'x'.repeat(40) } })).status, 403);
    assert.equal((await call('GET', '/api/v1/console/nodes')).status, 401);
    // The token every node agent holds is not a console login (issue 20).
    assert.equal((await call('POST', '/api/v1/console/login', { body: { token: TOKEN } })).status, 403);
    assert.ok(!tether!.stderr().includes(TOKEN), 'the token is never logged');
    assert.ok(!tether!.stderr().includes(ADMIN), 'the admin token is never logged');
  });

  test("each node's list holds exactly its own pods, with injection read from their spec", async () => {
    const cookie = await login(VIEWER);
    const session = await getJson<SessionAnswer>('/api/v1/console/session', cookie);
    assert.equal(session.role, 'viewer');
    for (const [node, names] of Object.entries(NODES)) {
      await eventually(`${node}'s pods in the console`, async () => {
        const page = await getJson<PodsPage>(`/api/v1/console/nodes/${node}/pods`, cookie);
        assert.deepEqual(
          page.rows.map((r) => [r.name, r.node, r.injected]),
          names.map((n) => [n, node, n.endsWith('1')]),
        );
      });
    }
    const unlabelled = await getJson<PodsPage>('/api/v1/console/pods?q=b2', cookie);
    assert.equal(unlabelled.rows[0]?.reason, 'no-label');
  });

  test('a pod created while the event stream is open arrives on it, marked injected', async () => {
    const cookie = await login(ADMIN);
    const events: { event: string; data: any }[] = [];
    let text = '';
    let onData = (): void => {};
    const req = https.get({ host: '127.0.0.1', port: apiPort, path: '/api/v1/console/events?node=node-a', ca: caPem, agent: false, headers: { Cookie: cookie } }, (res) => {
      assert.equal(res.statusCode, 200);
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
        const blocks = text.split('\n\n');
        text = blocks.pop() ?? '';
        for (const b of blocks) {
          const ev = /^event: (.*)$/m.exec(b);
          const data = /^data: (.*)$/m.exec(b);
          if (ev && data) events.push({ event: ev[1]!, data: JSON.parse(data[1]!) });
        }
        onData();
      });
    });
    const waitFor = (pred: () => boolean, what: string, ms = 30_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${what} on the event stream within ${ms} ms: ${JSON.stringify(events).slice(0, 2000)}`)), ms);
        onData = () => {
          if (pred()) {
            clearTimeout(timer);
            resolve();
          }
        };
        onData();
      });
    try {
      await waitFor(() => events.some((e) => e.event === 'hello'), 'hello');
      await core.createNamespacedPod({ namespace: APPS, body: pod('a3', 'node-a', true) });
      await core.createNamespacedPod({ namespace: APPS, body: pod('b3', 'node-b', true) });
      const row = (): PodRow | undefined => events.filter((e) => e.event === 'pods').flatMap((e) => e.data.upserted as PodRow[]).find((r) => r.name === 'a3');
      await waitFor(() => row() !== undefined, 'row of pod a3');
      assert.deepEqual([row()!.node, row()!.injected, row()!.reason, row()!.mode], ['node-a', true, 'injected', 'hostip']);
      assert.ok(!events.some((e) => e.event === 'pods' && (e.data.upserted as PodRow[]).some((r) => r.node !== 'node-a')), "only node-a's pods on node-a's stream");
    } finally {
      req.destroy();
    }
  });

  test('tether console serves the same from a kubeconfig, on loopback, with the login token it prints', async () => {
    const local = spawnTether(['console', '--kubeconfig', cp.kubeconfigPath, '--namespace', NS, '--port', '0']);
    try {
      let out = '';
      local.child.stdout!.setEncoding('utf8');
      local.child.stdout!.on('data', (d: string) => (out += d));
      await local.waitForLog((l) => l['msg'] === 'Tether console listening');
      await eventually('the URL and token on stdout', async () => assert.match(out, /Login token/));
      const url = /Tether console: (http:\/\/127\.0\.0\.1:\d+)\/console\//.exec(out)![1]!;
      const token = /Login token \(valid until this command stops\): ([0-9a-f]+)/.exec(out)![1]!;
      assert.ok(!local.stderr().includes(token), 'the token is printed, never logged');
      const res = await fetch(`${url}/api/v1/console/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }) });
      assert.equal(res.status, 200);
      const cookie = res.headers.getSetCookie()[0]!.split(';')[0]!;
      await eventually("node-b's pods", async () => {
        const page = (await (await fetch(`${url}/api/v1/console/nodes/node-b/pods`, { headers: { Cookie: cookie } })).json()) as PodsPage;
        assert.deepEqual(page.rows.map((r) => r.name).filter((n) => !n.startsWith('b3')), ['b1', 'b2']);
        assert.ok(page.rows.every((r) => r.node === 'node-b'));
      });
      // Another Host (a rebound DNS name) gets nothing.
      const rebound = await new Promise<number>((resolve, reject) =>
        http.get(`${url}/api/v1/console/session`, { headers: { Host: 'evil.example' } }, (r) => (r.resume(), resolve(r.statusCode ?? 0))).on('error', reject),
      );
      assert.equal(rebound, 421);
    } finally {
      await local.stop(5_000);
    }
  });

  test("a broken caBundle shows in the webhook's health and in diagnose", { timeout: 180_000 }, async () => {
    // Tether stops (releasing the Lease), another identity takes the Lease, Tether comes back as a follower.
    await tether!.stop(15_000);
    const lease = await coordination.readNamespacedLease({ name: LEASE, namespace: NS });
    const now = new k8s.V1MicroTime();
    await coordination.replaceNamespacedLease({
      name: LEASE,
      namespace: NS,
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'someone-else', leaseDurationSeconds: 3600, acquireTime: now, renewTime: now } },
    });
    const t = start();
    await eventually('the restarted API to answer', async () => assert.equal((await call('GET', '/api/v1/console/session')).status, 401), 60_000, 300).catch((e: Error) => {
      throw new Error(`${e.message}\n${t.stderr().slice(-4000)}`);
    });
    const other = await generateCa({ commonName: 'not-tethers-ca', validityHours: 24 });
    const mwc = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
    mwc.webhooks![0]!.clientConfig.caBundle = Buffer.from(other.certPem).toString('base64');
    await admission.replaceMutatingWebhookConfiguration({ name: WEBHOOK, body: mwc });
    const broken = mwc.webhooks![0]!.name;

    const cookie = await login(ADMIN);
    const health = await eventually(
      'the health to show the broken caBundle',
      async () => {
        const h = await getJson<WebhookHealth>('/api/v1/console/webhook', cookie);
        assert.equal(h.state, 'error', JSON.stringify(h));
        return h;
      },
      30_000,
      500,
    );
    assert.equal(health.configuration.entries.find((e) => e.name === broken)?.caBundleMatches, false);
    assert.equal(health.leader?.holderIdentity, 'someone-else');
    assert.equal(health.leader?.self, false);

    const d = await eventually(
      'diagnose to finish',
      async () => {
        const a = await getJson<DiagnoseAnswer>('/api/v1/console/diagnose', cookie);
        assert.ok(a.latest, 'no run finished yet');
        return a;
      },
      120_000,
      1000,
    );
    const check = d.latest!.results.find((r) => r.name === 'webhook-configuration');
    assert.equal(check?.status, 'error', JSON.stringify(check));
    assert.match(check!.summary, /caBundle/);
    assert.ok(check!.fix.length > 0);
  });
});
