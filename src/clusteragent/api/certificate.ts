/**
 * The cluster agent API's serving certificate: issued in memory by each replica from the newest CA of the
 * webhook certificate Secret (`ca.pem` is the trust bundle, `ca-key.pem` the newest CA's key; see
 * controllers/certificate.ts), for the API's Service names. The private key never leaves the process.
 * Node agents verify it with the CA ConfigMap the leader publishes (controllers/caConfigMap.ts).
 *
 * Re-issued
 * - before it expires: at `SERVING_CERT_RENEW_FRACTION` of its lifetime left;
 * - when the Secret's newest CA changes. A certificate of the previous CA that is still in the bundle and
 *   not due keeps being served for `switchDelayMs` first: node agents read the CA from a ConfigMap
 *   volume, which the kubelet refreshes a minute or two after the ConfigMap changes, and until then they
 *   trust only the previous CA. Without a usable current certificate the switch is immediate.
 *
 * `decideCertificate` is the pure decision; `createApiCertificates` holds the state and the timers.
 */
import { certificateBlocks, certificateFingerprint, checkKeyPair, inspectCertificate, InvalidCertificate, issueServingCertificate, type CertificateInfo, type CertificatePair } from '../../certs/index.js';
import { SERVING_CERT_MAX_HOURS, SERVING_CERT_RENEW_FRACTION } from '../../config/limits.js';
import type { Logger } from '../../logging/logger.js';

const HOUR_MS = 3_600_000;
/** setTimeout's limit (about 24.8 days); a longer wait is cut into several. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The CA the Secret says signs now: the newest certificate of the bundle whose key `caKeyPem` is. */
export interface SigningCa {
  readonly pair: CertificatePair;
  readonly fingerprint: string;
  readonly info: CertificateInfo;
  /** Fingerprints of every CA in the bundle (what node agents will trust). */
  readonly bundle: ReadonlySet<string>;
}

/** Throws `InvalidCertificate` naming what is wrong. */
export function signingCaOf(bundlePem: string, caKeyPem: string, now: number): SigningCa {
  const blocks = certificateBlocks(bundlePem);
  if (blocks.length === 0) throw new InvalidCertificate('the CA bundle holds no PEM certificate');
  const bundle = new Set(blocks.map((b) => certificateFingerprint(b)));
  for (let i = blocks.length - 1; i >= 0; i--) {
    const pem = blocks[i] as string;
    let info: CertificateInfo;
    try {
      info = checkKeyPair(pem, caKeyPem);
    } catch (e) {
      if (e instanceof InvalidCertificate) continue;
      throw e;
    }
    if (info.notAfter.getTime() <= now) throw new InvalidCertificate(`the CA whose key the Secret holds (${info.subject}) expired at ${info.notAfter.toISOString()}`);
    return { pair: { certPem: pem, keyPem: caKeyPem }, fingerprint: certificateFingerprint(pem), info, bundle };
  }
  throw new InvalidCertificate(`the CA key does not belong to any of the ${blocks.length} certificate(s) of the CA bundle`);
}

/** What is served now. */
export interface ServedCertificate {
  readonly pair: CertificatePair;
  readonly info: CertificateInfo;
  /** Fingerprint of the CA that issued it. */
  readonly issuer: string;
}

/** When a certificate is due for renewal (ms since the epoch). */
export function renewalTime(info: CertificateInfo): number {
  const lifetime = info.notAfter.getTime() - info.notBefore.getTime();
  return info.notAfter.getTime() - lifetime * SERVING_CERT_RENEW_FRACTION;
}

export type CertificateDecision =
  | { readonly action: 'keep'; readonly recheckAt: number }
  | { readonly action: 'issue'; readonly why: string }
  | { readonly action: 'wait'; readonly why: string; readonly until: number };

/**
 * Pure: what to do at `now` given the served certificate (if any), the signing CA and since when that CA
 * has been the newest (`caSince`, ms since the epoch).
 */
export function decideCertificate(served: ServedCertificate | undefined, ca: SigningCa, caSince: number, now: number, switchDelayMs: number): CertificateDecision {
  if (!served) return { action: 'issue', why: 'no certificate yet' };
  const due = renewalTime(served.info);
  if (served.issuer === ca.fingerprint) {
    if (now >= due) return { action: 'issue', why: `the certificate expires at ${served.info.notAfter.toISOString()}, within its renewal window` };
    return { action: 'keep', recheckAt: due };
  }
  if (!ca.bundle.has(served.issuer)) return { action: 'issue', why: 'the CA that issued the current certificate is no longer in the trust bundle' };
  if (now >= served.info.notAfter.getTime()) return { action: 'issue', why: 'the current certificate has expired' };
  const switchAt = caSince + switchDelayMs;
  if (now >= switchAt) return { action: 'issue', why: `moving to the newest CA (${ca.info.subject})` };
  if (now >= due) return { action: 'issue', why: 'the current certificate is due for renewal and only the newest CA can sign' };
  return { action: 'wait', why: `a new CA (${ca.info.subject}): the current certificate is served until node agents have had ${switchDelayMs / 1000} s to read it from the CA ConfigMap`, until: Math.min(switchAt, due) };
}

export interface CertificateTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ApiCertificatesOptions {
  /** The names the certificate carries (DNS names and IP addresses). */
  readonly names: readonly string[];
  /** Serves a new pair (validated by the caller's TLS library; throws to refuse it). */
  readonly apply: (pair: CertificatePair, info: CertificateInfo) => void;
  readonly logger: Logger;
  readonly switchDelayMs: number;
  /** ms since the epoch (tests). */
  readonly now?: () => number;
  readonly timers?: CertificateTimers;
}

export interface ApiCertificates {
  /**
   * The Secret's trust bundle and newest CA key. Resolves with the certificate served afterwards (which
   * may still be the previous one, see the module comment); never rejects: a CA that cannot sign is
   * logged and the current certificate kept.
   */
  setCa(bundlePem: string, caKeyPem: string): Promise<CertificateInfo | undefined>;
  current(): CertificateInfo | undefined;
  stop(): void;
}

const realTimers: CertificateTimers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export function createApiCertificates(opts: ApiCertificatesOptions): ApiCertificates {
  const log = opts.logger;
  const now = opts.now ?? Date.now;
  const timers = opts.timers ?? realTimers;
  let served: ServedCertificate | undefined;
  let ca: SigningCa | undefined;
  let caSince = 0;
  let timer: unknown;
  let stopped = false;
  /** One decision at a time: issuing awaits key generation, and a newer CA may arrive meanwhile. */
  let chain: Promise<unknown> = Promise.resolve();

  const schedule = (at: number): void => {
    if (timer !== undefined) timers.clearTimeout(timer);
    timer = undefined;
    if (stopped) return;
    const ms = Math.min(Math.max(0, at - now()), MAX_TIMER_MS);
    timer = timers.setTimeout(() => {
      timer = undefined;
      void run();
    }, ms);
  };

  const step = async (): Promise<void> => {
    if (stopped || !ca) return;
    const signing = ca;
    if (signing.info.notAfter.getTime() <= now()) {
      log.error({ ca: signing.info.subject, notAfter: signing.info.notAfter.toISOString() }, 'the CA of the cluster agent API has expired and the Secret holds no newer one; keeping the current certificate');
      return;
    }
    const d = decideCertificate(served, signing, caSince, now(), opts.switchDelayMs);
    if (d.action === 'keep') return schedule(d.recheckAt);
    if (d.action === 'wait') {
      log.info({ ca: signing.info.subject, switchAt: new Date(d.until).toISOString() }, d.why);
      return schedule(d.until);
    }
    const t = now();
    const pair = await issueServingCertificate({ ca: signing.pair, dnsNames: opts.names, notAfter: new Date(t + SERVING_CERT_MAX_HOURS * HOUR_MS), now: new Date(t) });
    if (stopped) return;
    const info = inspectCertificate(pair.certPem);
    opts.apply(pair, info);
    served = { pair, info, issuer: signing.fingerprint };
    log.info({ names: opts.names, issuer: signing.info.subject, notAfter: info.notAfter.toISOString() }, `issued the cluster agent API's serving certificate: ${d.why}`);
    schedule(renewalTime(info));
  };

  const run = (): Promise<unknown> => {
    chain = chain.then(step).catch((e: unknown) => {
      log.error({ err: e }, 'could not issue the cluster agent API certificate; retrying in a minute');
      schedule(now() + 60_000);
    });
    return chain;
  };

  return {
    async setCa(bundlePem, caKeyPem) {
      let next: SigningCa;
      try {
        next = signingCaOf(bundlePem, caKeyPem, now());
      } catch (e) {
        if (!(e instanceof InvalidCertificate)) throw e;
        log.warn({ problem: e.message }, 'the webhook certificate Secret holds no CA that can sign the cluster agent API certificate; keeping the current one');
        return served?.info;
      }
      if (!ca || ca.fingerprint !== next.fingerprint) caSince = now();
      // Same CA, new bundle (a CA added or dropped): the bundle decides whether the served issuer is still trusted.
      ca = next;
      await run();
      return served?.info;
    },
    current: () => served?.info,
    stop() {
      stopped = true;
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
    },
  };
}
