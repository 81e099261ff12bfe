/**
 * Certificate rotation with a replica that lags (SPEC §7, issue: no trust gap by construction). Replica A
 * leads and rotates; replica B alone answers the webhook, and its connection to the API server is held
 * back (a pausable proxy) across each rotation, so it keeps serving the previous certificate long after
 * the Secret and the caBundle changed. Two clients that trust only what the webhook configuration's
 * caBundle says at that moment keep going throughout: the real API server creating labelled pods, and
 * a probe that opens a fresh TLS connection to B every few milliseconds with that caBundle as its only
 * CA (the API server reuses connections, so only fresh handshakes see every certificate B serves).
 * Three CA rotations and three serving-certificate renewals: no handshake fails, no pod is uninjected.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import * as k8s from '@kubernetes/client-node';
import { certificateBlocks, isIssuedBy } from '../../src/certs/index.js';
import { ENABLED_LABEL } from '../../src/config/index.js';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { eventually } from '../helpers/eventually.js';
import { applyTetherRbac } from '../helpers/rbac.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.js';
import { freePort, spawnTether, type TetherProcess } from '../helpers/tether.js';

const NS = 'datadog';
const APPS = 'apps';
const SECRET = 'webhook-certificate';
const WEBHOOK = 'datadog-webhook';
const PROPAGATION_SECONDS = 2;
const ROTATIONS = 3;

let cp: ControlPlane;
let core: k8s.CoreV1Api;
let admission: k8s.AdmissionregistrationV1Api;
let apiProxy: TcpProxy;
let webhookProxy: TcpProxy;
let a: TetherProcess;
let b: TetherProcess;
let bPort: number;

const decode = (v: string | undefined) => Buffer.from(v ?? '', 'base64').toString('utf8');

async function secretData(): Promise<Record<string, string>> {
  const s = await core.readNamespacedSecret({ name: SECRET, namespace: NS });
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, decode(v)]));
}

/** The caBundle the API server has been given now (every entry holds the same). */
async function liveCaBundle(): Promise<string> {
  const mwc = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
  return decode(mwc.webhooks?.[0]?.clientConfig.caBundle);
}

/** A fresh TLS handshake with B, trusting `ca` only; resolves with the problem, or undefined when trusted. */
function handshake(ca: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port: bPort, ca, servername: '127.0.0.1', rejectUnauthorized: true, session: undefined }, () => {
      socket.end();
      resolve(undefined);
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error('handshake timed out')));
    socket.on('error', (e) => resolve(e.message));
  });
}

function tether(kubeconfig: string, port: number, webhookUrl: string): TetherProcess {
  return spawnTether(['start', '--kubeconfig', kubeconfig, '--namespace', NS, '--webhook-url', webhookUrl, '--port', String(port), '--host', '127.0.0.1'], {
    DD_LOG_LEVEL: 'debug',
    DD_LEADER_LEASE_DURATION: '3',
    DD_ADMISSION_CONTROLLER_CERTIFICATE_CA_PROPAGATION_SECONDS: String(PROPAGATION_SECONDS),
  });
}

/** How many certificates B has switched to so far. */
const bSwitches = () => b.logs().filter((l) => l['msg'] === 'serving the certificate from the Secret').length;

before(
  async () => {
    cp = await startControlPlane();
    const kc = cp.kubeConfig();
    core = kc.makeApiClient(k8s.CoreV1Api);
    admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
    const asTether = await applyTetherRbac(cp, NS);
    await core.createNamespace({ body: { metadata: { name: APPS } } });

    const direct = join(cp.dir, 'tether-a.kubeconfig');
    await writeFile(direct, asTether.exportConfig(), { mode: 0o600 });
    // B reaches the API server through a proxy the test can hold back.
    const server = new URL(asTether.getCurrentCluster()!.server);
    apiProxy = await startTcpProxy({ backends: [Number(server.port)] });
    const lagging = new k8s.KubeConfig();
    lagging.loadFromString(asTether.exportConfig());
    const cluster = lagging.getCurrentCluster()!;
    lagging.clusters = lagging.clusters.map((c) => (c.name === cluster.name ? { ...c, server: `https://127.0.0.1:${apiProxy.port}` } : c));
    const viaProxy = join(cp.dir, 'tether-b.kubeconfig');
    await writeFile(viaProxy, lagging.exportConfig(), { mode: 0o600 });

    // The webhook's "Service" sends every review to B.
    bPort = await freePort();
    webhookProxy = await startTcpProxy({ backends: [bPort] });
    a = tether(direct, await freePort(), webhookProxy.url);
    await a.waitForLog((l) => l['msg'] === 'became the leader', 60_000);
    b = tether(viaProxy, bPort, webhookProxy.url);
    await b.waitForLog((l) => l['msg'] === 'serving the certificate from the Secret', 60_000);
  },
  { timeout: 10 * 60_000 },
);

after(async () => {
  await Promise.all([a?.stop(5_000), b?.stop(5_000)]);
  if (process.env['TETHER_KEEP_CONTROL_PLANE'] === '1' && cp) {
    await writeFile(join(cp.dir, 'tether-a.log'), a?.stderr() ?? '');
    await writeFile(join(cp.dir, 'tether-b.log'), b?.stderr() ?? '');
  }
  await apiProxy?.close();
  await webhookProxy?.close();
  await cp?.stop();
});

describe('certificate rotation with a lagging replica', () => {
  test(`${ROTATIONS} CA rotations and renewals while B's Secret watch is held back: every handshake trusted, every pod injected`, { timeout: 5 * 60_000 }, async () => {
    await eventually('the webhook to mutate pods through B', async () => {
      const pod = await core.createNamespacedPod({ namespace: APPS, body: { metadata: { name: `warm-${Date.now()}`, labels: { [ENABLED_LABEL]: 'true' } }, spec: { containers: [{ name: 'app', image: 'x' }] } }, dryRun: 'All' });
      assert.ok(pod.spec?.containers[0]?.env?.some((e) => e.name === 'DD_AGENT_HOST'));
    });

    let stopping = false;
    const uninjected: string[] = [];
    const untrusted: string[] = [];
    let pods = 0;
    let handshakes = 0;
    const creating = (async () => {
      for (let i = 0; !stopping; i++) {
        const name = `pod-${i}`;
        const pod = await core.createNamespacedPod({ namespace: APPS, body: { metadata: { name, labels: { [ENABLED_LABEL]: 'true' } }, spec: { containers: [{ name: 'app', image: 'x' }] } }, dryRun: 'All' });
        pods++;
        const env = pod.spec?.containers[0]?.env?.map((e) => e.name) ?? [];
        if (!env.includes('DD_AGENT_HOST') || !env.includes('DD_ENTITY_ID')) uninjected.push(name);
      }
    })();
    const probing = (async () => {
      while (!stopping) {
        const ca = await liveCaBundle();
        const problem = await handshake(ca);
        handshakes++;
        if (problem) untrusted.push(`${new Date().toISOString()}: ${problem} (caBundle holds ${certificateBlocks(ca).length} CAs)`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    for (let round = 1; round <= ROTATIONS; round++) {
      const switchesBefore = bSwitches();
      const bundleBefore = (await secretData())['ca.pem'];
      apiProxy.pause();
      // A new CA, published, then used by the leader's Secret, all while B sees none of it.
      const s = await core.readNamespacedSecret({ name: SECRET, namespace: NS });
      await core.replaceNamespacedSecret({ name: SECRET, namespace: NS, body: { ...s, metadata: { ...s.metadata, annotations: { ...s.metadata?.annotations, 'tether.dev/rotate': 'ca' } } } });
      await eventually(`round ${round}: the leader to serve from the new CA`, async () => {
        const d = await secretData();
        assert.notEqual(d['ca.pem'], bundleBefore, 'a new CA');
        assert.ok(isIssuedBy(d['cert.pem']!, certificateBlocks(d['ca.pem']!).at(-1)!), 'served from the newest CA');
      }, 60_000);
      // A renewal from the new CA too (a second serving certificate B has not seen).
      const t = await core.readNamespacedSecret({ name: SECRET, namespace: NS });
      await core.replaceNamespacedSecret({ name: SECRET, namespace: NS, body: { ...t, metadata: { ...t.metadata, annotations: { ...t.metadata?.annotations, 'tether.dev/rotate': 'certificate' } } } });
      await eventually(`round ${round}: the renewal`, async () => assert.equal((await core.readNamespacedSecret({ name: SECRET, namespace: NS })).metadata?.annotations?.['tether.dev/rotate'], undefined));
      // B keeps serving the previous round's certificate for a while.
      await new Promise((r) => setTimeout(r, 2_000));
      assert.equal(bSwitches(), switchesBefore, `round ${round}: B must not have seen the Secret change while held back`);
      apiProxy.resume();
      await eventually(`round ${round}: B to catch up`, async () => assert.ok(bSwitches() > switchesBefore), 90_000);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    stopping = true;
    await Promise.all([creating, probing]);

    assert.deepEqual(untrusted, [], `${untrusted.length} of ${handshakes} handshakes were not trusted by the caBundle of the moment`);
    assert.deepEqual(uninjected, [], `${uninjected.length} of ${pods} pods were created without injection`);
    assert.ok(pods > 50 && handshakes > 100, `${pods} pods, ${handshakes} handshakes`);
    assert.equal(certificateBlocks((await secretData())['ca.pem']!).length, ROTATIONS + 1, 'every CA kept in the bundle');
  });
});
