/**
 * `tether serve` as a user runs it: a real process, real TLS, real AdmissionReviews (v1 and v1beta1) on
 * each endpoint, bad input, metrics, certificate rotation on disk and SIGTERM.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import type { CertificatePair } from '../../src/certs/index.js';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { WEBHOOK_KINDS, type WebhookKind } from '../../src/config/index.js';
import { ADMISSION_VERSIONS } from '../../src/admission/review.js';
import { makeCertificate, tempDir, writeCertificateFiles, type CertificateFiles, type TempDir } from '../helpers/certs.js';
import { assertSamplePodMutated } from '../helpers/expectations.js';
import { postJson, request, waitFor } from '../helpers/https.js';
import { applyWithOracle } from '../helpers/patch.js';
import { admissionReview, patchOf, responseOf, samplePod } from '../helpers/reviews.js';
import { cleanEnv } from '../helpers/tether.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ENDPOINT: Record<WebhookKind, string> = { config: '/injectconfig', tags: '/injecttags', lib: '/injectlib' };


interface Served {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything written to stderr (JSON log lines) so far. */
  stderr(): string;
  readonly exited: Promise<number | null>;
}

/** Spawns `tether serve --port 0` and waits for the log line that gives the URL. */
async function serve(files: CertificateFiles, env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--tls-cert', files.certFile, '--tls-key', files.keyFile, '--port', '0', '--host', '127.0.0.1', '--namespace', 'datadog'], {
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tether serve did not say where it listens:\n${err}`)), 15_000);
    child.stderr!.on('data', (d: string) => {
      err += d;
      for (const line of err.split('\n')) {
        if (!line.startsWith('{')) continue;
        const l = JSON.parse(line) as { url?: string; msg?: string };
        if (l.url && /listening/.test(l.msg ?? '')) {
          clearTimeout(timer);
          resolve(l.url);
        }
      }
    });
    void exited.then((code) => reject(new Error(`tether serve exited with ${code}:\n${err}`)));
  });
  return { child, url, stderr: () => err, exited };
}

describe('tether serve', () => {
  let dir: TempDir;
  let certA: CertificatePair;
  let files: CertificateFiles;
  let s: Served;

  before(async () => {
    dir = await tempDir('tether-serve-');
    certA = await makeCertificate();
    files = await writeCertificateFiles(dir.path, certA);
    s = await serve(files, { DD_LOG_LEVEL: 'debug', DD_LEADER_LEASE_DURATON: '5' });
    await waitFor(`${s.url}/readyz`, { ca: certA.certPem });
  });

  after(async () => {
    if (s?.child.exitCode === null) s.child.kill('SIGKILL');
    await dir?.remove();
  });

  const ca = () => ({ ca: certA.certPem });

  for (const version of ADMISSION_VERSIONS) {
    for (const kind of WEBHOOK_KINDS) {
      test(`${version} on ${ENDPOINT[kind]}: answered in ${version}, same uid, the patch gives the expected pod`, async () => {
        const pod = samplePod();
        const uid = `e2e-${kind}-${version.split('/')[1]}`;
        const r = await postJson(`${s.url}${ENDPOINT[kind]}?timeout=10s`, admissionReview({ version, uid, object: pod }), ca());
        assert.equal(r.status, 200, r.body);
        const response = responseOf(r.body, version);
        assert.equal(response.uid, uid);
        assert.equal(response.allowed, true);
        assertSamplePodMutated(kind, pod, applyWithOracle(pod, patchOf(response)));
      });
    }
  }

  test('a DD_* variable nobody reads is warned about once, at startup, with the key it was meant to be', () => {
    const warnings = s.stderr().split('\n').filter((l) => l.includes('DD_LEADER_LEASE_DURATON'));
    assert.equal(warnings.length, 1, s.stderr());
    assert.match(warnings[0]!, /"level":40,.*did you mean DD_LEADER_LEASE_DURATION\?/);
  });

  test('the debug log shows each injection decision, and no pod content', () => {
    assert.match(s.stderr(), /"msg":"Injecting env var DD_AGENT_HOST into container web of pod web-7d4b9c-x2x9z in namespace apps"/);
    assert.doesNotMatch(s.stderr(), /web:1\.0|8080/);
  });

  describe('bad input', () => {
    const post = (body: string | Buffer, headers: Record<string, string> = {}) => postJson(`${s.url}/injectconfig`, body, { ...ca(), headers });

    test('invalid JSON → 400', async () => {
      const r = await post('{"apiVersion":"admission.k8s.io/v1",');
      assert.equal(r.status, 400);
      assert.match(r.body, /invalid JSON/);
    });

    test('a review without request → 400', async () => {
      const r = await post(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }));
      assert.equal(r.status, 400);
      assert.match(r.body, /request: missing/);
    });

    test('an unknown AdmissionReview apiVersion → 400', async () => {
      const r = await post(JSON.stringify({ ...admissionReview({ object: samplePod() }), apiVersion: 'admission.k8s.io/v2' }));
      assert.equal(r.status, 400);
      assert.match(r.body, /apiVersion: expected one of admission\.k8s\.io\/v1, admission\.k8s\.io\/v1beta1/);
    });

    test('a non-Pod object → 200, allowed, with a message', async () => {
      const r = await post(
        JSON.stringify(
          admissionReview({ kind: { group: '', version: 'v1', kind: 'ConfigMap' }, resource: { group: '', version: 'v1', resource: 'configmaps' }, object: { data: {} } }),
        ),
      );
      assert.equal(r.status, 200);
      const response = responseOf(r.body);
      assert.equal(response.allowed, true);
      assert.equal(response.patch, undefined);
      assert.match(response.status?.message ?? '', /only mutates pods being created/);
    });

    test('a 10 MiB body → 413', async () => {
      const r = await post(Buffer.alloc(10 * 1024 * 1024, 0x20));
      assert.equal(r.status, 413);
      assert.match(r.body, /over the limit of 3145728 bytes/);
    });

    test('GET on a webhook path → 405 with Allow: POST', async () => {
      const r = await request(`${s.url}/injectlib`, ca());
      assert.equal(r.status, 405);
      assert.equal(r.headers.allow, 'POST');
    });

    test('text/plain → 415', async () => {
      const r = await post(JSON.stringify(admissionReview({ object: samplePod() })), { 'Content-Type': 'text/plain' });
      assert.equal(r.status, 415);
    });

    test('a TLS 1.1 client is refused', async () => {
      await assert.rejects(request(`${s.url}/healthz`, { ...ca(), minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }), /protocol|version/i);
      assert.equal((await request(`${s.url}/healthz`, ca())).status, 200, 'still serving');
    });
  });

  test('/metrics counts requests per webhook and outcome, mutations, and the certificate expiry', async () => {
    const r = await request(`${s.url}/metrics`, ca());
    assert.equal(r.status, 200);
    for (const kind of WEBHOOK_KINDS) {
      assert.match(r.body, new RegExp(`tether_admission_requests_total\\{webhook="${kind}",outcome="mutated"\\} 2\\b`));
      assert.match(r.body, new RegExp(`tether_admission_mutations_total\\{webhook="${kind}"\\} [1-9]`));
      assert.match(r.body, new RegExp(`tether_admission_request_duration_seconds_count\\{webhook="${kind}"\\} [1-9]`));
    }
    assert.match(r.body, /tether_admission_requests_total\{webhook="config",outcome="rejected"\} [5-9]/);
    assert.match(r.body, /tether_admission_requests_total\{webhook="config",outcome="skipped"\} 1\b/);
    const notAfter = new X509Certificate(certA.certPem).validTo;
    assert.match(r.body, new RegExp(`tether_certificate_expiry_timestamp_seconds ${new Date(notAfter).getTime() / 1000}\\b`));
  });

  test('replaced certificate files are served to new connections without a restart', async () => {
    // Another subject than certA's (CN=localhost): OpenSSL picks a trusted CA by subject, and the client trusts both.
    const certB = await makeCertificate(['127.0.0.1', 'localhost']);
    // Written beside, then renamed over: each file changes atomically, as with a Secret volume.
    await writeFile(join(dir.path, 'cert.pem.new'), certB.certPem);
    await writeFile(join(dir.path, 'key.pem.new'), certB.keyPem);
    await rename(join(dir.path, 'key.pem.new'), files.keyFile);
    await rename(join(dir.path, 'cert.pem.new'), files.certFile);
    const want = new X509Certificate(certB.certPem).fingerprint256;
    const deadline = Date.now() + 15_000;
    let seen: string | undefined;
    while (Date.now() < deadline) {
      seen = (await request(`${s.url}/healthz`, { ca: certA.certPem + certB.certPem })).peerCertificate?.fingerprint256;
      if (seen === want) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(seen, want);
    assert.match(s.stderr(), /reloaded the TLS certificate from its files/);
    assert.equal((await postJson(`${s.url}/injecttags`, admissionReview({ object: samplePod() }), { ca: certB.certPem })).status, 200);
  });

  test('SIGTERM: graceful shutdown, exit code 0', async () => {
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0);
    assert.match(s.stderr(), /"msg":"webhook server stopped"/);
  });
});

describe('tether serve: startup errors', () => {
  test('a missing certificate file: a clear message and exit code 1', async () => {
    const child = spawn(process.execPath, [MAIN, 'serve', '--tls-cert', '/nonexistent/cert.pem', '--tls-key', '/nonexistent/key.pem', '--port', '0'], {
      env: cleanEnv({}),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 1);
    assert.match(err, /tether: --tls-cert \/nonexistent\/cert\.pem .*cannot read the TLS certificate file \/nonexistent\/cert\.pem: ENOENT/);
  });
});

/**
 * The real thing: a kube-apiserver (test/harness) calling `tether serve` through a
 * MutatingWebhookConfiguration, as in a cluster (Go's TLS stack trusting our CA-capable certificate,
 * `?timeout=` on the URL, the three webhooks chained with reinvocation, server-side dry run).
 */
describe('tether serve behind a real kube-apiserver', () => {
  let cp: ControlPlane | undefined;
  let dir: TempDir | undefined;
  let s: Served | undefined;
  let core: k8s.CoreV1Api;
  let cert: CertificatePair;

  before(
    async () => {
      dir = await tempDir('tether-serve-apiserver-');
      cert = await makeCertificate(['127.0.0.1', 'localhost']);
      const files = await writeCertificateFiles(dir.path, cert);
      [cp, s] = await Promise.all([startControlPlane({ controllerManager: false }), serve(files)]);
      const kc = cp.kubeConfig();
      core = kc.makeApiClient(k8s.CoreV1Api);
      const caBundle = Buffer.from(cert.certPem).toString('base64');
      await kc.makeApiClient(k8s.AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
        body: {
          metadata: { name: 'datadog-webhook' },
          webhooks: WEBHOOK_KINDS.map((kind) => ({
            name: `datadog.webhook.${kind === 'lib' ? 'auto.instrumentation' : kind}`,
            clientConfig: { url: `${s!.url}${ENDPOINT[kind]}`, caBundle },
            rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
            objectSelector: { matchLabels: { 'admission.datadoghq.com/enabled': 'true' } },
            // Fail, so that a webhook the API server cannot use fails the test instead of being ignored.
            failurePolicy: 'Fail',
            reinvocationPolicy: 'IfNeeded',
            matchPolicy: 'Exact',
            sideEffects: 'None',
            timeoutSeconds: 10,
            admissionReviewVersions: ['v1', 'v1beta1'],
          })),
        },
      });
      await core.createNamespace({ body: { metadata: { name: 'apps' } } });
      // No controller manager here: the ServiceAccount admission plugin wants the default account to exist.
      await core.createNamespacedServiceAccount({ namespace: 'apps', body: { metadata: { name: 'default' } } });
    },
    // A cold start builds kube-apiserver first (scripts/control-plane).
    { timeout: 60 * 60_000 },
  );

  after(async () => {
    if (s?.child.exitCode === null) s.child.kill('SIGKILL');
    await cp?.stop();
    await dir?.remove();
  });

  const podBody = (name: string): k8s.V1Pod => {
    const p = samplePod({ name }) as unknown as k8s.V1Pod;
    delete p.metadata!.ownerReferences; // the API server would want the owner to exist
    delete (p.spec!.containers[0] as unknown as Record<string, unknown>).futureField;
    return p;
  };

  const check = (pod: k8s.V1Pod) => {
    const app = pod.spec!.containers[0]!;
    const env = (app.env ?? []).map((e) => e.name);
    for (const name of ['DD_AGENT_HOST', 'DD_ENTITY_ID', 'DD_ENV', 'PYTHONPATH', 'PORT']) assert.ok(env.includes(name), `${name} in ${env.join(',')}`);
    assert.equal(app.env?.find((e) => e.name === 'DD_ENV')?.value, 'prod');
    assert.deepEqual(pod.spec!.initContainers?.map((c) => c.name), ['datadog-lib-python-init']);
    assert.equal(pod.spec!.initContainers?.[0]?.image, 'gcr.io/datadoghq/dd-lib-python-init:v2.9.0');
  };

  test('a pod created (and dry-run created) through the API server comes back injected', async () => {
    check(await core.createNamespacedPod({ namespace: 'apps', body: podBody('dry'), dryRun: 'All' }));
    check(await core.createNamespacedPod({ namespace: 'apps', body: podBody('real') }));
    check(await core.readNamespacedPod({ namespace: 'apps', name: 'real' }));
  });

  test('the init container comes with the token mount, so the ServiceAccount plugin changes nothing after the webhooks and the last entry is called once', async () => {
    // The ServiceAccount plugin reruns after the webhooks; had the init container no token mount, it would
    // add one, and that change would have the API server call all three entries again (IfNeeded): 2, 2, 2.
    // config and tags are still called twice: the entries after them change the pod (reinvocation's rule;
    // the single entry has no "after": one call, see bench/RESULTS.md).
    const calls = async (): Promise<Record<string, number>> => {
      const { body } = await request(`${s!.url}/metrics`, { ca: cert.certPem });
      const count = (k: string, outcome: string) => Number(new RegExp(`tether_admission_requests_total\\{webhook="${k}",outcome="${outcome}"\\} (\\d+)`).exec(body)?.[1] ?? NaN);
      return Object.fromEntries(WEBHOOK_KINDS.map((k) => [k, count(k, 'mutated') + count(k, 'unchanged')]));
    };
    const before = await calls();
    const pod = await core.createNamespacedPod({ namespace: 'apps', body: podBody('once') });
    check(pod);
    const after = await calls();
    assert.deepEqual(Object.fromEntries(WEBHOOK_KINDS.map((k) => [k, after[k]! - before[k]!])), { config: 2, tags: 2, lib: 1 });
    const token = pod.spec!.containers[0]!.volumeMounts?.find((m) => m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount');
    assert.ok(token?.name.startsWith('kube-api-access-'), 'the API server mounted the token into the app container');
    const plain = (m: k8s.V1VolumeMount) => ({ ...m });
    assert.deepEqual(pod.spec!.initContainers![0]!.volumeMounts?.map(plain), [{ name: 'datadog-auto-instrumentation', mountPath: '/datadog-lib' }, plain(token!)]);
  });

  test('a pod that opts out is left alone', async () => {
    const body = podBody('out');
    body.metadata!.labels!['admission.datadoghq.com/enabled'] = 'false';
    const pod = await core.createNamespacedPod({ namespace: 'apps', body });
    assert.deepEqual(pod.spec!.containers[0]!.env?.map((e) => e.name), ['PORT']);
  });
});
