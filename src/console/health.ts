/**
 * The webhook's health for the console (issue 12): the MutatingWebhookConfiguration and its entries,
 * each entry's CA bundle digest against the Secret's, the serving certificate's time left, the leader
 * Lease; plus the node agent reports (ConfigMap datadog-node-agents). Read with `status`'s own reads and
 * section builders (`status/`: the console never re-derives what `tether status` says), at most every
 * `CONSOLE_HEALTH_MAX_AGE_MS`. `webhookHealthOf` is pure; `createHealthSource` does the reads.
 */
import { parseNodeAgentRecords, type NodeAgentRecord } from '../agentapi/nodeAgentReport.js';
import { entryIdOfName } from '../admission/webhooks.js';
import { SINGLE_ENTRY_ID, type TetherConfig } from '../config/index.js';
import { CONSOLE_HEALTH_MAX_AGE_MS } from '../config/limits.js';
import { ApiError, type KubeReader } from '../kube/reader.js';
import { admissionStatus } from '../status/admission.js';
import { statusPaths } from '../status/collect.js';
import { leaderElectionStatus } from '../status/leaderElection.js';
import type { ConfigMap, Lease, MutatingWebhookConfiguration, Read } from '../status/objects.js';
import type { AdmissionStatus, LeaderElectionStatus } from '../status/types.js';
import type { HealthState, LeaderInfo, WebhookEntryHealth, WebhookFailure, WebhookHealth, WebhookTraffic } from './types.js';

export interface HealthReads {
  readonly at: Date;
  readonly admission: AdmissionStatus;
  readonly leader: LeaderElectionStatus;
  readonly nodeAgents: ReadonlyMap<string, NodeAgentRecord>;
  readonly nodeAgentsError?: string;
}

export interface HealthExtras {
  /** This process's identity, to tell whether it holds the Lease (cluster mode). */
  readonly identity?: string;
  readonly traffic?: WebhookTraffic;
  readonly recentFailures?: readonly WebhookFailure[];
  /**
   * The leader renews the serving certificate once less than this is left (`servingRenewBeforeMs`, a
   * fraction of its lifetime, not the CA's `expiration_threshold`): less left means renewal is late.
   */
  readonly servingRenewBeforeMs: number;
}

export function leaderInfo(l: LeaderElectionStatus, identity: string | undefined): LeaderInfo {
  return {
    lease: l.lease,
    state: l.state,
    ...(l.holderIdentity !== undefined ? { holderIdentity: l.holderIdentity } : {}),
    ...(identity !== undefined ? { self: l.state === 'Running' && l.holderIdentity === identity } : {}),
    ...(l.renewTime !== undefined ? { renewTime: l.renewTime } : {}),
    ...(l.error !== undefined ? { error: l.error } : {}),
  };
}

const worst = (a: HealthState, b: HealthState): HealthState => {
  const rank: Record<HealthState, number> = { ok: 0, unknown: 1, warning: 2, error: 3 };
  return rank[b] > rank[a] ? b : a;
};

export function webhookHealthOf(r: HealthReads, x: HealthExtras): WebhookHealth {
  const { webhook, secret } = r.admission;
  const problems: string[] = [];
  let state: HealthState = 'ok';
  const flag = (s: HealthState, problem: string): void => {
    state = worst(state, s);
    problems.push(problem);
  };

  const secretDigest = secret.found ? secret.caBundleDigest : undefined;
  const entries: WebhookEntryHealth[] = webhook.found
    ? webhook.entries.map((e) => ({
        name: e.name,
        caBundleDigest: e.caBundleDigest,
        caBundleMatches: secretDigest !== undefined && e.caBundleDigest === secretDigest,
        target: e.url ?? (e.service ? `service ${e.service.namespace}/${e.service.name}:${e.service.port}${e.service.path}` : '(no target)'),
        runs: entryIdOfName(e.name, webhook.name) ?? 'other',
      }))
    : [];
  // Both shapes at once (a half-done switch of webhook_entries, or two installs): every pod pays both.
  const single = entries.some((e) => e.runs === SINGLE_ENTRY_ID);
  const separate = entries.filter((e) => e.runs !== SINGLE_ENTRY_ID && e.runs !== 'other');
  if (single && separate.length > 0) {
    flag('warning', `MutatingWebhookConfiguration ${webhook.name} has the single entry and ${separate.map((e) => e.name).join(', ')} too: each pod is sent to Tether ${separate.length + 1} times (the leader keeps only the shape admission_controller.webhook_entries asks for)`);
  }
  if (!webhook.found) flag(/forbidden|not allowed|403/i.test(webhook.error) ? 'unknown' : 'error', `MutatingWebhookConfiguration ${webhook.name}: ${webhook.error}`);
  else if (entries.length === 0) flag('error', `MutatingWebhookConfiguration ${webhook.name} has no webhooks: no pod is sent to Tether`);
  if (!secret.found) flag('error', `Secret ${secret.namespace}/${secret.name}: ${secret.error}`);
  for (const e of entries) {
    if (secretDigest !== undefined && !e.caBundleMatches) {
      flag('error', `the caBundle of ${e.name} (digest ${e.caBundleDigest}) is not the Secret's CA bundle (digest ${secretDigest}): the API server cannot verify the webhook's certificate, so pods are created without injection (the leader repairs it; see tether diagnose --check webhook-configuration)`);
    }
  }
  const left = secret.found ? secret.certificateExpiresInMs : undefined;
  if (secret.found && left === undefined) flag('warning', `the serving certificate in Secret ${secret.namespace}/${secret.name} cannot be read: ${secret.durationBeforeExpiration}`);
  else if (left !== undefined && left <= 0) flag('error', `the serving certificate expired ${secret.found ? secret.certificateExpiresAt : ''}; the API server refuses it`);
  else if (left !== undefined && left < x.servingRenewBeforeMs) flag('warning', `the serving certificate expires in ${secret.found ? secret.durationBeforeExpiration : ''}, within its renewal window: the leader should have renewed it`);
  if (r.leader.state !== 'Running') flag('warning', `leader Lease ${r.leader.lease}: ${r.leader.state}${r.leader.error ? ` (${r.leader.error})` : ''}: no replica runs the certificate and webhook controllers`);
  const failed = (x.recentFailures ?? []).reduce((n, f) => n + f.count, 0);
  if (failed > 0) flag('warning', `${failed} admission request${failed === 1 ? '' : 's'} answered with an error or rejected recently (see recentFailures and the logs)`);

  return {
    at: r.at.toISOString(),
    state,
    problems,
    configuration: {
      name: webhook.name,
      present: webhook.found,
      ...(webhook.found ? { createdAt: webhook.createdAt } : { error: webhook.error }),
      entries,
    },
    secret: {
      name: `${secret.namespace}/${secret.name}`,
      present: secret.found,
      ...(secret.found
        ? {
            caBundleDigest: secret.caBundleDigest,
            ...(secret.certificateExpiresAt !== undefined ? { certificateExpiresAt: secret.certificateExpiresAt } : {}),
            ...(secret.certificateExpiresInMs !== undefined ? { certificateExpiresInMs: secret.certificateExpiresInMs } : {}),
          }
        : { error: secret.error }),
    },
    leader: leaderInfo(r.leader, x.identity),
    ...(x.traffic ? { traffic: x.traffic } : {}),
    ...(x.recentFailures ? { recentFailures: x.recentFailures } : {}),
  };
}

/** The parts of a health answer that, when they change, are worth an event (not the clock-driven ones). */
export function healthFingerprint(h: WebhookHealth): string {
  return JSON.stringify([h.state, h.problems, h.configuration.present, h.configuration.entries, h.secret.caBundleDigest, h.secret.certificateExpiresAt, h.leader?.holderIdentity, h.leader?.state]);
}

/** The webhook configuration's creation time (epoch seconds), when it exists. */
export function webhookSinceS(r: HealthReads): number | undefined {
  const w = r.admission.webhook;
  if (!w.found) return undefined;
  const ms = Date.parse(w.createdAt);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

// ---------------------------------------------------------------------------------------------------
// Reads

export interface HealthSource {
  /** The reads, at most `maxAgeMs` old (one read at a time; callers meanwhile share it). */
  get(): Promise<HealthReads>;
  /** The last reads, if any (no I/O). */
  last(): HealthReads | undefined;
}

export interface HealthSourceOptions {
  readonly kube: KubeReader;
  readonly config: TetherConfig;
  readonly namespace: string;
  readonly now?: () => number;
  readonly maxAgeMs?: number;
  readonly timeoutMs?: number;
}

export async function readHealth(o: { kube: KubeReader; config: TetherConfig; namespace: string; now: Date; signal: AbortSignal }): Promise<HealthReads> {
  const paths = statusPaths(o.config, o.namespace);
  const attempt = async <T>(read: () => Promise<T | undefined>): Promise<Read<T>> => {
    try {
      return { ok: true, value: await read() };
    } catch (e) {
      return { ok: false, error: e instanceof ApiError ? e.message : (e as Error).message };
    }
  };
  const get = <T>(path: string) => attempt(() => o.kube.get<T>(path, o.signal));
  const [webhook, secret, certificates, lease, nodeAgents] = await Promise.all([
    get<MutatingWebhookConfiguration>(paths.webhook),
    attempt(() => o.kube.getMetadata(paths.secret, o.signal)),
    get<ConfigMap>(paths.caConfigMap),
    get<Lease>(paths.lease),
    get<ConfigMap>(paths.nodeAgents),
  ]);
  return {
    at: o.now,
    admission: admissionStatus({
      webhookName: o.config['admission_controller.webhook_name'],
      secretName: o.config['admission_controller.certificate.secret_name'],
      namespace: o.namespace,
      webhook,
      secret,
      certificates,
      now: o.now,
    }),
    leader: leaderElectionStatus(o.namespace, o.config.leader_lease_name, lease, o.now),
    nodeAgents: nodeAgents.ok ? parseNodeAgentRecords(nodeAgents.value?.data) : new Map(),
    ...(nodeAgents.ok ? {} : { nodeAgentsError: nodeAgents.error }),
  };
}

export function createHealthSource(o: HealthSourceOptions): HealthSource {
  const now = o.now ?? Date.now;
  const maxAge = o.maxAgeMs ?? CONSOLE_HEALTH_MAX_AGE_MS;
  let last: HealthReads | undefined;
  let inFlight: Promise<HealthReads> | undefined;
  return {
    get() {
      if (last && now() - last.at.getTime() < maxAge) return Promise.resolve(last);
      inFlight ??= readHealth({ kube: o.kube, config: o.config, namespace: o.namespace, now: new Date(now()), signal: AbortSignal.timeout(o.timeoutMs ?? 10_000) })
        .then((r) => (last = r))
        .finally(() => (inFlight = undefined));
      return inFlight;
    },
    last: () => last,
  };
}
