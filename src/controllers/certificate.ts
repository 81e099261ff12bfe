/**
 * The certificate controller (SPEC §7, leader only): keeps Secret `certificate.secret_name` holding a
 * valid self-signed certificate for the webhook's names. Created when missing; regenerated when
 * unreadable, when its names no longer match, or when less than `certificate.expiration_threshold` is
 * left. A valid Secret is left untouched (no write), and reconciled again when it is due for renewal.
 */
import * as k8s from '@kubernetes/client-node';
import { checkKeyPair, generateSelfSignedCertificate, InvalidCertificate, type CertificateInfo } from '../certs/index.js';
import { SECRET_CERT_KEY, SECRET_KEY_KEY, type TetherConfig } from '../config/index.js';
import { describeApiError, isNotFound } from '../kube/errors.js';
import type { Logger } from '../logging/logger.js';
import { formatDuration } from './duration.js';
import type { ReconcileResult } from './workqueue.js';

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

export type CertificateAssessment =
  | { readonly valid: true; readonly info: CertificateInfo; /** when to renew */ readonly renewAt: Date }
  | { readonly valid: false; readonly reason: string };

/** Decodes a Secret's base64 data value; undefined when absent. */
export function secretValue(secret: k8s.V1Secret | undefined, key: string): string | undefined {
  const v = secret?.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

/** Pure: is the Secret's certificate fit to serve `names` at `now`, and until when? */
export function assessCertificateSecret(
  secret: k8s.V1Secret | undefined,
  names: readonly string[],
  now: Date,
  thresholdHours: number,
): CertificateAssessment {
  if (!secret) return { valid: false, reason: 'the Secret does not exist' };
  const certPem = secretValue(secret, SECRET_CERT_KEY);
  const keyPem = secretValue(secret, SECRET_KEY_KEY);
  if (certPem === undefined || keyPem === undefined) {
    const missing = [certPem === undefined ? SECRET_CERT_KEY : '', keyPem === undefined ? SECRET_KEY_KEY : ''].filter(Boolean);
    return { valid: false, reason: `the Secret has no ${missing.join(' and no ')}` };
  }
  let info: CertificateInfo;
  try {
    info = checkKeyPair(certPem, keyPem);
  } catch (e) {
    if (!(e instanceof InvalidCertificate)) throw e;
    return { valid: false, reason: `the certificate is unreadable: ${e.message}` };
  }
  const have = new Set([...info.dnsNames, ...info.ipAddresses]);
  const missing = names.filter((n) => !have.has(n));
  if (missing.length > 0) return { valid: false, reason: `the certificate is not valid for ${missing.join(', ')}` };
  const want = new Set(names);
  const extra = [...have].filter((n) => !want.has(n));
  if (extra.length > 0) return { valid: false, reason: `the certificate names ${extra.join(', ')}, which the webhook no longer uses` };
  if (info.notBefore.getTime() > now.getTime()) return { valid: false, reason: `the certificate is not valid before ${info.notBefore.toISOString()}` };
  const renewAt = new Date(info.notAfter.getTime() - thresholdHours * HOUR_MS);
  if (renewAt.getTime() <= now.getTime()) {
    return { valid: false, reason: `the certificate expires at ${info.notAfter.toISOString()}, less than ${thresholdHours}h from now` };
  }
  return { valid: true, info, renewAt };
}

export interface CertificateControllerDeps {
  readonly core: k8s.CoreV1Api;
  readonly config: TetherConfig;
  readonly namespace: string;
  readonly names: readonly string[];
  readonly logger: Logger;
  readonly now?: () => Date;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** One reconcile of the Secret: read it, and write a new certificate only when the current one is unfit. */
export async function reconcileCertificate(deps: CertificateControllerDeps): Promise<ReconcileResult> {
  const { core, config, namespace, logger: log } = deps;
  const name = config['admission_controller.certificate.secret_name'];
  const now = deps.now?.() ?? new Date();
  let secret: k8s.V1Secret | undefined;
  try {
    secret = await core.readNamespacedSecret({ name, namespace });
  } catch (e) {
    if (!isNotFound(e)) throw new Error(`cannot read Secret ${namespace}/${name}: ${describeApiError(e)}`);
  }
  const threshold = config['admission_controller.certificate.expiration_threshold'];
  const assessment = assessCertificateSecret(secret, deps.names, now, threshold);
  if (assessment.valid) {
    const left = assessment.info.notAfter.getTime() - now.getTime();
    log.debug({ secret: `${namespace}/${name}`, notAfter: assessment.info.notAfter.toISOString() }, `The certificate is up-to-date, doing nothing. Duration before expiration: ${formatDuration(left)}`);
    return { requeueAfterMs: assessment.renewAt.getTime() - now.getTime() };
  }

  const pair = await generateSelfSignedCertificate({ dnsNames: deps.names, validityHours: config['admission_controller.certificate.validity_bound'], now });
  const data = { [SECRET_CERT_KEY]: b64(pair.certPem), [SECRET_KEY_KEY]: b64(pair.keyPem) };
  if (!secret) {
    await core
      .createNamespacedSecret({ namespace, body: { metadata: { name, namespace }, type: 'Opaque', data } })
      .catch((e: unknown) => {
        throw new Error(`cannot create Secret ${namespace}/${name}: ${describeApiError(e)}`);
      });
    log.info({ secret: `${namespace}/${name}`, names: deps.names }, `created the webhook certificate Secret ${namespace}/${name}`);
  } else {
    // Keep whatever else is on the Secret (labels, annotations, other keys); replace only the pair.
    // The resourceVersion makes a concurrent change a conflict, retried with a fresh read.
    await core
      .replaceNamespacedSecret({ name, namespace, body: { ...secret, data: { ...secret.data, ...data } } })
      .catch((e: unknown) => {
        throw new Error(`cannot update Secret ${namespace}/${name}: ${describeApiError(e)}`);
      });
    log.info({ secret: `${namespace}/${name}`, reason: assessment.reason }, `renewed the webhook certificate: ${assessment.reason}`);
  }
  // The write triggers a watch event, which reconciles again and schedules the renewal.
  return {};
}
