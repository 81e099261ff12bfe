/** The kubelet double's authorizer tables are the kubelet's (docs: Kubelet authentication/authorization). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kubeletSubresources, kubeletVerb } from '../../helpers/kubeletDouble.js';

test('path → subresources, classic and fine-grained', () => {
  const rows: [string, string[], string[]][] = [
    ['/pods', ['proxy'], ['pods', 'proxy']],
    ['/pods/', ['proxy'], ['pods', 'proxy']],
    ['/runningpods/', ['proxy'], ['pods', 'proxy']],
    ['/healthz', ['proxy'], ['healthz', 'proxy']],
    ['/configz', ['proxy'], ['configz', 'proxy']],
    ['/stats/summary', ['stats'], ['stats']],
    ['/metrics/cadvisor', ['metrics'], ['metrics']],
    ['/logs/syslog', ['log'], ['log']],
    ['/spec/', ['spec'], ['spec']],
    ['/checkpoint/ns/pod/c', ['checkpoint'], ['checkpoint']],
    ['/exec/ns/pod/c', ['proxy'], ['proxy']],
    ['/podsx', ['proxy'], ['proxy']],
  ];
  for (const [path, classic, fine] of rows) {
    assert.deepEqual(kubeletSubresources(path), classic, path);
    assert.deepEqual(kubeletSubresources(path, true), fine, `${path} (fine-grained)`);
  }
});

test('method → verb', () => {
  assert.deepEqual(['POST', 'GET', 'HEAD', 'PUT', 'PATCH', 'DELETE'].map(kubeletVerb), ['create', 'get', 'get', 'update', 'patch', 'delete']);
});
