/** lib-init-images: which pods wait for a library init image, and the fix named per image. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imageTag, libInitFix, stuckLibInits, type PodWithInitStatus } from '../../../src/diagnose/checks/libInitImages.js';

const pod = (name: string, init: string, image: string, reason?: string): PodWithInitStatus => ({
  metadata: { name, namespace: 'shop' },
  spec: { initContainers: [{ name: init, image }] },
  status: { initContainerStatuses: [{ name: init, image, state: reason ? { waiting: { reason } } : { running: {} } as never }] },
});

test('a library init container waiting for an image it cannot get is found; one that runs, waits for something else, or is not a library init is not', () => {
  const img = 'localhost/tether/dd-lib-js-init:v9.9.9';
  const stuck = stuckLibInits([
    pod('a', 'datadog-lib-js-init', img, 'ImagePullBackOff'),
    pod('b', 'datadog-lib-js-init', img, 'ErrImageNeverPull'),
    pod('c', 'datadog-lib-js-init', img),
    pod('d', 'datadog-lib-js-init', img, 'PodInitializing'),
    pod('e', 'my-own-init', img, 'ImagePullBackOff'),
  ]);
  assert.deepEqual(stuck.map((s) => [s.pod, s.lang, s.reason]), [
    ['a', 'js', 'ImagePullBackOff'],
    ['b', 'js', 'ErrImageNeverPull'],
  ]);
});

test('the fix names each image once, the annotation to correct, and the command that builds a buildable language\'s image under its registry', () => {
  const js = { namespace: 'shop', pod: 'a', lang: 'js' as const, image: 'localhost/tether/dd-lib-js-init:v9.9.9', reason: 'ImagePullBackOff' };
  const fix = libInitFix([js, { ...js, pod: 'b' }, { ...js, lang: 'dotnet' as const, image: 'gcr.io/datadoghq/dd-lib-dotnet-init:v3.0.0' }]);
  assert.equal(fix.split('localhost/tether/dd-lib-js-init:v9.9.9:').length, 2, fix);
  assert.match(fix, /admission\.datadoghq\.com\/js-lib\.version/);
  assert.match(fix, /tether image lib js 9\.9\.9 --registry localhost\/tether/);
  assert.doesNotMatch(fix, /tether image lib dotnet/, 'dotnet images are not built by tether');
  assert.match(fix, /push gcr\.io\/datadoghq\/dd-lib-dotnet-init:v3\.0\.0/);
  assert.equal(imageTag('r.example:5000/x/dd-lib-js-init:v5'), 'v5');
  assert.equal(imageTag('r.example:5000/x/dd-lib-js-init'), '');
});
