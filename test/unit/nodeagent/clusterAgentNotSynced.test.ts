/**
 * A node agent against the real cluster agent API whose watches have not synced (issue 19, item 6): the
 * API answers 503, the node agent keeps the tags of its last good answer (stale), and takes the new
 * ones once the API has synced.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateCa } from '../../../src/certs/index.js';
import { startClusterAgentApi } from '../../../src/clusteragent/api/index.js';
import { createNodeAgent } from '../../../src/nodeagent/agent.js';
import { createClusterAgentClient } from '../../../src/nodeagent/clusterAgentClient.js';
import type { KubeletPod } from '../../../src/nodeagent/kubeletSource.js';
import { tempDir } from '../../helpers/certs.js';
import { testConfig } from '../../helpers/config.js';
import { fakeClusterView, SYNCED } from '../../helpers/fakeClusterView.js';
import { recordingLogger } from '../../helpers/logs.js';

const TOKEN = 'n0t-synced-' + 'y'.repeat(30);
const NODE = 'n1';

test('a cluster agent API restarting (503 until synced): the node agent keeps its last good tags, stale, then takes the new ones', async () => {
  const dir = await tempDir();
  const ca = await generateCa({ commonName: 'not-synced CA', validityHours: 24 });
  const caFile = join(dir.path, 'ca.crt');
  await writeFile(caFile, ca.certPem);
  const view = fakeClusterView();
  view.setNode(NODE, {});
  view.addService({ namespace: 'shop', name: 'web', selector: { app: 'web' } });
  view.addPod({ namespace: 'shop', name: 'web-1', node: NODE, labels: { app: 'web' }, uid: 'u-web-1', owner: { kind: 'ReplicaSet', name: 'web-5d9' } });
  view.setWorkload('shop', { kind: 'ReplicaSet', name: 'web-5d9' }, { kind: 'Deployment', name: 'web', via: { kind: 'ReplicaSet', name: 'web-5d9' }, tagLabels: {} });
  const startApi = async () => {
    const api = await startClusterAgentApi({ config: testConfig({ 'cluster_agent.auth_token': TOKEN }), namespace: 'datadog', view, logger: recordingLogger().logger, host: '127.0.0.1', port: 0, extraNames: ['127.0.0.1'] });
    await api.setCa(ca.certPem, ca.keyPem);
    return api;
  };
  let api = await startApi();
  const kubeletPod: KubeletPod = { namespace: 'shop', name: 'web-1', uid: 'u-web-1', nodeName: NODE, phase: 'Running', containerIds: [], labels: {}, ownerReferences: [] };
  let client = createClusterAgentClient({ endpoint: { url: api.url, servername: 'datadog-cluster-agent.datadog.svc', foundFrom: 'test' }, authToken: TOKEN, tlsVerify: true, caFile });
  const source = { get url() { return client.url; }, nodePods: (n: string, s?: AbortSignal) => client.nodePods(n, s), podServices: (n: string, s?: AbortSignal) => client.podServices(n, s) };
  const agent = createNodeAgent({ nodeName: NODE, kubelet: { pods: async () => ({ pods: [kubeletPod], foreign: 0 }) }, clusterAgent: source, logger: recordingLogger().logger });
  try {
    await agent.syncKubelet();
    await agent.syncClusterAgent();
    const good = agent.pods()[0]?.tags ?? [];
    assert.ok(good.includes('kube_service:web') && good.includes('kube_deployment:web'), `tags from the synced API: ${good.join(',')}`);

    // The cluster agent is replaced: the new one has not listed its watches yet.
    client.close();
    await api.close({ drainMs: 0 });
    view.setSync([{ resource: 'pods', synced: false, objects: 0 }]);
    api = await startApi();
    client = createClusterAgentClient({ endpoint: { url: api.url, servername: 'datadog-cluster-agent.datadog.svc', foundFrom: 'test' }, authToken: TOKEN, tlsVerify: true, caFile });
    await agent.syncClusterAgent();
    const s = agent.status();
    assert.equal(s.upstreams['cluster-agent'].problem?.status, 503);
    assert.match(s.upstreams['cluster-agent'].problem?.summary ?? '', /not ready to answer.*last answer are kept/);
    assert.equal(s.tags.stale, true);
    assert.deepEqual(agent.pods()[0]?.tags, good, 'the last good tags are kept through the 503');

    view.addService({ namespace: 'shop', name: 'web-canary', selector: { app: 'web' } });
    view.setSync(SYNCED);
    await agent.syncClusterAgent();
    assert.equal(agent.status().tags.stale, false);
    assert.ok(agent.pods()[0]?.tags.includes('kube_service:web-canary'));
  } finally {
    await agent.stop();
    client.close();
    await api.close({ drainMs: 0 });
    await dir.remove();
  }
});
