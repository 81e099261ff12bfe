/**
 * The certificate controller over in-memory stores and a hand-moved clock: what it writes, when, and the
 * property that matters — at every step, the API server (the webhook configuration's caBundle) trusts
 * every serving certificate any replica may still serve, including one whose Secret watch lags.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { certificateBlocks, generateCa, generateSelfSignedCertificate, inspectCertificate, isIssuedBy, issueServingCertificate } from '../../../src/certs/index.js';
import { parseConfig, ROTATE_ANNOTATION, SECRET_CA_KEY, SECRET_CA_KEY_KEY, SECRET_CERT_KEY, SECRET_KEY_KEY } from '../../../src/config/index.js';
import { certificateNames, certificateSettings, servingValidityHours, trustBundlePem } from '../../../src/certs/policy.js';
import { planCertificates, PublicationTracker, reconcileCertificate } from '../../../src/controllers/certificate.js';
import { reconcileWebhookConfiguration } from '../../../src/controllers/webhookConfiguration.js';
import { Conflict } from '../../../src/kube/secrets.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { fakeSecretStore, fakeWebhookStore } from '../../helpers/fakeStores.js';

const HOUR = 3_600_000;
const PROPAGATION_S = 30;
const config = parseConfig({ env: { DD_ADMISSION_CONTROLLER_CERTIFICATE_CA_PROPAGATION_SECONDS: String(PROPAGATION_S) } });
const NAMES = certificateNames('datadog-admission-controller', 'datadog', 'https://127.0.0.1:8443');
const settings = certificateSettings(config, NAMES);
const never = new AbortController().signal;

function cluster() {
  const secrets = fakeSecretStore();
  const webhooks = fakeWebhookStore();
  let wall = Date.now();
  let mono = 0;
  const clock = { now: () => new Date(wall), monotonicMs: () => mono };
  const published = new PublicationTracker();
  const log = silentLogger();
  return {
    secrets,
    webhooks,
    clock,
    advance(ms: number) {
      wall += ms;
      mono += ms;
    },
    /** The certificate controller's reconcile. */
    certs: () => reconcileCertificate({ secrets, webhooks, settings, published, logger: log, clock }, never),
    /** The webhook-configuration controller's reconcile. */
    hooks: () => reconcileWebhookConfiguration({ webhooks, secrets, config, namespace: 'datadog', logger: log }, never),
    data: () => secrets.current?.data ?? {},
    /** Whether every entry of the webhook configuration trusts `certPem` now (as the API server would verify it). */
    apiTrusts(certPem: string): boolean {
      const entries = webhooks.current?.webhooks ?? [];
      return (
        entries.length > 0 &&
        entries.every((w) => {
          const bundle = Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8');
          return certificateBlocks(bundle).some((ca) => isIssuedBy(certPem, ca) && inspectCertificate(ca).notAfter.getTime() > wall);
        })
      );
    },
  };
}

describe('certificate controller', () => {
  test('creates a CA and a serving certificate it signed, for exactly the webhook names; a second reconcile writes nothing', async () => {
    const c = cluster();
    await c.certs();
    const d = c.data();
    assert.equal(certificateBlocks(d[SECRET_CA_KEY]!).length, 1);
    assert.ok(isIssuedBy(d[SECRET_CERT_KEY]!, d[SECRET_CA_KEY]!), 'serving certificate signed by the CA');
    assert.ok(!isIssuedBy(d[SECRET_CERT_KEY]!, d[SECRET_CERT_KEY]!), 'the serving certificate is not self-signed');
    const leaf = inspectCertificate(d[SECRET_CERT_KEY]!);
    assert.deepEqual([...leaf.dnsNames, ...leaf.ipAddresses], NAMES);
    const ca = inspectCertificate(d[SECRET_CA_KEY]!);
    assert.ok(Math.abs(ca.notAfter.getTime() - Date.now() - 8760 * HOUR) < 60_000, 'CA lives validity_bound');
    assert.ok(Math.abs(leaf.notAfter.getTime() - Date.now() - servingValidityHours(settings) * HOUR) < 60_000, 'serving certificate lives a week');
    assert.equal(c.secrets.writes, 1);
    const again = await c.certs();
    assert.equal(c.secrets.writes, 1, 'nothing to write');
    // Next look: when the serving certificate enters its renewal window (a third of its life left), or a day.
    const expected = Math.min(24 * HOUR, leaf.notAfter.getTime() - (servingValidityHours(settings) * HOUR) / 3 - Date.now());
    assert.ok(Math.abs((again.requeueAfterMs ?? 0) - expected) < 60_000, `requeue after ${again.requeueAfterMs}`);
  });

  test('a serving certificate in its renewal window is renewed at once from the same CA; the trust bundle is untouched', async () => {
    const c = cluster();
    await c.certs();
    await c.hooks();
    const before = c.data();
    c.advance(120 * HOUR);
    await c.certs();
    const after = c.data();
    assert.notEqual(after[SECRET_CERT_KEY], before[SECRET_CERT_KEY]);
    assert.equal(after[SECRET_CA_KEY], before[SECRET_CA_KEY]);
    assert.ok(c.apiTrusts(after[SECRET_CERT_KEY]!) && c.apiTrusts(before[SECRET_CERT_KEY]!), 'old and new both trusted, with no caBundle change');
  });

  test('a CA rotation publishes the new CA first and serves from it only once the API server has trusted it for ca_propagation_seconds', async () => {
    const c = cluster();
    await c.certs();
    await c.hooks();
    const first = c.data();
    c.secrets.set({ ...first }, { [ROTATE_ANNOTATION]: 'ca' });
    await c.certs();
    const rotated = c.data();
    assert.equal(certificateBlocks(rotated[SECRET_CA_KEY]!).length, 2, 'old and new CA in the bundle');
    assert.equal(rotated[SECRET_CERT_KEY], first[SECRET_CERT_KEY], 'still serving the old CA’s certificate');
    assert.equal(c.secrets.current?.annotations[ROTATE_ANNOTATION], undefined, 'the request is consumed');
    const writes = c.secrets.writes;
    await c.certs();
    assert.equal(c.secrets.writes, writes, 'the webhook configuration does not have the new CA yet: wait');
    await c.hooks();
    const waiting = await c.certs();
    assert.equal(c.secrets.writes, writes, 'just published: wait');
    assert.equal(waiting.requeueAfterMs, PROPAGATION_S * 1000);
    c.advance(PROPAGATION_S * 1000 - 1);
    await c.certs();
    assert.equal(c.secrets.writes, writes, 'not long enough');
    c.advance(1);
    await c.certs();
    const moved = c.data();
    const [oldCa, newCa] = certificateBlocks(moved[SECRET_CA_KEY]!);
    assert.ok(isIssuedBy(moved[SECRET_CERT_KEY]!, newCa!) && !isIssuedBy(moved[SECRET_CERT_KEY]!, oldCa!), 'now served from the new CA');
    assert.ok(c.apiTrusts(first[SECRET_CERT_KEY]!), 'the old CA stays trusted for replicas that have not caught up');
  });

  test('three CA rotations and three renewals, with the webhook controller lagging: every certificate a replica may serve is trusted at every step', async () => {
    const c = cluster();
    await c.certs();
    await c.hooks();
    const served = new Set<string>([c.data()[SECRET_CERT_KEY]!]);
    const check = (step: string) => {
      served.add(c.data()[SECRET_CERT_KEY]!);
      for (const pem of served) assert.ok(c.apiTrusts(pem), `${step}: a certificate a lagging replica may serve is not trusted`);
    };
    for (let round = 0; round < 3; round++) {
      c.secrets.set({ ...c.data() }, { [ROTATE_ANNOTATION]: 'ca' });
      await c.certs();
      check(`round ${round}: new CA written`);
      // The webhook controller lags: the certificate controller runs several times meanwhile.
      for (let i = 0; i < 3; i++) {
        c.advance(PROPAGATION_S * 1000);
        await c.certs();
        check(`round ${round}: certificate reconcile ${i} before the caBundle follows`);
      }
      await c.hooks();
      check(`round ${round}: caBundle updated`);
      await c.certs();
      c.advance(PROPAGATION_S * 1000);
      await c.certs();
      check(`round ${round}: moved to the new CA`);
      c.advance(120 * HOUR);
      await c.certs();
      check(`round ${round}: serving certificate renewed`);
      await c.hooks();
    }
    assert.equal(certificateBlocks(c.data()[SECRET_CA_KEY]!).length, 4, 'every unexpired CA is kept');
    assert.ok(served.size >= 7, `served ${served.size} distinct certificates`);
  });

  test('a Secret from before the CA (one self-signed certificate) is adopted without a gap', async () => {
    const c = cluster();
    const legacy = await generateSelfSignedCertificate({ dnsNames: NAMES, validityHours: 8760 });
    c.secrets.set({ [SECRET_CERT_KEY]: legacy.certPem, [SECRET_KEY_KEY]: legacy.keyPem });
    assert.equal(trustBundlePem(c.data()), legacy.certPem, 'a legacy Secret is its own trust bundle');
    await c.hooks();
    assert.ok(c.apiTrusts(legacy.certPem));
    await c.certs();
    assert.equal(c.data()[SECRET_CERT_KEY], legacy.certPem, 'keeps serving the legacy certificate until the new CA is trusted');
    assert.deepEqual(certificateBlocks(c.data()[SECRET_CA_KEY]!)[0], legacy.certPem);
    await c.hooks();
    await c.certs();
    c.advance(PROPAGATION_S * 1000);
    await c.certs();
    assert.notEqual(c.data()[SECRET_CERT_KEY], legacy.certPem);
    assert.ok(c.apiTrusts(c.data()[SECRET_CERT_KEY]!) && c.apiTrusts(legacy.certPem));
  });

  test('a write that conflicts with someone else’s is a Conflict for the work queue to retry; the retry succeeds', async () => {
    const c = cluster();
    await c.certs();
    const update = c.secrets.update;
    c.secrets.update = async (rv, changes, signal) => {
      c.secrets.update = update;
      c.secrets.set({ ...c.data() }, { ...c.secrets.current!.annotations });
      return update(rv, changes, signal);
    };
    c.secrets.set({ ...c.data() }, { [ROTATE_ANNOTATION]: 'certificate' });
    await assert.rejects(c.certs(), Conflict);
    await c.certs();
    assert.equal(c.secrets.current?.annotations[ROTATE_ANNOTATION], undefined);
  });
});

describe('planCertificates', () => {
  const now = new Date();
  const none = () => undefined;

  test('unfit serving certificates are replaced at once from the current CA; the CA is kept', async () => {
    const ca = await generateCa({ commonName: 'test CA', validityHours: 8760, now });
    const good = await issueServingCertificate({ ca, dnsNames: NAMES, notAfter: new Date(now.getTime() + 100 * HOUR), now });
    const other = await issueServingCertificate({ ca, dnsNames: NAMES, notAfter: new Date(now.getTime() + 100 * HOUR), now });
    const fewer = await issueServingCertificate({ ca, dnsNames: NAMES.slice(0, 4), notAfter: new Date(now.getTime() + 100 * HOUR), now });
    const more = await issueServingCertificate({ ca, dnsNames: [...NAMES, 'old.example'], notAfter: new Date(now.getTime() + 100 * HOUR), now });
    const stranger = await generateSelfSignedCertificate({ dnsNames: NAMES, validityHours: 100, now });
    const base = { [SECRET_CA_KEY]: ca.certPem, [SECRET_CA_KEY_KEY]: ca.keyPem };
    const cases: [Record<string, string>, RegExp][] = [
      [{ ...base, [SECRET_CERT_KEY]: good.certPem }, /no key\.pem/],
      [{ ...base, [SECRET_CERT_KEY]: 'garbage', [SECRET_KEY_KEY]: good.keyPem }, /unreadable/],
      [{ ...base, [SECRET_CERT_KEY]: good.certPem, [SECRET_KEY_KEY]: other.keyPem }, /does not belong/],
      [{ ...base, [SECRET_CERT_KEY]: fewer.certPem, [SECRET_KEY_KEY]: fewer.keyPem }, /not valid for 127\.0\.0\.1/],
      [{ ...base, [SECRET_CERT_KEY]: more.certPem, [SECRET_KEY_KEY]: more.keyPem }, /old\.example, which the webhook no longer uses/],
      [{ ...base, [SECRET_CERT_KEY]: stranger.certPem, [SECRET_KEY_KEY]: stranger.keyPem }, /not signed by a CA in the trust bundle/],
    ];
    for (const [data, reason] of cases) {
      const plan = planCertificates({ data, annotations: {} }, settings, now, none);
      assert.equal(plan.newCa, undefined, String(reason));
      assert.match(plan.newServing ?? '(none)', reason);
    }
    const fine = planCertificates({ data: { ...base, [SECRET_CERT_KEY]: good.certPem, [SECRET_KEY_KEY]: good.keyPem }, annotations: {} }, settings, now, none);
    assert.equal(fine.newServing, undefined);
  });

  test('a new CA when there is none, no key for it, or it is near its expiry; expired CAs leave the bundle', async () => {
    const past = new Date(now.getTime() - 2 * HOUR);
    const expired = await generateCa({ commonName: 'expired CA', validityHours: 1, now: past });
    const ending = await generateCa({ commonName: 'ending CA', validityHours: 100, now });
    const current = await generateCa({ commonName: 'current CA', validityHours: 8760, now });
    assert.match(planCertificates(undefined, settings, now, none).newCa ?? '', /does not exist/);
    assert.match(planCertificates({ data: {}, annotations: {} }, settings, now, none).newCa ?? '', /no usable CA/);
    assert.match(planCertificates({ data: { [SECRET_CA_KEY]: current.certPem }, annotations: {} }, settings, now, none).newCa ?? '', /no key for a CA/);
    assert.match(planCertificates({ data: { [SECRET_CA_KEY]: ending.certPem, [SECRET_CA_KEY_KEY]: ending.keyPem }, annotations: {} }, settings, now, none).newCa ?? '', /less than 720h/);
    const trimmed = planCertificates({ data: { [SECRET_CA_KEY]: expired.certPem + current.certPem, [SECRET_CA_KEY_KEY]: current.keyPem }, annotations: {} }, settings, now, none);
    assert.equal(trimmed.newCa, undefined);
    assert.ok(trimmed.bundleChanged);
    assert.match(trimmed.dropped.join(), /expired CA.*expired at/);
    assert.deepEqual(trimmed.keep.map((c) => c.pem), [current.certPem]);
  });

  test('an unknown rotation request is dropped, not acted on', () => {
    const plan = planCertificates({ data: {}, annotations: { [ROTATE_ANNOTATION]: 'everything' } }, settings, now, none);
    assert.ok(plan.clearRotate);
  });
});
