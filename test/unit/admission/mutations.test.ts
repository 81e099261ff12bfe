import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fjp from 'fast-json-patch';
import { applyPatch, mutatePod, runWebhookChain, type Pod } from '../../../src/admission/index.js';
import type { WebhookKind } from '../../../src/config/index.js';
import { ctx, pod } from '../fixtures.js';

/** Applies through an independent JSON Patch implementation, validating every operation. */
function applied(p: Pod, kind: WebhookKind, c = ctx()): Pod {
  const r = mutatePod(kind, p, c);
  const out = fjp.applyPatch(structuredClone(p), fjp.deepClone(r.patch), true, true).newDocument as Pod;
  assert.deepEqual(applyPatch(p, r.patch), out, 'our applier agrees with fast-json-patch');
  return out;
}

const envOf = (p: Pod, i = 0, list: 'containers' | 'initContainers' = 'containers') => p.spec[list]?.[i]?.env ?? [];
const names = (p: Pod, i = 0, list: 'containers' | 'initContainers' = 'containers') => envOf(p, i, list).map((e) => e.name);

describe('selection (SPEC §3)', () => {
  test('label "true" mutates, "false" never does, absent only with mutate_unlabelled', () => {
    assert.ok(mutatePod('config', pod(), ctx()).patch.length > 0);
    assert.equal(mutatePod('config', pod({ labels: { 'admission.datadoghq.com/enabled': 'false' } }), ctx({ 'admission_controller.mutate_unlabelled': true })).patch.length, 0);
    const unlabelled: Pod = { ...pod(), metadata: { name: 'u' } };
    assert.equal(mutatePod('config', unlabelled, ctx()).patch.length, 0);
    assert.ok(mutatePod('config', unlabelled, ctx({ 'admission_controller.mutate_unlabelled': true })).patch.length > 0);
  });

  test('another label value is treated as absent, with a warning', () => {
    const r = mutatePod('config', pod({ labels: { 'admission.datadoghq.com/enabled': 'yes' } }), ctx());
    assert.equal(r.patch.length, 0);
    assert.ok(r.decisions.some((d) => d.warning && /only "true" and "false"/.test(d.detail ?? '')));
  });

  test("Tether's own namespace and kube-system are never mutated", () => {
    assert.equal(mutatePod('config', pod(), ctx({}, { namespace: 'datadog' })).patch.length, 0);
    assert.equal(mutatePod('config', pod(), ctx({ 'admission_controller.mutate_unlabelled': true }, { namespace: 'kube-system' })).patch.length, 0);
  });
});

describe('config webhook', () => {
  test('hostip: DD_AGENT_HOST from status.hostIP, DD_ENTITY_ID and the external data, at the front of env', () => {
    const p = pod({ spec: { containers: [{ name: 'app', env: [{ name: 'URL', value: 'http://$(DD_AGENT_HOST):8126' }] }] } });
    const out = applied(p, 'config');
    assert.deepEqual(names(out), ['DD_AGENT_HOST', 'DD_ENTITY_ID', 'DD_INTERNAL_POD_UID', 'DD_EXTERNAL_ENV', 'URL']);
    assert.deepEqual(envOf(out)[0], { name: 'DD_AGENT_HOST', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.hostIP' } } });
    assert.deepEqual(envOf(out)[1], { name: 'DD_ENTITY_ID', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.uid' } } });
    assert.deepEqual(envOf(out)[2], { name: 'DD_INTERNAL_POD_UID', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.uid' } } });
    assert.deepEqual(envOf(out)[3], { name: 'DD_EXTERNAL_ENV', value: 'it-false,cn-app,pu-$(DD_INTERNAL_POD_UID)' });
  });

  test('DD_EXTERNAL_ENV names each container and whether it is an init container; a pod that sets the UID variable itself gets none', () => {
    const p = pod({ spec: { containers: [{ name: 'app' }, { name: 'own', env: [{ name: 'X', value: '1' }, { name: 'DD_INTERNAL_POD_UID', value: 'mine' }] }], initContainers: [{ name: 'setup' }] } });
    const out = applied(p, 'config');
    const external = (c: (typeof out.spec.containers)[number]) => c.env?.find((e) => e.name === 'DD_EXTERNAL_ENV')?.value;
    assert.equal(external(out.spec.containers[0]!), 'it-false,cn-app,pu-$(DD_INTERNAL_POD_UID)');
    assert.equal(external(out.spec.initContainers![0]!), 'it-true,cn-setup,pu-$(DD_INTERNAL_POD_UID)');
    // Its own variable comes after the front of env: a reference to it would not resolve.
    assert.equal(external(out.spec.containers[1]!), undefined);
  });

  test('service: DD_AGENT_HOST is the local service in Tether\'s namespace', () => {
    const out = applied(pod(), 'config', ctx({ 'admission_controller.inject_config.mode': 'service' }));
    assert.deepEqual(envOf(out)[0], { name: 'DD_AGENT_HOST', value: 'datadog.datadog.svc.cluster.local' });
  });

  test('socket: URLs, one DirectoryOrCreate hostPath volume, read-only mounts in every container', () => {
    const p = pod({ spec: { containers: [{ name: 'a' }, { name: 'b' }], initContainers: [{ name: 'side', restartPolicy: 'Always' }] } });
    const out = applied(p, 'config', ctx({ 'admission_controller.inject_config.mode': 'socket' }));
    assert.deepEqual(names(out), ['DD_TRACE_AGENT_URL', 'DD_DOGSTATSD_URL', 'DD_ENTITY_ID', 'DD_INTERNAL_POD_UID', 'DD_EXTERNAL_ENV']);
    assert.equal(envOf(out)[0]?.value, 'unix:///var/run/datadog/apm.socket');
    assert.deepEqual(out.spec.volumes, [{ name: 'datadog', hostPath: { path: '/var/run/datadog', type: 'DirectoryOrCreate' } }]);
    for (const c of [...out.spec.containers, ...(out.spec.initContainers ?? [])]) {
      assert.deepEqual(c.volumeMounts, [{ name: 'datadog', mountPath: '/var/run/datadog', readOnly: true }], c.name);
    }
  });

  test('socket with type_socket_volumes: one Socket volume per socket', () => {
    const out = applied(pod(), 'config', ctx({ 'admission_controller.inject_config.mode': 'socket', 'admission_controller.inject_config.type_socket_volumes': true }));
    assert.deepEqual(out.spec.volumes, [
      { name: 'datadog-trace-agent', hostPath: { path: '/var/run/datadog/apm.socket', type: 'Socket' } },
      { name: 'datadog-dogstatsd', hostPath: { path: '/var/run/datadog/dsd.socket', type: 'Socket' } },
    ]);
    assert.deepEqual(out.spec.containers[0]?.volumeMounts?.map((m) => m.mountPath), ['/var/run/datadog/apm.socket', '/var/run/datadog/dsd.socket']);
  });

  test('the pod label picks the mode; an invalid one falls back with a warning', () => {
    const out = applied(pod({ labels: { 'admission.datadoghq.com/config.mode': 'socket' } }), 'config');
    assert.equal(names(out)[0], 'DD_TRACE_AGENT_URL');
    const r = mutatePod('config', pod({ labels: { 'admission.datadoghq.com/config.mode': 'udp' } }), ctx());
    assert.ok(r.decisions.some((d) => d.warning && /udp/.test(d.detail ?? '')));
    assert.equal(names(applied(pod({ labels: { 'admission.datadoghq.com/config.mode': 'udp' } }), 'config'))[0], 'DD_AGENT_HOST');
  });

  test('an existing variable, volume name, mount name or mount path is never overwritten', () => {
    const p = pod({
      labels: { 'admission.datadoghq.com/config.mode': 'socket' },
      spec: {
        containers: [
          { name: 'a', env: [{ name: 'DD_TRACE_AGENT_URL', value: 'mine' }], volumeMounts: [{ name: 'other', mountPath: '/var/run/datadog/' }] },
          { name: 'b', volumeMounts: [{ name: 'datadog', mountPath: '/elsewhere' }] },
        ],
        volumes: [{ name: 'datadog', emptyDir: {} }],
      },
    });
    const out = applied(p, 'config');
    assert.deepEqual(out.spec.volumes, [{ name: 'datadog', emptyDir: {} }]);
    assert.deepEqual(envOf(out).find((e) => e.name === 'DD_TRACE_AGENT_URL'), { name: 'DD_TRACE_AGENT_URL', value: 'mine' });
    assert.equal(out.spec.containers[0]?.volumeMounts?.length, 1);
    assert.equal(out.spec.containers[1]?.volumeMounts?.length, 1);
  });
});

describe('tags webhook', () => {
  test('pod labels become DD_ENV/DD_SERVICE/DD_VERSION (only those present)', () => {
    const out = applied(pod({ labels: { 'tags.datadoghq.com/env': 'prod', 'tags.datadoghq.com/version': '1.2' } }), 'tags');
    assert.deepEqual(envOf(out), [{ name: 'DD_ENV', value: 'prod' }, { name: 'DD_VERSION', value: '1.2' }]);
  });

  test("without tag labels, the owner's labels are used", () => {
    const owner = { found: true as const, kind: 'Deployment', name: 'web', labels: { 'tags.datadoghq.com/service': 'web' } };
    const out = applied(pod(), 'tags', ctx({}, { owner }));
    assert.deepEqual(envOf(out), [{ name: 'DD_SERVICE', value: 'web' }]);
  });

  test("the pod's own tag labels win over the owner's", () => {
    const owner = { found: true as const, kind: 'Deployment', name: 'web', labels: { 'tags.datadoghq.com/service': 'owner', 'tags.datadoghq.com/env': 'o' } };
    const out = applied(pod({ labels: { 'tags.datadoghq.com/service': 'pod' } }), 'tags', ctx({}, { owner }));
    assert.deepEqual(envOf(out), [{ name: 'DD_SERVICE', value: 'pod' }]);
  });

  test('an owner that could not be read leaves the pod unmutated, with a warning', () => {
    const r = mutatePod('tags', pod(), ctx({}, { owner: { found: false, reason: 'timed out' } }));
    assert.equal(r.patch.length, 0);
    assert.ok(r.decisions.some((d) => d.warning && /timed out/.test(d.detail ?? '')));
  });
});

describe('library webhook', () => {
  const lib = (annotations: Record<string, string>, spec?: Partial<Pod['spec']>) => pod({ annotations, ...(spec ? { spec } : {}) });

  test('python: init container, emptyDir, mount and PYTHONPATH', () => {
    const out = applied(lib({ 'admission.datadoghq.com/python-lib.version': 'v2.9.0' }), 'lib');
    assert.deepEqual(out.spec.initContainers, [
      {
        name: 'datadog-lib-python-init',
        image: 'gcr.io/datadoghq/dd-lib-python-init:v2.9.0',
        command: ['sh', 'copy-lib.sh', '/datadog-lib'],
        resources: { requests: { cpu: '50m', memory: '20Mi' }, limits: { cpu: '50m', memory: '20Mi' } },
        volumeMounts: [{ name: 'datadog-auto-instrumentation', mountPath: '/datadog-lib' }],
      },
    ]);
    assert.deepEqual(out.spec.volumes, [{ name: 'datadog-auto-instrumentation', emptyDir: {} }]);
    assert.deepEqual(out.spec.containers[0]?.volumeMounts, [{ name: 'datadog-auto-instrumentation', mountPath: '/datadog-lib' }]);
    assert.deepEqual(envOf(out), [{ name: 'PYTHONPATH', value: '/datadog-lib/' }]);
  });

  test('existing values are extended in place, never replaced', () => {
    const env = [
      { name: 'JAVA_TOOL_OPTIONS', value: '-Xmx1g' },
      { name: 'NODE_OPTIONS', value: '--max-old-space-size=512' },
      { name: 'PYTHONPATH', value: '/app' },
      { name: 'RUBYOPT', value: '-W0' },
    ];
    const out = applied(
      lib(
        { 'admission.datadoghq.com/java-lib.version': 'v1', 'admission.datadoghq.com/js-lib.version': 'v5', 'admission.datadoghq.com/python-lib.version': 'v2', 'admission.datadoghq.com/ruby-lib.version': 'v2' },
        { containers: [{ name: 'app', env }] },
      ),
      'lib',
    );
    assert.deepEqual(envOf(out), [
      { name: 'JAVA_TOOL_OPTIONS', value: '-Xmx1g -javaagent:/datadog-lib/dd-java-agent.jar' },
      { name: 'NODE_OPTIONS', value: '--max-old-space-size=512 --require=/datadog-lib/node_modules/dd-trace/init' },
      { name: 'PYTHONPATH', value: '/datadog-lib/:/app' },
      { name: 'RUBYOPT', value: '-W0 -r/datadog-lib/auto_inject' },
    ]);
    assert.deepEqual(out.spec.initContainers?.map((c) => c.name), ['datadog-lib-java-init', 'datadog-lib-js-init', 'datadog-lib-python-init', 'datadog-lib-ruby-init']);
  });

  test('dotnet sets its four variables, keeping any the pod sets', () => {
    const out = applied(lib({ 'admission.datadoghq.com/dotnet-lib.version': 'v3' }, { containers: [{ name: 'app', env: [{ name: 'CORECLR_ENABLE_PROFILING', value: '0' }] }] }), 'lib');
    assert.deepEqual(envOf(out), [
      { name: 'CORECLR_PROFILER', value: '{846F5F1C-F9AE-4B07-969E-05C26BC060D8}' },
      { name: 'CORECLR_PROFILER_PATH', value: '/datadog-lib/Datadog.Trace.ClrProfiler.Native.so' },
      { name: 'DD_DOTNET_TRACER_HOME', value: '/datadog-lib' },
      { name: 'CORECLR_ENABLE_PROFILING', value: '0' },
    ]);
  });

  test('custom image, registry, and a custom image outranking a version', () => {
    const out = applied(lib({ 'admission.datadoghq.com/js-lib.version': 'v5', 'admission.datadoghq.com/js-lib.custom-image': 'my.registry/dd-js:5' }), 'lib');
    assert.equal(out.spec.initContainers?.[0]?.image, 'my.registry/dd-js:5');
    const out2 = applied(lib({ 'admission.datadoghq.com/js-lib.version': 'v5' }), 'lib', ctx({ 'admission_controller.auto_instrumentation.container_registry': 'registry.example/dd/' }));
    assert.equal(out2.spec.initContainers?.[0]?.image, 'registry.example/dd/dd-lib-js-init:v5');
  });

  test('a per-container annotation instruments only that container', () => {
    const out = applied(lib({ 'admission.datadoghq.com/web.java-lib.version': 'v1' }, { containers: [{ name: 'web' }, { name: 'proxy' }] }), 'lib');
    assert.deepEqual(names(out, 0), ['JAVA_TOOL_OPTIONS']);
    assert.deepEqual(names(out, 1), []);
    assert.equal(out.spec.containers[1]?.volumeMounts, undefined);
  });

  test('conflicting images, unknown containers and bad versions are skipped with warnings', () => {
    const r = mutatePod(
      'lib',
      lib({
        'admission.datadoghq.com/java-lib.version': 'v1',
        'admission.datadoghq.com/app.java-lib.version': 'v2',
        'admission.datadoghq.com/nope.python-lib.version': 'v2',
        'admission.datadoghq.com/ruby-lib.version': 'v1 latest',
      }),
      ctx(),
    );
    assert.equal(r.patch.length, 0);
    const warnings = r.decisions.filter((d) => d.warning).map((d) => d.detail ?? '');
    assert.equal(warnings.length, 3);
    assert.ok(warnings.some((w) => /different images/.test(w)));
    assert.ok(warnings.some((w) => /no container named nope/.test(w)));
    assert.ok(warnings.some((w) => /not a valid image tag/.test(w)));
  });

  test('a variable set with valueFrom skips that language with a warning, others still apply', () => {
    const spec = { containers: [{ name: 'app', env: [{ name: 'JAVA_TOOL_OPTIONS', valueFrom: { configMapKeyRef: { name: 'c', key: 'k' } } }] }] };
    const r = mutatePod('lib', lib({ 'admission.datadoghq.com/java-lib.version': 'v1', 'admission.datadoghq.com/python-lib.version': 'v2' }, spec), ctx());
    assert.ok(r.decisions.some((d) => d.warning && /valueFrom/.test(d.detail ?? '')));
    const out = applied(lib({ 'admission.datadoghq.com/java-lib.version': 'v1', 'admission.datadoghq.com/python-lib.version': 'v2' }, spec), 'lib');
    assert.deepEqual(out.spec.initContainers?.map((c) => c.name), ['datadog-lib-python-init']);
  });

  test('an existing init container of that name means nothing is done for the language', () => {
    const p = lib({ 'admission.datadoghq.com/python-lib.version': 'v2' }, { initContainers: [{ name: 'datadog-lib-python-init', image: 'mine' }] });
    assert.equal(mutatePod('lib', p, ctx()).patch.length, 0);
  });

  test('security context: configured, restricted-namespace default, or none', () => {
    const p = lib({ 'admission.datadoghq.com/python-lib.version': 'v2' });
    assert.equal(applied(p, 'lib').spec.initContainers?.[0]?.securityContext, undefined);
    const restricted = applied(p, 'lib', ctx({}, { namespaceLabels: { 'pod-security.kubernetes.io/enforce': 'restricted' } }));
    assert.deepEqual(restricted.spec.initContainers?.[0]?.securityContext, {
      allowPrivilegeEscalation: false,
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
      capabilities: { drop: ['ALL'] },
    });
    const configured = applied(p, 'lib', ctx({ 'admission_controller.auto_instrumentation.init_security_context': { runAsUser: 1001 } }, { namespaceLabels: { 'pod-security.kubernetes.io/enforce': 'restricted' } }));
    assert.deepEqual(configured.spec.initContainers?.[0]?.securityContext, { runAsUser: 1001 });
  });

  test('the init container gets the service account token mount the pod already has, as the API server would add it', () => {
    const token = { name: 'kube-api-access-x7k2q', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' };
    // A pod as the webhook receives it: the ServiceAccount admission plugin ran before the webhooks.
    const asAdmitted = (extra: Partial<Pod['spec']> = {}, mount: Record<string, unknown> = token) =>
      lib(
        { 'admission.datadoghq.com/python-lib.version': 'v2' },
        { containers: [{ name: 'app', volumeMounts: [{ name: 'data', mountPath: '/data' }, mount as typeof token] }], volumes: [{ name: 'data', emptyDir: {} }, { name: token.name, projected: {} }], ...extra },
      );
    const mountsOfInit = (p: Pod) => p.spec.initContainers?.[0]?.volumeMounts;
    assert.deepEqual(mountsOfInit(applied(asAdmitted(), 'lib')), [{ name: 'datadog-auto-instrumentation', mountPath: '/datadog-lib' }, token]);
    // A pod that opts out of the token, or mounts something else at the token's path, or has no token volume: nothing added.
    const libOnly = [{ name: 'datadog-auto-instrumentation', mountPath: '/datadog-lib' }];
    assert.deepEqual(mountsOfInit(applied(asAdmitted({ automountServiceAccountToken: false }), 'lib')), libOnly);
    assert.deepEqual(mountsOfInit(applied(asAdmitted({}, { ...token, name: 'my-token' }), 'lib')), libOnly);
    assert.deepEqual(mountsOfInit(applied(asAdmitted({}, { ...token, readOnly: false }), 'lib')), libOnly);
    assert.deepEqual(mountsOfInit(applied(asAdmitted({ volumes: [{ name: 'data', emptyDir: {} }] }), 'lib')), libOnly);
  });
});

describe('the chain', () => {
  test('a second pass through every webhook yields an empty patch', () => {
    const p = pod({ labels: { 'tags.datadoghq.com/env': 'prod' }, annotations: { 'admission.datadoghq.com/java-lib.version': 'v1' } });
    const once = runWebhookChain(p, ctx({ 'admission_controller.inject_config.mode': 'socket' }));
    const twice = runWebhookChain(once.pod, ctx({ 'admission_controller.inject_config.mode': 'socket' }));
    assert.deepEqual(twice.patch, []);
    assert.deepEqual(applyPatch(p, once.patch), once.pod);
  });

  test("Tether's own library init containers are left alone by the other webhooks, whatever the reinvocation policy", () => {
    const p = pod({ annotations: { 'admission.datadoghq.com/java-lib.version': 'v1' }, spec: { containers: [{ name: 'app' }], initContainers: [{ name: 'migrate' }] } });
    for (const policy of ['IfNeeded', 'Never']) {
      const out = runWebhookChain(p, ctx({ 'admission_controller.reinvocation_policy': policy, 'admission_controller.inject_config.mode': 'socket' })).pod;
      assert.deepEqual(out.spec.initContainers?.map((c) => [c.name, c.env?.length ?? 0, c.volumeMounts?.length]), [
        ['datadog-lib-java-init', 0, 1],
        ['migrate', 5, 1],
      ]);
    }
  });

  test('a disabled webhook does nothing', () => {
    const r = runWebhookChain(pod({ labels: { 'tags.datadoghq.com/env': 'prod' } }), ctx({ 'admission_controller.inject_tags.enabled': false }));
    assert.deepEqual(names(r.pod), ['DD_AGENT_HOST', 'DD_ENTITY_ID', 'DD_INTERNAL_POD_UID', 'DD_EXTERNAL_ENV']);
  });
});
