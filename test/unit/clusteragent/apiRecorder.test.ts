/**
 * The cluster agent API records what node agents report (issue 10): an accepted request of a node route
 * with the node agent's kubelet report from its header; a refused one (401/403) never (issue 20: the
 * node in an unauthenticated path is the sender's word); other routes not at all.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateCa, type CertificatePair } from '../../../src/certs/index.js';
import { startClusterAgentApi, type ClusterAgentApi, type NodeAgentRecorder } from '../../../src/clusteragent/api/index.js';
import { encodeNodeAgentHeader, NODE_AGENT_REPORT_HEADER, type ClusterAgentAnswer, type KubeletReport } from '../../../src/agentapi/nodeAgentReport.js';
import { testConfig } from '../../helpers/config.js';
import { fakeClusterView } from '../../helpers/fakeClusterView.js';
import { request } from '../../helpers/https.js';
import { recordingLogger } from '../../helpers/logs.js';

const TOKEN = 'r'.repeat(40);
const recorded: [string, KubeletReport | undefined, ClusterAgentAnswer][] = [];
const recorder: NodeAgentRecorder = { record: (node, kubelet, answer) => void recorded.push([node, kubelet, answer]) };

describe('cluster agent API: node agent reports', () => {
  let ca: CertificatePair;
  let api: ClusterAgentApi;
  const get = (path: string, headers: Record<string, string>) => request(api.url + path, { ca: ca.certPem, headers });

  before(async () => {
    ca = await generateCa({ commonName: 'recorder test CA', validityHours: 24 });
    const view = fakeClusterView();
    view.setNode('n1', {});
    api = await startClusterAgentApi({ config: testConfig({ 'cluster_agent.auth_token': TOKEN }), namespace: 'datadog', view, logger: recordingLogger('error').logger, host: '127.0.0.1', port: 0, extraNames: ['127.0.0.1'], recorder });
    await api.setCa(ca.certPem, ca.keyPem);
  });
  after(() => api.close({ drainMs: 0 }));

  test('accepted: the header\'s kubelet report and "ok"; without the header, unknown', async () => {
    recorded.length = 0;
    const kubelet = { state: 'failing', code: 'forbidden', status: 403, summary: 'refused system:serviceaccount:datadog:default' } as const;
    await get('/api/v1/tether/pods/n1', { Authorization: `Bearer ${TOKEN}`, [NODE_AGENT_REPORT_HEADER]: encodeNodeAgentHeader(kubelet) });
    await get('/api/v1/tags/pod/n1', { Authorization: `Bearer ${TOKEN}` });
    await get('/version', { Authorization: `Bearer ${TOKEN}` });
    assert.deepEqual(recorded, [
      ['n1', kubelet, { state: 'ok' }],
      ['n1', { state: 'unknown' }, { state: 'ok' }],
    ]);
  });

  test('refused (401, 403): nothing recorded, even for a node that exists (anyone may send a real node\'s name)', async () => {
    recorded.length = 0;
    await get('/api/v1/tether/pods/n1', { Authorization: `Bearer ${'w'.repeat(40)}`, [NODE_AGENT_REPORT_HEADER]: encodeNodeAgentHeader({ state: 'failing', code: 'forbidden' }) });
    await get('/api/v1/tags/pod/n1', {});
    await get('/api/v1/tags/pod/made-up-node', {});
    assert.deepEqual(recorded, []);
  });
});
