/** `tether node-agent` as a process: the refusals that must happen before it reads or asks anything. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnTether } from '../helpers/tether.js';

describe('tether node-agent refuses to start', () => {
  test('without a node name: exits non-zero and says why', async () => {
    const p = spawnTether(['node-agent', '--port', '0'], { DD_CLUSTER_AGENT_AUTH_TOKEN: 'k'.repeat(32) });
    const code = await p.exited;
    assert.equal(code, 2, p.stderr());
    assert.match(p.stderr(), /tether: kubernetes_kubelet_nodename \(DD_KUBERNETES_KUBELET_NODENAME\) is not set: the node agent must know its node/);
    assert.match(p.stderr(), /show every pod of the cluster on every node/);
  });

  test('with a token of 30 characters: exits non-zero with the length, never the token', async () => {
    const token = 'abcdefghij'.repeat(3);
    const p = spawnTether(['node-agent', '--port', '0'], { DD_KUBERNETES_KUBELET_NODENAME: 'node-1', DD_CLUSTER_AGENT_AUTH_TOKEN: token });
    const code = await p.exited;
    assert.equal(code, 2, p.stderr());
    assert.match(p.stderr(), /cluster agent authentication token length must be at least 32, currently: 30/);
    assert.ok(!p.stderr().includes(token), 'the token is not printed');
  });
});
