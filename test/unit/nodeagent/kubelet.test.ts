/**
 * The kubelet client against small loopback servers: the TLS failures of the seed (unknown CA, plain
 * HTTP on the TLS port, handshake EOF), the kubelet's 401/403 texts, and the token re-read on a manual
 * clock.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { generateCa, issueServingCertificate, type CertificatePair } from '../../../src/certs/index.js';
import { KUBELET_TOKEN_REREAD_MS } from '../../../src/config/limits.js';
import { parseConfig } from '../../../src/config/index.js';
import { compactPod, createKubeletClient, DEFAULT_KUBELET_TOKEN_PATH, kubeletClientOptions, type KubeletClientOptions } from '../../../src/nodeagent/kubelet.js';
import { UpstreamError, type ProblemCode } from '../../../src/nodeagent/problems.js';
import { makeCertificate, tempDir, type TempDir } from '../../helpers/certs.js';
import { recordingLogger } from '../../helpers/logs.js';
import { manualClock } from '../../helpers/manual.js';
import { expectUpstreamError } from '../../helpers/upstream.js';

const NODE = 'node-a';

function pod(name: string, nodeName: string, extra: Record<string, unknown> = {}) {
  return {
    metadata: {
      namespace: 'apps',
      name,
      uid: `uid-${name}`,
      labels: { app: name },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-rs`, uid: 'x', controller: true }],
    },
    spec: { nodeName, containers: [{ name: 'app', image: 'app:1' }] },
    status: { phase: 'Running', containerStatuses: [{ name: 'app', containerID: `containerd://${name}-c1` }], ...extra },
  };
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface Server {
  readonly port: number;
  close(): Promise<void>;
}

async function listen(server: net.Server): Promise<Server> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

let dir: TempDir;
let ca: CertificatePair;
let serving: CertificatePair;
let caFile: string;
let tokenFile: string;
const servers: Server[] = [];

before(async () => {
  dir = await tempDir('tether-kubelet-');
  ca = await generateCa({ commonName: 'kubelet-test-ca', validityHours: 24 });
  serving = await issueServingCertificate({ ca, dnsNames: ['localhost', '127.0.0.1', NODE], notAfter: new Date(Date.now() + 3600_000) });
  caFile = join(dir.path, 'ca.crt');
  tokenFile = join(dir.path, 'token');
  await writeFile(caFile, ca.certPem);
  await writeFile(tokenFile, 'token-one\n');
});
after(async () => {
  for (const s of servers) await s.close();
  await dir.remove();
});

async function kubelet(handler: Handler, cert: { key: string; cert: string } = { key: serving.keyPem, cert: serving.certPem }): Promise<Server> {
  const s = await listen(https.createServer(cert, handler));
  servers.push(s);
  return s;
}

const json = (body: unknown): Handler => (_req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
};

const client = (port: number, o: Partial<KubeletClientOptions> = {}) =>
  createKubeletClient({ nodeName: NODE, host: '127.0.0.1', port, tokenPath: tokenFile, caFile, ...o });

/** The message of the kubelet problem `code` the call rejected with. */
async function problemOf(p: Promise<unknown>, code: ProblemCode): Promise<string> {
  const e = await expectUpstreamError(p, code);
  assert.equal(e.problem.upstream, 'kubelet');
  return e.message;
}

describe('kubelet client', () => {
  test('reads /pods with the bearer token, verified against the CA, and keeps only its node\'s pods', async () => {
    const seen: (string | undefined)[] = [];
    const s = await kubelet((req, res) => {
      seen.push(req.headers.authorization);
      assert.equal(req.url, '/pods');
      json({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [pod('a1', NODE), pod('b1', 'node-b'), pod('a2', NODE), pod('c1', 'node-c')] })(req, res);
    });
    const log = recordingLogger();
    const c = client(s.port, { log: log.logger });
    const r = await c.pods();
    assert.deepEqual(seen, ['Bearer token-one']);
    assert.deepEqual(r.pods.map((p) => p.name), ['a1', 'a2']);
    assert.equal(r.foreign, 2);
    assert.deepEqual(r.foreignNodes, ['node-b', 'node-c']);
    const warned = log.lines().filter((l) => l['level'] === 40);
    assert.equal(warned.length, 1);
    assert.match(String(warned[0]?.['msg']), /returned 2 pods of other nodes \(nodes node-b, node-c\); kept only the 2 of node node-a/);
    // The same again is not a new warning.
    await c.pods();
    assert.equal(log.lines().filter((l) => l['level'] === 40).length, 1);
    assert.ok(!log.text().includes('token-one'), 'the token is never logged');
    c.close();
  });

  test('a pod as a compact record', () => {
    const p = compactPod(
      pod('a1', NODE, {
        initContainerStatuses: [{ name: 'init', containerID: 'containerd://init1' }],
        containerStatuses: [{ name: 'app', containerID: 'containerd://app1' }, { name: 'waiting' }],
        ephemeralContainerStatuses: [{ name: 'debug', containerID: 'containerd://dbg1' }],
      }),
    );
    assert.deepEqual(p, {
      namespace: 'apps',
      name: 'a1',
      uid: 'uid-a1',
      nodeName: NODE,
      phase: 'Running',
      containerIds: ['containerd://init1', 'containerd://app1', 'containerd://dbg1'],
      labels: { app: 'a1' },
      ownerReferences: [{ kind: 'ReplicaSet', name: 'a1-rs' }],
    });
    assert.deepEqual(compactPod(null), { namespace: '', name: '', uid: '', nodeName: '', phase: '', containerIds: [], labels: {}, ownerReferences: [] });
  });

  test("a pod's network facts, for the intake's attestation: podIPs (else podIP), hostNetwork, hostIPs (else hostIP)", () => {
    const item = (spec: Record<string, unknown>, status: Record<string, unknown>) => ({ metadata: { namespace: 'apps', name: 'n', uid: 'u' }, spec: { nodeName: NODE, ...spec }, status });
    const dual = compactPod(item({}, { podIP: '10.1.0.5', podIPs: [{ ip: '10.1.0.5' }, { ip: 'fd00::5' }], hostIP: '10.0.0.1' }));
    assert.deepEqual([dual.podIps, dual.hostNetwork, dual.hostIps], [['10.1.0.5', 'fd00::5'], undefined, ['10.0.0.1']]);
    const host = compactPod(item({ hostNetwork: true }, { podIP: '10.0.0.1', hostIPs: [{ ip: '10.0.0.1' }] }));
    assert.deepEqual([host.podIps, host.hostNetwork, host.hostIps], [['10.0.0.1'], true, ['10.0.0.1']]);
  });

  test('the token file is read again once it is KUBELET_TOKEN_REREAD_MS old (bound tokens rotate)', async () => {
    const file = join(dir.path, 'rotating-token');
    await writeFile(file, 'first');
    const seen: (string | undefined)[] = [];
    const s = await kubelet((req, res) => (seen.push(req.headers.authorization), json({ items: [] })(req, res)));
    const clock = manualClock();
    const c = client(s.port, { tokenPath: file, now: clock.now });
    await c.pods();
    await writeFile(file, 'second\n');
    clock.advance(KUBELET_TOKEN_REREAD_MS - 1);
    await c.pods();
    clock.advance(1);
    await c.pods();
    assert.deepEqual(seen, ['Bearer first', 'Bearer first', 'Bearer second']);
    c.close();
  });

  test('401 Unauthorized (the seed) names the token file and the kubelet flag', async () => {
    const s = await kubelet((_req, res) => (res.writeHead(401, { 'Content-Type': 'text/plain' }), res.end('Unauthorized')));
    const m = await problemOf(client(s.port).pods(), 'unauthorized');
    assert.match(m, new RegExp(`401 Unauthorized.*${tokenFile}.*--authentication-token-webhook`));
  });

  test('403 with the kubelet\'s text names the subresource and the RBAC fix', async () => {
    const body = 'Forbidden (user=system:serviceaccount:datadog:agent, verb=get, resource=nodes, subresource=proxy)';
    const s = await kubelet((_req, res) => (res.writeHead(403, { 'Content-Type': 'text/plain' }), res.end(body)));
    const m = await problemOf(client(s.port).pods(), 'forbidden');
    assert.match(m, /"get" on nodes\/proxy/);
    assert.match(m, /--serviceaccount=datadog:agent/);
  });

  test('a certificate from an unknown CA', async () => {
    const self = await makeCertificate(['127.0.0.1']);
    const s = await kubelet(json({ items: [] }), { key: self.keyPem, cert: self.certPem });
    const m = await problemOf(client(s.port).pods(), 'tls-unknown-ca');
    assert.match(m, /DEPTH_ZERO_SELF_SIGNED_CERT/);
    assert.match(m, /DD_KUBELET_CLIENT_CA/);
    // kubelet_tls_verify: false accepts it.
    const c = client(s.port, { tlsVerify: false, caFile: join(dir.path, 'no-such-ca.crt') });
    assert.deepEqual((await c.pods()).pods, []);
    c.close();
  });

  test('a certificate for another address', async () => {
    const other = await issueServingCertificate({ ca, dnsNames: ['node-z'], notAfter: new Date(Date.now() + 3600_000) });
    const s = await kubelet(json({ items: [] }), { key: other.keyPem, cert: other.certPem });
    const m = await problemOf(client(s.port).pods(), 'tls-unknown-ca');
    assert.match(m, /ERR_TLS_CERT_ALTNAME_INVALID/);
  });

  test('plain HTTP on the TLS port', async () => {
    const s = await listen(http.createServer(json({ items: [] })));
    servers.push(s);
    const m = await problemOf(client(s.port).pods(), 'tls-handshake');
    assert.match(m, /plain HTTP/);
  });

  test('the handshake cut (EOF)', async () => {
    const s = await listen(net.createServer((sock) => sock.once('data', () => sock.end())));
    servers.push(s);
    const m = await problemOf(client(s.port).pods(), 'tls-handshake');
    assert.match(m, /EOF/);
  });

  test('nothing listening', async () => {
    const s = await listen(net.createServer());
    const port = s.port;
    await s.close();
    const m = await problemOf(client(port).pods(), 'unreachable');
    assert.match(m, new RegExp(`127\\.0\\.0\\.1:${port}.*ECONNREFUSED`));
  });

  test('a kubelet that never answers: the request timeout', async () => {
    const s = await kubelet(() => undefined);
    const m = await problemOf(client(s.port, { timeoutMs: 200 }).pods(), 'unreachable');
    assert.match(m, /did not answer within 200 ms/);
  });

  test('the caller\'s abort is not a kubelet problem', async () => {
    const s = await kubelet(() => undefined);
    const controller = new AbortController();
    const c = client(s.port);
    const p = c.pods(controller.signal);
    setImmediate(() => controller.abort(new Error('stopping')));
    await assert.rejects(p, (e: Error) => !(e instanceof UpstreamError) && e.message === 'stopping');
    c.close();
  });

  test('no token file, an empty one, no CA file', async () => {
    const s = await kubelet(json({ items: [] }));
    assert.match(await problemOf(client(s.port, { tokenPath: join(dir.path, 'missing') }).pods(), 'token-missing'), /ENOENT/);
    const empty = join(dir.path, 'empty');
    await writeFile(empty, '\n');
    assert.match(await problemOf(client(s.port, { tokenPath: empty }).pods(), 'token-missing'), /is empty/);
    assert.match(await problemOf(client(s.port, { caFile: join(dir.path, 'missing.crt') }).pods(), 'tls-unknown-ca'), /cannot read .*missing\.crt/);
  });

  test('an answer that is not a pod list', async () => {
    const s = await kubelet((_req, res) => (res.writeHead(200), res.end('<html>')));
    assert.match(await problemOf(client(s.port).pods(), 'bad-answer'), /invalid JSON/);
    const t = await kubelet(json({ kind: 'Status' }));
    assert.match(await problemOf(client(t.port).pods(), 'bad-answer'), /no "items" list/);
  });

  test('the host defaults to the node name, IPv6 hosts are bracketed', () => {
    assert.equal(createKubeletClient({ nodeName: NODE }).url, 'https://node-a:10250/pods');
    assert.equal(createKubeletClient({ nodeName: NODE, host: 'fd00::1', port: 1 }).url, 'https://[fd00::1]:1/pods');
  });
});

describe('kubeletClientOptions', () => {
  test('from the configuration keys (as DD_ variables set them)', () => {
    const config = parseConfig({
      env: {
        DD_KUBERNETES_KUBELET_NODENAME: 'node-a',
        DD_KUBERNETES_KUBELET_HOST: '10.0.0.7',
        DD_KUBERNETES_HTTPS_KUBELET_PORT: '10443',
        DD_KUBELET_TLS_VERIFY: 'false',
        DD_KUBELET_CLIENT_CA: '/etc/kubelet-ca.crt',
        DD_KUBELET_AUTH_TOKEN_PATH: '/var/run/token',
      },
    });
    assert.deepEqual(kubeletClientOptions(config), {
      nodeName: 'node-a',
      host: '10.0.0.7',
      port: 10443,
      tokenPath: '/var/run/token',
      tlsVerify: false,
      caFile: '/etc/kubelet-ca.crt',
    });
  });
  test('the defaults: the service account\'s token and CA, the node name as host, 10250', () => {
    const o = kubeletClientOptions(parseConfig({ env: { DD_KUBERNETES_KUBELET_NODENAME: 'node-a' } }));
    assert.deepEqual(o, { nodeName: 'node-a', port: 10250, tokenPath: DEFAULT_KUBELET_TOKEN_PATH, tlsVerify: true });
    assert.equal(createKubeletClient(o).url, 'https://node-a:10250/pods');
  });
  test('without a node name it refuses, saying which variable to set', () => {
    assert.throws(() => kubeletClientOptions(parseConfig({ env: {} })), /DD_KUBERNETES_KUBELET_NODENAME/);
  });
});
