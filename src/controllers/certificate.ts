/**
 * The certificate controller (SPEC §7, leader only) keeps Secret `certificate.secret_name` holding what
 * the webhook needs: a CA (`ca.pem`, the trust bundle the webhook entries' `caBundle` copies, and
 * `ca-key.pem`) and a serving certificate it signed (`cert.pem`, `key.pem`, what every replica serves).
 *
 * Rotation never leaves a moment in which a replica serves a certificate the API server does not trust:
 * - a serving certificate is renewed from the same CA, which the API server already trusts;
 * - a new CA (the old one near expiry, unreadable, or a rotation asked for) is first added to the
 *   bundle next to the old one, and serving certificates it signs are issued only once the leader has
 *   seen it in every webhook entry's caBundle for `ca_propagation_seconds` (the API server's own
 *   informer lag); until then the current serving certificate stays;
 * - a CA leaves the bundle only when it expires (or when more than `MAX_TRUSTED_CAS` pile up), so a
 *   replica whose Secret watch lags still serves something trusted.
 * Only when nothing servable exists (no Secret, a broken one, an expired certificate) is a serving
 * certificate issued at once from whatever CA there is: there is no trust to keep.
 *
 * A pure plan (`planCertificates`) decides; `reconcileCertificate` reads, generates and writes.
 */
import {
  certificateBlocks,
  certificateFingerprint,
  checkKeyPair,
  generateCa,
  inspectCertificate,
  InvalidCertificate,
  isCaCertificate,
  isIssuedBy,
  issueServingCertificate,
  type CertificateInfo,
  type CertificatePair,
} from '../certs/index.js';
import { servingRenewBeforeMs, servingValidityHours, trustBundlePem, type CertificateSettings } from '../certs/policy.js';
import {
  MAX_TRUSTED_CAS,
  ROTATE_ANNOTATION,
  SECRET_CA_KEY,
  SECRET_CA_KEY_KEY,
  SECRET_CERT_KEY,
  SECRET_KEY_KEY,
} from '../config/index.js';
import type { SecretChanges, SecretRecord, SecretStore } from '../kube/secrets.js';
import type { WebhookConfigurationStore } from '../kube/webhookConfigurations.js';
import type { Logger } from '../logging/logger.js';
import { formatDuration } from '../format/duration.js';
import type { ReconcileResult } from './workqueue.js';

const HOUR_MS = 3_600_000;

export interface TrustedCa {
  readonly pem: string;
  readonly fingerprint: string;
  readonly info: CertificateInfo;
}

/** How long (ms) the API server has been seen trusting the CA with this fingerprint; undefined: not (yet). */
export type PublishedFor = (fingerprint: string) => number | undefined;

export interface CertificatePlan {
  /** Generate a new CA, for this reason; it is appended to the bundle and its key replaces `ca-key.pem`. */
  readonly newCa?: string;
  /** Issue a new serving certificate (from the new CA if one is generated, else the newest), for this reason. */
  readonly newServing?: string;
  /** CAs kept in the bundle, oldest first, before a new one is appended. */
  readonly keep: readonly TrustedCa[];
  /** The newest kept CA whose key the Secret holds: what signs when there is no new CA. */
  readonly signing?: TrustedCa;
  /** Whether the bundle differs from the Secret's even without a new CA (CAs dropped, a legacy Secret adopted). */
  readonly bundleChanged: boolean;
  /** Why CAs were dropped from the bundle. */
  readonly dropped: readonly string[];
  /** The rotation annotation is consumed (done, or not understood). */
  readonly clearRotate: boolean;
  /** A serving certificate is due but waits for the new CA to be trusted (for logs). */
  readonly waiting?: string;
  /** When to look again if nothing else happens. */
  readonly requeueAfterMs: number;
}

const isoOf = (d: Date) => d.toISOString();

interface ServingAssessment {
  /** The API server can verify it now (trusted issuer, names, dates, key). */
  readonly servable: boolean;
  /** Why a new one is wanted (servable or not); undefined when it is fine. */
  readonly renew?: string;
  readonly info?: CertificateInfo;
  readonly issuer?: TrustedCa;
}

function assessServing(data: Readonly<Record<string, string>>, trusted: readonly TrustedCa[], s: CertificateSettings, now: Date, publicOnly: boolean): ServingAssessment {
  const certPem = data[SECRET_CERT_KEY];
  const keyPem = data[SECRET_KEY_KEY];
  if (!certPem || (!keyPem && !publicOnly)) return { servable: false, renew: `the Secret has no ${!certPem ? SECRET_CERT_KEY : SECRET_KEY_KEY}` };
  let info: CertificateInfo;
  try {
    info = publicOnly || !keyPem ? inspectCertificate(certPem) : checkKeyPair(certPem, keyPem);
  } catch (e) {
    if (!(e instanceof InvalidCertificate)) throw e;
    return { servable: false, renew: `the serving certificate is unreadable: ${e.message}` };
  }
  const issuer = [...trusted].reverse().find((ca) => isIssuedBy(certPem, ca.pem));
  if (!issuer) return { servable: false, info, renew: 'the serving certificate is not signed by a CA in the trust bundle' };
  const have = new Set([...info.dnsNames, ...info.ipAddresses]);
  const missing = s.names.filter((n) => !have.has(n));
  if (missing.length > 0) return { servable: false, info, issuer, renew: `the serving certificate is not valid for ${missing.join(', ')}` };
  if (info.notBefore.getTime() > now.getTime()) return { servable: false, info, issuer, renew: `the serving certificate is not valid before ${isoOf(info.notBefore)}` };
  if (info.notAfter.getTime() <= now.getTime()) return { servable: false, info, issuer, renew: `the serving certificate expired at ${isoOf(info.notAfter)}` };
  const want = new Set(s.names);
  const extra = [...have].filter((n) => !want.has(n));
  if (extra.length > 0) return { servable: true, info, issuer, renew: `the serving certificate names ${extra.join(', ')}, which the webhook no longer uses` };
  if (info.notAfter.getTime() - now.getTime() <= servingRenewBeforeMs(s)) {
    return { servable: true, info, issuer, renew: `the serving certificate expires at ${isoOf(info.notAfter)}, within its renewal window` };
  }
  return { servable: true, info, issuer };
}

/** The trust bundle as Tether can use it: parsable, CA-capable, unexpired certificates, newest last. */
function readBundle(data: Readonly<Record<string, string>>, now: Date): { cas: TrustedCa[]; dropped: string[]; changed: boolean } {
  const source = trustBundlePem(data);
  const legacy = !data[SECRET_CA_KEY] && source !== undefined;
  const cas: TrustedCa[] = [];
  const dropped: string[] = [];
  for (const pem of source ? certificateBlocks(source) : []) {
    let info: CertificateInfo;
    try {
      info = inspectCertificate(pem);
      if (!isCaCertificate(pem)) {
        dropped.push(`${info.subject} is not a CA`);
        continue;
      }
    } catch (e) {
      if (!(e instanceof InvalidCertificate)) throw e;
      dropped.push(`an unreadable certificate (${e.message})`);
      continue;
    }
    if (info.notAfter.getTime() <= now.getTime()) {
      dropped.push(`${info.subject}, expired at ${isoOf(info.notAfter)}`);
      continue;
    }
    if (!cas.some((c) => c.pem === pem)) cas.push({ pem, fingerprint: certificateFingerprint(pem), info });
  }
  while (cas.length > MAX_TRUSTED_CAS) dropped.push(`${cas.shift()!.info.subject}, the oldest of more than ${MAX_TRUSTED_CAS} CAs`);
  // Adopting a legacy Secret writes its certificate into ca.pem, where it stays trusted while it is served.
  return { cas, dropped, changed: dropped.length > 0 || (legacy && cas.length > 0) };
}

function keyMatches(ca: TrustedCa, keyPem: string | undefined): boolean {
  if (!keyPem) return false;
  try {
    checkKeyPair(ca.pem, keyPem);
    return true;
  } catch (e) {
    if (e instanceof InvalidCertificate) return false;
    throw e;
  }
}

export interface PlanOptions {
  /**
   * The data holds only the public half (`ca.pem`, `cert.pem`: what `diagnose` reads from the CA
   * ConfigMap): the keys are taken to match, the newest CA to be the signing one (as the leader keeps
   * them: a new CA's key replaces `ca-key.pem` when it is appended).
   */
  readonly publicOnly?: boolean;
}

/** Pure: what the Secret needs, at `now`, given how long each CA has been trusted by the API server. */
export function planCertificates(secret: Pick<SecretRecord, 'data' | 'annotations'> | undefined, s: CertificateSettings, now: Date, publishedFor: PublishedFor, opts: PlanOptions = {}): CertificatePlan {
  const data = secret?.data ?? {};
  const publicOnly = opts.publicOnly === true;
  const rotate = secret?.annotations[ROTATE_ANNOTATION];
  const bundle = readBundle(data, now);
  const signing = publicOnly ? bundle.cas.at(-1) : [...bundle.cas].reverse().find((ca) => keyMatches(ca, data[SECRET_CA_KEY_KEY]));
  const thresholdMs = s.thresholdHours * HOUR_MS;

  let newCa: string | undefined;
  if (!secret) newCa = 'the Secret does not exist';
  else if (!signing) newCa = bundle.cas.length === 0 ? 'the Secret holds no usable CA' : `the Secret holds no key for a CA of its bundle (${SECRET_CA_KEY_KEY})`;
  else if (signing.info.notAfter.getTime() - now.getTime() <= thresholdMs) newCa = `the CA expires at ${isoOf(signing.info.notAfter)}, less than ${s.thresholdHours}h from now`;
  else if (rotate === 'ca') newCa = `a CA rotation was asked for (${ROTATE_ANNOTATION}=ca)`;

  const serving = assessServing(data, bundle.cas, s, now, publicOnly);
  let renew = serving.renew;
  if (!renew && rotate === 'certificate') renew = `a new serving certificate was asked for (${ROTATE_ANNOTATION}=certificate)`;
  const newest = newCa ? undefined : signing;
  const newestPublishedMs = newest ? publishedFor(newest.fingerprint) : undefined;
  const newestLive = newestPublishedMs !== undefined && newestPublishedMs >= s.propagationMs;
  // Serving a certificate of an older CA while a newer one is being published: move once it is trusted.
  const moving = newest !== undefined && serving.issuer !== undefined && serving.issuer.fingerprint !== newest.fingerprint;
  if (!renew && moving && newestLive) renew = `moving to the newest CA (${newest.info.subject})`;

  let newServing: string | undefined;
  let waiting: string | undefined;
  if (renew) {
    // Not servable: nothing trusted is served, so there is nothing to wait for.
    if (!serving.servable) newServing = renew;
    // The same CA as the one serving now: already trusted.
    else if (newest && serving.issuer?.fingerprint === newest.fingerprint) newServing = renew;
    else if (newest && newestLive) newServing = renew;
    else waiting = `${renew}; waiting until the API server has trusted the new CA for ${s.propagationMs / 1000} s`;
  }

  // When to look again: renewals, CA expiry, bundle trimming, the end of a propagation wait.
  const due: number[] = [];
  if (serving.info) due.push(serving.info.notAfter.getTime() - servingRenewBeforeMs(s) - now.getTime());
  if (signing) due.push(signing.info.notAfter.getTime() - thresholdMs - now.getTime());
  for (const ca of bundle.cas) due.push(ca.info.notAfter.getTime() - now.getTime());
  if (moving && !newestLive) due.push(newestPublishedMs === undefined ? s.propagationMs : s.propagationMs - newestPublishedMs);
  // At least daily: a safety net that costs one read.
  const requeueAfterMs = Math.max(0, Math.min(...due.filter((d) => d > 0), 24 * HOUR_MS));

  const rotateDone = (rotate === 'ca' && newCa !== undefined) || (rotate === 'certificate' && newServing !== undefined);
  const rotateUnknown = rotate !== undefined && rotate !== 'ca' && rotate !== 'certificate';
  return {
    ...(newCa ? { newCa } : {}),
    ...(newServing ? { newServing } : {}),
    ...(waiting ? { waiting } : {}),
    ...(signing ? { signing } : {}),
    keep: bundle.cas,
    bundleChanged: bundle.changed,
    dropped: bundle.dropped,
    clearRotate: rotateDone || rotateUnknown,
    requeueAfterMs,
  };
}

/**
 * Which CAs the API server trusts, as the leader sees it: a CA counts from the first time it is in every
 * webhook entry's caBundle, on the monotonic clock. Kept in memory: a new leader waits the propagation
 * time again, which is safe.
 */
export class PublicationTracker {
  private readonly since = new Map<string, number>();

  /** `bundles`: each entry's caBundle PEM (an absent configuration or entry: none trusted). */
  observe(bundles: readonly string[], monotonicNowMs: number): void {
    const sets = bundles.map((b) => new Set(certificateBlocks(b).flatMap((pem) => {
      try {
        return [certificateFingerprint(pem)];
      } catch {
        return [];
      }
    })));
    const everywhere = sets.length === 0 ? new Set<string>() : sets.reduce((a, b) => new Set([...a].filter((x) => b.has(x))));
    for (const fp of [...this.since.keys()]) if (!everywhere.has(fp)) this.since.delete(fp);
    for (const fp of everywhere) if (!this.since.has(fp)) this.since.set(fp, monotonicNowMs);
  }

  publishedFor(fingerprint: string, monotonicNowMs: number): number | undefined {
    const t = this.since.get(fingerprint);
    return t === undefined ? undefined : monotonicNowMs - t;
  }
}

export interface CertificateClock {
  readonly now: () => Date;
  /** Monotonic milliseconds (durations). */
  readonly monotonicMs: () => number;
}

export const SYSTEM_CLOCK: CertificateClock = { now: () => new Date(), monotonicMs: () => performance.now() };

export interface CertificateControllerDeps {
  readonly secrets: SecretStore;
  /** Read to learn which CAs the API server has been given (the webhook configuration's caBundles). */
  readonly webhooks: WebhookConfigurationStore;
  readonly settings: CertificateSettings;
  readonly published: PublicationTracker;
  readonly logger: Logger;
  readonly clock?: CertificateClock;
}

/** One reconcile of the Secret: read it, plan, and write only what the plan changes. */
export async function reconcileCertificate(deps: CertificateControllerDeps, signal: AbortSignal): Promise<ReconcileResult> {
  const { secrets, settings: s, logger: log } = deps;
  const clock = deps.clock ?? SYSTEM_CLOCK;
  const [secret, configuration] = await Promise.all([secrets.get(signal), deps.webhooks.get(signal)]);
  deps.published.observe(configuration?.webhooks.map((w) => w.clientConfig.caBundle ? Buffer.from(w.clientConfig.caBundle, 'base64').toString('utf8') : '') ?? [], clock.monotonicMs());
  const now = clock.now();
  const mono = clock.monotonicMs();
  const plan = planCertificates(secret, s, now, (fp) => deps.published.publishedFor(fp, mono));
  const meta = { secret: secrets.id };

  if (!plan.newCa && !plan.newServing && !plan.bundleChanged && !plan.clearRotate) {
    if (plan.waiting) log.info({ ...meta, retryInMs: plan.requeueAfterMs }, plan.waiting);
    else {
      const left = plan.signing ? plan.signing.info.notAfter.getTime() - now.getTime() : 0;
      log.debug(meta, `The certificate is up-to-date, doing nothing. Duration before expiration: ${formatDuration(left)}`);
    }
    return { requeueAfterMs: plan.requeueAfterMs };
  }

  let ca: CertificatePair | undefined;
  if (plan.newCa) ca = await generateCa({ commonName: `${s.names[0]} CA ${now.toISOString()}`, validityHours: s.caValidityHours, now });
  const issuer = ca ?? (plan.signing && secret ? { certPem: plan.signing.pem, keyPem: secret.data[SECRET_CA_KEY_KEY] ?? '' } : undefined);
  let serving: CertificatePair | undefined;
  if (plan.newServing && issuer) {
    serving = await issueServingCertificate({ ca: issuer, dnsNames: s.names, notAfter: new Date(now.getTime() + servingValidityHours(s) * HOUR_MS), now });
  }
  if (signal.aborted) throw signal.reason;

  const bundle = [...plan.keep.map((c) => c.pem), ...(ca ? [ca.certPem] : [])].join('');
  const changes: SecretChanges = {
    data: {
      [SECRET_CA_KEY]: bundle,
      ...(ca ? { [SECRET_CA_KEY_KEY]: ca.keyPem } : {}),
      ...(serving ? { [SECRET_CERT_KEY]: serving.certPem, [SECRET_KEY_KEY]: serving.keyPem } : {}),
    },
    ...(plan.clearRotate ? { annotations: { [ROTATE_ANNOTATION]: null } } : {}),
  };
  // Everything else on the Secret (labels, other keys) is kept; a concurrent change is a Conflict,
  // retried by the work queue from a fresh read.
  if (secret) await secrets.update(secret.resourceVersion, changes, signal);
  else await secrets.create(changes, signal);

  const what = [plan.newCa ? `new CA: ${plan.newCa}` : '', plan.newServing ? `new serving certificate: ${plan.newServing}` : '', plan.dropped.length ? `dropped from the trust bundle: ${plan.dropped.join('; ')}` : ''].filter(Boolean);
  const verb = secret ? 'updated' : 'created';
  log.info({ ...meta, names: s.names, ...(plan.waiting ? { waiting: plan.waiting } : {}) }, `${verb} the webhook certificate Secret ${secrets.id}${what.length ? `: ${what.join('; ')}` : ''}`);
  // The write is a watch event, which reconciles again (and publishes a new CA through the webhook controller).
  return {};
}
