import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  foreignPodsMessage,
  kubeletProblem,
  parseKubeletForbidden,
  type KubeletFailure,
  type KubeletTarget,
} from '../../../src/nodeagent/kubeletProblems.js';
import type { ProblemCode } from '../../../src/nodeagent/problems.js';
import { kubeletRbacFix } from '../../../src/kube/kubeletRbac.js';

const T: KubeletTarget = {
  url: 'https://10.0.0.7:10250/pods',
  nodeName: 'node-a',
  tokenPath: '/var/run/secrets/kubernetes.io/serviceaccount/token',
  caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
  tlsVerify: true,
};

const SA = 'system:serviceaccount:datadog:datadog-agent';

interface Row {
  readonly name: string;
  readonly failure: KubeletFailure;
  readonly code: ProblemCode;
  /** Each must appear in summary + fix. */
  readonly says: readonly (string | RegExp)[];
}

const connection = (code: string | undefined, message: string, handshakeDone = false): KubeletFailure => ({
  kind: 'connection',
  ...(code ? { code } : {}),
  message,
  handshakeDone,
});

const TABLE: readonly Row[] = [
  {
    name: 'the seed: 401 Unauthorized',
    failure: { kind: 'status', status: 401, body: 'Unauthorized' },
    code: 'unauthorized',
    says: ['401', T.url, T.tokenPath, '--authentication-token-webhook', 'DD_KUBELET_AUTH_TOKEN_PATH', /expired/],
  },
  {
    name: '403 classic text: nodes/proxy for a service account',
    failure: { kind: 'status', status: 403, body: `Forbidden (user=${SA}, verb=get, resource=nodes, subresource=proxy)` },
    code: 'forbidden',
    says: [
      SA,
      '"get" on nodes/proxy',
      'node-a',
      'kubectl create clusterrole tether-kubelet-reader --verb=get --resource=nodes/proxy ',
      'kubectl create clusterrolebinding tether-kubelet-reader --clusterrole=tether-kubelet-reader --serviceaccount=datadog:datadog-agent',
      'agents.rbac.kubeletProxyFallback=true',
    ],
  },
  {
    name: '403 fine-grained text (Kubernetes 1.33+): nodes/pods or nodes/proxy',
    failure: { kind: 'status', status: 403, body: `Forbidden (user=${SA}, verb=get, resource=nodes, subresource(s)=[pods proxy])\n` },
    code: 'forbidden',
    says: ['"get" on nodes/pods or nodes/proxy', '--serviceaccount=datadog:datadog-agent'],
  },
  {
    name: '403 as system:anonymous: the kubelet checks no token',
    failure: { kind: 'status', status: 403, body: 'Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource=proxy)' },
    code: 'forbidden',
    says: ['system:anonymous', '--authentication-token-webhook', /Do not grant/],
  },
  {
    name: '403 of something else than a kubelet',
    failure: { kind: 'status', status: 403, body: '<html>denied</html>' },
    code: 'forbidden',
    says: ['<html>denied</html>', 'kubectl create clusterrole', '--serviceaccount=<namespace>'],
  },
  {
    name: '500 Authorization error: the kubelet could not ask the API server',
    failure: { kind: 'status', status: 500, body: `Authorization error (user=${SA}, verb=get, resource=nodes, subresource=proxy)` },
    code: 'bad-answer',
    says: ['SubjectAccessReviews', 'could not ask'],
  },
  { name: '404: not a kubelet', failure: { kind: 'status', status: 404, body: '404 page not found\n' }, code: 'bad-answer', says: ['HTTP 404', '10250'] },
  {
    name: 'self-signed kubelet certificate (own CA in chain)',
    failure: connection('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'),
    code: 'tls-unknown-ca',
    says: [T.caFile, 'kubelet_client_ca', 'DD_KUBELET_CLIENT_CA', 'kubelet_tls_verify: false', 'DD_KUBELET_TLS_VERIFY=false'],
  },
  { name: 'leaf signed by an unknown CA', failure: connection('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'), code: 'tls-unknown-ca', says: ['DD_KUBELET_CLIENT_CA'] },
  { name: 'depth-zero self-signed', failure: connection('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'), code: 'tls-unknown-ca', says: ['DD_KUBELET_TLS_VERIFY=false'] },
  {
    name: 'certificate for another name',
    failure: connection('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"),
    code: 'tls-unknown-ca',
    says: ['kubernetes_kubelet_host', 'DD_KUBERNETES_KUBELET_HOST', 'status.hostIP'],
  },
  { name: 'expired certificate', failure: connection('CERT_HAS_EXPIRED', 'certificate has expired'), code: 'tls-unknown-ca', says: ['not valid now', 'clock'] },
  {
    name: 'plain HTTP on the TLS port',
    failure: connection(
      'EPROTO',
      'write EPROTO 805CA88D267F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:\n',
    ),
    code: 'tls-handshake',
    says: ['(EPROTO: SSL: wrong version number)', 'plain HTTP', '10255', '10250', 'DD_KUBERNETES_HTTPS_KUBELET_PORT'],
  },
  {
    name: 'handshake cut (EOF)',
    failure: connection('ECONNRESET', 'Client network socket disconnected before secure TLS connection was established'),
    code: 'tls-handshake',
    says: ['EOF', 'before TLS was established', '10250'],
  },
  { name: 'reset after the handshake', failure: connection('ECONNRESET', 'socket hang up', true), code: 'unreachable', says: ['closed the connection before answering'] },
  { name: 'connection refused', failure: connection('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.7:10250'), code: 'unreachable', says: ['10.0.0.7:10250', 'ECONNREFUSED', 'status.hostIP'] },
  { name: 'unknown host', failure: connection('ENOTFOUND', 'getaddrinfo ENOTFOUND node-a'), code: 'unreachable', says: ['ENOTFOUND', 'DD_KUBERNETES_KUBELET_HOST'] },
  { name: 'no answer', failure: { kind: 'timeout', timeoutMs: 10_000, handshakeDone: true }, code: 'unreachable', says: ['did not answer within 10000 ms'] },
  { name: 'no handshake', failure: { kind: 'timeout', timeoutMs: 10_000, handshakeDone: false }, code: 'unreachable', says: ['TLS handshake', '10.0.0.7:10250'] },
  {
    name: 'token file missing',
    failure: { kind: 'token-missing', reason: `cannot read ${T.tokenPath} (ENOENT)` },
    code: 'token-missing',
    says: ['ENOENT', 'automountServiceAccountToken', 'DD_KUBELET_AUTH_TOKEN_PATH'],
  },
  { name: 'CA file missing', failure: { kind: 'ca-unreadable', reason: `cannot read ${T.caFile} (ENOENT)` }, code: 'tls-unknown-ca', says: ['ENOENT', 'DD_KUBELET_CLIENT_CA'] },
  { name: 'not a pod list', failure: { kind: 'bad-answer', reason: 'invalid JSON' }, code: 'bad-answer', says: ['not a pod list', 'invalid JSON'] },
];

describe('kubelet problems: every failure explained with its fix', () => {
  for (const row of TABLE) {
    test(row.name, () => {
      const p = kubeletProblem(row.failure, T);
      assert.equal(p.upstream, 'kubelet');
      assert.equal(p.code, row.code);
      const text = `${p.summary} Fix: ${p.fix}`;
      for (const s of row.says) {
        if (typeof s === 'string') assert.ok(text.includes(s), `${JSON.stringify(s)} missing from: ${text}`);
        else assert.match(text, s);
      }
      assert.ok(p.fix.length > 20, 'a fix, not a shrug');
      assert.ok(!text.includes('\n'), 'one line');
    });
  }

  test('statuses are kept as evidence', () => {
    assert.equal(kubeletProblem({ kind: 'status', status: 401, body: 'Unauthorized' }, T).status, 401);
    assert.equal(kubeletProblem({ kind: 'status', status: 403, body: '' }, T).status, 403);
  });

  test('a long body is cut in the evidence', () => {
    const p = kubeletProblem({ kind: 'status', status: 502, body: 'x'.repeat(10_000) }, T);
    assert.ok(p.summary.length < 400, p.summary);
  });
});

describe('parseKubeletForbidden', () => {
  test('the classic text', () => {
    assert.deepEqual(parseKubeletForbidden(`Forbidden (user=${SA}, verb=get, resource=nodes, subresource=proxy)`), {
      user: SA,
      verb: 'get',
      resource: 'nodes',
      subresources: ['proxy'],
    });
  });
  test('the fine-grained text', () => {
    assert.deepEqual(parseKubeletForbidden('Forbidden (user=alice, verb=create, resource=nodes, subresource(s)=[pods proxy])\n'), {
      user: 'alice',
      verb: 'create',
      resource: 'nodes',
      subresources: ['pods', 'proxy'],
    });
  });
  test('anything else', () => {
    assert.equal(parseKubeletForbidden('Forbidden'), undefined);
    assert.equal(parseKubeletForbidden(''), undefined);
  });
});

describe('kubeletRbacFix', () => {
  test('a user that is not a service account is bound as a user', () => {
    assert.match(kubeletRbacFix('alice'), /--user=alice$/);
  });
  test('a verb other than get is added', () => {
    assert.match(kubeletRbacFix(SA, 'create'), /--verb=get,create /);
  });
});

test('foreign pods: counted, named, and the likely cause', () => {
  const m = foreignPodsMessage('node-a', T.url, 3, 2, ['node-b', 'node-c']);
  assert.match(m, /returned 3 pods of other nodes \(nodes node-b, node-c\); kept only the 2 of node node-a/);
  assert.match(m, /DD_KUBERNETES_KUBELET_HOST/);
  assert.match(m, /DD_KUBERNETES_KUBELET_NODENAME/);
  assert.match(foreignPodsMessage('node-a', T.url, 1, 0, []), /returned 1 pod of other nodes;/);
});
