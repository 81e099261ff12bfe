/** What each webhook must have done to `samplePod()` (SPEC §5), shared by unit and e2e tests. */
import assert from 'node:assert/strict';
import type { WebhookKind } from '../../src/config/index.js';

// Loose on purpose: the assertions below are the type check.
type Json = Record<string, any>;

const envNames = (c: Json): string[] => ((c.env ?? []) as Json[]).map((e) => e.name as string);
const envValue = (c: Json, name: string): Json | undefined => ((c.env ?? []) as Json[]).find((e) => e.name === name);

/** Asserts the mutated sample pod; the original's own fields (env PORT, futureField, volume data) are kept. */
export function assertSamplePodMutated(kind: WebhookKind, before: Json, after: Json): void {
  const app = after.spec.containers[0] as Json;
  assert.deepEqual(app.futureField, { kept: true }, 'unknown fields are kept');
  assert.deepEqual(envValue(app, 'PORT'), { name: 'PORT', value: '8080' }, "the pod's own env var is kept");
  assert.ok((after.spec.volumes as Json[]).some((v) => v.name === 'data'), "the pod's own volume is kept");
  assert.deepEqual(after.metadata, before.metadata, 'metadata untouched');
  switch (kind) {
    case 'config':
      assert.deepEqual(envNames(app), ['DD_AGENT_HOST', 'DD_ENTITY_ID', 'DD_INTERNAL_POD_UID', 'DD_EXTERNAL_ENV', 'PORT'], 'added at the front');
      assert.deepEqual(envValue(app, 'DD_AGENT_HOST')?.valueFrom, { fieldRef: { apiVersion: 'v1', fieldPath: 'status.hostIP' } });
      assert.deepEqual(envValue(app, 'DD_ENTITY_ID')?.valueFrom, { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.uid' } });
      break;
    case 'tags':
      assert.deepEqual(envValue(app, 'DD_ENV'), { name: 'DD_ENV', value: 'prod' });
      assert.deepEqual(envNames(app), ['DD_ENV', 'PORT']);
      break;
    case 'lib': {
      const init = (after.spec.initContainers as Json[]).find((c) => c.name === 'datadog-lib-python-init');
      assert.ok(init, 'python init container added');
      assert.equal(init.image, 'gcr.io/datadoghq/dd-lib-python-init:v2.9.0');
      assert.deepEqual(init.command, ['sh', 'copy-lib.sh', '/datadog-lib']);
      assert.ok((init.volumeMounts as Json[]).some((m) => m.name === 'datadog-auto-instrumentation' && m.mountPath === '/datadog-lib'));
      assert.ok((after.spec.volumes as Json[]).some((v) => v.name === 'datadog-auto-instrumentation' && v.emptyDir !== undefined));
      assert.equal(envValue(app, 'PYTHONPATH')?.value, '/datadog-lib/');
      assert.ok((app.volumeMounts as Json[]).some((m) => m.name === 'datadog-auto-instrumentation' && m.mountPath === '/datadog-lib'));
      break;
    }
  }
}
