/**
 * The console API (issue 12) against fakes: authentication with the cluster agent API's 401/403 words,
 * the session cookie's flags, sessions ending, the viewer's read-only role, cross-site POSTs, paging and
 * search, and above all that a node's pod list holds exactly the pods bound to it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeNodeAgentRecord, type NodeAgentRecord } from '../../../src/agentapi/nodeAgentReport.js';
import { NODE_AGENTS_CONFIGMAP } from '../../../src/config/conventions.js';
import { CONSOLE_HEALTH_MAX_AGE_MS, CONSOLE_SESSION_TTL_MS } from '../../../src/config/limits.js';
import type { ConsoleError, NodeRow, NodesPage, OverviewAnswer, PodDetail, PodsPage, SessionAnswer, WebhookHealth, DiagnoseAnswer } from '../../../src/console/types.js';
import { ADMIN, ENABLED, NS, podObject, startConsoleUnderTest, stored, VIEWER, type ConsoleUnderTest } from './harness.js';

let t: ConsoleUnderTest;
/** node → the pods put on it (namespace/name). */
const placed = new Map<string, Set<string>>();
const NODES = 120;
const JSON_POST = { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' } as const;

before(async () => {
  t = await startConsoleUnderTest();
  for (let i = 0; i < NODES; i++) t.store.apply('nodes', 'ADDED', { metadata: { name: `node-${String(i).padStart(3, '0')}` } });
  // Three pods per node for the first ten nodes: one injected, one opted out, one unlabelled; the same
  // pod names on every node, in two namespaces, so a list mixing nodes would show.
  for (let i = 0; i < 10; i++) {
    const node = `node-${String(i).padStart(3, '0')}`;
    const set = new Set<string>();
    placed.set(node, set);
    for (const [name, labels, ns] of [
      [`web-${i}`, ENABLED, 'apps'],
      [`batch-${i}`, { 'admission.datadoghq.com/enabled': 'false' }, 'apps'],
      [`cache-${i}`, {}, 'infra'],
    ] as const) {
      t.store.apply('pods', 'ADDED', stored(podObject({ name, namespace: ns, node, labels })));
      set.add(`${ns}/${name}`);
    }
  }
  t.store.apply('pods', 'ADDED', stored(podObject({ name: 'pending', labels: ENABLED })));
  // Opted in, created after the webhook configuration, not injected: missed.
  t.store.apply('pods', 'ADDED', stored(podObject({ name: 'missed-1', node: 'node-000', labels: ENABLED }), false));
  placed.get('node-000')!.add('apps/missed-1');
});
after(() => t.close());

const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;

describe('authentication', () => {
  test('no cookie, no token: 401 "no session token provided" with WWW-Authenticate: Bearer', async () => {
    const res = await t.fetch('/api/v1/console/overview');
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer');
    assert.deepEqual(await json<ConsoleError>(res), { error: 'no session token provided', code: 'missing' });
  });

  test('an unknown path says nothing more without a session (401, not 404)', async () => {
    assert.equal((await t.fetch('/api/v1/console/nope')).status, 401);
  });

  test('a wrong bearer token: 403 "invalid session token"', async () => {
    const res = await t.fetch('/api/v1/console/nodes', { token: 'x'.repeat(40) });
    assert.equal(res.status, 403);
    assert.deepEqual(await json<ConsoleError>(res), { error: 'invalid session token', code: 'invalid' });
  });

  test('another scheme: 401', async () => {
    const res = await t.fetch('/api/v1/console/nodes', { headers: { Authorization: `Basic ${Buffer.from(`a:${ADMIN}`).toString('base64')}` } });
    assert.equal(res.status, 401);
  });

  test('login with a wrong token: 403, no cookie, and the token is in no log line', async () => {
    const wrong = 'w'.repeat(33) + '-not-the-token';
    const { res } = await t.login(wrong);
    assert.equal(res.status, 403);
    assert.equal((await json<ConsoleError>(res)).error, 'invalid session token');
    assert.equal(res.headers.getSetCookie().length, 0);
    assert.ok(!t.log.text().includes(wrong));
  });

  test('login without a token: 401; with a body that is not JSON: 400', async () => {
    assert.equal((await t.login('')).res.status, 401);
    const res = await t.fetch('/api/v1/console/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: 'token=x' });
    assert.equal(res.status, 400);
  });

  test('login sets an HttpOnly, Secure, SameSite=Strict cookie holding a random id, never the token', async () => {
    const { res, cookie } = await t.login(ADMIN);
    assert.equal(res.status, 200);
    const set = res.headers.getSetCookie()[0] ?? '';
    for (const flag of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/api/v1/console', `Max-Age=${CONSOLE_SESSION_TTL_MS / 1000}`]) assert.ok(set.split('; ').includes(flag), `${flag} in ${set}`);
    assert.match(cookie, /^tether_console_session=[A-Za-z0-9_-]{43}$/);
    assert.ok(!set.includes(ADMIN));
    const session = await json<SessionAnswer>(res);
    assert.equal(session.role, 'admin');
    assert.equal(session.canRunDiagnose, true);
    const again = await t.fetch('/api/v1/console/session', { cookie });
    assert.equal(again.status, 200);
    assert.ok(!t.log.text().includes(ADMIN), 'the token is never logged');
    assert.ok(!t.log.text().includes(cookie.split('=')[1]!), 'nor the session id');
  });

  test('logout ends the session: the cookie is cleared and then refused (401, log in again)', async () => {
    const { cookie } = await t.login(ADMIN);
    const out = await t.fetch('/api/v1/console/logout', { ...JSON_POST, cookie });
    assert.equal(out.status, 204);
    assert.match(out.headers.getSetCookie()[0] ?? '', /^tether_console_session=; .*Max-Age=0/);
    const res = await t.fetch('/api/v1/console/session', { cookie });
    assert.equal(res.status, 401);
    assert.equal((await json<ConsoleError>(res)).code, 'expired');
  });

  test('a session expires server-side at its time, whatever the browser keeps', async () => {
    const { cookie } = await t.login(VIEWER);
    assert.equal((await t.fetch('/api/v1/console/session', { cookie })).status, 200);
    t.timers.advance(CONSOLE_SESSION_TTL_MS);
    const res = await t.fetch('/api/v1/console/session', { cookie });
    assert.equal(res.status, 401);
    assert.equal((await json<ConsoleError>(res)).code, 'expired');
  });

  test('the viewer reads but may not run diagnose (403)', async () => {
    const { res, cookie } = await t.login(VIEWER);
    assert.equal((await json<SessionAnswer>(res)).canRunDiagnose, false);
    assert.equal((await t.fetch('/api/v1/console/nodes', { cookie })).status, 200);
    const run = await t.fetch('/api/v1/console/diagnose', { ...JSON_POST, cookie });
    assert.equal(run.status, 403);
    assert.equal((await json<ConsoleError>(run)).code, 'forbidden');
  });

  test('a POST from another origin, or not JSON, is refused (403)', async () => {
    const { cookie } = await t.login(ADMIN);
    const crossOrigin = await t.fetch('/api/v1/console/logout', { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: 'https://evil.example' }, body: '{}', cookie });
    assert.equal(crossOrigin.status, 403);
    const form = await t.fetch('/api/v1/console/logout', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'a=b', cookie });
    assert.equal(form.status, 403);
    assert.equal((await t.fetch('/api/v1/console/session', { cookie })).status, 200, 'the session is still alive');
  });

  test('a GET endpoint refuses POST (405 with Allow)', async () => {
    const res = await t.fetch('/api/v1/console/nodes', { ...JSON_POST, token: ADMIN });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
  });
});

describe('nodes and pods', () => {
  test("each node's list holds exactly the pods bound to it (spec.nodeName), none of another node's", async () => {
    for (const [node, expected] of placed) {
      const page = await json<PodsPage>(await t.fetch(`/api/v1/console/nodes/${node}/pods?limit=1000`, { token: ADMIN }));
      assert.equal(page.node, node);
      assert.deepEqual(new Set(page.rows.map((r) => `${r.namespace}/${r.name}`)), expected, node);
      assert.ok(page.rows.every((r) => r.node === node));
      assert.equal(page.total, expected.size);
    }
    const empty = await json<PodsPage>(await t.fetch('/api/v1/console/nodes/node-119/pods', { token: ADMIN }));
    assert.deepEqual(empty.rows, []);
  });

  test('pods are marked injected from their own spec, or given the reason', async () => {
    const page = await json<PodsPage>(await t.fetch('/api/v1/console/nodes/node-000/pods', { token: ADMIN }));
    const by = new Map(page.rows.map((r) => [r.name, r]));
    assert.equal(by.get('web-0')?.injected, true);
    assert.equal(by.get('web-0')?.mode, 'hostip');
    assert.equal(by.get('batch-0')?.reason, 'label-false');
    assert.equal(by.get('cache-0')?.reason, 'no-label');
    assert.equal(by.get('missed-1')?.reason, 'missed');
    const node = await json<NodeRow>(await t.fetch('/api/v1/console/nodes/node-000', { token: ADMIN }));
    assert.deepEqual({ pods: node.pods, injected: node.injected, missed: node.missed }, { pods: 4, injected: 1, missed: 1 });
  });

  test('nodes are paged in name order, with the total; search by name', async () => {
    const page = await json<NodesPage>(await t.fetch('/api/v1/console/nodes?offset=100&limit=50', { token: ADMIN }));
    assert.equal(page.total, NODES);
    assert.deepEqual(
      page.rows.map((r) => r.name),
      Array.from({ length: 20 }, (_, i) => `node-${100 + i}`),
    );
    const found = await json<NodesPage>(await t.fetch('/api/v1/console/nodes?q=NODE-00', { token: ADMIN }));
    assert.equal(found.total, 10);
    assert.equal(found.rows[0]?.pods, 4);
  });

  test('pods across the cluster: by namespace, by name, by node, injected only; unscheduled with node=', async () => {
    const get = async (q: string) => json<PodsPage>(await t.fetch(`/api/v1/console/pods?${q}`, { token: ADMIN }));
    assert.equal((await get('namespace=infra&limit=5')).total, 10);
    assert.deepEqual((await get('namespace=infra&limit=3')).rows.map((r) => r.name), ['cache-0', 'cache-1', 'cache-2']);
    assert.deepEqual((await get('q=apps/web-3')).rows.map((r) => r.name), ['web-3']);
    assert.equal((await get('injected=true')).total, 11);
    assert.deepEqual((await get('node=node-004')).rows.map((r) => r.node), ['node-004', 'node-004', 'node-004']);
    assert.deepEqual((await get('node=')).rows.map((r) => r.name), ['pending']);
    const second = await get('offset=2&limit=2');
    const all = await get('limit=1000');
    assert.deepEqual(second.rows, all.rows.slice(2, 4));
    assert.equal(all.total, 32);
  });

  test('bad query parameters: 400 naming them', async () => {
    const res = await t.fetch('/api/v1/console/pods?limit=ten', { token: ADMIN });
    assert.equal(res.status, 400);
    assert.match((await json<ConsoleError>(res)).error, /limit/);
    assert.equal((await t.fetch('/api/v1/console/pods?injected=maybe', { token: ADMIN })).status, 400);
  });

  test("a pod's detail explains, with the fix; an unknown pod is 404", async () => {
    const d = await json<PodDetail>(await t.fetch('/api/v1/console/pods/apps/missed-1', { token: ADMIN }));
    assert.equal(d.reason, 'missed');
    assert.match(d.fix ?? '', /kubectl delete pod missed-1 -n apps/);
    assert.ok(d.tags.includes('kube_namespace:apps'));
    const inj = await json<PodDetail>(await t.fetch('/api/v1/console/pods/apps/web-0', { token: ADMIN }));
    assert.equal(inj.injection.config, true);
    assert.equal((await t.fetch('/api/v1/console/pods/apps/nope', { token: ADMIN })).status, 404);
  });
});

describe('node agent reports', () => {
  test("a node agent's report written after the console started shows on its node (the kubelet's 403 with the fix), not the start-up read", async () => {
    // The start-up read found no report; nobody opens the overview, which used to be the only re-read.
    const before = await json<NodeRow>(await t.fetch('/api/v1/console/nodes/node-005', { token: ADMIN }));
    assert.equal(before.agent, undefined);
    const record: NodeAgentRecord = {
      lastSeen: new Date(t.timers.now()).toISOString(),
      kubelet: { state: 'failing', code: 'forbidden', status: 403, summary: 'GET /pods: 403 Forbidden' },
      clusterAgent: { state: 'ok' },
    };
    t.objects[`/api/v1/namespaces/${NS}/configmaps/${NODE_AGENTS_CONFIGMAP}`] = { data: { 'node-005': encodeNodeAgentRecord(record) } };
    t.timers.advance(CONSOLE_HEALTH_MAX_AGE_MS + 1);
    const row = await json<NodeRow>(await t.fetch('/api/v1/console/nodes/node-005', { token: ADMIN }));
    assert.equal(row.agent?.kubelet.code, 'forbidden');
    assert.match(row.agent?.kubelet.fix ?? '', /ClusterRole/);
    const page = await json<NodesPage>(await t.fetch('/api/v1/console/nodes?agent=failing', { token: ADMIN }));
    assert.deepEqual(page.rows.map((r) => r.name), ['node-005']);
  });
});

describe('overview, webhook health, diagnose', () => {
  test('the overview counts what the index keeps', async () => {
    const lease = Object.keys(t.objects).find((p) => p.includes('/leases/'))!;
    t.objects[lease] = { spec: { holderIdentity: 'replica-1', leaseDurationSeconds: 15, renewTime: new Date(t.timers.now() + 60_000).toISOString() } };
    t.timers.advance(30_000);
    const o = await json<OverviewAnswer>(await t.fetch('/api/v1/console/overview', { token: ADMIN }));
    assert.deepEqual(o.counts, { nodes: NODES, pods: 32, unscheduledPods: 1, injectedPods: 11, missedPods: 1, namespaces: 2 });
    assert.equal(o.webhook.state, 'ok');
    assert.equal(o.leader?.holderIdentity, 'replica-1');
    assert.equal(o.leader?.self, true);
  });

  test('a caBundle that is not the Secret\'s shows as an error, naming the entry', async () => {
    const path = Object.keys(t.objects).find((p) => p.includes('mutatingwebhookconfigurations'))!;
    const original = t.objects[path];
    const w = structuredClone(original) as { webhooks: { clientConfig: { caBundle: string } }[] };
    w.webhooks[0]!.clientConfig.caBundle = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');
    t.objects[path] = w;
    try {
      t.timers.advance(60_000);
      const h = await json<WebhookHealth>(await t.fetch('/api/v1/console/webhook', { token: ADMIN }));
      assert.equal(h.state, 'error');
      assert.deepEqual(h.configuration.entries.map((e) => e.caBundleMatches), [false, true]);
      assert.match(h.problems.join('\n'), /caBundle of datadog\.webhook\.config .* is not the Secret's CA bundle/);
    } finally {
      t.objects[path] = original;
      t.timers.advance(60_000);
    }
  });

  test('diagnose: the latest results as diagnose -o json prints them; one run at a time, rate-limited', async () => {
    let d = await json<DiagnoseAnswer>(await t.fetch('/api/v1/console/diagnose', { token: ADMIN }));
    await t.console.diagnose.running();
    d = await json<DiagnoseAnswer>(await t.fetch('/api/v1/console/diagnose', { token: ADMIN }));
    assert.deepEqual(d.latest?.results, [{ name: 'fake-check', status: 'warning', summary: 'found something', evidence: ['e1'], fix: 'do this' }]);
    assert.equal(d.latest?.summary.warning, 1);
    const runs = t.diagnoseRuns();
    const first = await t.fetch('/api/v1/console/diagnose', { ...JSON_POST, token: ADMIN });
    assert.ok(first.status === 202 || first.status === 429, String(first.status));
    await t.console.diagnose.running();
    const second = await t.fetch('/api/v1/console/diagnose', { ...JSON_POST, token: ADMIN });
    assert.equal(second.status, 429);
    assert.ok(Number(second.headers.get('retry-after')) > 0);
    t.timers.advance(60_000);
    let release = (): void => {};
    t.holdDiagnose(new Promise<void>((r) => (release = r)));
    const third = await t.fetch('/api/v1/console/diagnose', { ...JSON_POST, token: ADMIN });
    assert.equal(third.status, 202);
    assert.equal((await json<DiagnoseAnswer>(third)).running, true);
    const busy = await t.fetch('/api/v1/console/diagnose', { ...JSON_POST, token: ADMIN });
    assert.equal(busy.status, 409);
    release();
    t.holdDiagnose(undefined);
    await t.console.diagnose.running();
    assert.ok(t.diagnoseRuns() > runs);
  });
});
