/** fast-check generators of pods and configurations, including fields no version of Tether knows. */
import fc from 'fast-check';
import type { Pod } from '../../../src/admission/pod.js';
import type { ConfigKey } from '../../../src/config/index.js';
import type { OwnerFact } from '../../../src/admission/types.js';

const DNS = fc.constantFrom('app', 'web', 'sidecar', 'proxy', 'init', 'db', 'a-1', 'worker');
/** Names Tether injects, extends or checks, mixed with other names, so collisions are common. */
const ENV_NAME = fc.constantFrom(
  'DD_AGENT_HOST', 'DD_ENTITY_ID', 'DD_TRACE_AGENT_URL', 'DD_DOGSTATSD_URL', 'DD_ENV', 'DD_SERVICE', 'DD_VERSION',
  'JAVA_TOOL_OPTIONS', 'NODE_OPTIONS', 'PYTHONPATH', 'RUBYOPT', 'CORECLR_ENABLE_PROFILING', 'CORECLR_PROFILER',
  'PATH', 'HOME', 'URL', 'weird/name~0',
);
/** Fields that Kubernetes does not have (yet): they must pass through untouched. */
// No `<<` key: rendered plain as YAML (byte-exact inject tests), it is YAML 1.1's merge key, not a field.
const unknownFields = fc.dictionary(
  fc.constantFrom('x-future', 'x-vendor/ext', 'x~tilde', 'newField'),
  fc.jsonValue({ maxDepth: 2 }).filter((v) => !JSON.stringify(v).includes('"<<"')),
  { maxKeys: 2, noNullPrototype: true },
);

const envVar = fc.record(
  {
    name: ENV_NAME,
    value: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('/app', '-Xmx1g', '', '/datadog-lib/', '-javaagent:/datadog-lib/dd-java-agent.jar')),
    valueFrom: fc.constant({ fieldRef: { fieldPath: 'metadata.name' } }),
    extra: unknownFields,
  },
  { requiredKeys: ['name'], noNullPrototype: true },
).map(({ extra, ...e }) => ({ ...extra, ...e }));

const mount = fc.record(
  {
  name: fc.constantFrom('datadog', 'data', 'datadog-auto-instrumentation', 'datadog-trace-agent', 'cfg'),
  mountPath: fc.constantFrom('/var/run/datadog', '/var/run/datadog/', '/datadog-lib', '/data', '/etc/cfg', '/var/run/datadog/apm.socket'),
  },
  { noNullPrototype: true },
);

const container = (restartPolicy: boolean) =>
  fc
    .record(
      {
        image: fc.constantFrom('app:1', 'busybox'),
        env: fc.array(envVar, { maxLength: 4 }),
        volumeMounts: fc.array(mount, { maxLength: 2 }),
        restartPolicy: restartPolicy ? fc.constant('Always') : fc.constant(undefined),
        extra: unknownFields,
      },
      { requiredKeys: ['image'], noNullPrototype: true },
    )
    .map(({ extra, restartPolicy: rp, ...c }) => ({ ...extra, ...c, ...(rp ? { restartPolicy: rp } : {}) }));

const LIB_ANNOTATION = fc.tuple(
  fc.constantFrom('', 'app.', 'web.', 'ghost.'),
  fc.constantFrom('java', 'js', 'python', 'dotnet', 'ruby'),
  fc.constantFrom('version', 'custom-image'),
  fc.constantFrom('v1', 'v2.9.0', 'latest', 'bad tag', 'my.reg/img:1'),
);

export const podArb: fc.Arbitrary<Pod> = fc
  .record(
  {
    names: fc.uniqueArray(DNS, { minLength: 1, maxLength: 5 }),
    splitAt: fc.nat(),
    containers: fc.array(container(false), { minLength: 5, maxLength: 5 }),
    inits: fc.array(fc.oneof(container(false), container(true)), { minLength: 5, maxLength: 5 }),
    volumes: fc.option(fc.array(fc.record({ name: fc.constantFrom('datadog', 'data', 'cfg', 'datadog-auto-instrumentation') }, { noNullPrototype: true }).map((v) => ({ ...v, emptyDir: {} })), { maxLength: 2 }), { nil: undefined }),
    enabled: fc.constantFrom('true', 'true', 'false', 'maybe', undefined),
    mode: fc.constantFrom(undefined, 'hostip', 'service', 'socket', 'udp'),
    tags: fc.dictionary(fc.constantFrom('tags.datadoghq.com/env', 'tags.datadoghq.com/service', 'tags.datadoghq.com/version'), fc.constantFrom('prod', 'web', '1.0'), { noNullPrototype: true }),
    annotations: fc.array(LIB_ANNOTATION, { maxLength: 3 }),
    existingLibInit: fc.boolean(),
    podExtra: unknownFields,
    specExtra: unknownFields,
  },
  { noNullPrototype: true },
  )
  .map((g) => {
    // Container names are unique across containers and init containers, as the API server requires.
    const split = 1 + (g.splitAt % g.names.length);
    const main = g.names.slice(0, split).map((name, i) => ({ name, ...g.containers[i] }));
    const inits: Record<string, unknown>[] = g.names.slice(split).map((name, i) => ({ name, ...g.inits[i] }));
    if (g.existingLibInit) inits.push({ name: 'datadog-lib-java-init', image: 'mine' });
    const labels: Record<string, string> = { ...g.tags };
    if (g.enabled !== undefined) labels['admission.datadoghq.com/enabled'] = g.enabled;
    if (g.mode !== undefined) labels['admission.datadoghq.com/config.mode'] = g.mode;
    const annotations = Object.fromEntries(g.annotations.map(([c, lang, kind, v]) => [`admission.datadoghq.com/${c}${lang}-lib.${kind}`, v]));
    return {
      ...g.podExtra,
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { generateName: 'gen-', labels, annotations },
      spec: {
        ...g.specExtra,
        containers: main,
        ...(inits.length ? { initContainers: inits } : {}),
        ...(g.volumes ? { volumes: g.volumes } : {}),
      },
    } as Pod;
  });

export const configArb: fc.Arbitrary<Partial<Record<ConfigKey, unknown>>> = fc.record(
  {
  'admission_controller.inject_config.mode': fc.constantFrom('hostip', 'service', 'socket'),
  'admission_controller.inject_config.type_socket_volumes': fc.boolean(),
  'admission_controller.mutate_unlabelled': fc.boolean(),
  'admission_controller.reinvocation_policy': fc.constantFrom('IfNeeded', 'Never'),
  },
  { noNullPrototype: true },
);

export const ownerArb: fc.Arbitrary<OwnerFact | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant({ found: false as const, reason: 'unreachable' }),
  fc.dictionary(fc.constantFrom('tags.datadoghq.com/env', 'tags.datadoghq.com/service', 'other'), fc.constantFrom('staging', 'api'), { noNullPrototype: true }).map((labels) => ({ found: true as const, kind: 'Deployment', name: 'd', labels })),
);
