/**
 * Leader election on a coordination.k8s.io Lease, as client-go's leaderelection package does it: the
 * holder renews the Lease every `retry`; a candidate takes it over only when the holder has not renewed
 * it for `leaseDuration`, measured on the candidate's own monotonic clock from when it last saw the
 * record change (so neither clock skew between replicas nor a wall-clock step matters); writes are
 * conditional on the Lease's resourceVersion, so two candidates cannot both win.
 *
 * A leader that has not renewed within `renewDeadline` (< leaseDuration) of the start of its last
 * successful write steps down at that moment, before anyone else may take over: every call is aborted
 * when the time left runs out, and leadership ends on a timer, not when a call returns (an API server
 * that stops answering never returns). On stop, a leader releases the Lease so a successor takes over at
 * its next try rather than after a whole lease duration; `stop()` always resolves within
 * `LEADER_STOP_TIMEOUT_MS`.
 *
 * Why the deadline counts from the start of the last successful write: the others measure a lease
 * from when they see it, which is after that write reached the API server, which is after it started.
 * So a leader stepping down at start + renewDeadline is gone `leaseDuration - renewDeadline` before
 * anyone can have taken over.
 */
import { performance } from 'node:perf_hooks';
import { LEADER_RELEASE_TIMEOUT_MS, LEADER_STOP_TIMEOUT_MS, LEASE_RENEW_DEADLINE_FRACTION, LEASE_RETRY_FRACTION } from '../config/limits.js';
import type { Logger } from '../logging/logger.js';
import { deadline, systemTimers, untilAborted, type Timers } from './deadline.js';
import { describeApiError } from './errors.js';
import { Conflict, type LeaseClient, type LeaseRecord, type StoredLease } from './leases.js';

/** Time as leader election sees it. */
export interface ElectionClock extends Timers {
  /** Monotonic milliseconds: every duration (lease expiry, renew deadline) is measured on it. */
  now(): number;
  /** Wall-clock time written into the Lease (acquireTime, renewTime), for people and tools; never compared. */
  wallNow(): Date;
}

export const systemElectionClock: ElectionClock = { now: () => performance.now(), wallNow: () => new Date(), ...systemTimers };

export interface LeaderElectionOptions {
  /** The Lease (`createLeaseClient`). */
  readonly leases: LeaseClient;
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
  /** Default `systemElectionClock` (tests pass a manual one). */
  readonly clock?: ElectionClock;
}

export interface LeaderElector {
  /** False from the moment the renew deadline passes, even while a renewal is still unanswered. */
  isLeader(): boolean;
  /** The holder as last seen, if any. */
  leader(): string | undefined;
  /** Stops campaigning; a leader stops its work and releases the Lease. Resolves within `LEADER_STOP_TIMEOUT_MS`. */
  stop(): Promise<void>;
}

export interface ElectionTimings {
  /** Between attempts, as candidate and as leader. */
  readonly retryMs: number;
  /** A leader steps down this long after the start of its last successful write. */
  readonly renewDeadlineMs: number;
  /** Written into the Lease: what the others wait, after they last saw it change, before taking over. */
  readonly leaseSeconds: number;
}

export function electionTimings(leaseDurationMs: number): ElectionTimings {
  return {
    retryMs: Math.max(100, Math.round(leaseDurationMs * LEASE_RETRY_FRACTION)),
    renewDeadlineMs: Math.round(leaseDurationMs * LEASE_RENEW_DEADLINE_FRACTION),
    leaseSeconds: Math.max(1, Math.round(leaseDurationMs / 1000)),
  };
}

// ---------------------------------------------------------------------------------------------------
// What to write (pure)

export type LeaseWrite = { readonly create: LeaseRecord } | { readonly update: StoredLease };

/**
 * What one attempt writes, given the Lease as read: create it when missing, renew it when it is ours,
 * take it when it is free or its holder's lease ran out (`holderExpired`, judged by the caller on its own
 * clock); nothing while another holder's lease runs.
 */
export function leaseWrite(
  current: StoredLease | undefined,
  o: { readonly identity: string; readonly leaseSeconds: number; readonly wallNow: Date; readonly holderExpired: boolean },
): LeaseWrite | undefined {
  const now = o.wallNow;
  if (!current) return { create: { holderIdentity: o.identity, leaseDurationSeconds: o.leaseSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } };
  const holder = current.holderIdentity;
  const mine = holder === o.identity;
  if (holder && !mine && !o.holderExpired) return undefined;
  return {
    update: {
      ...current,
      holderIdentity: o.identity,
      leaseDurationSeconds: o.leaseSeconds,
      renewTime: now,
      acquireTime: mine && current.acquireTime ? current.acquireTime : now,
      // Taking over from a holder is a transition; taking a released (empty) Lease is not, as in client-go.
      leaseTransitions: current.leaseTransitions + (mine || !holder ? 0 : 1),
    },
  };
}

/** Everything a holder writes: when any of it changes, the holder is alive. */
const recordKey = (r: LeaseRecord): string =>
  [r.holderIdentity, r.leaseDurationSeconds, r.acquireTime?.getTime(), r.renewTime?.getTime(), r.leaseTransitions].join('|');

// ---------------------------------------------------------------------------------------------------
// The elector

export function startLeaderElection(opts: LeaderElectionOptions): LeaderElector {
  const clock = opts.clock ?? systemElectionClock;
  const { retryMs, renewDeadlineMs, leaseSeconds } = electionTimings(opts.leaseDurationMs);
  const log = opts.logger.child({ lease: opts.leases.description, identity: opts.identity });
  const stopping = new AbortController();

  /** While leading: ends (its signal aborts) at `until`, or on stop. */
  let term: { readonly signal: AbortSignal; until: number } | undefined;
  /** The record as last read, and when (monotonic) we first saw it so. */
  let observed: { readonly key: string; readonly at: number } | undefined;
  let lastLeader: string | undefined;
  /** The record we last wrote as holder: what stop() releases. Cleared when it may be stale. */
  let held: StoredLease | undefined;
  /** The last problem warned about: the same one again is logged at debug, so a long outage is one warning. */
  let lastProblem: string | undefined;

  const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const timer = clock.setTimeout(done, ms);
      function done() {
        clock.clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });

  function observe(current: StoredLease): boolean {
    const key = recordKey(current);
    if (observed?.key !== key) observed = { key, at: clock.now() };
    const holder = current.holderIdentity;
    if (holder && holder !== lastLeader) {
      lastLeader = holder;
      if (holder !== opts.identity) {
        log.info({ leader: holder }, `the leader is ${holder}`);
        opts.onNewLeader?.(holder);
      }
    }
    return observed.at + (current.leaseDurationSeconds ?? leaseSeconds) * 1000 <= clock.now();
  }

  /** One read and at most one write, each given up when `signal` aborts: the record written, if we hold the Lease. */
  async function tryAcquireOrRenew(signal: AbortSignal): Promise<StoredLease | undefined> {
    const wallNow = clock.wallNow();
    const current = await untilAborted(opts.leases.get(signal), signal);
    const holderExpired = current ? observe(current) : false;
    const write = leaseWrite(current, { identity: opts.identity, leaseSeconds, wallNow, holderExpired });
    if (!write) return undefined;
    return 'create' in write ? untilAborted(opts.leases.create(write.create, signal), signal) : untilAborted(opts.leases.update(write.update, signal), signal);
  }

  /** True when we hold the Lease afterwards. */
  async function attempt(signal: AbortSignal): Promise<boolean> {
    try {
      const written = await tryAcquireOrRenew(signal);
      lastProblem = undefined;
      if (written) held = written;
      return written !== undefined;
    } catch (e) {
      // A conflict means someone else wrote first: not an error, just not us this time.
      if (e instanceof Conflict || stopping.signal.aborted) return false;
      const problem = signal.aborted ? 'the API server did not answer in time' : describeApiError(e);
      log[problem === lastProblem ? 'debug' : 'warn']({ problem }, 'could not read or write the leader Lease');
      lastProblem = problem;
      return false;
    }
  }

  /** Leads from now until `until` (the last write's start + renewDeadline), renewing every `retry`. */
  async function lead(until: number): Promise<void> {
    const controller = new AbortController();
    const t = { signal: controller.signal, until };
    let expired = false;
    let timer: unknown;
    const arm = () => {
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = clock.setTimeout(() => {
        expired = true;
        controller.abort(new Error('the renew deadline passed'));
      }, t.until - clock.now());
    };
    const onStop = () => controller.abort(new Error('leader election stopped'));
    stopping.signal.addEventListener('abort', onStop, { once: true });
    arm();
    term = t;
    lastLeader = opts.identity;
    log.info('became the leader');
    try {
      opts.onStartedLeading(controller.signal);
    } catch (e) {
      log.error({ problem: e instanceof Error ? e.message : String(e) }, 'starting the leader-only work failed');
    }
    while (!controller.signal.aborted) {
      await sleep(retryMs, controller.signal);
      if (controller.signal.aborted) break;
      const started = clock.now();
      // Bounded by the time left: `controller` aborts at the deadline.
      if (await attempt(controller.signal)) {
        t.until = started + renewDeadlineMs;
        arm();
      }
    }
    clock.clearTimeout(timer);
    stopping.signal.removeEventListener('abort', onStop);
    term = undefined;
    if (expired) {
      log.warn({ renewDeadlineMs }, 'could not renew the leader Lease in time: stepping down');
      // What we last wrote is stale now: never "release" a Lease someone else may hold.
      held = undefined;
    }
    try {
      await opts.onStoppedLeading();
    } catch (e) {
      log.error({ problem: e instanceof Error ? e.message : String(e) }, 'stopping the leader-only work failed');
    }
  }

  async function campaign(): Promise<void> {
    while (!stopping.signal.aborted) {
      const started = clock.now();
      // An acquisition gets the same bound as a renewal: a write answered later could not be led on.
      const bound = deadline(renewDeadlineMs, stopping.signal, clock);
      const won = await attempt(bound.signal);
      bound.dispose();
      if (stopping.signal.aborted) return; // Won just as the stop came: stop() releases it.
      if (won && clock.now() < started + renewDeadlineMs) await lead(started + renewDeadlineMs);
      else {
        if (won) held = undefined; // Answered too late (a late timer): not led on, not released.
        await sleep(retryMs, stopping.signal);
      }
    }
  }

  async function release(budgetMs: number): Promise<void> {
    const record = held;
    held = undefined;
    if (!record || record.holderIdentity !== opts.identity) return;
    const wallNow = clock.wallNow();
    const bound = deadline(budgetMs, undefined, clock);
    try {
      // client-go's ReleaseOnCancel: an empty holder is free for the taking at once.
      const released: StoredLease = { ...record, holderIdentity: '', leaseDurationSeconds: 1, renewTime: wallNow, acquireTime: wallNow };
      await untilAborted(opts.leases.update(released, bound.signal), bound.signal);
      log.info('released the leader Lease');
    } catch (e) {
      const problem = bound.signal.aborted ? `the API server did not answer within ${budgetMs} ms` : describeApiError(e);
      log.warn({ problem }, 'could not release the leader Lease; another replica takes over when it expires');
    } finally {
      bound.dispose();
    }
  }

  async function shutdown(): Promise<void> {
    const t0 = clock.now();
    stopping.abort(new Error('leader election stopped'));
    // Every Lease call and sleep ends at once on `stopping`; only onStoppedLeading can take time.
    const waitMs = LEADER_STOP_TIMEOUT_MS - LEADER_RELEASE_TIMEOUT_MS;
    const cap = deadline(waitMs, undefined, clock);
    const finished = await untilAborted(running, cap.signal).then(
      () => true,
      () => false,
    );
    cap.dispose();
    if (!finished) {
      // Releasing now could start a successor beside work that is still running: let the Lease expire.
      log.warn({ waitedMs: waitMs }, 'the leader-only work did not stop in time; not releasing the leader Lease, another replica takes over when it expires');
      held = undefined;
      return;
    }
    await release(Math.min(LEADER_RELEASE_TIMEOUT_MS, LEADER_STOP_TIMEOUT_MS - (clock.now() - t0)));
  }

  const running = campaign().catch((e: unknown) => {
    // Only a callback can throw here (every Lease call is caught): never leave stop() a rejection.
    log.error({ problem: e instanceof Error ? e.message : String(e) }, 'leader election ended with an error');
  });
  let stopped: Promise<void> | undefined;
  return {
    isLeader: () => term !== undefined && !term.signal.aborted && clock.now() < term.until,
    leader: () => lastLeader,
    stop: () => (stopped ??= shutdown()),
  };
}
