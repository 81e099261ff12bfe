/**
 * Prometheus metrics of one webhook server (SPEC §6). Each server has its own Registry rather than
 * prom-client's global one, so several servers (tests, `tether start` next to other components) never
 * collide on metric names.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EntryId } from '../admission/index.js';

/**
 * What happened to one admission request:
 * - `mutated`: answered with a patch; `unchanged`: the pod was selected but needed nothing (reinvocation,
 *   already injected); `skipped`: not a pod create, or the pod is not selected (SPEC §3);
 * - `error`: answered `allowed: true` without a patch because of a problem on our side or an object we
 *   could not read (fail open); `rejected`: not answered with a review (400, 405, 413, 415).
 */
export const ADMISSION_OUTCOMES = ['mutated', 'unchanged', 'skipped', 'error', 'rejected'] as const;
export type AdmissionOutcome = (typeof ADMISSION_OUTCOMES)[number];

/** Sub-millisecond buckets too: a mutation without outside facts takes well under 1 ms. */
const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface ServerMetrics {
  readonly registry: Registry;
  observeRequest(webhook: EntryId, outcome: AdmissionOutcome, seconds: number): void;
  /** Counts things injected (an env var, a volume, an init container...), from the core's decisions. */
  addMutations(webhook: EntryId, count: number): void;
  setCertificateExpiry(notAfter: Date): void;
  /** Counts a TLS connection by the protocol its client chose (ALPN `h2`, else `http/1.1`). */
  countConnection(protocol: string): void;
}

/**
 * Observations held back before prom-client gets them, at most: a scrape takes them all at once (the
 * metrics' `collect` hooks), and a server nobody scrapes hands them over in batches of this many.
 */
const OBSERVATION_BATCH = 512;

/** What one webhook entry has counted since prom-client last got it. */
interface PendingCounts {
  readonly requests: Record<AdmissionOutcome, number>;
  mutations: number;
  /** Durations in seconds, in the order observed. */
  readonly durations: number[];
}

const noRequests = (): Record<AdmissionOutcome, number> => ({ mutated: 0, unchanged: 0, skipped: 0, error: 0, rejected: 0 });

export function createServerMetrics(webhooks: readonly EntryId[]): ServerMetrics {
  const registry = new Registry();
  // The review path counts into plain numbers and arrays: prom-client's own calls hash their labels and
  // find a bucket by a number-to-string key on every call, a few microseconds of a review that costs
  // well under a hundred. prom-client gets the counts at each scrape (`collect`) or once a batch is full.
  const pending = new Map<EntryId, PendingCounts>();
  const flushRequests = () => {
    for (const [webhook, p] of pending) {
      for (const outcome of ADMISSION_OUTCOMES) {
        if (p.requests[outcome] === 0) continue;
        requests.inc({ webhook, outcome }, p.requests[outcome]);
        p.requests[outcome] = 0;
      }
    }
  };
  const flushDurations = () => {
    for (const [webhook, p] of pending) {
      if (p.durations.length === 0) continue;
      const child = duration.labels({ webhook });
      for (const seconds of p.durations) child.observe(seconds);
      p.durations.length = 0;
    }
  };
  const flushMutations = () => {
    for (const [webhook, p] of pending) {
      if (p.mutations === 0) continue;
      mutations.inc({ webhook }, p.mutations);
      p.mutations = 0;
    }
  };
  const requests = new Counter({
    name: 'tether_admission_requests_total',
    help: 'Admission requests answered, per webhook and outcome (mutated, unchanged, skipped, error, rejected).',
    labelNames: ['webhook', 'outcome'] as const,
    registers: [registry],
    collect: flushRequests,
  });
  const duration = new Histogram({
    name: 'tether_admission_request_duration_seconds',
    help: 'Time from receiving an admission request to having answered it, per webhook.',
    labelNames: ['webhook'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
    collect: flushDurations,
  });
  const mutations = new Counter({
    name: 'tether_admission_mutations_total',
    help: 'Things injected into pods (environment variables, volumes, mounts, init containers), per webhook.',
    labelNames: ['webhook'] as const,
    registers: [registry],
    collect: flushMutations,
  });
  const expiry = new Gauge({
    name: 'tether_certificate_expiry_timestamp_seconds',
    help: 'Expiry (notAfter) of the certificate the webhook server presents, as a Unix timestamp.',
    registers: [registry],
  });
  const connections = new Counter({
    name: 'tether_webhook_connections_total',
    help: 'TLS connections accepted on the webhook port, per protocol the client chose (h2: the API server multiplexes its calls on it; http/1.1).',
    labelNames: ['protocol'] as const,
    registers: [registry],
  });
  const pendingOf = (webhook: EntryId): PendingCounts => {
    let p = pending.get(webhook);
    if (!p) {
      p = { requests: noRequests(), mutations: 0, durations: [] };
      pending.set(webhook, p);
    }
    return p;
  };
  // Series exist from the start, so dashboards and alerts see 0 rather than "no data".
  for (const webhook of webhooks) {
    pendingOf(webhook);
    for (const outcome of ADMISSION_OUTCOMES) requests.inc({ webhook, outcome }, 0);
    mutations.inc({ webhook }, 0);
  }
  return {
    registry,
    observeRequest(webhook, outcome, seconds) {
      const p = pendingOf(webhook);
      p.requests[outcome]++;
      if (p.durations.push(seconds) >= OBSERVATION_BATCH) {
        flushDurations();
        flushRequests();
      }
    },
    addMutations(webhook, count) {
      if (count > 0) pendingOf(webhook).mutations += count;
    },
    countConnection(protocol) {
      connections.inc({ protocol });
    },
    setCertificateExpiry(notAfter) {
      expiry.set(notAfter.getTime() / 1000);
    },
  };
}
