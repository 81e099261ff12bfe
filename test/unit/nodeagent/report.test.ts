/**
 * Each node agent request to the cluster agent carries the agent's last kubelet result (issue 10), so the
 * cluster agent can record it: the agent passes it to its source, and the client sends it as the
 * X-Tether-Node-Agent header (ASCII JSON, no token).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { API_PATHS } from '../../../src/agentapi/types.js';
import { parseNodeAgentHeader, type KubeletReport } from '../../../src/agentapi/nodeAgentReport.js';
import { createNodeAgent, type ClusterAgentSource } from '../../../src/nodeagent/agent.js';
import { createClusterAgentClient } from '../../../src/nodeagent/clusterAgentClient.js';
import { UpstreamError, type UpstreamProblem } from '../../../src/nodeagent/problems.js';
import { tempDir, type TempDir } from '../../helpers/certs.js';
import { FAKE_SERVICE_DNS, makeTestCa, startFakeClusterAgent, type FakeClusterAgent } from '../../helpers/fakeClusterAgent.js';
import { recordingLogger } from '../../helpers/logs.js';

const NODE = 'node-a';
const TOKEN = 't'.repeat(40);
const FORBIDDEN: UpstreamProblem = { upstream: 'kubelet', code: 'forbidden', status: 403, summary: 'the kubelet refused system:serviceaccount:datadog:default', fix: 'grant it' };

describe('the node agent reports its kubelet to the cluster agent', () => {
  test('the agent passes its last kubelet result with each request', async () => {
    const reports: (KubeletReport | undefined)[] = [];
    let kubeletAnswer: UpstreamProblem | undefined = FORBIDDEN;
    const ca: ClusterAgentSource = {
      url: 'https://dca.test',
      nodePods: async (node, _signal, report) => {
        reports.push(report);
        return { node, pods: [] };
      },
      podServices: async () => ({ Nodes: {}, Warnings: [], Errors: '' }),
    };
    const agent = createNodeAgent({
      nodeName: NODE,
      kubelet: {
        pods: async () => {
          if (kubeletAnswer) throw new UpstreamError(kubeletAnswer);
          return { pods: [], foreign: 0 };
        },
      },
      clusterAgent: ca,
      logger: recordingLogger('error').logger,
    });
    await agent.syncClusterAgent();
    await agent.syncKubelet();
    await agent.syncClusterAgent();
    kubeletAnswer = undefined;
    await agent.syncKubelet();
    await agent.syncClusterAgent();
    assert.deepEqual(reports, [{ state: 'unknown' }, { state: 'failing', code: 'forbidden', status: 403, summary: FORBIDDEN.summary }, { state: 'ok' }]);
  });

  let fake: FakeClusterAgent | undefined;
  let dir: TempDir | undefined;
  after(async () => {
    await fake?.close();
    await dir?.remove();
  });

  test('the client sends it as X-Tether-Node-Agent; without one, no header', async () => {
    const { ca, serving } = await makeTestCa();
    fake = await startFakeClusterAgent({ token: TOKEN, serving });
    fake.answers.set(API_PATHS.nodePods(NODE), [200, { node: NODE, pods: [] }]);
    dir = await tempDir();
    const caFile = join(dir.path, 'ca.pem');
    await writeFile(caFile, ca.certPem);
    const client = createClusterAgentClient({ endpoint: { url: fake.url, servername: FAKE_SERVICE_DNS, foundFrom: 'test' }, authToken: TOKEN, tlsVerify: true, caFile });
    try {
      await client.nodePods(NODE, undefined, { state: 'failing', code: 'forbidden', status: 403, summary: 'refused – “x”' });
      await client.nodePods(NODE);
    } finally {
      client.close();
    }
    const [withReport, without] = fake.requests;
    assert.deepEqual(parseNodeAgentHeader(withReport?.report), { state: 'failing', code: 'forbidden', status: 403, summary: 'refused – “x”' });
    assert.ok(!withReport?.report?.includes(TOKEN));
    assert.equal(without?.report, undefined);
  });
});
