/**
 * Leader election on a coordination.k8s.io Lease, as client-go's leaderelection package does it: the
 * holder renews the Lease every `retry`; a candidate takes it over only when the holder has not renewed
 * it for `leaseDuration`, measured on the candidate's own clock from when it last saw the record change
 * (so clock skew between replicas does not matter); writes use the Lease's resourceVersion, so two
 * candidates cannot both win. A leader that cannot renew within `renewDeadline` (< leaseDuration) steps
 * down before anyone else may take over. On stop, a leader releases the Lease so a successor takes over
 * at its next try rather than after a whole lease duration.
 */
import * as k8s from '@kubernetes/client-node';
import { LEASE_RENEW_DEADLINE_FRACTION, LEASE_RETRY_FRACTION } from '../config/limits.js';
import type { Logger } from '../logging/logger.js';
import { describeApiError, isConflict, isNotFound } from './errors.js';

export interface LeaderElectionOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly namespace: string;
  readonly name: string;
  /** Unique per replica: the pod name plus a random suffix. */
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly logger: Logger;
  /** Leadership won: start leader-only work; `signal` aborts when leadership is lost or released. */
  readonly onStartedLeading: (signal: AbortSignal) => void;
  /** Leadership lost or released (after onStartedLeading); awaited before the Lease is released. */
  readonly onStoppedLeading: () => void | Promise<void>;
  /** Another replica is now the leader (for logs and status). */
  readonly onNewLeader?: (identity: string) => void;
}

export interface LeaderElector {
  isLeader(): boolean;
  /** The holder as last seen, if any. */
  leader(): string | undefined;
  /** Stops campaigning; a leader releases the Lease first. */
  stop(): Promise<void>;
}

interface Observed {
  /** holderIdentity + renewTime as last read: when it changes, the holder is alive. */
  readonly record: string;
  /** Our clock when we saw `record` change. */
  readonly at: number;
}

/**
 * Lease times are MicroTime, which the API server parses only with six fractional digits; client-node
 * writes that form only for its V1MicroTime class (a plain Date has three; what it reads back may be a string).
 */
const microTime = (d: Date | string): k8s.V1MicroTime => new k8s.V1MicroTime(new Date(d).getTime());

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export function startLeaderElection(opts: LeaderElectionOptions): LeaderElector {
  const api = opts.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
  const log = opts.logger.child({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
  const retryMs = Math.max(100, Math.round(opts.leaseDurationMs * LEASE_RETRY_FRACTION));
  const renewDeadlineMs = Math.round(opts.leaseDurationMs * LEASE_RENEW_DEADLINE_FRACTION);
  const leaseSeconds = Math.max(1, Math.round(opts.leaseDurationMs / 1000));
  const stopping = new AbortController();

  let leading: AbortController | undefined;
  let observed: Observed | undefined;
  let lastLeader: string | undefined;
  let lease: k8s.V1Lease | undefined;

  /** One attempt: true when we hold the Lease afterwards. */
  async function tryAcquireOrRenew(): Promise<boolean> {
    const now = microTime(new Date());
    let current: k8s.V1Lease | undefined;
    try {
      current = await api.readNamespacedLease({ name: opts.name, namespace: opts.namespace });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (!current) {
      lease = await api.createNamespacedLease({
        namespace: opts.namespace,
        body: {
          metadata: { name: opts.name, namespace: opts.namespace },
          spec: { holderIdentity: opts.identity, leaseDurationSeconds: leaseSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
        },
      });
      return true;
    }
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const record = `${holder}@${String(spec.renewTime ?? '')}`;
    if (observed?.record !== record) observed = { record, at: Date.now() };
    if (holder && holder !== lastLeader) {
      lastLeader = holder;
      if (holder !== opts.identity) {
        log.info({ leader: holder }, `the leader is ${holder}`);
        opts.onNewLeader?.(holder);
      }
    }
    const mine = holder === opts.identity;
    const heldMs = (spec.leaseDurationSeconds ?? leaseSeconds) * 1000;
    if (holder && !mine && observed.at + heldMs > Date.now()) return false;
    const body: k8s.V1Lease = {
      ...current,
      spec: {
        ...spec,
        holderIdentity: opts.identity,
        leaseDurationSeconds: leaseSeconds,
        renewTime: now,
        acquireTime: mine && spec.acquireTime ? microTime(spec.acquireTime) : now,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine || !holder ? 0 : 1),
      },
    };
    lease = await api.replaceNamespacedLease({ name: opts.name, namespace: opts.namespace, body });
    return true;
  }

  /** The last problem warned about: the same one again is logged at debug, so a long outage is one warning. */
  let lastProblem: string | undefined;
  async function attempt(): Promise<boolean> {
    try {
      const ok = await tryAcquireOrRenew();
      lastProblem = undefined;
      return ok;
    } catch (e) {
      // A conflict means someone else wrote first: not an error, just not us this time.
      if (isConflict(e)) return false;
      const problem = describeApiError(e);
      log[problem === lastProblem ? 'debug' : 'warn']({ problem }, 'could not read or write the leader Lease');
      lastProblem = problem;
      return false;
    }
  }

  async function campaign(): Promise<void> {
    while (!stopping.signal.aborted) {
      if (!(await attempt())) {
        await sleep(retryMs, stopping.signal);
        continue;
      }
      if (stopping.signal.aborted) break;
      lastLeader = opts.identity;
      leading = new AbortController();
      log.info('became the leader');
      opts.onStartedLeading(leading.signal);
      // Renew until a renewal has failed for longer than the renew deadline, or until stopped.
      let lastRenew = Date.now();
      while (!stopping.signal.aborted) {
        await sleep(retryMs, stopping.signal);
        if (stopping.signal.aborted) break;
        if (await attempt()) lastRenew = Date.now();
        else if (Date.now() - lastRenew > renewDeadlineMs) {
          log.warn({ renewDeadlineMs }, 'could not renew the leader Lease in time: stepping down');
          // What we last wrote is stale now: never "release" a Lease someone else may hold.
          lease = undefined;
          break;
        }
      }
      const l = leading;
      leading = undefined;
      l.abort();
      await opts.onStoppedLeading();
    }
  }

  async function release(): Promise<void> {
    if (!lease?.spec || lease.spec.holderIdentity !== opts.identity) return;
    try {
      const now = microTime(new Date());
      // client-go's ReleaseOnCancel: an empty holder is free for the taking at once.
      await api.replaceNamespacedLease({
        name: opts.name,
        namespace: opts.namespace,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now } },
      });
      log.info('released the leader Lease');
    } catch (e) {
      log.warn({ problem: describeApiError(e) }, 'could not release the leader Lease; another replica takes over when it expires');
    }
  }

  const running = campaign();
  return {
    isLeader: () => leading !== undefined,
    leader: () => lastLeader,
    async stop() {
      stopping.abort();
      await running;
      // Also when the Lease was won just as the stop came (release() checks that we hold it).
      await release();
    },
  };
}
