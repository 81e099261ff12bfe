/**
 * The informer against a real kube-apiserver. Pods in one namespace: added, updated and deleted; then
 * the connection is cut, changes are made while it is down, and the API server compacts the history
 * past the informer's resourceVersion, so the watch that follows gets a real 410 and the informer must
 * list again and deliver the difference (a delete, an update, an add). For that the API server runs
 * with the pods watch cache off and compaction every second (with the watch cache, history is kept
 * for minutes). ConfigMaps keep the watch cache: there a short server-side timeout ends each watch,
 * after a bookmark, and the informer watches again without listing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { startInformer, type Informer } from '../../src/kube/informer.js';
import { kubeConfigTransport, type ApiTransport } from '../../src/kube/transport.js';
import { eventually } from '../helpers/eventually.js';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { logWaiter } from '../helpers/logWaiter.js';

const NS = 'watch-e2e';
const PODS = `/api/v1/namespaces/${NS}/pods`;
const CONFIGMAPS = `/api/v1/namespaces/${NS}/configmaps`;

interface PodSummary {
  readonly name: string;
  readonly labels: Record<string, string>;
}

/** A transport the test can cut (open requests aborted, new ones refused), recording the queries it sends. */
function cuttable(inner: ApiTransport) {
  let cut = false;
  const open = new Set<AbortController>();
  const requests: URLSearchParams[] = [];
  const transport: ApiTransport = {
    async get(path, query, signal) {
      if (cut) throw Object.assign(new Error('connect ECONNREFUSED (cut by the test)'), { code: 'ECONNREFUSED' });
      const q = query;
      requests.push(q);
      const own = new AbortController();
      open.add(own);
      signal.addEventListener('abort', () => open.delete(own), { once: true });
      return inner.get(path, q, AbortSignal.any([signal, own.signal]));
    },
  };
  return {
    transport,
    requests,
    cut() {
      cut = true;
      for (const c of open) c.abort(new Error('connection cut by the test'));
      open.clear();
    },
    heal() {
      cut = false;
    },
  };
}

function recorder() {
  const seen: string[] = [];
  let cursor = 0;
  let wake: (() => void) | undefined;
  return {
    seen,
    push(s: string) {
      seen.push(s);
      wake?.();
    },
    async next(...expected: string[]): Promise<void> {
      while (seen.length - cursor < expected.length) await new Promise<void>((r) => (wake = r));
      const got = seen.slice(cursor, cursor + expected.length);
      cursor += expected.length;
      assert.deepEqual([...got].sort(), [...expected].sort(), `handler calls: ${seen.join(', ')}`);
    },
    /** Consumes calls up to and including `call`; returns those before it. */
    async until(call: string): Promise<string[]> {
      for (;;) {
        while (seen.length <= cursor) await new Promise<void>((r) => (wake = r));
        const got = seen[cursor++]!;
        if (got === call) return seen.slice(0, cursor - 1);
      }
    },
  };
}

describe('informer against a real API server', () => {
  let cp: ControlPlane;
  let core: k8s.CoreV1Api;

  before(
    async () => {
      // No kube-controller-manager: pods stay Pending (no scheduler either), and an unscheduled pod is deleted at once.
      cp = await startControlPlane({ controllerManager: false, extraApiServerArgs: ['--watch-cache-sizes=pods#0', '--etcd-compaction-interval=1s'] });
      core = cp.kubeConfig().makeApiClient(k8s.CoreV1Api);
      await core.createNamespace({ body: { metadata: { name: NS } } });
      // Normally the service-account controller's job; pods need it to pass admission.
      await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: 'default' } } });
    },
    { timeout: 60 * 60_000 },
  );
  after(async () => {
    await cp?.stop();
  });

  const createPod = (name: string, labels: Record<string, string> = {}) =>
    core.createNamespacedPod({
      namespace: NS,
      body: { metadata: { name, labels }, spec: { automountServiceAccountToken: false, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] } },
    });
  const label = (name: string, labels: Record<string, string>) =>
    core.patchNamespacedPod({ name, namespace: NS, body: { metadata: { labels } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
  const deletePod = (name: string) => core.deleteNamespacedPod({ name, namespace: NS, gracePeriodSeconds: 0 });
  /** The status a watch of pods from `rv` gets: the HTTP status, or the code of an ERROR event it starts with. */
  const watchAnswer = async (rv: string): Promise<number> => {
    const controller = new AbortController();
    const q = new URLSearchParams({ watch: 'true', resourceVersion: rv, timeoutSeconds: '1' });
    const res = await kubeConfigTransport(cp.kubeConfig()).get(PODS, q, controller.signal);
    try {
      if (res.status !== 200) return res.status;
      for await (const chunk of res.body) {
        const first = String(chunk).split('\n')[0] ?? '';
        const ev = JSON.parse(first) as { type?: string; object?: { code?: number } };
        return ev.type === 'ERROR' ? (ev.object?.code ?? 0) : 200;
      }
      return 200;
    } finally {
      controller.abort();
    }
  };

  test('sees add, update and delete; after a cut and a 410 it lists again and delivers what changed meanwhile', { timeout: 120_000 }, async () => {
    const link = cuttable(kubeConfigTransport(cp.kubeConfig()));
    const calls = recorder();
    const logs = logWaiter();
    const informer: Informer<PodSummary> = startInformer<k8s.V1Pod, PodSummary>({
      transport: link.transport,
      path: PODS,
      pageSize: 1, // two pages on the re-list: real continue tokens
      logger: logs.logger,
      what: `pods in ${NS}`,
      transform: (p) => ({ name: p.metadata?.name ?? '', labels: p.metadata?.labels ?? {} }),
      handlers: {
        onAdd: (p) => calls.push(`add ${p.name}`),
        onUpdate: (p) => calls.push(`update ${p.name} ${JSON.stringify(p.labels)}`),
        onDelete: (p) => calls.push(`delete ${p.name}`),
        onSync: () => calls.push('sync'),
      },
    });
    // A hang says where it hung (the handler calls and the informer's log) instead of only timing out.
    const guard = setTimeout(() => {
      console.error(`still waiting; handler calls: ${calls.seen.join(', ')}\nlog:\n${logs.lines().map((l) => JSON.stringify(l)).join('\n')}`);
      void informer.stop();
    }, 90_000);
    guard.unref();
    try {
      await informer.synced;
      await calls.next('sync');
      assert.equal(informer.size, 0);

      await createPod('p1');
      await calls.next('add p1');
      await label('p1', { v: '2' });
      await calls.next('update p1 {"v":"2"}');
      await deletePod('p1');
      // Deleting a pod first sets its deletionTimestamp (an update), then removes it.
      const skipped = await calls.until('delete p1');
      assert.ok(skipped.slice(3).every((c) => c.startsWith('update p1')), `handler calls: ${skipped.join(', ')}`);
      await createPod('p2');
      await createPod('p3', { v: '1' });
      await calls.next('add p2', 'add p3');

      link.cut();
      await logs.next((l) => typeof l['retryInMs'] === 'number');
      assert.equal(informer.isSynced(), false);
      await deletePod('p2');
      await label('p3', { v: '2' });
      await createPod('p4');
      /** List requests that start a list (not its further pages), and those that continue one. */
      const lists = () => link.requests.filter((q) => q.get('watch') !== 'true' && !q.get('continue')).length;
      const pages = () => link.requests.filter((q) => q.get('continue')).length;
      const listsBefore = lists();
      // Wait until the history the informer would watch from has been compacted away.
      const rv = informer.status().resourceVersion;
      assert.ok(rv);
      await eventually(`resourceVersion ${rv} compacted`, async () => assert.equal(await watchAnswer(rv), 410), 30_000, 250);
      link.heal();
      await logs.next((l) => String(l['msg']).includes('410 Gone'));
      await calls.next('delete p2', 'update p3 {"v":"2"}', 'add p4', 'sync');
      // Once, unless a compaction fell between two pages of it (its continue token then expires: start over).
      assert.ok(lists() >= listsBefore + 1, 'listed again');
      assert.ok(pages() >= 1, 'in pages');
      assert.deepEqual([...informer.entries()].map(([k]) => k).sort(), [`${NS}/p3`, `${NS}/p4`]);
      assert.equal(informer.isSynced(), true);

      // And the watch from the new list works.
      await createPod('p5');
      await calls.next('add p5');
    } finally {
      clearTimeout(guard);
      await informer.stop();
    }
  });

  test('with the watch cache: the server ends each watch after a bookmark, and the informer watches again from there without listing', { timeout: 60_000 }, async () => {
    const link = cuttable(kubeConfigTransport(cp.kubeConfig()));
    const calls = recorder();
    const logs = logWaiter();
    const informer = startInformer<k8s.V1ConfigMap, string>({
      transport: link.transport,
      path: CONFIGMAPS,
      logger: logs.logger,
      transform: (c) => c.data?.['v'] ?? '',
      handlers: { onAdd: (v, key) => calls.push(`add ${key} ${v}`), onUpdate: (v, _old, key) => calls.push(`update ${key} ${v}`) },
      // The server sends a bookmark 2 s before its deadline, then ends the watch.
      watchTimeoutSeconds: [3, 3],
    });
    try {
      await informer.synced;
      await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'c1' }, data: { v: '1' } } });
      await calls.next(`add ${NS}/c1 1`);
      const watches = () => link.requests.filter((q) => q.get('watch') === 'true');
      assert.equal(watches()[0]?.get('timeoutSeconds'), '3');
      await logs.next((l) => l['msg'] === `watching ${CONFIGMAPS}` && watches().length >= 2);
      assert.equal(link.requests.length - watches().length, 1, 'one list, however many watches');
      await core.replaceNamespacedConfigMap({ name: 'c1', namespace: NS, body: { metadata: { name: 'c1' }, data: { v: '2' } } });
      await calls.next(`update ${NS}/c1 2`);
      assert.equal(informer.isSynced(), true);
      assert.ok(!logs.lines().some((l) => l['level'] === 40), `no warnings: ${JSON.stringify(logs.lines())}`);
    } finally {
      await informer.stop();
    }
  });
});
