import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createNodeAgent, type NodeAgent } from '../../../src/nodeagent/agent.js';
import { createClusterAgentClient, type ClusterAgentClient } from '../../../src/nodeagent/clusterAgentClient.js';
import type { KubeletPod, KubeletSource } from '../../../src/nodeagent/kubeletSource.js';
import { createNodeAgentMetrics } from '../../../src/nodeagent/metrics.js';
import { UpstreamError, type UpstreamProblem } from '../../../src/nodeagent/problems.js';
import { startStatusServer, type StatusServer } from '../../../src/nodeagent/statusServer.js';
import { tempDir, type TempDir } from '../../helpers/certs.js';
import { FAKE_SERVICE_DNS, makeTestCa, startFakeClusterAgent, type FakeClusterAgent } from '../../helpers/fakeClusterAgent.js';
import { recordingLogger } from '../../helpers/logs.js';
import { manualClock } from '../../helpers/manual.js';

const NODE = 'node-s';
const TOKEN = 'SECRET-TOKEN-'.repeat(4);

/** The token the status endpoint takes (the cluster agent's); its own, not the one the fake cluster agent refuses. */
const STATUS_TOKEN = 'status-endpoint-token-'.repeat(2);
const BEARER = { Authorization: `Bearer ${STATUS_TOKEN}` };

function get(url: string, method = 'GET', headers: Record<string, string> = BEARER): Promise<{ status: number; type: string; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('node agent status endpoint', () => {
  let server: StatusServer;
  let base: string;
  const kubeletProblem: UpstreamProblem = { upstream: 'kubelet', code: 'forbidden', status: 403, summary: 'the kubelet answered 403 Forbidden (get nodes/proxy).', fix: 'Grant get on nodes/proxy.' };
  let kubeletAnswer: { pods: KubeletPod[]; foreign: number } | UpstreamProblem = kubeletProblem;
  const kubelet: KubeletSource = {
    async pods() {
      if ('code' in kubeletAnswer) throw new UpstreamError(kubeletAnswer);
      return kubeletAnswer;
    },
  };
  const clock = manualClock();
  const metrics = createNodeAgentMetrics();
  const log = recordingLogger('debug');
  let agent: NodeAgent;
  let client: ClusterAgentClient;
  let fake: FakeClusterAgent;
  let dir: TempDir;

  before(async () => {
    // The real client, given a token the cluster agent does not accept: its 403 must not carry the token.
    dir = await tempDir();
    const { ca, serving } = await makeTestCa();
    await writeFile(join(dir.path, 'ca.pem'), ca.certPem);
    fake = await startFakeClusterAgent({ token: 'the-cluster-agent-has-another-token', serving });
    client = createClusterAgentClient({ endpoint: { url: fake.url, servername: FAKE_SERVICE_DNS, foundFrom: 'test' }, authToken: TOKEN, tlsVerify: true, caFile: join(dir.path, 'ca.pem') });
    agent = createNodeAgent({ nodeName: NODE, kubelet, clusterAgent: client, logger: log.logger, metrics, timers: clock });
    server = await startStatusServer({ agent, metrics, token: STATUS_TOKEN, port: 0, host: '127.0.0.1', logger: log.logger });
    base = `http://127.0.0.1:${server.port}`;
  });
  after(async () => {
    client.close();
    await server.close({ drainMs: 0 });
    await fake.close();
    await dir.remove();
  });

  test('/healthz is 200 from the start; /readyz 503 with the kubelet problem until the kubelet is read', async () => {
    assert.equal((await get(`${base}/healthz`)).status, 200);
    await agent.syncKubelet();
    const notReady = await get(`${base}/readyz`);
    assert.equal(notReady.status, 503);
    assert.match(notReady.body, /not ready: the kubelet has not been read yet: the kubelet answered 403 Forbidden \(get nodes\/proxy\)\. Fix: Grant get on nodes\/proxy\./);
    kubeletAnswer = { pods: [{ namespace: 'ns', name: 'p', uid: 'u', nodeName: NODE, phase: 'Pending', containerIds: [], labels: {}, ownerReferences: [] }], foreign: 0 };
    await agent.syncKubelet();
    assert.equal((await get(`${base}/readyz`)).status, 200);
  });

  test('/status and /pods are JSON: problems with their fix, counts, the pods with their tags', async () => {
    await agent.syncClusterAgent();
    const status = await get(`${base}/status`);
    assert.equal(status.status, 200);
    assert.match(status.type, /application\/json/);
    const s = JSON.parse(status.body) as ReturnType<typeof agent.status>;
    assert.equal(s.node, NODE);
    assert.equal(s.upstreams.kubelet.state, 'ok');
    assert.deepEqual(s.upstreams.kubelet.results, { forbidden: 1, ok: 1 });
    assert.equal(s.upstreams['cluster-agent'].problem?.status, 403);
    assert.match(String(s.upstreams['cluster-agent'].problem?.fix), /restart both/);
    const pods = JSON.parse((await get(`${base}/pods`)).body) as { node: string; pods: { name: string; tags: string[] }[] };
    assert.equal(pods.node, NODE);
    assert.deepEqual(pods.pods.map((p) => p.name), ['p']);
    assert.ok(pods.pods[0]?.tags.includes('pod_phase:pending'));
  });

  test('/metrics: requests by result, last success, pods', async () => {
    const m = await get(`${base}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.body, /tether_node_agent_upstream_requests_total\{upstream="kubelet",result="forbidden"\} 1/);
    assert.match(m.body, /tether_node_agent_upstream_requests_total\{upstream="cluster-agent",result="unauthorized"\} 1/);
    assert.match(m.body, /tether_node_agent_upstream_last_success_timestamp_seconds\{upstream="kubelet"\} \d+/);
    assert.match(m.body, /tether_node_agent_pods 1/);
    assert.match(m.body, /tether_node_agent_tags_age_seconds nan$/im, 'no tags yet: no age');
  });

  test('/healthz, /readyz and /metrics are open; the pods, the status, the intake and the DogStatsD metrics need the token (the cluster agent API\'s 401/403)', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) assert.equal((await get(base + path, 'GET', {})).status, 200, path);
    for (const path of ['/status', '/pods', '/intake', '/dogstatsd/metrics', '/nope']) {
      const none = await get(base + path, 'GET', {});
      assert.equal(none.status, 401, path);
      assert.equal(none.body, 'no session token provided\n', path);
      assert.equal(none.headers['www-authenticate'], 'Bearer', path);
      const wrong = await get(base + path, 'GET', { Authorization: `Bearer ${STATUS_TOKEN}x` });
      assert.equal(wrong.status, 403, path);
      assert.equal(wrong.body, 'invalid session token\n', path);
    }
    assert.equal((await get(`${base}/pods`)).status, 200);
    // Without a token of its own, the node agent keeps them closed.
    const closed = await startStatusServer({ agent, metrics, token: undefined, port: 0, host: '127.0.0.1', logger: log.logger });
    try {
      const r = await get(`http://127.0.0.1:${closed.port}/pods`);
      assert.equal(r.status, 403);
      assert.match(r.body, /no cluster_agent\.auth_token/);
      assert.equal((await get(`http://127.0.0.1:${closed.port}/healthz`, 'GET', {})).status, 200);
    } finally {
      await closed.close({ drainMs: 0 });
    }
  });

  test('read-only, unknown paths are 404, and no token anywhere', async () => {
    assert.equal((await get(`${base}/status`, 'POST')).status, 405);
    assert.equal((await get(`${base}/nope`)).status, 404);
    for (const path of ['/status', '/pods', '/metrics', '/readyz', '/healthz']) assert.ok(!(await get(base + path)).body.includes(TOKEN) && !(await get(base + path)).body.includes(STATUS_TOKEN));
    assert.ok(!log.text().includes(TOKEN));
  });
});
