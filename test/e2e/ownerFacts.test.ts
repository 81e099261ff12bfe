/**
 * Owner and namespace-label lookup (SPEC §5, tags) against a real control plane, as Tether's service
 * account (deploy/rbac.yaml applied, requests impersonating it, so a missing permission fails here); then
 * `tether serve --kubeconfig` end to end, and with an API server that is unreachable or never answers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import type { CertificatePair } from '../../src/certs/index.js';
import { createApiFactResolver, type CachingFactResolver } from '../../src/kube/facts.js';
import { factsBudgetMs } from '../../src/server/facts.js';
import { impersonatingKubeConfig, startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { makeCertificate, tempDir, writeCertificateFiles, type CertificateFiles, type TempDir } from '../helpers/certs.js';
import { postJson, waitFor } from '../helpers/https.js';
import { applyWithOracle } from '../helpers/patch.js';
import { applyTetherRbac } from '../helpers/rbac.js';
import { admissionReview, patchOf, responseOf } from '../helpers/reviews.js';
import { eventually } from '../helpers/eventually.js';
import { cleanEnv } from '../helpers/tether.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const NS = 'owner-facts';
const TAGS = { 'tags.datadoghq.com/env': 'prod', 'tags.datadoghq.com/service': 'web', 'tags.datadoghq.com/version': '1.2.3' };
const RESTRICTED = { 'pod-security.kubernetes.io/enforce': 'restricted' };
const PAUSE = 'registry.k8s.io/pause:3.10';
const never = new AbortController().signal;



interface Served {
  readonly child: ChildProcess;
  readonly url: string;
  stderr(): string;
  stop(): Promise<void>;
}

/** `tether serve --port 0 <args>`, waiting for the log line that gives the URL and /readyz. */
async function serve(files: CertificateFiles, cert: CertificatePair, args: string[], env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--tls-cert', files.certFile, '--tls-key', files.keyFile, '--port', '0', '--host', '127.0.0.1', '--namespace', 'datadog', ...args], {
    env: cleanEnv({ DD_LOG_LEVEL: 'debug', ...env }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8');
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tether serve did not say where it listens:\n${err}`)), 15_000);
    child.stderr!.on('data', (d: string) => {
      err += d;
      const m = /"url":"(https:\/\/[^"]+)"[^\n]*listening/.exec(err);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then(() => reject(new Error(`tether serve exited with ${child.exitCode}:\n${err}`)));
  });
  await waitFor(`${url}/readyz`, { ca: cert.certPem });
  return {
    child,
    url,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** An opted-in pod without tag labels, owned by `owner` (so the tags webhook must read the owner). */
function ownedPod(name: string, owner: { kind: string; name: string; uid?: string }, annotations: Record<string, string> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: NS,
      labels: { app: 'web', 'admission.datadoghq.com/enabled': 'true' },
      annotations,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: owner.kind, name: owner.name, uid: owner.uid ?? 'uid', controller: true, blockOwnerDeletion: true }],
    },
    spec: { containers: [{ name: 'web', image: 'web:1.0', env: [{ name: 'PORT', value: '8080' }] }] },
  };
}

type Json = Record<string, any>;
const envOf = (pod: Json, container = 0): Record<string, string | undefined> =>
  Object.fromEntries(((pod['spec'].containers[container].env ?? []) as Json[]).map((e) => [e['name'] as string, e['value'] as string | undefined]));

describe('owner and namespace facts from a real API server', () => {
  let cp: ControlPlane | undefined;
  let dir: TempDir | undefined;
  /** Tether's service account (impersonated), with deploy/rbac.yaml applied; counts the requests it makes. */
  let tether: k8s.KubeConfig;
  let requests = 0;
  let apps: k8s.AppsV1Api;
  let batch: k8s.BatchV1Api;
  /** The ReplicaSet kube-controller-manager made for Deployment `web`. */
  let rs: { name: string; uid: string };

  const plane = (): ControlPlane => {
    if (!cp) throw new Error('control plane not started');
    return cp;
  };

  const resolver = (ownerCacheTtlMs = 60_000): CachingFactResolver => createApiFactResolver({ kubeConfig: tether, ownerCacheTtlMs });

  /**
   * A Deployment of `replicas` pause pods with `labels` on its own metadata (the template has only app).
   * The pods satisfy Pod Security `restricted`, which the test namespace enforces.
   */
  const deployment = (name: string, labels: Record<string, string>, replicas = 1, templateLabels: Record<string, string> = {}): k8s.V1Deployment => ({
    metadata: { name, labels },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, ...templateLabels } },
        spec: {
          securityContext: { runAsNonRoot: true, runAsUser: 65535, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{ name: 'app', image: PAUSE, securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
        },
      },
    },
  });

  /** The ReplicaSet of Deployment `name`, once the deployment controller has made it. */
  const replicaSetOf = (name: string) =>
    eventually(`the ReplicaSet of Deployment ${name}`, async () => {
      const list = await apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: `app=${name}` });
      const found = list.items.find((r) => r.metadata?.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === name && o.controller));
      assert.ok(found?.metadata?.name && found.metadata.uid, 'no ReplicaSet yet');
      return { name: found.metadata.name, uid: found.metadata.uid };
    });

  before(
    async () => {
      dir = await tempDir('tether-owner-facts-');
      cp = await startControlPlane();
      const admin = cp.kubeConfig();
      // The namespace first, with the Pod Security label the library webhook looks for.
      await admin.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: NS, labels: RESTRICTED } } });
      tether = await applyTetherRbac(cp, NS);
      // Count every request made with Tether's identity: client-node authenticates each one through here.
      const authenticate = tether.applySecurityAuthentication.bind(tether);
      tether.applySecurityAuthentication = (ctx) => {
        requests++;
        return authenticate(ctx);
      };
      apps = admin.makeApiClient(k8s.AppsV1Api);
      batch = admin.makeApiClient(k8s.BatchV1Api);
      await apps.createNamespacedDeployment({ namespace: NS, body: deployment('web', TAGS) });
      rs = await replicaSetOf('web');
      // The RBAC authorizer sees new bindings a moment later: wait until Tether's identity may read.
      await eventually('deploy/rbac.yaml in effect', () => tether.makeApiClient(k8s.CoreV1Api).readNamespace({ name: NS }));
    },
    // A cold start builds kube-apiserver and friends first (scripts/control-plane).
    { timeout: 60 * 60_000 },
  );

  after(async () => {
    await cp?.stop();
    await dir?.remove();
  });

  test("a ReplicaSet made by kube-controller-manager → its Deployment's labels", async () => {
    const got = await resolver().owner(NS, { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.name, uid: rs.uid, controller: true }, never);
    assert.equal(got.found, true, JSON.stringify(got));
    assert.deepEqual(got, { found: true, kind: 'Deployment', name: 'web', labels: TAGS });
  });

  test('StatefulSet and DaemonSet owners: their own labels', async () => {
    await apps.createNamespacedStatefulSet({
      namespace: NS,
      body: { metadata: { name: 'db', labels: { ...TAGS, 'tags.datadoghq.com/service': 'db' } }, spec: { serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: PAUSE }] } } } },
    });
    await apps.createNamespacedDaemonSet({
      namespace: NS,
      body: { metadata: { name: 'node-thing', labels: { team: 'infra' } }, spec: { selector: { matchLabels: { app: 'node-thing' } }, template: { metadata: { labels: { app: 'node-thing' } }, spec: { containers: [{ name: 'x', image: PAUSE }] } } } },
    });
    const facts = resolver();
    assert.deepEqual(await facts.owner(NS, { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db' }, never), {
      found: true,
      kind: 'StatefulSet',
      name: 'db',
      labels: { ...TAGS, 'tags.datadoghq.com/service': 'db' },
    });
    assert.deepEqual(await facts.owner(NS, { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'node-thing' }, never), { found: true, kind: 'DaemonSet', name: 'node-thing', labels: { team: 'infra' } });
  });

  test("a Job of a CronJob → the CronJob's labels", async () => {
    const cron = await batch.createNamespacedCronJob({
      namespace: NS,
      body: {
        metadata: { name: 'nightly', labels: { ...TAGS, 'tags.datadoghq.com/service': 'nightly' } },
        spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'x', image: PAUSE }] } } } } },
      },
    });
    // What the cronjob controller would make (it is not running here).
    await batch.createNamespacedJob({
      namespace: NS,
      body: {
        metadata: { name: 'nightly-29000000', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: cron.metadata!.uid!, controller: true }] },
        spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'x', image: PAUSE }] } } },
      },
    });
    const got = await resolver().owner(NS, { apiVersion: 'batch/v1', kind: 'Job', name: 'nightly-29000000' }, never);
    assert.deepEqual(got, { found: true, kind: 'CronJob', name: 'nightly', labels: { ...TAGS, 'tags.datadoghq.com/service': 'nightly' } });
  });

  test('a missing owner: found false, saying which', async () => {
    const got = await resolver().owner(NS, { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'no-such-rs' }, never);
    assert.deepEqual(got, { found: false, reason: `ReplicaSet ${NS}/no-such-rs not found` });
  });

  test('an identity without the RBAC rules: found false naming the missing permission', async () => {
    const nobody = createApiFactResolver({ kubeConfig: impersonatingKubeConfig(plane(), `system:serviceaccount:${NS}:nobody`), ownerCacheTtlMs: 60_000 });
    const got = await nobody.owner(NS, { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.name }, never);
    assert.deepEqual(got, { found: false, reason: `forbidden to read ReplicaSet ${NS}/${rs.name}: Tether's RBAC lacks verb "get" on resource "replicasets" in API group "apps"` });
    await assert.rejects(nobody.namespaceLabels(NS, never), /forbidden to read namespace owner-facts: Tether's RBAC lacks verb "get" on resource "namespaces" in API group "" \(core\)/);
  });

  test('a rollout: 100 concurrent lookups of one ReplicaSet cost 2 API requests (ReplicaSet, Deployment); later ones none', async () => {
    const facts = resolver();
    const ref = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.name, uid: rs.uid, controller: true };
    const before = requests;
    const got = await Promise.all(Array.from({ length: 100 }, () => facts.owner(NS, ref, never)));
    assert.ok(got.every((g) => g.found && g.name === 'web'));
    assert.equal(requests - before, 2);
    for (let i = 0; i < 10; i++) await facts.owner(NS, ref, never);
    assert.equal(requests - before, 2);
    assert.deepEqual(facts.stats().owners, { hits: 10, shared: 99, loads: 1, evictions: 0 });
  });

  test('the cache: changed labels are seen only once the TTL is over', async () => {
    await apps.createNamespacedDeployment({ namespace: NS, body: deployment('cached', TAGS) });
    const cachedRs = await replicaSetOf('cached');
    const ttlMs = 1_500;
    const facts = resolver(ttlMs);
    const ref = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: cachedRs.name };
    const version = async () => {
      const f = await facts.owner(NS, ref, never);
      assert.ok(f.found, JSON.stringify(f));
      return f.labels['tags.datadoghq.com/version'];
    };
    const loadedAt = Date.now();
    assert.equal(await version(), '1.2.3');
    await apps.patchNamespacedDeployment(
      { namespace: NS, name: 'cached', body: { metadata: { labels: { 'tags.datadoghq.com/version': '1.2.4' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const before = requests;
    assert.equal(await version(), '1.2.3', 'still the cached labels');
    assert.equal(requests, before, 'no request within the TTL');
    await new Promise((r) => setTimeout(r, Math.max(0, loadedAt + ttlMs - Date.now() + 50)));
    assert.equal(await version(), '1.2.4', 'read again after the TTL');
    assert.equal(requests - before, 2);
  });

  test("namespace labels (the Pod Security level), cached", async () => {
    const facts = resolver();
    const before = requests;
    assert.deepEqual((await facts.namespaceLabels(NS, never))?.['pod-security.kubernetes.io/enforce'], 'restricted');
    await facts.namespaceLabels(NS, never);
    assert.equal(requests - before, 1);
  });

  describe('tether serve --kubeconfig', () => {
    let s: Served | undefined;
    let cert: CertificatePair;

    before(async () => {
      cert = await makeCertificate(['127.0.0.1', 'localhost']);
      const files = await writeCertificateFiles(dir!.path, cert);
      s = await serve(files, cert, ['--kubeconfig', plane().kubeconfigPath]);
    });

    after(async () => {
      await s?.stop();
    });

    test("a review for a pod of the ReplicaSet gets DD_ENV, DD_SERVICE, DD_VERSION from the Deployment", async () => {
      assert.match(s!.stderr(), /"ownerLookup":\{"apiServer":"https:\/\/127\.0\.0\.1:\d+"/);
      const pod = ownedPod(`${rs.name}-abcde`, { kind: 'ReplicaSet', ...rs });
      const r = await postJson(`${s!.url}/injecttags`, admissionReview({ namespace: NS, object: pod }), { ca: cert.certPem });
      assert.equal(r.status, 200, r.body);
      const response = responseOf(r.body);
      assert.equal(response.allowed, true);
      assert.equal(response.warnings, undefined);
      const env = envOf(applyWithOracle(pod, patchOf(response)) as Json);
      assert.deepEqual(env, { DD_ENV: 'prod', DD_SERVICE: 'web', DD_VERSION: '1.2.3', PORT: '8080' });
      assert.match(s!.stderr(), new RegExp(`"owner":"ReplicaSet/${rs.name}","cache":"loaded","ms":\\d+,"found":true,"labelsOf":"Deployment/web"`));
    });

    test("a review on /injectlib in a namespace that enforces `restricted`: the init container gets the restricted context", async () => {
      const pod = ownedPod('lib-pod', { kind: 'ReplicaSet', ...rs }, { 'admission.datadoghq.com/python-lib.version': 'v2.9.0' });
      const r = await postJson(`${s!.url}/injectlib`, admissionReview({ namespace: NS, object: pod }), { ca: cert.certPem });
      const mutated = applyWithOracle(pod, patchOf(responseOf(r.body))) as Json;
      const init = (mutated['spec'].initContainers as Json[]).find((c) => c['name'] === 'datadog-lib-python-init');
      assert.deepEqual(init?.['securityContext'], {
        allowPrivilegeEscalation: false,
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
        capabilities: { drop: ['ALL'] },
      });
    });

    test('through the API server: pods the ReplicaSet controller creates come back with the Deployment\'s tags', async () => {
      const admin = plane().kubeConfig();
      await admin.makeApiClient(k8s.AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
        body: {
          metadata: { name: 'owner-facts-webhook' },
          webhooks: [
            {
              name: 'datadog.webhook.tags',
              clientConfig: { url: `${s!.url}/injecttags`, caBundle: Buffer.from(cert.certPem).toString('base64') },
              rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
              objectSelector: { matchLabels: { 'admission.datadoghq.com/enabled': 'true' } },
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NS } },
              failurePolicy: 'Fail',
              sideEffects: 'None',
              timeoutSeconds: 10,
              admissionReviewVersions: ['v1'],
            },
          ],
        },
      });
      const labels = { ...TAGS, 'tags.datadoghq.com/service': 'api' };
      await apps.createNamespacedDeployment({ namespace: NS, body: deployment('api', labels, 3, { 'admission.datadoghq.com/enabled': 'true' }) });
      const core = admin.makeApiClient(k8s.CoreV1Api);
      const pods = await eventually('3 pods of Deployment api', async () => {
        const list = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=api' });
        if (list.items.length !== 3) {
          // The ReplicaSet's ReplicaFailure condition says why pods are not being created (webhook, policy).
          const failures = (await apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: 'app=api' })).items.flatMap((r) => r.status?.conditions ?? []);
          assert.fail(`${list.items.length} pods; ${failures.map((c) => c.message).join('; ') || 'no ReplicaSet condition'}`);
        }
        return list.items;
      });
      for (const p of pods) {
        const env = Object.fromEntries((p.spec!.containers[0]!.env ?? []).map((e) => [e.name, e.value]));
        assert.deepEqual(env, { DD_ENV: 'prod', DD_SERVICE: 'api', DD_VERSION: '1.2.3' }, p.metadata?.name);
      }
      // The ReplicaSet controller creates the pods in a burst: the owner was read once for all of them.
      const apiRs = await replicaSetOf('api');
      const lookups = s!
        .stderr()
        .split('\n')
        .filter((l) => l.includes('"msg":"owner lookup"') && l.includes(`"owner":"ReplicaSet/${apiRs.name}"`));
      assert.equal(lookups.length, 3);
      assert.equal(lookups.filter((l) => l.includes('"cache":"loaded"')).length, 1, lookups.join('\n'));
    });
  });
});

describe('tether serve --kubeconfig with an API server that is unreachable or silent', () => {
  const TIMEOUT_SECONDS = 2;
  let dir: TempDir;
  let cert: CertificatePair;
  let files: CertificateFiles;

  before(async () => {
    dir = await tempDir('tether-owner-facts-down-');
    cert = await makeCertificate(['127.0.0.1', 'localhost']);
    files = await writeCertificateFiles(dir.path, cert);
  });

  after(async () => {
    await dir?.remove();
  });

  /** A kubeconfig for `https://127.0.0.1:<port>` with a token (which must never show up anywhere). */
  async function kubeconfigFor(port: number, name: string): Promise<string> {
    const path = join(dir.path, name);
    const kc = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'down', cluster: { server: `https://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 'tok-never-shown-0123456789' } }],
      contexts: [{ name: 'down', context: { cluster: 'down', user: 'u' } }],
      'current-context': 'down',
    };
    await writeFile(path, JSON.stringify(kc), { mode: 0o600 });
    return path;
  }

  /** Posts a review for a pod owned by ReplicaSet `owner`; returns the answer and how long it took. */
  async function review(s: Served, owner: string) {
    const pod = ownedPod(`${owner}-x`, { kind: 'ReplicaSet', name: owner });
    const started = Date.now();
    const r = await postJson(`${s.url}/injecttags?timeout=${TIMEOUT_SECONDS}s`, admissionReview({ namespace: NS, object: pod }), { ca: cert.certPem });
    const ms = Date.now() - started;
    assert.equal(r.status, 200, r.body);
    return { response: responseOf(r.body), ms };
  }

  const env = { DD_ADMISSION_CONTROLLER_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS) };

  test('a closed port: allowed, no tags, a warning that the owner could not be read, well within timeout_seconds', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const s = await serve(files, cert, ['--kubeconfig', await kubeconfigFor(port, 'closed.kubeconfig')], env);
    try {
      const { response, ms } = await review(s, 'web-1');
      assert.ok(ms < TIMEOUT_SECONDS * 1000, `answered after ${ms} ms`);
      assert.equal(response.allowed, true);
      assert.equal(response.patch, undefined, 'no tags');
      assert.deepEqual(response.warnings, [
        `tether tags: did not inject unified service tags: could not read the pod's owner: cannot reach the API server to read ReplicaSet ${NS}/web-1: connect ECONNREFUSED 127.0.0.1:${port}`,
      ]);
      assert.doesNotMatch(s.stderr(), /tok-never-shown/);
    } finally {
      await s.stop();
    }
  });

  describe('a server that accepts connections and never answers', () => {
    let silent: net.Server;
    let port: number;
    const open = new Set<net.Socket>();
    let accepted = 0;
    let s: Served;

    before(async () => {
      silent = net.createServer((sock) => {
        accepted++;
        open.add(sock);
        // Read and drop (a TLS ClientHello), so that the client closing the connection is noticed.
        sock.resume();
        sock.on('close', () => open.delete(sock));
        sock.on('error', () => {});
      });
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      port = (silent.address() as net.AddressInfo).port;
      s = await serve(files, cert, ['--kubeconfig', await kubeconfigFor(port, 'silent.kubeconfig')], env);
    });

    after(async () => {
      await s?.stop();
      for (const sock of open) sock.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    });

    const allClosedWithin = async (ms: number) => {
      const deadline = Date.now() + ms;
      while (open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return open.size;
    };

    test('answered within timeout_seconds: allowed, no tags, a warning; the read is aborted (its connection closed)', async () => {
      const { response, ms } = await review(s, 'web-2');
      assert.ok(ms < TIMEOUT_SECONDS * 1000, `answered after ${ms} ms, timeout_seconds is ${TIMEOUT_SECONDS}`);
      assert.equal(response.allowed, true);
      assert.equal(response.patch, undefined);
      assert.deepEqual(response.warnings, [`tether tags: did not inject unified service tags: could not read the pod's owner: no answer within ${factsBudgetMs(TIMEOUT_SECONDS)} ms`]);
      assert.equal(await allClosedWithin(1_000), 0, 'the read still holds a connection');
    });

    test('a burst of reviews (one owner and several): each answered in time, one connection per owner, none left open', async () => {
      const before = accepted;
      const owners = ['burst-a', 'burst-a', 'burst-a', 'burst-a', 'burst-b', 'burst-c'];
      const answers = await Promise.all(owners.map((o) => review(s, o)));
      for (const a of answers) {
        assert.ok(a.ms < TIMEOUT_SECONDS * 1000, `answered after ${a.ms} ms`);
        assert.equal(a.response.allowed, true);
        assert.equal(a.response.patch, undefined);
      }
      assert.equal(accepted - before, 3, 'one read per distinct owner');
      assert.equal(await allClosedWithin(1_000), 0);
      assert.doesNotMatch(s.stderr(), /tok-never-shown/);
    });

    test('after reads in a row got no answer, reviews stop waiting for the API server: answered at once, with a warning saying why', async () => {
      // The two tests above left 4 unanswered reads behind (web-2, burst-a, -b, -c): the breaker is open.
      const before = accepted;
      const { response, ms } = await review(s, 'after-burst');
      assert.ok(ms < 500, `answered after ${ms} ms; the facts budget is ${factsBudgetMs(TIMEOUT_SECONDS)} ms`);
      assert.equal(response.allowed, true);
      assert.equal(response.patch, undefined);
      assert.equal(response.warnings?.length, 1);
      assert.match(
        response.warnings?.[0] ?? '',
        new RegExp(`could not read the pod's owner: reading ReplicaSet ${NS}/after-burst: the API server did not answer Tether's last 4 reads; not asking it again for \\d+ s`),
      );
      assert.equal(accepted, before, 'no read was sent');
      assert.match(s.stderr(), /the API server did not answer 3 owner or namespace reads in a row/);
    });
  });
});
