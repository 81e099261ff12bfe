/**
 * Injection as the console reads it off a pod's own spec (clusterview/podInjection.ts) and the reason
 * it gives when a pod is not injected (console/injection.ts), on pods generated and mutated by the real
 * webhook chain (admission/), so the marks read are the ones the webhooks write.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runWebhookChain, type Pod } from '../../../src/admission/index.js';
import { createClusterStore } from '../../../src/clusteragent/clusterStore.js';
import { NO_INJECTION, podInjectionFacts } from '../../../src/clusterview/podInjection.js';
import type { PodView } from '../../../src/clusterview/types.js';
import { classifyPod, explainPod, type InjectionContext } from '../../../src/console/injection.js';
import { INJECTION_MODES, LIB_LANGUAGES, type ConfigKey } from '../../../src/config/index.js';
import { testConfig } from '../fixtures.js';

const TETHER_NS = 'datadog';
const CREATED = '2024-05-01T10:00:00Z';
const CREATED_S = Date.parse(CREATED) / 1000;

function podObject(o: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: o.name ?? 'p',
      namespace: o.namespace ?? 'apps',
      uid: `uid-${o.name ?? 'p'}`,
      creationTimestamp: CREATED,
      labels: o.labels ?? {},
      ...(o.annotations ? { annotations: o.annotations } : {}),
    },
    spec: { nodeName: 'node-a', containers: [{ name: 'app', image: 'app:1' }] },
  } as Pod;
}

/** The pod as the API server stores it after the webhooks, then as the cluster state keeps it. */
function ingest(pod: Pod, config: Partial<Record<ConfigKey, unknown>> = {}): PodView {
  const { pod: mutated } = runWebhookChain(pod, { config: testConfig(config), namespace: pod.metadata?.namespace ?? 'apps', tetherNamespace: TETHER_NS });
  return createClusterStore().compact('pods', mutated);
}

const ctxOf = (over: Partial<InjectionContext> = {}, config: Partial<Record<ConfigKey, unknown>> = {}): InjectionContext => ({
  config: testConfig(config),
  tetherNamespace: TETHER_NS,
  webhookSinceS: CREATED_S - 3600,
  hostPathRefused: undefined,
  ...over,
});

const ENABLED = { 'admission.datadoghq.com/enabled': 'true' };

describe('what the webhooks left in a pod, read from its spec', () => {
  for (const mode of INJECTION_MODES) {
    test(`config mode ${mode}: injected, mode ${mode}`, () => {
      const view = ingest(podObject({ labels: { ...ENABLED, 'admission.datadoghq.com/config.mode': mode } }));
      assert.equal(view.injection?.config, true);
      assert.equal(view.injection?.mode, mode);
      assert.equal(classifyPod(view, ctxOf()), 'injected');
    });
  }

  test('unified service tags and every library language are read back', () => {
    const annotations = Object.fromEntries(LIB_LANGUAGES.map((l) => [`admission.datadoghq.com/${l}-lib.version`, 'v1']));
    const labels = { ...ENABLED, 'tags.datadoghq.com/env': 'prod', 'tags.datadoghq.com/service': 'billing', 'tags.datadoghq.com/version': '1.2' };
    const view = ingest(podObject({ labels, annotations }));
    assert.deepEqual(view.injection?.tags, { env: 'prod', service: 'billing', version: '1.2' });
    assert.deepEqual(view.injection?.libraries, [...LIB_LANGUAGES]);
    assert.equal(view.createdS, CREATED_S);
  });

  test('a pod without any mark shares the one empty record, and is not given one in the state', () => {
    assert.equal(podInjectionFacts({ containers: [{ name: 'a' }] }).facts, NO_INJECTION);
    assert.equal(ingest(podObject()).injection, undefined);
  });

  test('equal pods share one record (memory per pod)', () => {
    const store = createClusterStore();
    const mk = (name: string) => runWebhookChain(podObject({ name, labels: ENABLED }), { config: testConfig(), namespace: 'apps', tetherNamespace: TETHER_NS }).pod;
    const a = store.compact('pods', mk('a'));
    const b = store.compact('pods', mk('b'));
    assert.ok(a.injection && a.injection === b.injection);
  });

  test('odd fields never throw', () => {
    for (const spec of [null, 1, 'x', { containers: 'no' }, { containers: [null, { env: [null, { name: 1 }] }] }, { initContainers: [{ name: 5 }] }]) {
      assert.equal(podInjectionFacts(spec).facts, NO_INJECTION);
    }
  });
});

describe('why a pod is not injected', () => {
  const cases: { what: string; pod: Pod; config?: Partial<Record<ConfigKey, unknown>>; ctx?: Partial<InjectionContext>; mutate?: boolean; reason: string }[] = [
    { what: 'no label', pod: podObject(), reason: 'no-label' },
    { what: 'label false', pod: podObject({ labels: { 'admission.datadoghq.com/enabled': 'false' } }), reason: 'label-false' },
    { what: 'label neither true nor false', pod: podObject({ labels: { 'admission.datadoghq.com/enabled': 'yes' } }), reason: 'label-invalid' },
    { what: "Tether's own namespace", pod: podObject({ namespace: TETHER_NS, labels: ENABLED }), reason: 'namespace-excluded' },
    { what: 'kube-system', pod: podObject({ namespace: 'kube-system', labels: ENABLED }), reason: 'namespace-excluded' },
    { what: 'created before the webhook configuration', pod: podObject({ labels: ENABLED }), mutate: false, ctx: { webhookSinceS: CREATED_S + 60 }, reason: 'created-before-webhook' },
    { what: 'no webhook configuration at all', pod: podObject({ labels: ENABLED }), mutate: false, ctx: { webhookSinceS: undefined }, reason: 'created-before-webhook' },
    { what: 'created after it, not injected (unreachable, failing open)', pod: podObject({ labels: ENABLED }), mutate: false, reason: 'missed' },
    {
      what: 'socket mode where hostPath is refused',
      pod: podObject({ labels: { ...ENABLED, 'admission.datadoghq.com/config.mode': 'socket' } }),
      mutate: false,
      ctx: { hostPathRefused: 'GKE Autopilot refuses pods with hostPath volumes' },
      reason: 'mode-not-allowed',
    },
    { what: 'the config webhook disabled', pod: podObject({ labels: ENABLED }), config: { 'admission_controller.inject_config.enabled': false }, reason: 'webhook-disabled' },
    { what: 'mutate_unlabelled: an unlabelled pod is injected', pod: podObject(), config: { 'admission_controller.mutate_unlabelled': true }, reason: 'injected' },
  ];
  for (const c of cases) {
    test(`${c.what}: ${c.reason}`, () => {
      const view = c.mutate === false ? createClusterStore().compact('pods', c.pod) : ingest(c.pod, c.config);
      const ctx = ctxOf(c.ctx, c.config);
      const reason = classifyPod(view, ctx);
      assert.equal(reason, c.reason);
      const { explanation, fix } = explainPod(view, reason, ctx, { workloadOf: () => ({ kind: 'Deployment', name: 'web', tagLabels: {} }) });
      assert.match(explanation, reason === 'injected' ? /^Injected/ : /^Not injected/);
      if (['created-before-webhook', 'missed'].includes(reason)) assert.match(fix ?? '', /kubectl rollout restart deployment\/web -n apps/);
    });
  }
});
