/**
 * The owner walk, the wording of failures and the caching resolver, over fake readers (no API server);
 * test/unit/kube/apiReaders.test.ts has the client-node readers against loopback servers and
 * test/e2e/ownerFacts.test.ts the real control plane.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import type { OwnerReference, StringMap } from '../../../src/admission/pod.js';
import { FACT_FAILURE_CACHE_TTL_MS, NAMESPACE_CACHE_TTL_MS } from '../../../src/config/limits.js';
import {
  createCachingFactResolver,
  lookUpOwner,
  objectFacts,
  ownerCacheTtlMsOf,
  ownerKindOf,
  readFailureReason,
  OWNER_KINDS,
  type ObjectFacts,
  type ObjectReader,
  type OwnerKindKey,
} from '../../../src/kube/facts.js';
import { recordingLogger } from '../../helpers/logs.js';
import { testConfig } from '../../helpers/config.js';

const TAGS = { 'tags.datadoghq.com/env': 'prod', 'tags.datadoghq.com/service': 'web', 'tags.datadoghq.com/version': '1.2.3' };
const never = new AbortController().signal;
const forbidden = (what: string) =>
  new k8s.ApiException(403, 'HTTP-Code: 403 Headers: {"authorization":"Bearer s3cr3t-token"}', { kind: 'Status', message: `${what} is forbidden: User "x" cannot get resource` }, { authorization: 'Bearer s3cr3t-token' });
const notFound = (what: string) => new k8s.ApiException(404, 'HTTP-Code: 404', JSON.stringify({ kind: 'Status', message: `${what} not found` }), {});

/** A fake cluster: objects by `kind/namespace/name`; every read is recorded. */
function fakeCluster(objects: Record<string, ObjectFacts | Error>) {
  const reads: string[] = [];
  const read: ObjectReader = async (kind, namespace, name, signal) => {
    const key = `${kind}/${namespace}/${name}`;
    reads.push(key);
    await new Promise((r) => setImmediate(r));
    if (signal.aborted) throw new Error('aborted');
    const o = objects[key];
    if (o === undefined) throw notFound(key);
    if (o instanceof Error) throw o;
    return o;
  };
  return { read, reads };
}

const rsRef: OwnerReference = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d4b9c', controller: true };
const deploymentRef = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', controller: true };

describe('ownerKindOf', () => {
  test('the supported kinds, by group and kind, whatever the version', () => {
    assert.equal(ownerKindOf({ apiVersion: 'apps/v1', kind: 'ReplicaSet' }), 'apps/ReplicaSet');
    assert.equal(ownerKindOf({ apiVersion: 'apps/v1beta2', kind: 'StatefulSet' }), 'apps/StatefulSet');
    assert.equal(ownerKindOf({ apiVersion: 'batch/v1', kind: 'CronJob' }), 'batch/CronJob');
    assert.equal(ownerKindOf({ apiVersion: 'v1', kind: 'ReplicationController' }), undefined);
    assert.equal(ownerKindOf({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout' }), undefined);
    assert.equal(ownerKindOf({ apiVersion: 'example.com/v1', kind: 'ReplicaSet' }), undefined, 'a kind of the same name in another group');
    assert.equal(ownerKindOf({ apiVersion: 'apps/v1', kind: 'toString' }), undefined, 'no prototype keys');
  });

  test('every kind in the table is granted `get` in deploy/rbac.yaml (same group and resource)', async () => {
    const { readFileSync } = await import('node:fs');
    const { RBAC_MANIFEST } = await import('../../helpers/rbac.js');
    const { parseAllDocuments } = await import('yaml');
    type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
    const rules = parseAllDocuments(readFileSync(RBAC_MANIFEST, 'utf8'))
      .map((d) => d.toJSON() as { kind?: string; rules?: Rule[] } | null)
      .filter((o) => o?.kind === 'ClusterRole')
      .flatMap((o) => o?.rules ?? []);
    const allowed = (group: string, resource: string) =>
      rules.some((r) => !r.resourceNames && r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes('get'));
    for (const k of Object.values(OWNER_KINDS)) assert.ok(allowed(k.group, k.resource), `get ${k.resource}.${k.group}`);
    assert.ok(allowed('', 'namespaces'), 'get namespaces');
  });
});

describe('objectFacts (the boundary)', () => {
  test('labels that are not strings are dropped; absent metadata is no labels and no controller', () => {
    assert.deepEqual(objectFacts(undefined), { labels: {} });
    assert.deepEqual(objectFacts({ labels: { a: 'b', n: 1, o: { x: 1 } } }), { labels: { a: 'b' } });
    assert.deepEqual(objectFacts({ labels: ['a'] }), { labels: {} });
  });

  test('the controller is the owner reference with controller: true, and a well-formed one', () => {
    assert.deepEqual(objectFacts({ ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'other' }, deploymentRef] }).controller, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'web',
    });
    assert.equal(objectFacts({ ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }] }).controller, undefined);
    assert.equal(objectFacts({ ownerReferences: [{ kind: 'Deployment', name: 'web', controller: true }] }).controller, undefined);
    assert.equal(objectFacts({ ownerReferences: 'nope' }).controller, undefined);
  });
});

describe('readFailureReason', () => {
  const rs = OWNER_KINDS['apps/ReplicaSet'];
  test('403 names the missing permission: verb, resource, API group', () => {
    const r = readFailureReason(forbidden('rs'), rs, 'ReplicaSet apps/web-1');
    assert.equal(r, `forbidden to read ReplicaSet apps/web-1: Tether's RBAC lacks verb "get" on resource "replicasets" in API group "apps"`);
    assert.match(readFailureReason(forbidden('ns'), { group: '', kind: 'Namespace', resource: 'namespaces' }, 'namespace x'), /"namespaces" in API group "" \(core\)/);
  });

  test('404, 401, other statuses, network errors; never a token or header', () => {
    assert.equal(readFailureReason(notFound('x'), rs, 'ReplicaSet apps/web-1'), 'ReplicaSet apps/web-1 not found');
    assert.match(readFailureReason(new k8s.ApiException(401, 'Unauthorized', '', {}), rs, 'ReplicaSet a/b'), /did not accept Tether's credentials \(HTTP 401\)/);
    const server = new k8s.ApiException(500, 'HTTP-Code: 500 Headers: {"authorization":"Bearer s3cr3t-token"}', { message: 'etcdserver: request timed out' }, {});
    assert.equal(readFailureReason(server, rs, 'ReplicaSet a/b'), 'reading ReplicaSet a/b: HTTP 500: etcdserver: request timed out');
    const refused = new k8s.FetchError('request to https://127.0.0.1:1/apis/apps/v1/namespaces/a/replicasets/b failed, reason: connect ECONNREFUSED 127.0.0.1:1', 'system', {
      code: 'ECONNREFUSED',
    } as never);
    assert.equal(readFailureReason(refused, rs, 'ReplicaSet a/b'), 'cannot reach the API server to read ReplicaSet a/b: connect ECONNREFUSED 127.0.0.1:1');
    for (const e of [forbidden('x'), server]) assert.doesNotMatch(readFailureReason(e, rs, 'x'), /s3cr3t|Bearer|authorization/i);
  });
});

describe('lookUpOwner', () => {
  const look = (read: ObjectReader, kind: OwnerKindKey, name: string) => lookUpOwner('apps', kind, name, read, never);

  test("a ReplicaSet controlled by a Deployment: the Deployment's labels", async () => {
    const { read, reads } = fakeCluster({
      'apps/ReplicaSet/apps/web-7d4b9c': { labels: { app: 'web', 'pod-template-hash': '7d4b9c' }, controller: deploymentRef },
      'apps/Deployment/apps/web': { labels: TAGS },
    });
    assert.deepEqual(await look(read, 'apps/ReplicaSet', 'web-7d4b9c'), { found: true, kind: 'Deployment', name: 'web', labels: TAGS });
    assert.deepEqual(reads, ['apps/ReplicaSet/apps/web-7d4b9c', 'apps/Deployment/apps/web']);
  });

  test("a ReplicaSet without a controller, or with one of another kind: the ReplicaSet's own labels", async () => {
    const { read, reads } = fakeCluster({
      'apps/ReplicaSet/apps/bare': { labels: TAGS },
      'apps/ReplicaSet/apps/rollout-1': { labels: { x: 'y' }, controller: { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'r' } },
    });
    assert.deepEqual(await look(read, 'apps/ReplicaSet', 'bare'), { found: true, kind: 'ReplicaSet', name: 'bare', labels: TAGS });
    assert.deepEqual(await look(read, 'apps/ReplicaSet', 'rollout-1'), { found: true, kind: 'ReplicaSet', name: 'rollout-1', labels: { x: 'y' } });
    assert.equal(reads.length, 2, 'the Rollout is not read');
  });

  test('a Job of a CronJob: the CronJob; a StatefulSet, DaemonSet: themselves, one read', async () => {
    const { read, reads } = fakeCluster({
      'batch/Job/apps/nightly-28000': { labels: {}, controller: { apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly' } },
      'batch/CronJob/apps/nightly': { labels: TAGS },
      'apps/StatefulSet/apps/db': { labels: TAGS },
      'apps/DaemonSet/apps/agent': { labels: { team: 'a' } },
    });
    assert.deepEqual(await look(read, 'batch/Job', 'nightly-28000'), { found: true, kind: 'CronJob', name: 'nightly', labels: TAGS });
    assert.deepEqual(await look(read, 'apps/StatefulSet', 'db'), { found: true, kind: 'StatefulSet', name: 'db', labels: TAGS });
    assert.deepEqual(await look(read, 'apps/DaemonSet', 'agent'), { found: true, kind: 'DaemonSet', name: 'agent', labels: { team: 'a' } });
    assert.equal(reads.length, 4);
  });

  test('a missing owner, or a missing Deployment behind the ReplicaSet: found false, saying which', async () => {
    const { read } = fakeCluster({ 'apps/ReplicaSet/apps/orphan-1': { labels: {}, controller: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'gone' } } });
    assert.deepEqual(await look(read, 'apps/ReplicaSet', 'nope'), { found: false, reason: 'ReplicaSet apps/nope not found' });
    assert.deepEqual(await look(read, 'apps/ReplicaSet', 'orphan-1'), { found: false, reason: 'Deployment apps/gone (controller of ReplicaSet orphan-1) not found' });
  });

  test('403 on the Deployment (ReplicaSets allowed): the reason names deployments', async () => {
    const { read } = fakeCluster({ 'apps/ReplicaSet/apps/web-1': { labels: {}, controller: deploymentRef }, 'apps/Deployment/apps/web': forbidden('deployments') });
    const got = await look(read, 'apps/ReplicaSet', 'web-1');
    assert.equal(got.found, false);
    assert.match(got.found ? '' : got.reason, /lacks verb "get" on resource "deployments" in API group "apps"/);
  });

  test('rejects (does not answer found: false) when its signal aborts', async () => {
    const ac = new AbortController();
    const read: ObjectReader = () => new Promise((_r, reject) => ac.signal.addEventListener('abort', () => reject(new Error('The user aborted a request.'))));
    const p = lookUpOwner('apps', 'apps/ReplicaSet', 'x', read, ac.signal);
    ac.abort(new Error('out of time'));
    await assert.rejects(p, /out of time/);
  });
});

describe('createCachingFactResolver', () => {
  function cluster() {
    return fakeCluster({
      'apps/ReplicaSet/apps/web-7d4b9c': { labels: {}, controller: deploymentRef },
      'apps/Deployment/apps/web': { labels: TAGS },
    });
  }
  const noNamespaces = async (): Promise<StringMap> => assert.fail('no namespace read expected');

  test('a rollout: 100 concurrent lookups of one ReplicaSet cost one ReplicaSet read and one Deployment read', async () => {
    const { read, reads } = cluster();
    const facts = createCachingFactResolver({ readObject: read, readNamespace: noNamespaces }, { ownerCacheTtlMs: 600_000 });
    const got = await Promise.all(Array.from({ length: 100 }, () => facts.owner('apps', rsRef, never)));
    assert.ok(got.every((g) => g.found && g.kind === 'Deployment' && g.labels['tags.datadoghq.com/env'] === 'prod'));
    assert.deepEqual(reads, ['apps/ReplicaSet/apps/web-7d4b9c', 'apps/Deployment/apps/web']);
    assert.deepEqual(facts.stats().owners, { hits: 0, shared: 99, loads: 1, evictions: 0 });
    // A later pod of the same ReplicaSet: from the cache.
    await facts.owner('apps', rsRef, never);
    assert.equal(reads.length, 2);
    assert.equal(facts.stats().owners.hits, 1);
  });

  test('owners are read again once pod_owners_cache_validity is over', async () => {
    let t = 0;
    const { read, reads } = cluster();
    const config = testConfig({ 'admission_controller.inject_tags.pod_owners_cache_validity': 10 });
    assert.equal(ownerCacheTtlMsOf(config), 600_000);
    const facts = createCachingFactResolver({ readObject: read, readNamespace: noNamespaces }, { config, now: () => t });
    await facts.owner('apps', rsRef, never);
    t += 600_000 - 1;
    await facts.owner('apps', rsRef, never);
    assert.equal(reads.length, 2);
    t += 1;
    await facts.owner('apps', rsRef, never);
    assert.equal(reads.length, 4);
  });

  test('validity 0: every lookup reads', async () => {
    const { read, reads } = cluster();
    const facts = createCachingFactResolver({ readObject: read, readNamespace: noNamespaces }, { config: testConfig({ 'admission_controller.inject_tags.pod_owners_cache_validity': 0 }) });
    await facts.owner('apps', rsRef, never);
    await facts.owner('apps', rsRef, never);
    assert.equal(reads.length, 4);
  });

  test('a failure is kept only FACT_FAILURE_CACHE_TTL_MS, however long owners are cached', async () => {
    let t = 0;
    const objects: Record<string, ObjectFacts | Error> = { 'apps/ReplicaSet/apps/web-7d4b9c': forbidden('rs') };
    const { read, reads } = fakeCluster(objects);
    const facts = createCachingFactResolver({ readObject: read, readNamespace: noNamespaces }, { ownerCacheTtlMs: 600_000, now: () => t });
    assert.equal((await facts.owner('apps', rsRef, never)).found, false);
    objects['apps/ReplicaSet/apps/web-7d4b9c'] = { labels: TAGS }; // RBAC fixed
    t += FACT_FAILURE_CACHE_TTL_MS - 1;
    assert.equal((await facts.owner('apps', rsRef, never)).found, false, 'a burst of pods does not repeat the read');
    t += 1;
    assert.equal((await facts.owner('apps', rsRef, never)).found, true, 'the fix is seen once the failure expires');
    assert.equal(reads.length, 2);
  });

  test('an unsupported owner kind: found false naming it, nothing read', async () => {
    const { read, reads } = cluster();
    const facts = createCachingFactResolver({ readObject: read, readNamespace: noNamespaces }, { ownerCacheTtlMs: 1000 });
    const got = await facts.owner('apps', { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'r' }, never);
    assert.equal(got.found, false);
    assert.match(got.found ? '' : got.reason, /owner kind Rollout \(argoproj\.io\/v1alpha1\) is not one Tether reads \(ReplicaSet, Deployment, StatefulSet, DaemonSet, Job, CronJob\)/);
    assert.equal(reads.length, 0);
  });

  test("a caller whose budget runs out is rejected at once; another caller of the same owner still gets it", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const read: ObjectReader = async (kind) => (await gate, kind === 'apps/ReplicaSet' ? { labels: {}, controller: deploymentRef } : { labels: TAGS });
    const facts = createCachingFactResolver({ readObject: read, readNamespace: noNamespaces }, { ownerCacheTtlMs: 1000 });
    const impatient = new AbortController();
    const a = facts.owner('apps', rsRef, impatient.signal);
    const b = facts.owner('apps', rsRef, never);
    impatient.abort(new Error('budget over'));
    await assert.rejects(a, /budget over/);
    release();
    assert.equal((await b).found, true);
  });

  test('a lookup nobody bounds still ends after readTimeoutMs, as found false', async () => {
    const read: ObjectReader = () => new Promise(() => {});
    const facts = createCachingFactResolver({ readObject: read, readNamespace: noNamespaces }, { ownerCacheTtlMs: 1000, readTimeoutMs: 50 });
    assert.deepEqual(await facts.owner('apps', rsRef, never), { found: false, reason: 'the API server did not answer within 50 ms' });
  });

  test('lookups are logged at debug: owner, cache outcome, whose labels; no label values', async () => {
    const rec = recordingLogger('debug');
    const { read } = cluster();
    const facts = createCachingFactResolver({ readObject: read, readNamespace: noNamespaces }, { ownerCacheTtlMs: 1000, logger: rec.logger });
    await facts.owner('apps', rsRef, never);
    await facts.owner('apps', rsRef, never);
    const lines = rec.lines().filter((l) => l['msg'] === 'owner lookup');
    assert.deepEqual(
      lines.map((l) => [l['level'], l['owner'], l['cache'], l['labelsOf']]),
      [
        [20, 'ReplicaSet/web-7d4b9c', 'loaded', 'Deployment/web'],
        [20, 'ReplicaSet/web-7d4b9c', 'cache', 'Deployment/web'],
      ],
    );
    assert.doesNotMatch(rec.text(), /prod|1\.2\.3/);
  });

  describe('namespace labels', () => {
    const ownersUnused: ObjectReader = () => assert.fail('no owner read expected');

    test('read once, cached for NAMESPACE_CACHE_TTL_MS, concurrent reads shared', async () => {
      let t = 0;
      let reads = 0;
      const facts = createCachingFactResolver(
        { readObject: ownersUnused, readNamespace: async () => (reads++, { 'pod-security.kubernetes.io/enforce': 'restricted' }) },
        { ownerCacheTtlMs: 0, now: () => t },
      );
      const got = await Promise.all([facts.namespaceLabels('apps', never), facts.namespaceLabels('apps', never)]);
      assert.deepEqual(got[0], { 'pod-security.kubernetes.io/enforce': 'restricted' });
      assert.equal(reads, 1);
      t += NAMESPACE_CACHE_TTL_MS - 1;
      await facts.namespaceLabels('apps', never);
      assert.equal(reads, 1);
      t += 1;
      await facts.namespaceLabels('apps', never);
      assert.equal(reads, 2);
    });

    test('a failure rejects with the reason (resolveFacts makes it a problem), and does not stick', async () => {
      let t = 0;
      let fail = true;
      const facts = createCachingFactResolver(
        { readObject: ownersUnused, readNamespace: async () => { if (fail) throw forbidden('namespaces'); return {}; } },
        { ownerCacheTtlMs: 0, now: () => t },
      );
      await assert.rejects(facts.namespaceLabels('apps', never), /forbidden to read namespace apps: Tether's RBAC lacks verb "get" on resource "namespaces" in API group "" \(core\)/);
      fail = false;
      t += FACT_FAILURE_CACHE_TTL_MS;
      assert.deepEqual(await facts.namespaceLabels('apps', never), {});
    });
  });

  test('a negative or non-finite TTL is refused', () => {
    const readers = { readObject: cluster().read, readNamespace: noNamespaces };
    assert.throws(() => createCachingFactResolver(readers, { ownerCacheTtlMs: -1 }), RangeError);
    assert.throws(() => createCachingFactResolver(readers, { ownerCacheTtlMs: 1, namespaceCacheTtlMs: Number.NaN }), RangeError);
  });
});
