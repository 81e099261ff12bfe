/**
 * Tether's certificate policy, from its configuration: the names the webhook's serving certificate
 * carries, the lifetimes, when to renew, which PEM is the trust bundle. One place for the certificate
 * controller that applies it, the cluster agent API that serves with it, and diagnose and the console
 * that judge what they find against it.
 */
import {
  SECRET_CA_KEY,
  SECRET_CERT_KEY,
  SERVING_CERT_MAX_HOURS,
  SERVING_CERT_RENEW_FRACTION,
  type TetherConfig,
} from '../config/index.js';

const HOUR_MS = 3_600_000;

/** `svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`, then the host of `--webhook-url` if any. */
export function certificateNames(serviceName: string, namespace: string, webhookUrl?: string): string[] {
  const names = [serviceName, `${serviceName}.${namespace}`, `${serviceName}.${namespace}.svc`, `${serviceName}.${namespace}.svc.cluster.local`];
  if (webhookUrl) {
    const host = new URL(webhookUrl).hostname.replace(/^\[(.*)\]$/, '$1');
    if (!names.includes(host)) names.push(host);
  }
  return names;
}

export interface CertificateSettings {
  /** The names the serving certificate must carry, exactly. */
  readonly names: readonly string[];
  /** `certificate.validity_bound`: the CA's lifetime. */
  readonly caValidityHours: number;
  /** `certificate.expiration_threshold`: a new CA when less than this is left. */
  readonly thresholdHours: number;
  /** `certificate.ca_propagation_seconds`, in ms. */
  readonly propagationMs: number;
}

export function certificateSettings(config: TetherConfig, names: readonly string[]): CertificateSettings {
  return {
    names,
    caValidityHours: config['admission_controller.certificate.validity_bound'],
    thresholdHours: config['admission_controller.certificate.expiration_threshold'],
    propagationMs: config['admission_controller.certificate.ca_propagation_seconds'] * 1000,
  };
}

/** A serving certificate's lifetime: `SERVING_CERT_MAX_HOURS`, never longer than the CA's. */
export function servingValidityHours(s: Pick<CertificateSettings, 'caValidityHours'>): number {
  return Math.min(SERVING_CERT_MAX_HOURS, s.caValidityHours);
}

/** The leader issues a new serving certificate once less than this is left (a fraction of its lifetime). */
export function servingRenewBeforeMs(s: Pick<CertificateSettings, 'caValidityHours'>): number {
  return servingValidityHours(s) * HOUR_MS * SERVING_CERT_RENEW_FRACTION;
}

/**
 * The PEM the webhook entries' `caBundle` must hold: the Secret's trust bundle, or, in a Secret written
 * before Tether had a CA, its self-signed certificate. Undefined while the Secret holds neither.
 */
export function trustBundlePem(data: Readonly<Record<string, string>> | undefined): string | undefined {
  return data?.[SECRET_CA_KEY] || data?.[SECRET_CERT_KEY] || undefined;
}
