/**
 * Check `webhook-configuration` (issue 10, item 4; SPEC §4, §7): the MutatingWebhookConfiguration is
 * there with every entry as the configuration wants it (the controller's own drift comparison), every
 * entry trusts the Secret's CA bundle (digests shown as `status` shows them), the Secret's CA and serving
 * certificate are neither expired nor due (the certificate controller's own plan), the serving
 * certificate names what the API server calls, and nothing else keeps rewriting the configuration (two
 * installs fighting over one `webhook_name`: seen as the object changing repeatedly within a few seconds,
 * and by who wrote it in its managed fields).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type * as k8s from '@kubernetes/client-node';
import { enabledWebhooks } from '../../admission/index.js';
import { caBundleDigest, certificateBlocks, inspectCertificate, InvalidCertificate, isCaCertificate, isIssuedBy } from '../../certs/index.js';
import { CLUSTER_AGENT_CA_CONFIGMAP, ROTATE_ANNOTATION, SECRET_CA_KEY, SECRET_CERT_KEY, TETHER_FIELD_MANAGER } from '../../config/index.js';
import { certificateNames, certificateSettings, trustBundlePem, type CertificateSettings } from '../../certs/policy.js';
import { planCertificates } from '../../controllers/certificate.js';
import { formatDuration } from '../../format/duration.js';
import { desiredWebhookConfiguration, webhookConfigurationDrift } from '../../controllers/webhookConfiguration.js';
import { skipped, type Check, type DiagnoseContext } from '../check.js';
import { Findings } from '../findings.js';
import { entryCaBundlePem, readWebhookConfiguration, readWebhookSecret, webhookUrlOf, type ManagedFieldsEntry, type WebhookConfigurationObject, type WebhookSecret } from '../webhookObjects.js';

/** How long the configuration is watched for rewrites. */
export const REWRITE_OBSERVATION_MS = 3_000;
/**
 * Rewrites within the observation that mean a fight: the leader repairs a drift with one write, so one
 * change is a repair (or a rotation); two or more in a few seconds is two writers undoing each other.
 */
export const FIGHT_MIN_REWRITES = 2;

const HOUR_MS = 3_600_000;

// ---------------------------------------------------------------------------------------------------
// pure parts

/** The resourceVersions seen, in order, without consecutive repeats (`-` while the object was absent). */
export function distinctVersions(seen: readonly (string | undefined)[]): string[] {
  const out: string[] = [];
  for (const v of seen.map((s) => s ?? '-')) if (out.at(-1) !== v) out.push(v);
  return out;
}

/**
 * Every writer seen across several reads, each (manager, operation, subresource) once at its latest
 * time. One read is not enough: a manager whose fields the next writer took over leaves the list.
 */
export function mergeManagedFields(reads: readonly (readonly ManagedFieldsEntry[] | undefined)[]): ManagedFieldsEntry[] {
  const latest = new Map<string, ManagedFieldsEntry>();
  for (const m of reads.flatMap((r) => r ?? [])) {
    const key = `${m.manager ?? ''}\u0000${m.operation ?? ''}\u0000${m.subresource ?? ''}`;
    const seen = latest.get(key);
    if (!seen || (m.time ?? '') > (seen.time ?? '')) latest.set(key, m);
  }
  return [...latest.values()];
}

/** Who wrote the object, newest first, one line each; `others`: managers that are not Tether. */
export function describeWriters(fields: readonly ManagedFieldsEntry[] | undefined, own: string = TETHER_FIELD_MANAGER): { lines: string[]; others: string[] } {
  const sorted = [...(fields ?? [])].sort((a, b) => (b.time ?? '').localeCompare(a.time ?? ''));
  const lines = sorted.map((m) => {
    const who = m.manager || '<no manager>';
    const mine = who === own ? ' (Tether)' : '';
    return `field manager ${who}${mine}: ${m.operation ?? '?'}${m.subresource ? ` of ${m.subresource}` : ''} at ${m.time ?? '?'}`;
  });
  const others = [...new Set(sorted.map((m) => m.manager || '<no manager>').filter((m) => m !== own))];
  return { lines, others };
}

/** Each entry's CA bundle digest against the Secret's (SPEC §7): evidence lines, and the entries that differ. */
export function caBundleComparison(webhooks: readonly k8s.V1MutatingWebhook[], secretBundlePem: string, secretId: string): { evidence: string[]; mismatched: string[] } {
  const want = caBundleDigest(secretBundlePem);
  const evidence = [`Secret ${secretId}: CA bundle digest ${want}`];
  const mismatched: string[] = [];
  for (const w of webhooks) {
    const pem = entryCaBundlePem(w);
    const have = pem ? caBundleDigest(pem) : '(no caBundle)';
    evidence.push(`entry ${w.name}: CA bundle digest ${have}`);
    if (have !== want) mismatched.push(w.name);
  }
  return { evidence, mismatched };
}

export interface CertificateFindings {
  /** The API server cannot verify the webhook now (expired, untrusted, wrong names). */
  readonly errors: string[];
  /** Due for renewal (within `expiration_threshold` or the serving certificate's renewal window). */
  readonly warnings: string[];
  readonly evidence: string[];
}

const hoursLeft = (notAfter: Date, now: Date) => formatDuration(notAfter.getTime() - now.getTime());

/**
 * Pure: the Secret's certificates at `now`. Errors are what makes the API server's calls fail today;
 * warnings are what the leader would already have renewed (the certificate controller's own plan), so
 * their presence means it is not doing its work.
 */
export function certificateFindings(secret: Pick<WebhookSecret, 'data' | 'annotations'>, settings: CertificateSettings, now: Date): CertificateFindings {
  const errors: string[] = [];
  const warnings: string[] = [];
  const evidence: string[] = [];
  const bundle = trustBundlePem(secret.data);
  if (!bundle) return { errors: [`the Secret holds no ${SECRET_CA_KEY} nor ${SECRET_CERT_KEY}`], warnings, evidence };

  const usable: string[] = [];
  for (const pem of certificateBlocks(bundle)) {
    try {
      const info = inspectCertificate(pem);
      if (!isCaCertificate(pem)) {
        evidence.push(`trust bundle: ${info.subject} is not a CA`);
        continue;
      }
      const expired = info.notAfter.getTime() <= now.getTime();
      evidence.push(`CA ${info.subject}: ${expired ? 'expired at' : 'valid until'} ${info.notAfter.toISOString()}${expired ? '' : ` (${hoursLeft(info.notAfter, now)} left)`}`);
      if (!expired) usable.push(pem);
    } catch (e) {
      if (!(e instanceof InvalidCertificate)) throw e;
      evidence.push(`trust bundle: an unreadable certificate (${e.message})`);
    }
  }
  if (usable.length === 0) errors.push(`no CA of the trust bundle (${SECRET_CA_KEY}) is usable: each is expired, unreadable or not a CA`);

  const certPem = secret.data[SECRET_CERT_KEY];
  if (!certPem) errors.push(`the Secret has no serving certificate (${SECRET_CERT_KEY})`);
  else {
    try {
      const info = inspectCertificate(certPem);
      const names = [...info.dnsNames, ...info.ipAddresses];
      evidence.push(`serving certificate ${info.subject}: valid ${info.notBefore.toISOString()} to ${info.notAfter.toISOString()}, names ${names.join(', ') || '(none)'}`);
      if (info.notAfter.getTime() <= now.getTime()) errors.push(`the serving certificate expired at ${info.notAfter.toISOString()}`);
      else if (info.notBefore.getTime() > now.getTime()) errors.push(`the serving certificate is not valid before ${info.notBefore.toISOString()}`);
      else evidence.push(`serving certificate: ${hoursLeft(info.notAfter, now)} before expiration`);
      const missing = settings.names.filter((n) => !names.includes(n));
      if (missing.length > 0) errors.push(`the serving certificate's names do not include ${missing.join(', ')} (the API server calls the webhook as ${settings.names.join(', ')})`);
      if (!usable.some((ca) => isIssuedBy(certPem, ca))) errors.push(`the serving certificate is not signed by a usable CA of the trust bundle (${SECRET_CA_KEY}), so the API server does not trust it`);
    } catch (e) {
      if (!(e instanceof InvalidCertificate)) throw e;
      errors.push(`the serving certificate is unreadable: ${e.message}`);
    }
  }
  if (errors.length > 0) return { errors, warnings, evidence };

  // Nothing broken today: what would the leader renew? (Every CA counted as long published: diagnose
  // asks what is due, not whether a rotation may proceed.)
  const plan = planCertificates({ data: secret.data, annotations: secret.annotations }, settings, now, () => Number.MAX_SAFE_INTEGER, { publicOnly: true });
  if (plan.newCa) warnings.push(`a new CA is due: ${plan.newCa}`);
  if (plan.newServing) warnings.push(`a new serving certificate is due: ${plan.newServing}`);
  if (plan.dropped.length > 0) evidence.push(`the leader would drop from the trust bundle: ${plan.dropped.join('; ')}`);
  if (secret.annotations[ROTATE_ANNOTATION]) warnings.push(`a rotation was asked for (${ROTATE_ANNOTATION}=${secret.annotations[ROTATE_ANNOTATION]}) and is not done yet`);
  return { errors, warnings, evidence };
}

/** Where an entry sends reviews, for evidence. */
export function describeTarget(w: k8s.V1MutatingWebhook): string {
  const c = w.clientConfig;
  if (c?.url) return `URL ${c.url}`;
  if (c?.service) return `Service ${c.service.namespace}/${c.service.name} port ${c.service.port ?? 443} path ${c.service.path ?? '/'}`;
  return 'nothing (no URL, no Service)';
}

// ---------------------------------------------------------------------------------------------------
// I/O

interface LeaseObject {
  readonly spec?: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
}

/** Who leads, for evidence: a drift that stays, or a certificate that is not renewed, means no leader works. */
async function leaderEvidence(ctx: DiagnoseContext): Promise<string> {
  const name = ctx.config.leader_lease_name;
  const id = `${ctx.namespace}/${name}`;
  try {
    const lease = await ctx.kube.get<LeaseObject>(`/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(ctx.namespace)}/leases/${encodeURIComponent(name)}`, ctx.signal);
    const holder = lease?.spec?.holderIdentity;
    if (!lease) return `leader: none (Lease ${id} does not exist: no cluster agent has run in ${ctx.namespace})`;
    if (!holder) return `leader: none (Lease ${id} has no holder)`;
    const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime) : undefined;
    const stale = renewed && ctx.now().getTime() - renewed.getTime() > (lease.spec?.leaseDurationSeconds ?? ctx.config.leader_lease_duration) * 1000;
    return `leader: ${holder} (Lease ${id}, renewed ${renewed?.toISOString() ?? 'never'}${stale ? ', expired: that leader is gone' : ''})`;
  } catch (e) {
    return `leader: unknown (${(e as Error).message})`;
  }
}

interface Observation {
  readonly last: WebhookConfigurationObject | undefined;
  readonly versions: string[];
  /** The writers of every version seen. */
  readonly writers: ManagedFieldsEntry[];
}

/**
 * Reads the configuration, then watches it for `observeMs`: the last state, and every version it went
 * through with its writers. A watch, not polling: another install's write is replaced by the leader's
 * within milliseconds, and only a watch is sure to see it.
 */
async function observe(ctx: DiagnoseContext, observeMs: number): Promise<Observation> {
  const seen: (string | undefined)[] = [];
  const fields: (readonly ManagedFieldsEntry[] | undefined)[] = [];
  let last = await readWebhookConfiguration(ctx);
  const record = () => {
    seen.push(last?.metadata?.resourceVersion);
    fields.push(last?.metadata?.managedFields);
  };
  record();
  const name = ctx.config['admission_controller.webhook_name'];
  await ctx.kube.watch<WebhookConfigurationObject>(
    '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
    { fieldSelector: `metadata.name=${name}`, ...(last?.metadata?.resourceVersion ? { resourceVersion: last.metadata.resourceVersion } : {}) },
    observeMs,
    ctx.signal,
    (type, obj) => {
      last = type === 'DELETED' ? undefined : obj;
      record();
    },
  );
  return { last, versions: distinctVersions(seen), writers: mergeManagedFields(fields) };
}

export interface WebhookConfigurationCheckOptions {
  /** How long to watch for rewrites (tests of other states shorten it). */
  readonly observeMs?: number;
}

export function createWebhookConfigurationCheck(opts: WebhookConfigurationCheckOptions = {}): Check {
  const observeMs = opts.observeMs ?? REWRITE_OBSERVATION_MS;
  return {
    name: 'webhook-configuration',
    finds:
      "The MutatingWebhookConfiguration missing, an entry missing or different from what the configuration wants, an entry's caBundle not the Secret's CA bundle, the Secret's certificates expired, due or not naming the Service, or another install rewriting the configuration.",
    fixes:
      "Run one cluster agent per cluster and let its leader repair the configuration and the Secret; force a new certificate with the tether.dev/rotate annotation on the Secret; uninstall any other agent that writes the same webhook_name.",
    async run(ctx) {
      const { config, namespace } = ctx;
      const name = config['admission_controller.webhook_name'];
      const secretName = config['admission_controller.certificate.secret_name'];
      const secretId = `${namespace}/${secretName}`;
      if (enabledWebhooks(config).length === 0) return skipped('the admission controller is disabled (admission_controller.enabled, or every webhook disabled): Tether writes no webhook configuration');

      const { last: mwc, versions, writers: seenWriters } = await observe(ctx, observeMs);
      const f = new Findings();
      // Read once, and only when a problem needs it.
      let leaderRead: Promise<string> | undefined;
      const leader = () => (leaderRead ??= leaderEvidence(ctx));
      const leaderCmd = `kubectl -n ${namespace} get lease ${config.leader_lease_name}`;
      if (!mwc) {
        const wasThere = versions.length > 1 ? ` (it was there at resourceVersion ${versions.filter((v) => v !== '-').join(', ')} moments ago: something deletes it)` : '';
        f.add(
          'error',
          `MutatingWebhookConfiguration ${name} does not exist${wasThere}, so the API server calls no webhook and no pod is mutated`,
          `Tether's leader creates it when it starts: check that the cluster agent runs in ${namespace} (\`kubectl -n ${namespace} get deploy,pods\`, \`${leaderCmd}\`) and read the leader's log for why it cannot (its RBAC is deploy/rbac.yaml).`,
          [await leader()],
        );
        return f.outcome('');
      }
      const webhooks = mwc.webhooks ?? [];
      const writers = describeWriters(seenWriters);
      f.evidence(`MutatingWebhookConfiguration ${name}: created ${mwc.metadata?.creationTimestamp ?? '?'}, resourceVersion ${mwc.metadata?.resourceVersion ?? '?'}, ${webhooks.length} entries`);
      for (const w of webhooks) f.evidence(`entry ${w.name}: calls ${describeTarget(w)}`);

      // Two writers undoing each other.
      const rewrites = versions.length - 1;
      if (rewrites >= FIGHT_MIN_REWRITES) {
        const by = writers.others.length > 0 ? `written by ${writers.others.join(', ')} besides Tether` : 'every write carries Tether\'s field manager: another Tether install (another namespace) writes the same name';
        f.add(
          'error',
          `${name} was rewritten ${rewrites} times in ${observeMs / 1000} s: another install is fighting over it (${by})`,
          `Only one cluster agent may manage ${name}: uninstall the other one (the other Datadog Cluster Agent or Tether release, e.g. \`helm uninstall\` it or delete its Deployment), or give one of them another admission_controller.webhook_name.`,
          [`resourceVersions seen: ${versions.join(' → ')}`, ...writers.lines, await leader()],
        );
      }

      const secret = await readWebhookSecret(ctx);
      const bundle = secret ? trustBundlePem(secret.data) : undefined;
      if (!secret) {
        f.add(
          'error',
          `Secret ${secretId} does not exist: the webhook has no certificate the API server trusts`,
          `Tether's leader creates it: check that the cluster agent runs in ${namespace} (\`${leaderCmd}\`) and that Tether's namespace is ${namespace} (kube_resources_namespace, \`-n\`).`,
          [await leader()],
        );
      }

      // Drift from what the configuration wants (the controller's own comparison). caBundle drift is
      // shown below with both digests, which says more.
      const webhookUrl = webhookUrlOf(webhooks, config);
      const desired = desiredWebhookConfiguration({
        config,
        namespace,
        caBundlePem: bundle ?? (webhooks[0] ? entryCaBundlePem(webhooks[0]) : ''),
        ...(webhookUrl ? { webhookUrl } : {}),
      });
      const drift = webhookConfigurationDrift({ webhooks }, desired).filter((d) => !d.endsWith('caBundle does not match the Secret'));
      if (drift.length > 0) {
        const missing = drift.filter((d) => d.endsWith(' is missing'));
        const last = writers.others.length > 0 ? ` Written by ${writers.others.join(', ')}, which is not Tether: if that is another agent, uninstall it.` : '';
        f.add(
          'error',
          missing.length > 0 ? `${name}: ${missing.join(', ')}` : `${name} differs from what the configuration wants: ${drift[0]}`,
          `Tether's leader repairs this as soon as it sees it, so a drift that stays means no leader is running or something rewrites it: check \`${leaderCmd}\` and the leader's log.${last} To start over, \`kubectl delete mutatingwebhookconfiguration ${name}\`: the leader recreates it.`,
          [...drift.map((d) => `drift: ${d}`), ...(desired.webhooks ?? []).map((w) => `wanted: entry ${w.name} calls ${describeTarget(w)}`), ...writers.lines, await leader()],
        );
      }

      if (!secret || !bundle) {
        const cm = `${namespace}/${CLUSTER_AGENT_CA_CONFIGMAP}`;
        if (secret && !secret.published) {
          f.add(
            'error',
            `ConfigMap ${cm} does not exist: the leader publishes the certificates of Secret ${secretId} there (diagnose reads no key), and no leader has`,
            `Check that the cluster agent's leader runs (\`${leaderCmd}\`) and may create ConfigMaps in ${namespace} (deploy/rbac.yaml); it publishes ${cm} at once.`,
            [await leader()],
          );
        } else if (secret) {
          f.add('error', `Secret ${secretId} holds no certificate (${SECRET_CA_KEY}, as published in ConfigMap ${cm})`, `Delete it (\`kubectl -n ${namespace} delete secret ${secretName}\`): Tether's leader creates a new one.`);
        }
        return f.outcome('');
      }

      const digests = caBundleComparison(webhooks, bundle, secretId);
      f.evidence(...digests.evidence);
      if (digests.mismatched.length > 0) {
        f.add(
          'error',
          `the caBundle of ${digests.mismatched.join(', ')} is not the Secret's CA bundle: the API server does not trust the webhook's certificate, and its calls fail (open: pods are created uninjected)`,
          `Tether's leader copies the Secret's ca.pem into every entry; if it does not, no leader is running (\`${leaderCmd}\`). Or \`kubectl delete mutatingwebhookconfiguration ${name}\` and let the leader recreate it.`,
          [...writers.lines, await leader()],
        );
      }

      const names = certificateNames(config['admission_controller.service_name'], namespace, webhookUrl);
      const certs = certificateFindings(secret, certificateSettings(config, names), ctx.now());
      f.evidence(...certs.evidence);
      const rotateCmd = `kubectl -n ${namespace} annotate secret ${secretName} ${ROTATE_ANNOTATION}=certificate`;
      for (const e of certs.errors) {
        f.add(
          'error',
          `Secret ${secretId}: ${e}`,
          `Tether's leader renews the certificate before it is due; ask it for a new one now with \`${rotateCmd}\` (or \`${ROTATE_ANNOTATION}=ca\` for a new CA), or delete the Secret to start over. If nothing happens, no leader is running (\`${leaderCmd}\`).`,
          [await leader()],
        );
      }
      for (const w of certs.warnings) {
        f.add(
          'warning',
          `Secret ${secretId}: ${w}, and the leader has not renewed it`,
          `Check that the cluster agent's leader runs (\`${leaderCmd}\`) and read its log; \`${rotateCmd}\` asks for a new serving certificate now. admission_controller.certificate.expiration_threshold (${config['admission_controller.certificate.expiration_threshold']}h) sets how early a CA is renewed.`,
          [await leader()],
        );
      }
      return f.outcome(`${name}: ${webhooks.length} entries as the configuration wants them, each trusting the CA bundle of Secret ${secretId}; certificates valid; not rewritten in ${observeMs / 1000} s`);
    },
  };
}

export const webhookConfigurationCheck: Check = createWebhookConfigurationCheck();
