/** The node agent's real client (nodeagent/clusterAgentClient.ts) against the real API server, over TLS with the CA. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateCa, type CertificatePair } from '../../../src/certs/index.js';
import { startClusterAgentApi, type ClusterAgentApi } from '../../../src/clusteragent/api/index.js';
import { createClusterAgentClient, type ClusterAgentClient, type ClusterAgentClientOptions } from '../../../src/nodeagent/clusterAgentClient.js';
import type { UpstreamProblem } from '../../../src/nodeagent/problems.js';
import { tempDir, type TempDir } from '../../helpers/certs.js';
import { testConfig } from '../../helpers/config.js';
import { fakeClusterView } from '../../helpers/fakeClusterView.js';
import { recordingLogger } from '../../helpers/logs.js';
import { expectUpstreamError } from '../../helpers/upstream.js';

const TOKEN = 'node-agent-client-test-token-0123456789';
const SERVICE_DNS = 'datadog-cluster-agent.datadog.svc';

/** The problem a call rejected with. */
const problemOf = async (p: Promise<unknown>): Promise<UpstreamProblem> => (await expectUpstreamError(p)).problem;

describe("the node agent's client against the cluster agent API", () => {
  let dir: TempDir;
  let ca: CertificatePair;
  let api: ClusterAgentApi;
  let caFile: string;
  let otherCaFile: string;
  const clients: ClusterAgentClient[] = [];
  const client = (o: Partial<ClusterAgentClientOptions> = {}): ClusterAgentClient => {
    const c = createClusterAgentClient({ endpoint: { url: api.url, servername: SERVICE_DNS, foundFrom: 'test' }, authToken: TOKEN, tlsVerify: true, caFile, timeoutMs: 5_000, ...o });
    clients.push(c);
    return c;
  };

  before(async () => {
    dir = await tempDir();
    ca = await generateCa({ commonName: 'client test CA', validityHours: 24 });
    const other = await generateCa({ commonName: 'some other CA', validityHours: 24 });
    caFile = join(dir.path, 'ca.pem');
    otherCaFile = join(dir.path, 'other.pem');
    await writeFile(caFile, ca.certPem);
    await writeFile(otherCaFile, other.certPem);
    const view = fakeClusterView();
    view.setNode('node-1');
    view.addService({ namespace: 'shop', name: 'api', selector: { app: 'api' } });
    view.addPod({ namespace: 'shop', name: 'api-1', node: 'node-1', labels: { app: 'api' }, uid: 'u1' });
    view.addPod({ namespace: 'shop', name: 'elsewhere', node: 'node-2', labels: { app: 'api' }, uid: 'u2' });
    api = await startClusterAgentApi({ config: testConfig({ 'cluster_agent.auth_token': TOKEN }), namespace: 'datadog', view, logger: recordingLogger().logger, host: '127.0.0.1', port: 0 });
    await api.setCa(ca.certPem, ca.keyPem);
  });
  after(async () => {
    for (const c of clients) c.close();
    await api.close({ drainMs: 0 });
    await dir.remove();
  });

  test('version, podServices and nodePods parse, verified by the Service name', async () => {
    const c = client();
    const v = await c.version();
    assert.deepEqual([v.Major, v.Minor, v.Patch], [0, 1, 0]);
    const services = await c.podServices('node-1');
    assert.deepEqual(services, { Nodes: { 'node-1': { services: { shop: { 'api-1': { api: {} } } } } }, Warnings: [], Errors: '' });
    const pods = await c.nodePods('node-1');
    assert.equal(pods.node, 'node-1');
    assert.deepEqual(pods.pods.map((p) => p.name), ['api-1']);
    assert.ok(pods.pods[0]!.tags.includes('kube_service:api'));
  });

  test("a different token: the client's 403 diagnosis", async () => {
    const p = await problemOf(client({ authToken: TOKEN.replace('0', 'X') }).version());
    assert.equal(p.code, 'unauthorized');
    assert.equal(p.status, 403);
    assert.match(p.summary, /invalid session token/);
  });

  test('a CA that did not sign the certificate: the TLS diagnosis', async () => {
    const p = await problemOf(client({ caFile: otherCaFile }).version());
    assert.equal(p.code, 'tls-unknown-ca');
  });

  test('no CA file: the TLS diagnosis, nothing sent', async () => {
    const p = await problemOf(client({ caFile: join(dir.path, 'missing.pem') }).version());
    assert.equal(p.code, 'tls-unknown-ca');
    assert.match(p.summary, /cannot read the cluster agent's CA file/);
  });
});
