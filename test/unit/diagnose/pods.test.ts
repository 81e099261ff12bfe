/** Reading pods for diagnose: injection marks, owner grouping and the commands that recreate them; label selectors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OwnerReference } from '../../../src/admission/pod.js';
import { capLines } from '../../../src/diagnose/evidence.js';
import { carriesConfigInjection, groupByOwner, isFinished, ownerKey, recreateCommand, type ListedPod } from '../../../src/diagnose/pods.js';

const pod = (name: string, env: string[] = [], owner?: Partial<OwnerReference>, ns = 'apps'): ListedPod => ({
  metadata: { name, namespace: ns, ...(owner ? { ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'x', controller: true, ...owner }] } : {}) },
  spec: { containers: [{ name: 'app', env: env.map((n) => ({ name: n, value: '1' })) }] },
});

test('a pod carries the injection when a container has DD_ENTITY_ID, in any mode', () => {
  assert.equal(carriesConfigInjection(pod('a', ['DD_AGENT_HOST', 'DD_ENTITY_ID'])), true);
  assert.equal(carriesConfigInjection(pod('b', ['DD_TRACE_AGENT_URL', 'DD_DOGSTATSD_URL', 'DD_ENTITY_ID'])), true);
  // DD_AGENT_HOST set by hand in the manifest is not the webhook's doing.
  assert.equal(carriesConfigInjection(pod('c', ['DD_AGENT_HOST'])), false);
  assert.equal(carriesConfigInjection({ metadata: { name: 'd' }, spec: { containers: [{ name: 'a' }], initContainers: [{ name: 'i', env: [{ name: 'DD_ENTITY_ID' }] }] } }), true);
  assert.equal(carriesConfigInjection({ metadata: { name: 'e' } }), false);
});

test('finished and terminating pods are told apart', () => {
  assert.equal(isFinished({ status: { phase: 'Succeeded' } }), true);
  assert.equal(isFinished({ metadata: { deletionTimestamp: '2024-01-01T00:00:00Z' } }), true);
  assert.equal(isFinished({ status: { phase: 'Pending' } }), false);
});

test('pods are grouped by the workload to restart: ReplicaSet → Deployment, Job → CronJob, else the direct owner or the pod', () => {
  const parents = new Map<string, OwnerReference | undefined>([
    [ownerKey('apps', 'ReplicaSet', 'web-5d4f'), { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }],
    [ownerKey('apps', 'ReplicaSet', 'web-77aa'), { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }],
    [ownerKey('apps', 'Job', 'report-2890'), { apiVersion: 'batch/v1', kind: 'CronJob', name: 'report' }],
    [ownerKey('apps', 'ReplicaSet', 'orphan-rs'), undefined],
  ]);
  const groups = groupByOwner(
    [
      pod('web-5d4f-a', [], { kind: 'ReplicaSet', name: 'web-5d4f' }),
      pod('web-77aa-b', [], { kind: 'ReplicaSet', name: 'web-77aa' }),
      pod('report-2890-x', [], { kind: 'Job', name: 'report-2890' }),
      pod('db-0', [], { kind: 'StatefulSet', name: 'db' }),
      pod('orphan-rs-q', [], { kind: 'ReplicaSet', name: 'orphan-rs' }),
      pod('lonely'),
      pod('web-1', [], { kind: 'ReplicaSet', name: 'web-5d4f' }, 'other'),
    ],
    parents,
  );
  assert.deepEqual(
    groups.map((g) => [g.namespace, g.kind, g.name, g.pods]),
    [
      ['apps', 'CronJob', 'report', ['report-2890-x']],
      ['apps', 'Deployment', 'web', ['web-5d4f-a', 'web-77aa-b']],
      ['apps', 'Pod', 'lonely', ['lonely']],
      ['apps', 'ReplicaSet', 'orphan-rs', ['orphan-rs-q']],
      ['apps', 'StatefulSet', 'db', ['db-0']],
      // Another namespace's ReplicaSet of the same name is another object (its owner was not read).
      ['other', 'ReplicaSet', 'web-5d4f', ['web-1']],
    ],
  );
  assert.deepEqual(groups.map(recreateCommand), [
    'nothing to restart: the next Job of cronjob/report -n apps is created through the webhook (to run one now: kubectl create job --from=cronjob/report report-injected -n apps)',
    'kubectl rollout restart deployment/web -n apps',
    'kubectl delete pod lonely -n apps, then create it again from its manifest (nothing recreates a bare pod)',
    'kubectl delete pod orphan-rs-q -n apps (replicaset/orphan-rs recreates them)',
    'kubectl rollout restart statefulset/db -n apps',
    'kubectl delete pod web-1 -n other (replicaset/web-5d4f recreates them)',
  ]);
});

test('evidence is capped with a count of what was left out', () => {
  const lines = Array.from({ length: 30 }, (_, i) => `l${i}`);
  const capped = capLines(lines);
  assert.equal(capped.length, 20);
  assert.equal(capped.at(-1), '… and 11 more');
  assert.deepEqual(capLines(['a', 'b']), ['a', 'b']);
});

