import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { API_PATHS, type NodePodsAnswer, type PodServicesAnswer } from '../../../src/agentapi/types.js';
import { createNodeAgent, NodeAgentRefused, retryDelayMs, type ClusterAgentSource } from '../../../src/nodeagent/agent.js';
import { createClusterAgentClient } from '../../../src/nodeagent/clusterAgentClient.js';
import type { KubeletPod, KubeletSource } from '../../../src/nodeagent/kubeletSource.js';
import { createNodeAgentMetrics } from '../../../src/nodeagent/metrics.js';
import { UpstreamError, type UpstreamProblem } from '../../../src/nodeagent/problems.js';
import { NODE_AGENT_RETRY_BASE_MS, NODE_AGENT_RETRY_MAX_MS, NODE_AGENT_SYNC_INTERVAL_MS } from '../../../src/config/index.js';
import { tempDir } from '../../helpers/certs.js';
import { FAKE_SERVICE_DNS, makeTestCa, startFakeClusterAgent } from '../../helpers/fakeClusterAgent.js';
import { recordingLogger } from '../../helpers/logs.js';
import { manualClock } from '../../helpers/manual.js';

const NODE = 'node-a';

function pod(name: string, nodeName = NODE, ns = 'shop'): KubeletPod {
  return { namespace: ns, name, uid: `uid-${name}`, nodeName, phase: 'Running', containerIds: [`containerd://${name}`], labels: {}, ownerReferences: [] };
}

/** A kubelet whose next answers the test sets. */
function fakeKubelet(): KubeletSource & { answer: { pods: KubeletPod[]; foreign: number } | UpstreamProblem; calls: number } {
  const k = {
    answer: { pods: [] as KubeletPod[], foreign: 0 } as { pods: KubeletPod[]; foreign: number } | UpstreamProblem,
    calls: 0,
    async pods() {
      k.calls++;
      if ('code' in k.answer) throw new UpstreamError(k.answer);
      return { pods: [...k.answer.pods], foreign: k.answer.foreign };
    },
  };
  return k;
}

/** A cluster agent whose answers the test sets. */
function fakeClusterAgent(): ClusterAgentSource & { answer: NodePodsAnswer | UpstreamProblem; services?: PodServicesAnswer; calls: string[] } {
  const c = {
    url: 'https://dca.test:5005',
    answer: { node: NODE, pods: [] } as NodePodsAnswer | UpstreamProblem,
    services: undefined as PodServicesAnswer | undefined,
    calls: [] as string[],
    async nodePods(node: string) {
      c.calls.push(`pods/${node}`);
      if ('code' in c.answer) throw new UpstreamError(c.answer);
      return c.answer;
    },
    async podServices(node: string) {
      c.calls.push(`services/${node}`);
      if (!c.services) throw new UpstreamError({ upstream: 'cluster-agent', code: 'bad-answer', status: 404, summary: 'x', fix: 'y' });
      return c.services;
    },
  };
  return c;
}

const UNREACHABLE: UpstreamProblem = { upstream: 'cluster-agent', code: 'unreachable', summary: 'cannot reach the cluster agent at https://dca.test:5005.', fix: 'Check its pods.' };
const KUBELET_401: UpstreamProblem = { upstream: 'kubelet', code: 'unauthorized', status: 401, summary: 'the kubelet answered 401 Unauthorized.', fix: 'Check the token.' };

function setup(clusterAgent?: ClusterAgentSource | UpstreamProblem) {
  const clock = manualClock(Date.parse('2025-01-01T00:00:00Z'));
  const log = recordingLogger('debug');
  const kubelet = fakeKubelet();
  const ca = fakeClusterAgent();
  const metrics = createNodeAgentMetrics();
  const agent = createNodeAgent({ nodeName: NODE, kubelet, clusterAgent: clusterAgent ?? ca, logger: log.logger, metrics, timers: clock });
  const lines = (level: number) => log.lines().filter((l) => l.level === level);
  return { clock, log, kubelet, ca, agent, metrics, warns: () => lines(40), debugs: () => lines(20), infos: () => lines(30) };
}

describe('node agent loop', () => {
  test('refuses to start without a node name, and says why', () => {
    assert.throws(
      () => createNodeAgent({ nodeName: undefined, kubelet: fakeKubelet(), clusterAgent: fakeClusterAgent(), logger: recordingLogger().logger }),
      (e: unknown) =>
        e instanceof NodeAgentRefused &&
        /kubernetes_kubelet_nodename \(DD_KUBERNETES_KUBELET_NODENAME\) is not set/.test(e.message) &&
        /show every pod of the cluster on every node/.test(e.message) &&
        /fieldRef spec\.nodeName/.test(e.message),
    );
  });

  test('joins the kubelet pods with the cluster agent tags; pods unknown to the cluster agent get the kubelet tags', async () => {
    const { kubelet, ca, agent } = setup();
    assert.equal(agent.ready(), false);
    kubelet.answer = { pods: [pod('api-1'), pod('new-1')], foreign: 0 };
    ca.answer = { node: NODE, pods: [{ namespace: 'shop', name: 'api-1', uid: 'uid-api-1', tags: ['pod_name:api-1', 'kube_deployment:api', 'kube_namespace:shop'] }] };
    await agent.syncKubelet();
    assert.equal(agent.ready(), true);
    await agent.syncClusterAgent();
    assert.deepEqual(
      agent.pods().map((p) => [p.name, p.tagsFrom, p.tags]),
      [
        // The cluster agent's tags, with the phase the kubelet reports now (withKubeletPhase).
        ['api-1', 'cluster-agent', ['kube_deployment:api', 'kube_namespace:shop', 'pod_name:api-1', 'pod_phase:running']],
        ['new-1', 'kubelet', ['kube_namespace:shop', 'kube_node:node-a', 'pod_name:new-1', 'pod_phase:running']],
      ],
    );
    assert.deepEqual(ca.calls, ['pods/node-a']);
    const s = agent.status();
    assert.equal(s.tags.source, 'cluster-agent');
    assert.equal(s.tags.stale, false);
    assert.equal(s.upstreams.kubelet.state, 'ok');
    assert.equal(s.upstreams['cluster-agent'].state, 'ok');
  });

  test('pods of other nodes are dropped and reported, once; the count is in the status and metrics', async () => {
    const { kubelet, agent, warns, metrics } = setup();
    // The client reports 3 foreign pods it dropped; one more slipped through and is dropped here.
    kubelet.answer = { pods: [pod('mine'), pod('theirs', 'node-b')], foreign: 3 };
    await agent.syncKubelet();
    await agent.syncKubelet();
    assert.deepEqual(agent.pods().map((p) => p.name), ['mine']);
    assert.equal(agent.status().pods.foreignDropped, 4);
    const w = warns();
    assert.equal(w.length, 1);
    assert.match(String(w[0]?.msg), /the kubelet returned 4 pods bound to other nodes; they were dropped\. Fix: DD_KUBERNETES_KUBELET_HOST must be this node's own address/);
    const text = await metrics.registry.metrics();
    assert.match(text, /tether_node_agent_foreign_pods 4/);
    assert.match(text, /tether_node_agent_pods 1/);
  });

  test('cluster agent failing: last tags kept, marked stale with their age; one warn per change, repeats at debug, recovery at info', async () => {
    const { clock, kubelet, ca, agent, warns, debugs, infos, metrics } = setup();
    kubelet.answer = { pods: [pod('api-1')], foreign: 0 };
    ca.answer = { node: NODE, pods: [{ namespace: 'shop', name: 'api-1', uid: 'uid-api-1', tags: ['kube_service:api'] }] };
    await agent.syncKubelet();
    await agent.syncClusterAgent();
    ca.answer = UNREACHABLE;
    clock.advance(30_000);
    await agent.syncClusterAgent();
    clock.advance(15_000);
    await agent.syncClusterAgent();
    await agent.syncClusterAgent();
    assert.deepEqual(agent.pods()[0]?.tags, ['kube_service:api', 'pod_phase:running'], 'the last tags are still served, with the kubelet’s phase');
    const s = agent.status();
    assert.deepEqual(s.tags, { source: 'cluster-agent', asOf: '2025-01-01T00:00:00.000Z', ageSeconds: 45, stale: true });
    const up = s.upstreams['cluster-agent'];
    assert.equal(up.state, 'failing');
    assert.equal(up.consecutiveFailures, 3);
    assert.deepEqual(up.problem, UNREACHABLE);
    assert.equal(up.problemSince, '2025-01-01T00:00:30.000Z');
    assert.deepEqual(up.results, { ok: 1, unreachable: 3 });

    const w = warns();
    assert.equal(w.length, 1, 'the same failure is logged at warn once');
    assert.equal(w[0]?.msg, `${UNREACHABLE.summary} Fix: ${UNREACHABLE.fix}`);
    assert.equal(w[0]?.code, 'unreachable');
    assert.equal(debugs().filter((l) => l.code === 'unreachable').length, 2);

    // Another failure is a change: logged again.
    ca.answer = { ...UNREACHABLE, code: 'unauthorized', status: 403, summary: '403 invalid session token.' };
    await agent.syncClusterAgent();
    assert.equal(warns().length, 2);
    ca.answer = { node: NODE, pods: [] };
    await agent.syncClusterAgent();
    assert.match(String(infos().at(-1)?.msg), /cluster-agent answers again \(after 4 failed requests\)/);
    assert.equal(agent.status().tags.stale, false);
    assert.equal(agent.status().upstreams['cluster-agent'].problem, null);

    const text = await metrics.registry.metrics();
    assert.match(text, /tether_node_agent_upstream_requests_total\{upstream="cluster-agent",result="unreachable"\} 3/);
    assert.match(text, /tether_node_agent_upstream_requests_total\{upstream="cluster-agent",result="unauthorized"\} 1/);
    assert.match(text, /tether_node_agent_upstream_requests_total\{upstream="cluster-agent",result="ok"\} 2/);
  });

  test('a kubelet failure is counted and kept in the status; the pods of the last good read stay', async () => {
    const { kubelet, agent, warns } = setup();
    kubelet.answer = { pods: [pod('a')], foreign: 0 };
    await agent.syncKubelet();
    kubelet.answer = KUBELET_401;
    await agent.syncKubelet();
    assert.deepEqual(agent.pods().map((p) => p.name), ['a']);
    assert.equal(agent.status().upstreams.kubelet.problem?.code, 'unauthorized');
    assert.equal(agent.ready(), true, 'ready once read, even if a later read fails');
    assert.equal(warns().length, 1);
  });

  test('a cluster agent without Tether\'s API (404): falls back to /api/v1/tags/pod for kube_service, and stays there', async () => {
    const { kubelet, ca, agent, warns } = setup();
    kubelet.answer = { pods: [pod('api-1'), pod('job-1')], foreign: 0 };
    ca.answer = { upstream: 'cluster-agent', code: 'bad-answer', status: 404, summary: 'not found', fix: 'x' };
    ca.services = { Nodes: { [NODE]: { services: { shop: { 'api-1': { api: {}, 'api-internal': {} } } } } }, Warnings: [], Errors: '' };
    await agent.syncKubelet();
    await agent.syncClusterAgent();
    await agent.syncClusterAgent();
    assert.deepEqual(ca.calls, ['pods/node-a', 'services/node-a', 'services/node-a']);
    const [api, job] = agent.pods();
    assert.equal(api?.tagsFrom, 'cluster-agent-services');
    assert.ok(api?.tags.includes('kube_service:api') && api.tags.includes('kube_service:api-internal'));
    assert.ok(!job?.tags.some((t) => t.startsWith('kube_service:')));
    assert.equal(agent.status().tags.source, 'cluster-agent-services');
    assert.equal(agent.status().upstreams['cluster-agent'].state, 'ok');
    assert.match(String(warns()[0]?.msg), /does not serve Tether's \/api\/v1\/tether\/pods/);
  });

  test('no cluster agent to ask (endpoint unknown): reported as not configured, never asked; the kubelet still read', async () => {
    const problem: UpstreamProblem = { upstream: 'cluster-agent', code: 'endpoint-unknown', summary: "could not detect the cluster agent's endpoint.", fix: 'Restart.' };
    const { clock, kubelet, agent, warns } = setup(problem);
    kubelet.answer = { pods: [pod('a')], foreign: 0 };
    agent.start();
    await clock.tick(0);
    const s = agent.status();
    assert.equal(s.upstreams['cluster-agent'].state, 'not-configured');
    assert.deepEqual(s.upstreams['cluster-agent'].problem, problem);
    assert.equal(s.clusterAgent, null);
    assert.equal(s.ready, true);
    assert.equal(warns().filter((l) => l.code === 'endpoint-unknown').length, 1);
    await agent.stop();
  });

  test('schedule: every interval while it works; after failures a doubling backoff, capped; back to the interval after a success', async () => {
    assert.deepEqual([1, 2, 3, 4, 10, 100].map((n) => retryDelayMs(n, 1_000, 60_000)), [1_000, 2_000, 4_000, 8_000, 60_000, 60_000]);
    const { clock, kubelet, ca, agent } = setup();
    agent.start();
    await clock.tick(0);
    assert.equal(kubelet.calls, 1);
    assert.equal(ca.calls.length, 1);
    await clock.tick(NODE_AGENT_SYNC_INTERVAL_MS);
    assert.equal(kubelet.calls, 2);

    ca.answer = UNREACHABLE;
    await clock.tick(NODE_AGENT_SYNC_INTERVAL_MS); // fails: first retry after the base delay
    const n = ca.calls.length;
    await clock.tick(NODE_AGENT_RETRY_BASE_MS);
    assert.equal(ca.calls.length, n + 1);
    await clock.tick(NODE_AGENT_RETRY_BASE_MS); // the next waits twice as long
    assert.equal(ca.calls.length, n + 1);
    await clock.tick(NODE_AGENT_RETRY_BASE_MS);
    assert.equal(ca.calls.length, n + 2);
    await clock.tick(10 * NODE_AGENT_RETRY_MAX_MS);
    const capped = ca.calls.length;
    await clock.tick(NODE_AGENT_RETRY_MAX_MS);
    assert.equal(ca.calls.length, capped + 1, 'at most the cap between retries');
    ca.answer = { node: NODE, pods: [] };
    await clock.tick(NODE_AGENT_RETRY_MAX_MS);
    const ok = ca.calls.length;
    await clock.tick(NODE_AGENT_SYNC_INTERVAL_MS);
    assert.equal(ca.calls.length, ok + 1, 'back to the interval');

    await agent.stop();
    assert.equal(clock.pending(), 0, 'no timer left after stop');
  });

  test('stop aborts a request in flight, without reporting it as a failure', async () => {
    const clock = manualClock();
    const log = recordingLogger('debug');
    const hanging: KubeletSource = { pods: (signal) => new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason))) };
    const agent = createNodeAgent({ nodeName: NODE, kubelet: hanging, clusterAgent: fakeClusterAgent(), logger: log.logger, timers: clock });
    agent.start();
    await clock.tick(0);
    await agent.stop();
    assert.equal(agent.status().upstreams.kubelet.consecutiveFailures, 0);
    assert.equal(log.lines().filter((l) => l.level === 40).length, 0);
  });
});

describe('node agent with the real client: the cluster agent goes away', () => {
  const TOKEN = 't'.repeat(48);
  let cleanup: () => Promise<void>;
  let fakeUrl: string;
  let caFile: string;
  let stopFake: () => Promise<void>;
  before(async () => {
    const dir = await tempDir();
    const { ca, serving } = await makeTestCa();
    caFile = join(dir.path, 'ca.pem');
    await writeFile(caFile, ca.certPem);
    const fake = await startFakeClusterAgent({ token: TOKEN, serving });
    fake.answers.set(API_PATHS.nodePods(NODE), [200, { node: NODE, pods: [{ namespace: 'shop', name: 'api-1', uid: 'uid-api-1', tags: ['kube_service:api'] }] }]);
    fakeUrl = fake.url;
    // Closed by the test and again by after() (a second close resolves too): a fake left listening when an
    // assertion fails first would keep this file's process alive, and the whole suite waiting on it.
    stopFake = () => fake.close();
    cleanup = () => dir.remove();
  });
  after(async () => {
    await stopFake();
    await cleanup();
  });

  test('unreachable → the tags of its last answer are kept, stale, with their age', async () => {
    const clock = manualClock(Date.now());
    const kubelet = fakeKubelet();
    kubelet.answer = { pods: [pod('api-1')], foreign: 0 };
    const client = createClusterAgentClient({ endpoint: { url: fakeUrl, servername: FAKE_SERVICE_DNS, foundFrom: 'test' }, authToken: TOKEN, tlsVerify: true, caFile });
    const agent = createNodeAgent({ nodeName: NODE, kubelet, clusterAgent: client, logger: recordingLogger().logger, timers: clock });
    try {
      await agent.syncKubelet();
      await agent.syncClusterAgent();
      assert.deepEqual(agent.pods()[0]?.tags, ['kube_service:api', 'pod_phase:running']);
      client.close();
      await stopFake();
      clock.advance(90_000);
      await agent.syncClusterAgent();
      const s = agent.status();
      assert.equal(s.upstreams['cluster-agent'].problem?.code, 'unreachable');
      assert.equal(s.tags.stale, true);
      assert.equal(s.tags.ageSeconds, 90);
      assert.deepEqual(agent.pods()[0]?.tags, ['kube_service:api', 'pod_phase:running']);
    } finally {
      client.close();
      await agent.stop();
    }
  });
});
