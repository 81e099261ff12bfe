import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CLUSTER_AGENT_CA_CONFIGMAP_KEY } from '../../../src/config/index.js';
import { CA_CONFIGMAP_LABELS, caConfigMapChanges, desiredCaConfigMap, reconcileCaConfigMap } from '../../../src/controllers/caConfigMap.js';
import { fakeConfigMapStore } from '../../helpers/fakeConfigMapStore.js';

const signal = new AbortController().signal;
const BUNDLE_A = '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n';
const BUNDLE_AB = BUNDLE_A + '-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n';

describe('desiredCaConfigMap (pure)', () => {
  test('the whole trust bundle under the key cluster_agent.ca_file names, with Tether labels', () => {
    assert.deepEqual(desiredCaConfigMap(BUNDLE_AB), { data: { [CLUSTER_AGENT_CA_CONFIGMAP_KEY]: BUNDLE_AB }, labels: CA_CONFIGMAP_LABELS });
    assert.equal(CLUSTER_AGENT_CA_CONFIGMAP_KEY, 'ca.pem');
  });
  test('the serving certificate (public) next to the bundle, so status and diagnose need no key of the Secret', () => {
    assert.deepEqual(desiredCaConfigMap(BUNDLE_A, 'CERT').data, { 'ca.pem': BUNDLE_A, 'cert.pem': 'CERT' });
  });
  test('changes name only what differs, leaving other keys and labels alone', () => {
    const desired = desiredCaConfigMap(BUNDLE_AB);
    assert.equal(caConfigMapChanges({ data: { 'ca.pem': BUNDLE_AB, other: 'x' }, labels: { ...CA_CONFIGMAP_LABELS, team: 'ops' } }, desired), undefined);
    assert.deepEqual(caConfigMapChanges({ data: { 'ca.pem': BUNDLE_A }, labels: CA_CONFIGMAP_LABELS }, desired), { data: { 'ca.pem': BUNDLE_AB } });
  });
});

describe('reconcileCaConfigMap', () => {
  test('creates it, updates it when the bundle changes, and writes nothing when it is current', async () => {
    const store = fakeConfigMapStore();
    assert.equal(await reconcileCaConfigMap(store, BUNDLE_A, signal), 'created');
    assert.equal(store.current?.data['ca.pem'], BUNDLE_A);
    assert.deepEqual(store.current?.labels, CA_CONFIGMAP_LABELS);
    assert.equal(await reconcileCaConfigMap(store, BUNDLE_A, signal), 'unchanged');
    assert.equal(store.writes, 1);
    assert.equal(await reconcileCaConfigMap(store, BUNDLE_AB, signal), 'updated');
    assert.equal(store.current?.data['ca.pem'], BUNDLE_AB);
    assert.equal(store.writes, 2);
  });

  test("keeps what others put in the ConfigMap and brings back Tether's labels", async () => {
    const store = fakeConfigMapStore();
    store.set({ 'ca.pem': 'stale', 'notes.txt': 'kept' }, { team: 'ops' });
    assert.equal(await reconcileCaConfigMap(store, BUNDLE_A, signal), 'updated');
    assert.deepEqual(store.current?.data, { 'ca.pem': BUNDLE_A, 'notes.txt': 'kept' });
    assert.deepEqual(store.current?.labels, { team: 'ops', ...CA_CONFIGMAP_LABELS });
  });

  test('no bundle yet (the Secret holds no CA): nothing is read or written, an existing ConfigMap stays', async () => {
    const store = fakeConfigMapStore();
    store.set({ 'ca.pem': BUNDLE_A });
    assert.equal(await reconcileCaConfigMap(store, undefined, signal), 'unchanged');
    assert.equal(await reconcileCaConfigMap(store, '  ', signal), 'unchanged');
    assert.equal(store.current?.data['ca.pem'], BUNDLE_A);
    assert.equal(store.writes, 0);
  });

  test('a ConfigMap changed between read and write is a Conflict (the queue retries), never overwritten blindly', async () => {
    const store = fakeConfigMapStore();
    store.set({ 'ca.pem': BUNDLE_A });
    const update = store.update;
    store.update = async (_rv, changes, s) => update('stale', changes, s);
    await assert.rejects(reconcileCaConfigMap(store, BUNDLE_AB, signal), { name: 'Conflict' });
    store.update = update;
    assert.equal(await reconcileCaConfigMap(store, BUNDLE_AB, signal), 'updated');
  });

  test('a ConfigMap created by another replica in between is a Conflict too', async () => {
    const store = fakeConfigMapStore();
    const get = store.get;
    store.get = async (s) => {
      const r = await get(s);
      store.set({ 'ca.pem': 'by someone else' });
      return r;
    };
    await assert.rejects(reconcileCaConfigMap(store, BUNDLE_A, signal), { name: 'Conflict' });
  });
});
