/**
 * A rolling restart of the cluster agent loses no injection (SPEC §6, issue 14): two `tether start`
 * replicas, as Tether's service account, behind a TCP proxy that plays their Service (round-robin, and a
 * replica leaves the rotation only a few seconds after its /readyz fails, as the endpoints controller and
 * kube-proxy make it), while labelled pods are created through a real API server without pause. Each
 * replica in turn is replaced: a new one starts and gets ready, the old one gets SIGTERM. Every pod must
 * come back with DD_AGENT_HOST and DD_ENTITY_ID.
 *
 * `TETHER_ROLLING_GRACE_SECONDS=0` runs the same restart with no grace period (the behaviour before it
 * existed) and reports the pods that missed their injection instead of failing on them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { ENABLED_LABEL } from '../../src/config/index.js';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { eventually } from '../helpers/eventually.js';
import { tetherKubeconfigFile } from '../helpers/rbac.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.js';
import { freePort, spawnTether, type TetherProcess } from '../helpers/tether.js';

const NS = 'datadog';
const APPS = 'apps';
const LEASE = 'datadog-leader-election';
/** Short lease so that a handover fits in a test; the production default is 15 s. */
const LEASE_SECONDS = '3';
/** The default, unless the variant without a grace period is asked for. */
const GRACE_SECONDS = process.env['TETHER_ROLLING_GRACE_SECONDS'] ?? '5';
/** Pods created at once: enough that the API server keeps several connections to the webhook open. */
const CREATORS = 4;

interface Replica {
  readonly name: string;
  readonly port: number;
  readonly process: TetherProcess;
}

interface Created {
  readonly name: string;
  readonly at: number;
  readonly injected: boolean;
}

let cp: ControlPlane;
let kubeconfigFile: string;
let core: k8s.CoreV1Api;
let coordination: k8s.CoordinationV1Api;
let proxy: TcpProxy;
const replicas: Replica[] = [];

/** The Service's endpoints are the replicas whose process runs (a pod that exited is gone). */
const syncBackends = () => proxy.setBackends(replicas.filter((r) => r.process.child.exitCode === null && r.process.child.signalCode === null).map((r) => r.port));

async function startReplica(name: string): Promise<Replica> {
  const port = await freePort();
  // No --host: the default, both IP stacks; the proxy reaches it on 127.0.0.1.
  const process = spawnTether(['start', '--kubeconfig', kubeconfigFile, '--namespace', NS, '--webhook-url', proxy.url, '--port', String(port)], {
    DD_LEADER_LEASE_DURATION: LEASE_SECONDS,
    DD_SHUTDOWN_GRACE_SECONDS: GRACE_SECONDS,
  });
  const r = { name, port, process };
  replicas.push(r);
  syncBackends();
  await proxy.until((rot) => rot.includes(port), 60_000).catch((e: Error) => {
    throw new Error(`${e.message}\nreplica ${name}'s log:\n${process.stderr().slice(-4000)}`);
  });
  return r;
}

async function identityOf(r: Replica): Promise<string> {
  const line = await r.process.waitForLog((l) => typeof l['identity'] === 'string' && /cluster agent started/.test(String(l['msg'])));
  return line['identity'] as string;
}

const leaseHolder = async () => (await coordination.readNamespacedLease({ name: LEASE, namespace: NS })).spec?.holderIdentity;

const labelledPod = (name: string): k8s.V1Pod => ({
  metadata: { name, labels: { [ENABLED_LABEL]: 'true' } },
  spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
});

const injected = (pod: k8s.V1Pod) => {
  const names = (pod.spec?.containers[0]?.env ?? []).map((e) => e.name);
  return names.includes('DD_AGENT_HOST') && names.includes('DD_ENTITY_ID');
};

/** Creates labelled pods, `CREATORS` at a time, until `stop` aborts. */
function createPods(stop: AbortSignal): { created: Created[]; errors: string[]; done: Promise<void> } {
  const created: Created[] = [];
  const errors: string[] = [];
  let seq = 0;
  const worker = async () => {
    while (!stop.aborted) {
      const name = `roll-${seq++}`;
      try {
        const pod = await core.createNamespacedPod({ namespace: APPS, body: labelledPod(name) });
        created.push({ name, at: Date.now(), injected: injected(pod) });
      } catch (e) {
        errors.push(`${name}: ${(e as Error).message}`);
      }
    }
  };
  return { created, errors, done: Promise.all(Array.from({ length: CREATORS }, worker)).then(() => undefined) };
}

/** SIGTERM, and what happened until it exited. */
async function terminate(r: Replica): Promise<{ sentAt: number; exitedAt: number; droppedAt: number; code: number | null }> {
  const sentAt = Date.now();
  r.process.child.kill('SIGTERM');
  let droppedAt = 0;
  const dropped = proxy.until((rot) => !rot.includes(r.port), 60_000).then(() => (droppedAt = Date.now()));
  const code = await r.process.exited;
  const exitedAt = Date.now();
  await dropped.catch(() => {});
  syncBackends();
  return { sentAt, exitedAt, droppedAt: droppedAt || exitedAt, code };
}

before(
  async () => {
    cp = await startControlPlane();
    const kc = cp.kubeConfig();
    core = kc.makeApiClient(k8s.CoreV1Api);
    coordination = kc.makeApiClient(k8s.CoordinationV1Api);
    kubeconfigFile = await tetherKubeconfigFile(cp, NS);
    await core.createNamespace({ body: { metadata: { name: APPS } } });
    proxy = await startTcpProxy({ service: {} });
  },
  { timeout: 60 * 60_000 },
);

after(async () => {
  await Promise.all(replicas.map((r) => r.process.stop(2_000)));
  if (process.env['TETHER_KEEP_CONTROL_PLANE'] === '1' && cp) {
    await Promise.all(replicas.map((r) => writeFile(join(cp.dir, `tether-${r.name}.log`), r.process.stderr())));
    console.error(`tether logs kept in ${cp.dir}`);
  }
  await proxy?.close();
  await cp?.stop();
});

describe(`rolling restart of tether start (shutdown_grace_seconds=${GRACE_SECONDS})`, () => {
  test('pods created all along are all injected; the leader hands over at the start of its grace period', { timeout: 5 * 60_000 }, async () => {
    const a = await startReplica('a');
    const b = await startReplica('b');
    // The whole path works (Secret, webhook configuration, caBundle) before the restart begins.
    await eventually('a dry-run pod to be mutated', async () => {
      const pod = await core.createNamespacedPod({ namespace: APPS, body: labelledPod(`probe-${Date.now()}`), dryRun: 'All' });
      assert.ok(injected(pod), 'not mutated yet');
    });
    const idA = await identityOf(a);
    await eventually('A to lead', async () => assert.equal(await leaseHolder(), idA), 30_000);

    const stop = new AbortController();
    const load = createPods(stop.signal);
    const steady = () => new Promise((r) => setTimeout(r, 2_000));
    await steady();

    // A (the leader) is replaced by C.
    const c = await startReplica('c');
    const handover = eventually('another replica to lead', async () => assert.notEqual(await leaseHolder(), idA), 30_000).then(() => a.process.child.exitCode);
    const endA = await terminate(a);
    const aExitCodeAtHandover = await handover;
    await steady();
    // Then B by D.
    const d = await startReplica('d');
    const endB = await terminate(b);
    await steady();

    stop.abort();
    await load.done;

    const misses = load.created.filter((p) => !p.injected);
    const inGrace = (e: { sentAt: number; exitedAt: number }) => load.created.filter((p) => p.at >= e.sentAt && p.at <= e.exitedAt).length;
    const summary = {
      created: load.created.length,
      uninjected: misses.length,
      errors: load.errors.length,
      createdWhileAStopped: inGrace(endA),
      createdWhileBStopped: inGrace(endB),
      aDroppedAfterMs: endA.droppedAt - endA.sentAt,
      aExitedAfterMs: endA.exitedAt - endA.sentAt,
      bExitedAfterMs: endB.exitedAt - endB.sentAt,
      connections: Object.fromEntries([...proxy.connections()].map(([port, n]) => [replicas.find((r) => r.port === port)?.name ?? port, n])),
      refusedConnections: proxy.failedConnections(),
    };
    console.error(`rolling restart: ${JSON.stringify(summary)}`);
    for (const r of [c, d]) assert.equal(r.process.child.exitCode, null, `replica ${r.name} still runs`);
    assert.deepEqual([endA.code, endB.code], [0, 0], 'both replicas exited cleanly');
    assert.deepEqual(load.errors, [], 'pod creations that failed (failurePolicy Ignore: none should)');
    assert.ok(summary.createdWhileAStopped > 0 && summary.createdWhileBStopped > 0, 'pods were created while each replica was stopping');

    if (GRACE_SECONDS === '0') {
      // The variant without grace: report what it costs, do not fail on it.
      console.error(`without a grace period: ${misses.length} of ${load.created.length} pods were created without injection`);
      return;
    }
    assert.equal(aExitCodeAtHandover, null, 'a successor led while A was still answering reviews');
    assert.ok(endA.droppedAt < endA.exitedAt, 'the Service dropped A before it closed its port');
    assert.deepEqual(misses.map((p) => p.name), [], 'pods created without DD_AGENT_HOST and DD_ENTITY_ID');
    assert.match(a.process.stderr(), /shutting down: \/readyz fails now/);
  });
});
