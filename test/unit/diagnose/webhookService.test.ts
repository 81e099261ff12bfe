/** The webhook-service check's pure parts: where a Service port forwards, and how many endpoints are ready. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type * as k8s from '@kubernetes/client-node';
import { countEndpoints, resolveTargetPort } from '../../../src/diagnose/checks/webhookService.js';

const containers: k8s.V1Container[] = [
  { name: 'sidecar', ports: [{ name: 'metrics', containerPort: 9090 }] },
  { name: 'cluster-agent', ports: [{ name: 'webhook', containerPort: 8000, protocol: 'TCP' }, { name: 'api', containerPort: 5005 }, { name: 'dns', containerPort: 53, protocol: 'UDP' }] },
];

describe('resolveTargetPort', () => {
  test('a number is the port; an absent targetPort is the port itself', () => {
    assert.deepEqual(resolveTargetPort({ port: 443, targetPort: 8000 }, containers), { port: 8000, how: 'targetPort 8000' });
    assert.deepEqual(resolveTargetPort({ port: 443 }, containers), { port: 443, how: 'targetPort 443' });
    assert.equal(resolveTargetPort({ port: 443, targetPort: '8443' }, containers).port, 8443);
  });
  test('a name is the container port of that name and protocol, in any container', () => {
    assert.deepEqual(resolveTargetPort({ port: 443, targetPort: 'webhook' }, containers), { port: 8000, how: 'targetPort "webhook" = containerPort 8000 of container cluster-agent' });
    assert.equal(resolveTargetPort({ port: 443, targetPort: 'api' }, containers).port, 5005);
    assert.equal(resolveTargetPort({ port: 443, targetPort: 'dns' }, containers).port, undefined, 'a UDP port does not serve a TCP Service port');
    assert.equal(resolveTargetPort({ port: 53, targetPort: 'dns', protocol: 'UDP' }, containers).port, 53);
  });
  test('a name no container has resolves to nothing, and says what there is', () => {
    const r = resolveTargetPort({ port: 443, targetPort: 'https' }, containers);
    assert.equal(r.port, undefined);
    assert.match(r.how, /targetPort "https" names no TCP container port \(containers: sidecar \[metrics=9090\]; cluster-agent \[webhook=8000, api=5005, dns=53\]\)/);
  });
});

describe('countEndpoints', () => {
  test('ready absent counts as ready; not ready ones named; ports by the Service port name', () => {
    const slices: k8s.V1EndpointSlice[] = [
      {
        addressType: 'IPv4',
        endpoints: [
          { addresses: ['10.1.0.1'], conditions: { ready: true } },
          { addresses: ['10.1.0.2'] },
          { addresses: ['10.1.0.3'], conditions: { ready: false }, targetRef: { kind: 'Pod', name: 'agent-x' } },
        ],
        ports: [{ name: 'webhook', port: 8000 }, { name: 'other', port: 1 }],
      },
      { addressType: 'IPv6', endpoints: [{ addresses: ['fd00::1'], conditions: { ready: false } }], ports: [{ name: 'webhook', port: 8000 }] },
    ];
    assert.deepEqual(countEndpoints(slices, 'webhook'), { ready: 2, notReady: 2, ports: [8000], notReadyTargets: ['Pod agent-x', 'fd00::1'] });
    assert.deepEqual(countEndpoints([], 'webhook'), { ready: 0, notReady: 0, ports: [], notReadyTargets: [] });
    assert.deepEqual(countEndpoints([{ addressType: 'IPv4', endpoints: [], ports: [{ port: 8443 }] }], undefined).ports, [8443], 'an unnamed Service port matches an unnamed slice port');
  });
});
