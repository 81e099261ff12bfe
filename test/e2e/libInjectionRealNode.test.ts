/**
 * Library injection for real (issue 18): on the real node (src/devcluster/realCluster.ts), an app image
 * built with no tracer (node-app: Node and a tiny HTTP server) is traced by the dd-trace an init
 * container copies in. The init image is `tether image lib js`'s, built here from dd-trace's npm package
 * and loaded into the node as the webhook names it under the chart's containerRegistry; its spans and
 * runtime metrics go through the node agent pod to an OpenTelemetry Collector, with the pod's tags and
 * the unified service tags from the pod's labels. A version that does not exist leaves the pod waiting
 * with a clear event and a `tether diagnose` finding; an opted-out pod gets nothing; a namespace that
 * enforces the restricted Pod Security level admits and runs the injected pod.
 *
 * Needs root, as realNode.test.ts; one real cluster for the file (the machine holds one node).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import * as k8s from '@kubernetes/client-node';
import { ENABLED_LABEL, LIB_MOUNT_PATH, POD_SECURITY_ENFORCE_LABEL, type BuildableLibLanguage } from '../../src/config/index.js';
import { buildImage, type BuiltImage } from '../../src/devcluster/images/build.js';
import { JAVA_APP_IMAGE_REF, LIB_APP_PORT, NODE_APP_IMAGE_REF, PYTHON_APP_IMAGE_REF, type ImageName } from '../../src/devcluster/images/catalogue.js';
import { buildLibInitImage, libInitImageRef, libInitTag } from '../../src/devcluster/images/libInit.js';
import { NODE_IP } from '../../src/devcluster/node/layout.js';
import { startRealCluster, type RealCluster } from '../../src/devcluster/realCluster.js';
import { RESTRICTED_SECURITY_CONTEXT } from '../../src/admission/libInjection.js';
import { eventually } from '../helpers/eventually.js';
import { startOtlpFileCollector, type OtlpFileCollector, type ReceivedResource } from '../helpers/otlpFileCollector.js';
import { appDeploymentOf, diagnoseAs, isReady, podsOf } from '../helpers/realClusterChecks.js';

const NS = 'datadog';
const APPS = 'lib-apps';
const RESTRICTED = 'lib-restricted';
/** Each language: the library release injected (pinned: a warm run fetches nothing; `tether image lib js 5.x` resolves ranges), its app image with no tracer, the env the injection must set, the user's settings, its runtime metrics' prefix. */
interface Language {
  readonly lang: BuildableLibLanguage;
  readonly version: string;
  readonly appImage: ImageName;
  readonly appRef: string;
  /** The injected variable that loads the library, and what it must hold. */
  readonly loads: { readonly name: string; readonly value: RegExp };
  /** The user's settings on the Deployment (not the image): runtime metrics on, and for python its http.client integration. */
  readonly env: readonly k8s.V1EnvVar[];
  readonly runtimeMetricPrefix: string;
}
const RUNTIME_METRICS = { name: 'DD_RUNTIME_METRICS_ENABLED', value: 'true' };
const LANGUAGES: readonly Language[] = [
  {
    lang: 'js',
    version: '5.132.0',
    appImage: 'node-app',
    appRef: NODE_APP_IMAGE_REF,
    loads: { name: 'NODE_OPTIONS', value: new RegExp(`--require=${LIB_MOUNT_PATH}/node_modules/dd-trace/init`) },
    env: [RUNTIME_METRICS],
    runtimeMetricPrefix: 'runtime.node.',
  },
  {
    lang: 'python',
    version: '4.16.0',
    appImage: 'python-app',
    appRef: PYTHON_APP_IMAGE_REF,
    loads: { name: 'PYTHONPATH', value: new RegExp(`^${LIB_MOUNT_PATH}/$`) },
    // ddtrace leaves http.client (the app's own requests) untraced unless asked; its http.server has no integration.
    env: [RUNTIME_METRICS, { name: 'DD_TRACE_HTTPLIB_ENABLED', value: 'true' }],
    runtimeMetricPrefix: 'runtime.python.',
  },
  {
    lang: 'java',
    version: '1.68.1',
    appImage: 'java-app',
    appRef: JAVA_APP_IMAGE_REF,
    loads: { name: 'JAVA_TOOL_OPTIONS', value: new RegExp(`-javaagent:${LIB_MOUNT_PATH}/dd-java-agent\\.jar`) },
    // JMXFetch's JVM metrics are on by default; DD_RUNTIME_METRICS_ENABLED is the same switch as for the others.
    env: [RUNTIME_METRICS],
    runtimeMetricPrefix: 'jvm.',
  },
];
const JS = LANGUAGES[0]!;
/** A version dd-trace never had. */
const MISSING_VERSION = '9.9.9';
/**
 * Where the webhook names the init images. `localhost`: a pull of an image that is not loaded (the missing
 * version) goes to the loopback, refused at once, never off the machine.
 */
const REGISTRY = 'localhost/tether';
const OTLP_PORT = 4318;
const VALUES = {
  datadog: { apm: { portEnabled: true }, dogstatsd: { useHostPort: true } },
  clusterAgent: { admissionController: { configMode: 'service', containerRegistry: REGISTRY } },
  agents: { otlp: { endpoint: `http://${NODE_IP}:${OTLP_PORT}` } },
  diagnose: { rbac: { create: true } },
};
const SERVICE_TAGS = { service: 'orders', env: 'lib-injection', version: '2.0.0' };

let cluster: RealCluster;
let collector: OtlpFileCollector | undefined;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;
const libImages = new Map<BuildableLibLanguage, BuiltImage>();

/** The language's app Deployment: labelled for injection (or opted out), its library asked for, restricted-ready. */
function appDeployment(l: Language, name: string, namespace: string, o: { enabled: boolean; version: string }): k8s.V1Deployment {
  return appDeploymentOf(name, namespace, {
    labels: {
      [ENABLED_LABEL]: String(o.enabled),
      'tags.datadoghq.com/service': SERVICE_TAGS.service,
      'tags.datadoghq.com/env': SERVICE_TAGS.env,
      'tags.datadoghq.com/version': SERVICE_TAGS.version,
    },
    annotations: { [`admission.datadoghq.com/${l.lang}-lib.version`]: libInitTag(o.version) },
    spec: {
      // What the restricted Pod Security level asks of the app's own containers.
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'app',
          image: l.appRef,
          imagePullPolicy: 'Never',
          env: [...l.env],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          readinessProbe: { httpGet: { path: '/ready', port: LIB_APP_PORT }, periodSeconds: 1 },
        },
      ],
    },
  });
}

const readyPod = (namespace: string, app: string, timeoutMs = 120_000): Promise<k8s.V1Pod> =>
  eventually(`a Ready pod of ${app}`, async () => {
    const pods = await podsOf(core, namespace, `app=${app}`);
    const p = pods.find(isReady);
    assert.ok(p, JSON.stringify(pods.map((x) => x.status?.initContainerStatuses ?? x.status?.conditions)));
    return p;
  }, timeoutMs, 250);

async function receivedFrom(pod: string, signal: ReceivedResource['signal']): Promise<ReceivedResource[]> {
  return (await collector!.received()).filter((r) => r.signal === signal && r.attributes['k8s.pod.name'] === pod);
}

/** Waits for the first span of `pod` in the collector; returns its resource and when it was seen. */
async function firstSpans(pod: string): Promise<{ resource: ReceivedResource; at: number }> {
  const resource = await eventually(`spans of ${pod} in the collector`, async () => {
    const [r] = await receivedFrom(pod, 'traces');
    assert.ok(r, 'no span yet');
    return r;
  }, 120_000, 250);
  return { resource, at: performance.now() };
}

/** The app's one startup line (server.cjs): how long the process took to listen, and whether a tracer was loaded. */
async function startupOf(namespace: string, pod: string): Promise<{ startupMs: number; traced: boolean }> {
  return eventually(`the startup line of ${pod}`, async () => {
    const log = await core.readNamespacedPodLog({ name: pod, namespace, container: 'app' });
    const line = log.split('\n').find((l) => l.startsWith('{"listening"'));
    assert.ok(line, log.slice(-2000));
    return JSON.parse(line) as { startupMs: number; traced: boolean };
  }, 30_000, 500);
}

function assertServiceTags(resource: ReceivedResource, namespace: string, deployment: string): void {
  const a = resource.attributes;
  assert.equal(a['k8s.namespace.name'], namespace, JSON.stringify(a));
  assert.equal(a['k8s.deployment.name'], deployment, JSON.stringify(a));
  assert.equal(a['service.name'], SERVICE_TAGS.service, JSON.stringify(a));
  assert.equal(a['deployment.environment.name'], SERVICE_TAGS.env, JSON.stringify(a));
  assert.equal(a['service.version'], SERVICE_TAGS.version, JSON.stringify(a));
}

before(
  async () => {
    const t0 = performance.now();
    const log = (l: string) => process.stderr.write(`# ${l}\n`);
    // The init images and the app images are built while the cluster starts (their caches make it instant when warm).
    const imagesP = Promise.all(LANGUAGES.map(async (l) => [await buildLibInitImage(l.lang, l.version, { registry: REGISTRY, log }), await buildImage(l.appImage, { log })] as const));
    const [clusterR, imagesR] = await Promise.allSettled([startRealCluster({ namespace: NS, values: VALUES, log }), imagesP]);
    if (clusterR.status === 'rejected') throw clusterR.reason;
    cluster = clusterR.value;
    if (imagesR.status === 'rejected') throw imagesR.reason;
    for (const [i, l] of LANGUAGES.entries()) {
      const [lib, app]: readonly [BuiltImage, BuiltImage] = imagesR.value[i]!;
      assert.equal(lib.ref, libInitImageRef(l.lang, l.version, REGISTRY));
      libImages.set(l.lang, lib);
      for (const image of [lib, app]) await cluster.node.importImage(image.archivePath);
      log(`${lib.ref}: ${(lib.size / 1e6).toFixed(1)} MB compressed, ${(lib.uncompressedSize / 1e6).toFixed(1)} MB uncompressed; ${app.ref}: ${(app.size / 1e6).toFixed(1)} MB compressed`);
    }
    const kc = cluster.cp.kubeConfig();
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    collector = await startOtlpFileCollector(NODE_IP, OTLP_PORT);
    await core.createNamespace({ body: { metadata: { name: APPS } } });
    await core.createNamespace({ body: { metadata: { name: RESTRICTED, labels: { [POD_SECURITY_ENFORCE_LABEL]: 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' } } } });
    log(`real cluster up, images loaded, in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  },
  { timeout: 25 * 60_000 },
);

after(async () => {
  await collector?.stop();
  await cluster?.stop();
});

for (const l of LANGUAGES) {
  describe(`${l.lang}: the library from its registry, injected into an app built without it`, () => {
    test('the labelled Deployment is traced through its init container; the opted-out one, started beside it, gets nothing', async (t) => {
      const [on, off] = [`orders-${l.lang}`, `orders-${l.lang}-plain`];
      const created = performance.now();
      await Promise.all([
        apps.createNamespacedDeployment({ namespace: APPS, body: appDeployment(l, on, APPS, { enabled: true, version: l.version }) }),
        apps.createNamespacedDeployment({ namespace: APPS, body: appDeployment(l, off, APPS, { enabled: false, version: l.version }) }),
      ]);
      const [injected, plain] = await Promise.all([readyPod(APPS, on), readyPod(APPS, off)]);
      const name = injected.metadata!.name!;

      // The init container ran the image built here and copied the library; the app's env points at it.
      const initName = `datadog-lib-${l.lang}-init`;
      assert.equal(injected.spec!.initContainers?.find((c) => c.name === initName)?.image, libImages.get(l.lang)!.ref);
      const initStatus = injected.status!.initContainerStatuses?.find((s) => s.name === initName);
      assert.equal(initStatus?.state?.terminated?.exitCode, 0, JSON.stringify(initStatus));
      const copied = initStatus!.state!.terminated!;
      t.diagnostic(`${l.lang}: init container (copy-lib.sh under its 50m CPU / 20Mi limits) ran ${((new Date(copied.finishedAt!).getTime() - new Date(copied.startedAt!).getTime()) / 1000).toFixed(0)} s (1 s resolution)`);
      const app = injected.spec!.containers[0]!;
      assert.equal(app.image, l.appRef, 'the app image is unchanged');
      assert.equal(app.command, undefined, 'and so is its command');
      assert.match(app.env?.find((e) => e.name === l.loads.name)?.value ?? '', l.loads.value);

      // The opted-out pod: no init container, no volume, no env.
      assert.equal(plain.spec!.initContainers, undefined);
      assert.deepEqual(plain.spec!.containers[0]!.env?.map((e) => e.name), l.env.map((e) => e.name));
      assert.ok(!plain.spec!.volumes?.some((v) => v.name.startsWith('datadog')), JSON.stringify(plain.spec!.volumes));

      const { resource, at } = await firstSpans(name);
      t.diagnostic(`${l.lang}: Deployment created → first exported span of its pod: ${((at - created) / 1000).toFixed(1)} s`);
      assertServiceTags(resource, APPS, on);
      t.diagnostic(`${l.lang}: span names under the pod: ${[...new Set((await receivedFrom(name, 'traces')).flatMap((r) => r.names))].slice(0, 8).join(', ')}`);

      const [withLib, without] = await Promise.all([startupOf(APPS, name), startupOf(APPS, plain.metadata!.name!)]);
      assert.equal(withLib.traced, true, `the library was loaded by ${l.loads.name}`);
      assert.equal(without.traced, false);
      t.diagnostic(`${l.lang}: app start to listening: ${withLib.startupMs} ms with the injected library, ${without.startupMs} ms without (×${(withLib.startupMs / without.startupMs).toFixed(2)})`);

      // The library's runtime metrics over DogStatsD, with the pod's tags.
      await eventually(`runtime metrics of ${name}`, async () => {
        const r = await receivedFrom(name, 'metrics');
        assert.ok(r.some((x) => x.names.some((n) => n.startsWith(l.runtimeMetricPrefix))), JSON.stringify(r.map((x) => x.names).slice(0, 3)));
      }, 90_000, 1000);
      // What the library said about the node agent it talks to (a refused endpoint shows here).
      const appLog = await core.readNamespacedPodLog({ name, namespace: APPS, container: 'app' });
      // (dd-java-agent's one-line configuration dump, which says "agent_error":false, aside)
      const complaints = appLog.split('\n').filter((line) => /error|warn|fail|404/i.test(line) && !line.includes('"listening"') && !line.includes('TRACER CONFIGURATION'));
      t.diagnostic(`${l.lang}: library log lines about errors: ${complaints.length}${complaints.length ? `, e.g. ${complaints.slice(0, 3).join(' | ').slice(0, 600)}` : ''}`);
      // Nothing ever came from the opted-out pod (it was up as long as the injected one).
      assert.deepEqual(await receivedFrom(plain.metadata!.name!, 'traces'), []);
    });

    test('a namespace enforcing the restricted Pod Security level admits the injected pod, whose init container runs restricted', async () => {
      const deployment = `orders-${l.lang}-restricted`;
      await apps.createNamespacedDeployment({ namespace: RESTRICTED, body: appDeployment(l, deployment, RESTRICTED, { enabled: true, version: l.version }) });
      const pod = await readyPod(RESTRICTED, deployment);
      const init = pod.spec!.initContainers?.find((c) => c.name === `datadog-lib-${l.lang}-init`);
      // (as plain data: the client returns its own classes)
      assert.deepEqual(JSON.parse(JSON.stringify(init?.securityContext ?? null)), RESTRICTED_SECURITY_CONTEXT);
      const { resource } = await firstSpans(pod.metadata!.name!);
      assertServiceTags(resource, RESTRICTED, deployment);
    });
  });
}

describe('a library version that does not exist', () => {
  test('js v9.9.9: the pod waits with an image pull event on its init container, and diagnose names the image and the fix', async () => {
    await apps.createNamespacedDeployment({ namespace: APPS, body: appDeployment(JS, 'orders-missing', APPS, { enabled: true, version: MISSING_VERSION }) });
    const image = libInitImageRef('js', MISSING_VERSION, REGISTRY);
    try {
      const pod = await eventually('the pod to wait for its init image', async () => {
        const [p] = await podsOf(core, APPS, 'app=orders-missing');
        const waiting = p?.status?.initContainerStatuses?.find((s) => s.name === 'datadog-lib-js-init')?.state?.waiting;
        assert.match(waiting?.reason ?? '', /ErrImagePull|ImagePullBackOff|ErrImageNeverPull/, JSON.stringify(p?.status));
        return p!;
      }, 120_000, 500);
      const events = await eventually('a pull event naming the image', async () => {
        const list = (await core.listNamespacedEvent({ namespace: APPS, fieldSelector: `involvedObject.name=${pod.metadata!.name}` })).items;
        const pull = list.filter((e) => e.type === 'Warning' && (e.message ?? '').includes(image));
        assert.ok(pull.length > 0, JSON.stringify(list.map((e) => `${e.reason}: ${e.message}`)));
        return pull;
      }, 60_000, 1000);
      assert.ok(events.some((e) => /Failed|BackOff|ErrImageNeverPull/.test(e.reason ?? '')), JSON.stringify(events.map((e) => e.reason)));
      const check = await eventually('diagnose to name the missing init image', async () => {
        const c = (await diagnoseAs(cluster, NS)).find((r) => r.name === 'lib-init-images');
        assert.equal(c?.status, 'error', JSON.stringify(c));
        return c!;
      }, 60_000, 2000);
      assert.match(check.summary, new RegExp(image.replaceAll('.', '\\.')));
      assert.match(check.fix ?? '', new RegExp(`tether image lib js ${MISSING_VERSION.replaceAll('.', '\\.')} --registry ${REGISTRY}`));
    } finally {
      await apps.deleteNamespacedDeployment({ name: 'orders-missing', namespace: APPS });
    }
  });
});
