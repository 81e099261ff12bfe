import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { cniNetworkList, containerdConfig, corefile, kubeletConfig, kubeProxyConfig, nodeResolvConf } from '../../../src/devcluster/node/configFiles.js';
import { NODE_BRIDGE, NODE_IP, nodeDirs, POD_CIDR, SANDBOX_IMAGE } from '../../../src/devcluster/node/layout.js';
import { splitRule } from '../../../src/devcluster/node/network.js';

const dirs = nodeDirs('/tmp/tether-node-x');

describe('real node configuration files', () => {
  it('containerd: its own root, state and socket, runc with cgroupfs, the node CNI and the local sandbox image', () => {
    const toml = containerdConfig(dirs, { runc: '/cache/runc', cniBinDir: '/cache/cni/bin' });
    assert.match(toml, /^version = 3$/m);
    assert.match(toml, new RegExp(`^root = "${dirs.containerdRoot}"$`, 'm'));
    assert.match(toml, new RegExp(`^state = "${dirs.containerdState}"$`, 'm'));
    assert.match(toml, new RegExp(`address = "${dirs.containerdSocket}"`));
    assert.match(toml, /BinaryName = "\/cache\/runc"/);
    assert.match(toml, /SystemdCgroup = false/);
    assert.match(toml, /bin_dirs = \["\/cache\/cni\/bin"\]/);
    assert.match(toml, new RegExp(`sandbox = "${SANDBOX_IMAGE}"`));
    assert.doesNotMatch(toml, /\/var\/lib\/containerd/);
  });

  it('CNI: a bridge whose gateway is the node, no masquerade, host ports with hairpin SNAT', () => {
    const list = JSON.parse(cniNetworkList(dirs)) as { plugins: Array<Record<string, unknown>> };
    const [bridge, portmap] = list.plugins;
    assert.equal(bridge!['type'], 'bridge');
    assert.equal(bridge!['bridge'], NODE_BRIDGE);
    assert.equal(bridge!['ipMasq'], false);
    assert.deepEqual((bridge!['ipam'] as { ranges: unknown }).ranges, [[{ subnet: POD_CIDR, gateway: NODE_IP }]]);
    assert.equal(portmap!['type'], 'portmap');
    assert.deepEqual(portmap!['capabilities'], { portMappings: true });
  });

  it('kubelet: webhook authentication and authorization, no anonymous access, cgroup v1 allowed, no host resolvers', () => {
    const cfg = parse(kubeletConfig(dirs, { clientCaFile: '/ca', tlsCertFile: '/crt', tlsKeyFile: '/key' })) as Record<string, any>;
    assert.equal(cfg['kind'], 'KubeletConfiguration');
    assert.equal(cfg['failCgroupV1'], false);
    assert.equal(cfg['cgroupDriver'], 'cgroupfs');
    assert.equal(cfg['authentication'].anonymous.enabled, false);
    assert.equal(cfg['authentication'].webhook.enabled, true);
    assert.equal(cfg['authorization'].mode, 'Webhook');
    assert.equal(cfg['readOnlyPort'], 0);
    assert.deepEqual(cfg['clusterDNS'], [NODE_IP]);
    assert.equal(cfg['resolvConf'], dirs.resolvConf);
    assert.equal(cfg['containerRuntimeEndpoint'], `unix://${dirs.containerdSocket}`);
    const noWebhook = parse(kubeletConfig(dirs, { clientCaFile: '/ca', tlsCertFile: '/crt', tlsKeyFile: '/key', tokenWebhook: false })) as Record<string, any>;
    assert.equal(noWebhook['authentication'].webhook.enabled, false);
    assert.equal(nodeResolvConf(), `nameserver ${NODE_IP}\noptions ndots:1\n`);
  });

  it('kube-proxy: iptables mode for the pod range, loopback health and metrics, conntrack limits untouched', () => {
    const cfg = parse(kubeProxyConfig({ kubeconfig: '/kc', hostnameOverride: 'n', healthzPort: 1, metricsPort: 2 })) as Record<string, any>;
    assert.equal(cfg['mode'], 'iptables');
    assert.equal(cfg['clusterCIDR'], POD_CIDR);
    assert.equal(cfg['healthzBindAddress'], '127.0.0.1:1');
    assert.equal(cfg['metricsBindAddress'], '127.0.0.1:2');
    assert.equal(cfg['conntrack'].maxPerCore, 0);
  });

  it('CoreDNS: bound to the node, cluster names only, nothing forwarded off the machine', () => {
    const text = corefile({ kubeconfig: '/kc', healthPort: 3, readyPort: 4 });
    assert.match(text, new RegExp(`bind ${NODE_IP.replace(/\./g, '\\.')}`));
    assert.match(text, /kubernetes cluster\.local in-addr\.arpa ip6\.arpa/);
    assert.match(text, /kubeconfig \/kc/);
    assert.doesNotMatch(text, /forward/);
  });

  it('reads iptables-save rules back into arguments, quoted comments whole', () => {
    assert.deepEqual(splitRule('-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'), ['-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES']);
    assert.deepEqual(splitRule('-s 10.214.0.0/24 -j TETHER-NODE-EGRESS'), ['-s', '10.214.0.0/24', '-j', 'TETHER-NODE-EGRESS']);
    assert.deepEqual(splitRule('--comment "say \\"hi\\"" -j X'), ['--comment', 'say "hi"', '-j', 'X']);
  });
});
