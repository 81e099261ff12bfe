import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { discoverClusterAgent, serviceEnvPrefix, type DiscoveryInput } from '../../../src/nodeagent/discovery.js';

const base: DiscoveryInput = { url: undefined, serviceName: 'datadog-cluster-agent', namespace: 'datadog', env: {} };

describe('discoverClusterAgent', () => {
  test('service name → variable prefix, as the kubelet names them', () => {
    assert.equal(serviceEnvPrefix('datadog-cluster-agent'), 'DATADOG_CLUSTER_AGENT');
    assert.equal(serviceEnvPrefix('dca'), 'DCA');
  });

  const found: Array<[string, Partial<DiscoveryInput>, { url: string; servername: string; foundFrom: RegExp }]> = [
    [
      'cluster_agent.url wins over the Service variables',
      { url: 'https://dca.example:5005/', env: { DATADOG_CLUSTER_AGENT_SERVICE_HOST: '10.0.0.9', DATADOG_CLUSTER_AGENT_SERVICE_PORT: '5005' } },
      { url: 'https://dca.example:5005', servername: 'dca.example', foundFrom: /cluster_agent\.url \(DD_CLUSTER_AGENT_URL\)/ },
    ],
    ['a URL by IP is verified against the Service name', { url: 'https://10.1.2.3:5005' }, { url: 'https://10.1.2.3:5005', servername: 'datadog-cluster-agent.datadog.svc', foundFrom: /cluster_agent\.url/ }],
    ['an IPv6 URL', { url: 'https://[fd00::1]:5005' }, { url: 'https://[fd00::1]:5005', servername: 'datadog-cluster-agent.datadog.svc', foundFrom: /cluster_agent\.url/ }],
    [
      'the Service variables: ClusterIP → the Service DNS name is the servername',
      { env: { DATADOG_CLUSTER_AGENT_SERVICE_HOST: '10.96.0.12', DATADOG_CLUSTER_AGENT_SERVICE_PORT: '5005' } },
      { url: 'https://10.96.0.12:5005', servername: 'datadog-cluster-agent.datadog.svc', foundFrom: /DATADOG_CLUSTER_AGENT_SERVICE_HOST \/ DATADOG_CLUSTER_AGENT_SERVICE_PORT/ },
    ],
    [
      'an IPv6 ClusterIP is bracketed',
      { env: { DATADOG_CLUSTER_AGENT_SERVICE_HOST: 'fd00:10:96::c', DATADOG_CLUSTER_AGENT_SERVICE_PORT: '5005' } },
      { url: 'https://[fd00:10:96::c]:5005', servername: 'datadog-cluster-agent.datadog.svc', foundFrom: /SERVICE_HOST/ },
    ],
    [
      'another service name (DD_CLUSTER_AGENT_KUBERNETES_SERVICE_NAME) and namespace',
      { serviceName: 'my-dca', namespace: 'monitoring', env: { MY_DCA_SERVICE_HOST: '10.0.0.1', MY_DCA_SERVICE_PORT: '443', DATADOG_CLUSTER_AGENT_SERVICE_HOST: '10.9.9.9', DATADOG_CLUSTER_AGENT_SERVICE_PORT: '5005' } },
      { url: 'https://10.0.0.1:443', servername: 'my-dca.monitoring.svc', foundFrom: /MY_DCA_SERVICE_HOST/ },
    ],
  ];
  for (const [name, input, want] of found) {
    test(name, () => {
      const d = discoverClusterAgent({ ...base, ...input });
      assert.ok(d.ok, JSON.stringify(d));
      assert.equal(d.endpoint.url, want.url);
      assert.equal(d.endpoint.servername, want.servername);
      assert.match(d.endpoint.foundFrom, want.foundFrom);
    });
  }

  const problems: Array<[string, Partial<DiscoveryInput>, RegExp, RegExp]> = [
    [
      'neither: says it could not detect the endpoint, and the usual cause',
      {},
      /could not detect the cluster agent's endpoint: cluster_agent\.url \(DD_CLUSTER_AGENT_URL\) is not set and DATADOG_CLUSTER_AGENT_SERVICE_HOST \/ DATADOG_CLUSTER_AGENT_SERVICE_PORT are not in this container's environment/,
      /Service "datadog-cluster-agent" existed in namespace "datadog".*created after the node agent's pods, so restart them \(kubectl -n datadog rollout restart/,
    ],
    ['only the host variable', { env: { DATADOG_CLUSTER_AGENT_SERVICE_HOST: '10.0.0.1' } }, /DATADOG_CLUSTER_AGENT_SERVICE_HOST is set but DATADOG_CLUSTER_AGENT_SERVICE_PORT is not/, /Restart/],
    ['a port that is not a number', { env: { DATADOG_CLUSTER_AGENT_SERVICE_HOST: '10.0.0.1', DATADOG_CLUSTER_AGENT_SERVICE_PORT: 'tcp://x' } }, /SERVICE_PORT="tcp:\/\/x" is not a port number/, /DD_CLUSTER_AGENT_URL=https:\/\/datadog-cluster-agent\.datadog\.svc/],
    ['an http URL (when not caught by the configuration)', { url: 'http://dca:5005' }, /is not https: the cluster agent API is served over TLS only/, /DD_CLUSTER_AGENT_URL=https:/],
  ];
  for (const [name, input, summary, fix] of problems) {
    test(name, () => {
      const d = discoverClusterAgent({ ...base, ...input });
      assert.ok(!d.ok);
      assert.equal(d.problem.code, 'endpoint-unknown');
      assert.equal(d.problem.upstream, 'cluster-agent');
      assert.match(d.problem.summary, summary);
      assert.match(d.problem.fix, fix);
    });
  }
});
