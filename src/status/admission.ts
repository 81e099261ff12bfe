/**
 * The "Admission Controller" section (SPEC §8, the admission controller seed's `agent status`): the
 * webhook configuration and its entries, then the certificate Secret: its metadata, and its certificates
 * as the leader publishes them in the CA ConfigMap (public: status never reads the Secret's keys). Pure:
 * built from what was read.
 */
import { caBundleDigest, certificateBlocks, inspectCertificate } from '../certs/index.js';
import { entryIdOfName } from '../admission/webhooks.js';
import { CLUSTER_AGENT_CA_CONFIGMAP, CLUSTER_AGENT_CA_CONFIGMAP_CERT_KEY, CLUSTER_AGENT_CA_CONFIGMAP_KEY, SECRET_CA_KEY, SECRET_CERT_KEY, SINGLE_ENTRY_ID } from '../config/index.js';
import { formatDuration } from '../format/duration.js';
import type { ConfigMap, MutatingWebhook, MutatingWebhookConfiguration, ObjectMeta, Read } from './objects.js';
import { formatLabelSelector } from './selector.js';
import type { AdmissionStatus, SecretStatus, WebhookEntryStatus, WebhookStatus } from './types.js';

export interface AdmissionInput {
  readonly webhookName: string;
  readonly secretName: string;
  readonly namespace: string;
  readonly webhook: Read<MutatingWebhookConfiguration>;
  /** The Secret's metadata (PartialObjectMetadata). */
  readonly secret: Read<{ readonly metadata?: ObjectMeta }>;
  /** ConfigMap `CLUSTER_AGENT_CA_CONFIGMAP`: the Secret's trust bundle and serving certificate. */
  readonly certificates: Read<ConfigMap>;
  readonly now: Date;
}

const decode = (b64: string | undefined): Buffer => Buffer.from(b64 ?? '', 'base64');

function entryStatus(w: MutatingWebhook, webhookName: string): WebhookEntryStatus {
  const cc = w.clientConfig ?? {};
  const svc = cc.service;
  return {
    name: w.name,
    // The digest is of the PEM bytes the API server holds (caBundle is their base64).
    caBundleDigest: caBundleDigest(decode(cc.caBundle)),
    objectSelector: formatLabelSelector(w.objectSelector),
    ...(w.namespaceSelector ? { namespaceSelector: formatLabelSelector(w.namespaceSelector) } : {}),
    rules: (w.rules ?? []).map((r) => ({
      operations: r.operations ?? [],
      apiGroups: r.apiGroups ?? [],
      apiVersions: r.apiVersions ?? [],
      resources: r.resources ?? [],
    })),
    // The API server defaults an unset service port to 443.
    ...(svc ? { service: { namespace: svc.namespace ?? '', name: svc.name ?? '', port: svc.port ?? 443, path: svc.path ?? '' } } : {}),
    ...(cc.url !== undefined ? { url: cc.url } : {}),
    ...(entryIdOfName(w.name, webhookName) === SINGLE_ENTRY_ID ? { single: true as const } : {}),
  };
}

export function webhookStatus(name: string, read: Read<MutatingWebhookConfiguration>): WebhookStatus {
  if (!read.ok) return { name, found: false, error: read.error };
  if (!read.value) return { name, found: false, error: `MutatingWebhookConfiguration ${name} not found` };
  // Sorted by name, as the seed's output is (the agent ranges over a Go map).
  const entries = [...(read.value.webhooks ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((w) => entryStatus(w, name));
  return { name, found: true, createdAt: read.value.metadata?.creationTimestamp ?? '', entries };
}

export function secretStatus(name: string, namespace: string, read: Read<{ readonly metadata?: ObjectMeta }>, certificates: Read<ConfigMap>, now: Date): SecretStatus {
  if (!read.ok) return { name, namespace, found: false, error: read.error };
  if (!read.value) return { name, namespace, found: false, error: `Secret ${namespace}/${name} not found` };
  const base = { name, namespace, found: true as const, createdAt: read.value.metadata?.creationTimestamp ?? '', caBundleSource: SECRET_CA_KEY };
  const where = `ConfigMap ${namespace}/${CLUSTER_AGENT_CA_CONFIGMAP}`;
  if (!certificates.ok) return { ...base, caBundleDigest: '', durationBeforeExpiration: `unknown: ${certificates.error}` };
  if (!certificates.value) return { ...base, caBundleDigest: '', durationBeforeExpiration: `unknown: ${where} not found (the leader publishes the certificates there)` };
  const data = certificates.value.data ?? {};
  const bundle = data[CLUSTER_AGENT_CA_CONFIGMAP_KEY] ?? '';
  const withDigest = { ...base, caBundleDigest: caBundleDigest(Buffer.from(bundle, 'utf8')) };
  const caExpiresAt = newestCaExpiry(bundle);
  try {
    const notAfter = inspectCertificate(data[CLUSTER_AGENT_CA_CONFIGMAP_CERT_KEY] ?? '').notAfter;
    const left = notAfter.getTime() - now.getTime();
    return {
      ...withDigest,
      certificateExpiresAt: notAfter.toISOString(),
      certificateExpiresInMs: left,
      durationBeforeExpiration: formatDuration(left),
      ...(caExpiresAt ? { caExpiresAt } : {}),
    };
  } catch (e) {
    return { ...withDigest, durationBeforeExpiration: `unknown: ${where} ${CLUSTER_AGENT_CA_CONFIGMAP_CERT_KEY}: ${(e as Error).message}`, ...(caExpiresAt ? { caExpiresAt } : {}) };
  }
}

/** The latest notAfter of the bundle's CAs (the one serving certificates are issued from lives longest). */
function newestCaExpiry(bundle: string): string | undefined {
  let latest: Date | undefined;
  for (const block of certificateBlocks(bundle)) {
    try {
      const notAfter = inspectCertificate(block).notAfter;
      if (!latest || notAfter > latest) latest = notAfter;
    } catch {
      // An unreadable block: the digest line already tells the bundle apart; diagnose names the problem.
    }
  }
  return latest?.toISOString();
}

export function admissionStatus(input: AdmissionInput): AdmissionStatus {
  return {
    webhook: webhookStatus(input.webhookName, input.webhook),
    secret: secretStatus(input.secretName, input.namespace, input.secret, input.certificates, input.now),
  };
}
