import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { API_PATHS, type NodePodsAnswer, type PodServicesAnswer } from '../../../src/agentapi/types.js';
import { checkAuthToken, createClusterAgentClient, type ClusterAgentClient, type ClusterAgentClientOptions } from '../../../src/nodeagent/clusterAgentClient.js';
import { UpstreamError, type UpstreamProblem } from '../../../src/nodeagent/problems.js';
import { freePort } from '../../helpers/tether.js';
import { tempDir, type TempDir } from '../../helpers/certs.js';
import { FAKE_SERVICE_DNS, makeTestCa, startFakeClusterAgent, type FakeClusterAgent, type TestCa } from '../../helpers/fakeClusterAgent.js';
import { expectUpstreamError } from '../../helpers/upstream.js';

const TOKEN = 'a'.repeat(20) + 'b'.repeat(20); // 40 characters
const NODE = 'node-1';
const PODS: NodePodsAnswer = { node: NODE, pods: [{ namespace: 'shop', name: 'api-1', uid: 'u1', tags: ['kube_namespace:shop', 'kube_service:api', 'pod_name:api-1'] }] };
const SERVICES: PodServicesAnswer = { Nodes: { [NODE]: { services: { shop: { 'api-1': { api: {} } } } } }, Warnings: [], Errors: '' };

/** The problem a call rejected with. */
const problemOf = async (p: Promise<unknown>): Promise<UpstreamProblem> => (await expectUpstreamError(p)).problem;

/** Nothing a problem says may contain the token. */
function assertNoToken(p: UpstreamProblem, token = TOKEN): void {
  assert.ok(!JSON.stringify(p).includes(token), `the token leaked into ${JSON.stringify(p)}`);
}

describe('cluster agent client', () => {
  let dir: TempDir;
  let good: TestCa;
  let other: TestCa;
  let fake: FakeClusterAgent;
  let caFile: string;
  let otherCaFile: string;
  const clients: ClusterAgentClient[] = [];

  const client = (o: Partial<ClusterAgentClientOptions> & { url?: string } = {}): ClusterAgentClient => {
    const c = createClusterAgentClient({
      endpoint: { url: o.url ?? fake.url, servername: FAKE_SERVICE_DNS, foundFrom: 'test' },
      authToken: TOKEN,
      tlsVerify: true,
      caFile,
      timeoutMs: 5_000,
      ...o,
    });
    clients.push(c);
    return c;
  };

  before(async () => {
    dir = await tempDir();
    [good, other] = await Promise.all([makeTestCa('good'), makeTestCa('other')]);
    caFile = join(dir.path, 'ca.pem');
    otherCaFile = join(dir.path, 'other-ca.pem');
    await writeFile(caFile, good.ca.certPem);
    await writeFile(otherCaFile, other.ca.certPem);
    fake = await startFakeClusterAgent({ token: TOKEN, serving: good.serving });
    fake.answers.set(API_PATHS.version, [200, { Major: 1, Minor: 2, Patch: 3, Pre: '', Meta: '', Commit: 'abc' }]);
    fake.answers.set(API_PATHS.nodePods(NODE), [200, PODS]);
    fake.answers.set(API_PATHS.podServices(NODE), [200, SERVICES]);
  });
  after(async () => {
    for (const c of clients) c.close();
    await fake.close();
    await dir.remove();
  });

  test('the three answers are parsed in their wire shapes, with the Bearer token', async () => {
    const c = client();
    assert.deepEqual(await c.version(), { Major: 1, Minor: 2, Patch: 3, Pre: '', Meta: '', Commit: 'abc' });
    assert.deepEqual(await c.nodePods(NODE), PODS);
    assert.deepEqual(await c.podServices(NODE), SERVICES);
    const seen = fake.requests.slice(-3);
    assert.deepEqual(
      seen.map((r) => r.path),
      ['/version', '/api/v1/tether/pods/node-1', '/api/v1/tags/pod/node-1'],
    );
    assert.ok(seen.every((r) => r.hadAuthorization));
  });

  test('a token of 30 characters is refused before any request, in the seed\'s words, without the token', async () => {
    const before = fake.requests.length;
    const short = 'x'.repeat(30);
    const c = client({ authToken: short });
    for (const call of [c.version(), c.nodePods(NODE), c.podServices(NODE)]) {
      const p = await problemOf(call);
      assert.equal(p.code, 'token-too-short');
      assert.match(p.summary, /cluster agent authentication token length must be at least 32, currently: 30/);
      assert.match(p.fix, /Secret datadog-cluster-agent \(key token\)/);
      assertNoToken(p, short);
    }
    assert.equal(fake.requests.length, before, 'the cluster agent saw no request');
    assert.equal(checkAuthToken('y'.repeat(32)), undefined, '32 characters are enough');
  });

  test('no token at all: token-missing, nothing sent', async () => {
    const before = fake.requests.length;
    const p = await problemOf(client({ authToken: undefined }).nodePods(NODE));
    assert.equal(p.code, 'token-missing');
    assert.match(p.summary, /DD_CLUSTER_AGENT_AUTH_TOKEN \(cluster_agent\.auth_token\) is not set/);
    assert.equal(fake.requests.length, before);
  });

  test('401 "no session token provided": the token did not arrive', async () => {
    fake.dropAuthorization = true;
    try {
      const p = await problemOf(client().nodePods(NODE));
      assert.equal(p.code, 'token-missing');
      assert.equal(p.status, 401);
      assert.match(p.summary, /answered 401 "no session token provided": it received no bearer token/);
      assert.match(p.fix, /drops the header/);
      assertNoToken(p);
    } finally {
      fake.dropAuthorization = false;
    }
  });

  test('403 "invalid session token": the tokens differ; restart both after the Secret changed', async () => {
    const wrong = 'w'.repeat(40);
    const p = await problemOf(client({ authToken: wrong }).nodePods(NODE));
    assert.equal(p.code, 'unauthorized');
    assert.equal(p.status, 403);
    assert.match(p.summary, /answered 403 "invalid session token": this node agent's DD_CLUSTER_AGENT_AUTH_TOKEN differs from the cluster agent's token/);
    assert.match(p.fix, /same Secret \(datadog-cluster-agent, key token\).*restart both/);
    assertNoToken(p, wrong);
    assertNoToken(p);
  });

  test('a certificate from another CA: tls-unknown-ca naming the CA file; fixed by a new CA file without a restart', async () => {
    const file = join(dir.path, 'rotating-ca.pem');
    await writeFile(file, other.ca.certPem);
    const c = client({ caFile: file });
    const p = await problemOf(c.nodePods(NODE));
    assert.equal(p.code, 'tls-unknown-ca');
    assert.match(p.summary, new RegExp(`not signed by a CA in ${file.replace(/[.]/g, '\\.')}`));
    assert.match(p.fix, /ConfigMap datadog-cluster-agent-ca/);
    // The ConfigMap volume is updated by a symlink swap; a rename is the same for a reader.
    await writeFile(file + '.new', good.ca.certPem);
    await rename(file + '.new', file);
    assert.deepEqual(await c.nodePods(NODE), PODS);
  });

  test('an unreadable CA file: named, nothing sent', async () => {
    const before = fake.requests.length;
    const p = await problemOf(client({ caFile: join(dir.path, 'missing.pem') }).nodePods(NODE));
    assert.equal(p.code, 'tls-unknown-ca');
    assert.match(p.summary, /cannot read the cluster agent's CA file .*missing\.pem \(cluster_agent\.ca_file\): ENOENT/);
    assert.equal(fake.requests.length, before);
  });

  test('tls_verify false: no CA needed', async () => {
    assert.deepEqual(await client({ tlsVerify: false, caFile: join(dir.path, 'missing.pem') }).nodePods(NODE), PODS);
  });

  test('a certificate without the expected name: tls-unknown-ca that says which name', async () => {
    const c = createClusterAgentClient({ endpoint: { url: fake.url, servername: 'elsewhere.datadog.svc', foundFrom: 'test' }, authToken: TOKEN, tlsVerify: true, caFile });
    clients.push(c);
    const p = await problemOf(c.nodePods(NODE));
    assert.equal(p.code, 'tls-unknown-ca');
    assert.match(p.summary, /does not name elsewhere\.datadog\.svc/);
  });

  test('a plain HTTP port: tls-handshake, "wrong port or protocol"', async () => {
    const plain = http.createServer((_req, res) => res.end('hello'));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    try {
      const p = await problemOf(client({ url: `https://127.0.0.1:${(plain.address() as AddressInfo).port}` }).nodePods(NODE));
      assert.equal(p.code, 'tls-handshake');
      assert.match(p.summary, /did not answer in TLS .*plain HTTP or another protocol/);
      assert.match(p.fix, /cluster_agent\.cmd_port, 5005/);
    } finally {
      plain.closeAllConnections();
      await new Promise((r) => plain.close(r));
    }
  });

  test('a server that closes the connection during the handshake: tls-handshake, the cluster agent side logs EOF', async () => {
    const cut = net.createServer((s) => s.once('data', () => s.destroy()));
    await new Promise<void>((r) => cut.listen(0, '127.0.0.1', r));
    try {
      const p = await problemOf(client({ url: `https://127.0.0.1:${(cut.address() as AddressInfo).port}` }).nodePods(NODE));
      assert.equal(p.code, 'tls-handshake');
      assert.match(p.summary, /closed it during the TLS handshake .*http: TLS handshake error from <this node agent's IP>: EOF/);
    } finally {
      await new Promise((r) => cut.close(r));
    }
  });

  test('a server offering only TLS 1.0/1.1: tls-handshake on the protocol version', async () => {
    const old = await startFakeClusterAgent({ token: TOKEN, serving: good.serving, tls: { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } });
    try {
      const p = await problemOf(client({ url: old.url }).nodePods(NODE));
      assert.equal(p.code, 'tls-handshake');
      assert.match(p.summary, /failed on the protocol version \(EPROTO: tlsv1 alert protocol version\): the node agent speaks TLS 1\.2 or newer only/);
      assert.equal(old.requests.length, 0);
    } finally {
      await old.close();
    }
  });

  test('nothing listening: unreachable', async () => {
    const port = await freePort();
    const p = await problemOf(client({ url: `https://127.0.0.1:${port}` }).nodePods(NODE));
    assert.equal(p.code, 'unreachable');
    assert.match(p.summary, /cannot reach the cluster agent at https:\/\/127\.0\.0\.1:\d+\/api\/v1\/tether\/pods\/node-1 \(nothing answers there: connect ECONNREFUSED/);
  });

  test('other statuses and malformed answers: bad-answer with the status; a token echoed back is cut out', async () => {
    fake.answers.set(API_PATHS.nodePods('echo'), [500, `boom ${TOKEN}`]);
    fake.answers.set(API_PATHS.nodePods('junk'), [200, { node: 'junk', pods: [{ namespace: 'a' }] }]);
    fake.answers.set(API_PATHS.nodePods('liar'), [200, { node: 'someone-else', pods: [] }]);
    const c = client();
    const echo = await problemOf(c.nodePods('echo'));
    assert.equal(echo.code, 'bad-answer');
    assert.equal(echo.status, 500);
    assert.match(echo.summary, /status 500: "boom \[redacted\]"/);
    assertNoToken(echo);
    assert.match((await problemOf(c.nodePods('junk'))).summary, /pods\[0\] lacks namespace, name or uid/);
    assert.match((await problemOf(c.nodePods('liar'))).summary, /about node "someone-else", not "liar"/);
    const missing = await problemOf(c.nodePods('nowhere'));
    assert.equal(missing.status, 404);
    assert.match(missing.summary, /does not serve this path/);
  });

  test('a kept-alive connection the server drops as it is reused: asked again once on a new connection, not a failure', async () => {
    const served = new WeakSet<object>();
    const server = https.createServer({ cert: good.serving.certPem, key: good.serving.keyPem }, (req, res) => {
      if (served.has(req.socket)) {
        req.socket.destroy();
        return;
      }
      served.add(req.socket);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(PODS));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const c = client({ url: `https://127.0.0.1:${(server.address() as AddressInfo).port}` });
      assert.deepEqual(await c.nodePods(NODE), PODS);
      assert.deepEqual(await c.nodePods(NODE), PODS);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  test('an aborted request rejects with the abort, not a problem', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(client().nodePods(NODE, ac.signal), (e: unknown) => !(e instanceof UpstreamError));
  });
});
