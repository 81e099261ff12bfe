/**
 * The shared tagger (tagging/podTags.ts): tag names and values as the stack's kubernetes tagger spells
 * them, owners through ReplicaSet → Deployment and Job → CronJob, and SPEC §5's rule for unified service
 * tags (the pod's own labels win as a whole), which the tags webhook applies through the same function.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { podTags, unifiedServiceTags, type PodTagsInput } from '../../../src/tagging/podTags.js';
import { applyPatch, mutatePod } from '../../../src/admission/index.js';
import { ctx, ENABLED, pod as fixturePod } from '../fixtures.js';

const RUNS = Number(process.env.TETHER_PROPERTY_RUNS ?? 300);
const ENV = 'tags.datadoghq.com/env';
const SERVICE = 'tags.datadoghq.com/service';
const VERSION = 'tags.datadoghq.com/version';

describe('podTags', () => {
  const base = { namespace: 'shop', name: 'web-7c8c589d48-vr4dj', phase: 'Running', node: 'node-a' };
  const table: { what: string; input: PodTagsInput; tags: string[] }[] = [
    {
      what: 'a bare pod: namespace, name, lower-case phase, node',
      input: base,
      tags: ['kube_namespace:shop', 'kube_node:node-a', 'pod_name:web-7c8c589d48-vr4dj', 'pod_phase:running'],
    },
    {
      what: 'unscheduled, no phase yet: no kube_node, no pod_phase',
      input: { namespace: 'shop', name: 'p', node: '', phase: '' },
      tags: ['kube_namespace:shop', 'pod_name:p'],
    },
    {
      what: "a Deployment's pod: kube_deployment and kube_replica_set, kube_ownerref_kind of the first owner; env/service/version from the Deployment",
      input: {
        ...base,
        owner: { kind: 'ReplicaSet', name: 'web-7c8c589d48' },
        workload: { kind: 'Deployment', name: 'web', via: { kind: 'ReplicaSet', name: 'web-7c8c589d48' }, tagLabels: { [ENV]: 'prod', [SERVICE]: 'web', [VERSION]: '1.2' } },
        services: ['web', 'web-canary'],
      },
      tags: [
        'env:prod',
        'kube_deployment:web',
        'kube_namespace:shop',
        'kube_node:node-a',
        'kube_ownerref_kind:replicaset',
        'kube_replica_set:web-7c8c589d48',
        'kube_service:web',
        'kube_service:web-canary',
        'pod_name:web-7c8c589d48-vr4dj',
        'pod_phase:running',
        'service:web',
        'version:1.2',
      ],
    },
    {
      what: "a ReplicaSet not known yet: kube_replica_set from the owner reference alone",
      input: { ...base, owner: { kind: 'ReplicaSet', name: 'web-1' } },
      tags: ['kube_namespace:shop', 'kube_node:node-a', 'kube_ownerref_kind:replicaset', 'kube_replica_set:web-1', 'pod_name:web-7c8c589d48-vr4dj', 'pod_phase:running'],
    },
    {
      what: "a CronJob's pod: kube_job and kube_cronjob",
      input: { ...base, phase: 'Succeeded', owner: { kind: 'Job', name: 'backup-2900' }, workload: { kind: 'CronJob', name: 'backup', via: { kind: 'Job', name: 'backup-2900' }, tagLabels: {} } },
      tags: ['kube_cronjob:backup', 'kube_job:backup-2900', 'kube_namespace:shop', 'kube_node:node-a', 'kube_ownerref_kind:job', 'pod_name:web-7c8c589d48-vr4dj', 'pod_phase:succeeded'],
    },
    {
      what: 'StatefulSet and DaemonSet owners',
      input: { ...base, owner: { kind: 'StatefulSet', name: 'db' }, workload: { kind: 'StatefulSet', name: 'db', tagLabels: {} } },
      tags: ['kube_namespace:shop', 'kube_node:node-a', 'kube_ownerref_kind:statefulset', 'kube_stateful_set:db', 'pod_name:web-7c8c589d48-vr4dj', 'pod_phase:running'],
    },
    {
      what: 'an owner of a kind without a tag (a static pod: Node): only kube_ownerref_kind',
      input: { ...base, owner: { kind: 'Node', name: 'node-a' } },
      tags: ['kube_namespace:shop', 'kube_node:node-a', 'kube_ownerref_kind:node', 'pod_name:web-7c8c589d48-vr4dj', 'pod_phase:running'],
    },
    {
      what: "the pod's own labels win as a whole: its version, not the Deployment's env",
      input: { ...base, labels: { [VERSION]: 'canary', app: 'web' }, owner: { kind: 'Deployment', name: 'web' }, workload: { kind: 'Deployment', name: 'web', tagLabels: { [ENV]: 'prod', [VERSION]: '1.2' } } },
      tags: ['kube_deployment:web', 'kube_namespace:shop', 'kube_node:node-a', 'kube_ownerref_kind:deployment', 'pod_name:web-7c8c589d48-vr4dj', 'pod_phase:running', 'version:canary'],
    },
    {
      what: 'an empty label value makes no tag (but still decides)',
      input: { ...base, labels: { [ENV]: '' }, workload: { kind: 'Deployment', name: 'web', tagLabels: { [ENV]: 'prod' } } },
      tags: ['kube_deployment:web', 'kube_namespace:shop', 'kube_node:node-a', 'pod_name:web-7c8c589d48-vr4dj', 'pod_phase:running'],
    },
  ];
  for (const { what, input, tags } of table) test(what, () => assert.deepEqual(podTags(input), tags));

  test('the same Service twice, or owner and workload naming the same object, give one tag', () => {
    const tags = podTags({ ...base, owner: { kind: 'StatefulSet', name: 'db' }, workload: { kind: 'StatefulSet', name: 'db', tagLabels: {} }, services: ['db', 'db'] });
    assert.equal(tags.filter((t) => t === 'kube_service:db').length, 1);
    assert.equal(tags.filter((t) => t === 'kube_stateful_set:db').length, 1);
  });
});

const word = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
const tagLabelsArb = fc.record({ [ENV]: word, [SERVICE]: word, [VERSION]: word }, { requiredKeys: [] });
const inputArb: fc.Arbitrary<PodTagsInput> = fc.record(
  {
    namespace: word,
    name: word,
    phase: fc.constantFrom('Pending', 'Running', 'Succeeded', 'Failed', 'Unknown', ''),
    node: fc.oneof(word, fc.constant('')),
    labels: fc.tuple(tagLabelsArb, fc.dictionary(word, word, { maxKeys: 3 })).map(([t, other]) => ({ ...other, ...t })),
    owner: fc.record({ kind: fc.constantFrom('ReplicaSet', 'Job', 'StatefulSet', 'DaemonSet', 'Node', 'Rollout'), name: word }),
    workload: fc.record({
      kind: fc.constantFrom('Deployment', 'CronJob', 'StatefulSet', 'ReplicaSet'),
      name: word,
      via: fc.record({ kind: fc.constantFrom('ReplicaSet', 'Job'), name: word }),
      tagLabels: tagLabelsArb,
    }, { requiredKeys: ['kind', 'name', 'tagLabels'] }),
    services: fc.array(word, { maxLength: 4 }),
  },
  { requiredKeys: ['namespace', 'name'] },
);

describe('podTags properties', () => {
  test('sorted, without duplicates, every tag key:value with a value', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const tags = podTags(input);
        assert.deepEqual(tags, [...new Set(tags)].sort());
        for (const t of tags) assert.match(t, /^[a-z_]+:.+$/);
      }),
      { numRuns: RUNS },
    );
  });

  test("pod labels win as a whole: env/service/version all come from the pod when it has any, else all from the workload", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const tags = podTags(input);
        const ust = (labels: Readonly<Record<string, string>> | undefined) =>
          [['env', ENV], ['service', SERVICE], ['version', VERSION]].flatMap(([tag, label]) => (labels?.[label!] ? [`${tag}:${labels[label!]}`] : []));
        const podHasAny = [ENV, SERVICE, VERSION].some((l) => input.labels?.[l] !== undefined);
        const expected = podHasAny ? ust(input.labels) : ust(input.workload?.tagLabels);
        assert.deepEqual(tags.filter((t) => /^(env|service|version):/.test(t)), expected.sort());
      }),
      { numRuns: RUNS },
    );
  });

  test('the tags webhook injects exactly what the tagger tags (one decision, two uses)', () => {
    fc.assert(
      fc.property(tagLabelsArb, tagLabelsArb, (podLabels, ownerLabels) => {
        const pod = fixturePod({ labels: { ...ENABLED, ...podLabels } });
        const result = mutatePod('tags', pod, ctx({}, { owner: { found: true, kind: 'Deployment', name: 'web', labels: ownerLabels } }));
        const after = applyPatch(pod, result.patch);
        const injected = (after.spec?.containers[0]?.env ?? []).filter((e) => e.name.startsWith('DD_')) as { name: string; value: string }[];
        const chosen = unifiedServiceTags(podLabels, ownerLabels);
        assert.deepEqual(
          injected.map((e) => `${e.name}=${e.value}`).sort(),
          chosen.values.map((v) => `${v.env}=${v.value}`).sort(),
        );
      }),
      { numRuns: RUNS },
    );
  });
});
