/**
 * Leader election against an in-memory Lease (resourceVersion conflicts, calls that hang until aborted
 * or forever, failures) on a manual clock: acquisition, renewal, take-over after the holder went quiet,
 * conflicts, step-down at the renew deadline while the API server does not answer, stop() within its cap,
 * and release on stop.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LEADER_RELEASE_TIMEOUT_MS, LEADER_STOP_TIMEOUT_MS } from '../../../src/config/limits.js';
import { electionTimings, leaseWrite, startLeaderElection, type ElectionClock, type LeaderElector } from '../../../src/kube/leaderElection.js';
import { Conflict, type LeaseClient, type LeaseRecord, type StoredLease } from '../../../src/kube/leases.js';
import { recordingLogger, type RecordedLog } from '../../helpers/logs.js';
import { deferred, manualClock } from '../../helpers/manual.js';

const LEASE_MS = 3_000;
const { retryMs: RETRY, renewDeadlineMs: RENEW_DEADLINE, leaseSeconds: LEASE_S } = electionTimings(LEASE_MS);
const WALL_START = Date.UTC(2025, 0, 1);

// ---------------------------------------------------------------------------------------------------
// An in-memory Lease

/**
 * How a client's calls go: answered; never answered (rejected only when aborted); never settled at all
 * (a client that ignores its signal); written but never answered (the response is lost); failed at once.
 */
type Mode = 'answer' | 'hang' | 'hang-ignoring-abort' | 'apply-then-hang' | 'fail';

interface Write {
  readonly by: string;
  readonly op: 'create' | 'update';
  readonly record: LeaseRecord;
}

class FakeLeaseStore {
  stored: StoredLease | undefined;
  readonly writes: Write[] = [];
  private rv = 0;

  /** Sets the Lease as someone else wrote it (a new resourceVersion). */
  put(record: LeaseRecord): StoredLease {
    this.stored = { ...record, resourceVersion: String(++this.rv) };
    return this.stored;
  }

  client(who: string): FakeLeaseClient {
    return new FakeLeaseClient(this, who);
  }

  create(who: string, record: LeaseRecord): StoredLease {
    if (this.stored) throw new Conflict('AlreadyExists');
    this.writes.push({ by: who, op: 'create', record });
    return this.put(record);
  }

  update(who: string, record: StoredLease): StoredLease {
    if (!this.stored || this.stored.resourceVersion !== record.resourceVersion) throw new Conflict('Conflict');
    this.writes.push({ by: who, op: 'update', record });
    const { resourceVersion: _, ...plain } = record;
    return this.put(plain);
  }
}

class FakeLeaseClient implements LeaseClient {
  readonly description = 'tether/leader';
  mode: Mode = 'answer';
  failure: Error = new Error('connect ECONNREFUSED 127.0.0.1:6443');
  /** Runs before a write is applied (another writer sneaking in between our read and write). */
  beforeWrite: (() => void) | undefined;
  /** Calls aborted while hanging. */
  aborted = 0;
  calls = 0;

  constructor(
    private readonly store: FakeLeaseStore,
    readonly who: string,
  ) {}

  private call<T>(signal: AbortSignal, run: () => T): Promise<T> {
    this.calls++;
    switch (this.mode) {
      case 'answer':
        return Promise.resolve().then(run);
      case 'fail':
        return Promise.reject(this.failure);
      case 'hang-ignoring-abort':
        return new Promise<T>(() => {});
      case 'apply-then-hang':
        try {
          run();
        } catch {
          /* a conflict is lost with the response */
        }
        return this.hang(signal);
      case 'hang':
        return this.hang(signal);
    }
  }

  private hang<T>(signal: AbortSignal): Promise<T> {
    return new Promise<T>((_, reject) =>
      signal.addEventListener('abort', () => {
        this.aborted++;
        reject(signal.reason);
      }),
    );
  }

  get(signal: AbortSignal): Promise<StoredLease | undefined> {
    return this.call(signal, () => this.store.stored);
  }
  create(record: LeaseRecord, signal: AbortSignal): Promise<StoredLease> {
    return this.call(signal, () => {
      this.beforeWrite?.();
      return this.store.create(this.who, record);
    });
  }
  update(record: StoredLease, signal: AbortSignal): Promise<StoredLease> {
    return this.call(signal, () => {
      this.beforeWrite?.();
      return this.store.update(this.who, record);
    });
  }
}

// ---------------------------------------------------------------------------------------------------
// Electors on a manual clock

interface Candidate {
  readonly elector: LeaderElector;
  readonly client: FakeLeaseClient;
  readonly log: RecordedLog;
  /** onStartedLeading / onStoppedLeading / onNewLeader, in order. */
  readonly events: string[];
  /** The signals onStartedLeading got. */
  readonly signals: AbortSignal[];
  warnings(): string[];
}

function setup() {
  const clock = manualClock(0);
  let wallOffset = WALL_START;
  const electionClock: ElectionClock = {
    now: clock.now,
    wallNow: () => new Date(wallOffset + clock.now()),
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
  };
  const store = new FakeLeaseStore();
  const start = (identity: string, onStoppedLeading: () => void | Promise<void> = () => {}): Candidate => {
    const client = store.client(identity);
    const log = recordingLogger();
    const events: string[] = [];
    const signals: AbortSignal[] = [];
    const elector = startLeaderElection({
      leases: client,
      identity,
      leaseDurationMs: LEASE_MS,
      logger: log.logger,
      clock: electionClock,
      onStartedLeading: (signal) => {
        events.push('started');
        signals.push(signal);
      },
      onStoppedLeading: () => {
        events.push('stopped');
        return onStoppedLeading();
      },
      onNewLeader: (id) => events.push(`leader:${id}`),
    });
    const warnings = () => log.lines().filter((l) => l['level'] === 40).map((l) => `${String(l['msg'])}${l['problem'] ? `: ${String(l['problem'])}` : ''}`);
    return { elector, client, log, events, signals, warnings };
  };
  /** Whether `p` has settled, without waiting for it. */
  const settledFlag = (p: Promise<unknown>) => {
    const s = { done: false };
    void p.finally(() => (s.done = true));
    return s;
  };
  return { clock, store, start, settledFlag, wall: () => wallOffset + clock.now(), stepWall: (ms: number) => void (wallOffset += ms) };
}

/** A small deterministic PRNG, so a failing schedule can be replayed. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------------

describe('leaseWrite (what one attempt writes)', () => {
  const now = new Date(WALL_START);
  const earlier = new Date(WALL_START - 60_000);
  const o = { identity: 'me', leaseSeconds: 15, wallNow: now, holderExpired: false };
  const stored = (r: Partial<LeaseRecord>): StoredLease => ({ holderIdentity: 'other', leaseDurationSeconds: 15, acquireTime: earlier, renewTime: earlier, leaseTransitions: 3, resourceVersion: '7', ...r });

  test('no Lease: create it, held by us, no transitions yet', () => {
    assert.deepEqual(leaseWrite(undefined, o), { create: { holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: now, renewTime: now, leaseTransitions: 0 } });
  });
  test('ours: renew it, keeping acquireTime and the transitions, at the resourceVersion read', () => {
    assert.deepEqual(leaseWrite(stored({ holderIdentity: 'me' }), o), { update: { holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: earlier, renewTime: now, leaseTransitions: 3, resourceVersion: '7' } });
  });
  test("another's, still running: nothing", () => {
    assert.equal(leaseWrite(stored({}), o), undefined);
  });
  test("another's, expired: take it over, one more transition", () => {
    assert.deepEqual(leaseWrite(stored({}), { ...o, holderExpired: true }), { update: { holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: now, renewTime: now, leaseTransitions: 4, resourceVersion: '7' } });
  });
  test('released (no holder): take it at once, not counted as a transition', () => {
    assert.deepEqual(leaseWrite(stored({ holderIdentity: '', leaseDurationSeconds: 1 }), o), { update: { holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: now, renewTime: now, leaseTransitions: 3, resourceVersion: '7' } });
  });
});

describe('leader election', () => {
  test('timings for a 3 s lease: retry 400 ms, renew deadline 2 s, 3 s written', () => {
    assert.deepEqual({ RETRY, RENEW_DEADLINE, LEASE_S }, { RETRY: 400, RENEW_DEADLINE: 2_000, LEASE_S: 3 });
  });

  test('a free Lease is taken at once and renewed every retry period', async () => {
    const { clock, store, start, wall } = setup();
    const a = start('a');
    await clock.tick();
    assert.equal(a.elector.isLeader(), true);
    assert.equal(a.elector.leader(), 'a');
    assert.deepEqual(a.events, ['started']);
    const t0 = new Date(wall());
    assert.deepEqual(store.stored, { holderIdentity: 'a', leaseDurationSeconds: LEASE_S, acquireTime: t0, renewTime: t0, leaseTransitions: 0, resourceVersion: '1' });
    await clock.tick(RETRY);
    assert.deepEqual(store.stored, { holderIdentity: 'a', leaseDurationSeconds: LEASE_S, acquireTime: t0, renewTime: new Date(wall()), leaseTransitions: 0, resourceVersion: '2' });
    await clock.tick(10 * LEASE_MS);
    assert.equal(a.elector.isLeader(), true);
    assert.deepEqual(a.events, ['started']);
    assert.deepEqual(a.warnings(), []);
    await a.elector.stop();
  });

  test('a Lease another replica keeps renewing is never taken', async () => {
    const { clock, start } = setup();
    const a = start('a');
    await clock.tick();
    const b = start('b');
    await clock.tick(20 * LEASE_MS);
    assert.equal(a.elector.isLeader(), true);
    assert.equal(b.elector.isLeader(), false);
    assert.equal(b.elector.leader(), 'a');
    assert.deepEqual(b.events, ['leader:a']);
    await b.elector.stop();
    await a.elector.stop();
  });

  test('a holder that stopped renewing is taken over leaseDuration after the record last changed, on the monotonic clock', async () => {
    const { clock, store, start, stepWall, wall } = setup();
    // The holder's renewTime is far in the future (its clock is wrong): only our own clock counts.
    const future = new Date(WALL_START + 86_400_000);
    store.put({ holderIdentity: 'gone', leaseDurationSeconds: LEASE_S, acquireTime: future, renewTime: future, leaseTransitions: 4 });
    const b = start('b');
    await clock.tick();
    assert.deepEqual(b.events, ['leader:gone']);
    // The wall clock steps back an hour: changes nothing either.
    stepWall(-3_600_000);
    // Attempts every 400 ms: at 2800 ms the 3 s have not passed since the record was seen at 0...
    await clock.tick(LEASE_MS - 1);
    assert.equal(b.elector.isLeader(), false);
    assert.equal(store.stored?.holderIdentity, 'gone');
    // ...at 3200 ms they have.
    await clock.tick(Math.ceil(LEASE_MS / RETRY) * RETRY - (LEASE_MS - 1));
    assert.equal(b.elector.isLeader(), true);
    assert.deepEqual(b.events, ['leader:gone', 'started']);
    assert.equal(store.stored?.holderIdentity, 'b');
    assert.equal(store.stored?.leaseTransitions, 5);
    assert.deepEqual(store.stored?.acquireTime, new Date(wall()));
    await b.elector.stop();
  });

  test('a write that conflicts (someone wrote between our read and write) is not leadership, and not a problem', async () => {
    const { clock, store, start } = setup();
    const a = start('a');
    a.client.beforeWrite = () => {
      a.client.beforeWrite = undefined;
      store.put({ holderIdentity: 'b', leaseDurationSeconds: LEASE_S, leaseTransitions: 0 });
    };
    await clock.tick();
    assert.equal(a.elector.isLeader(), false);
    assert.deepEqual(a.events, []);
    assert.equal(store.stored?.holderIdentity, 'b');
    // The next attempt reads b's record; b never renews, so a takes over leaseDuration after seeing it.
    await clock.tick(RETRY);
    assert.equal(a.elector.leader(), 'b');
    // Seen at RETRY; expired at RETRY + LEASE_MS, taken at the first attempt from then on.
    await clock.tick(LEASE_MS - 1);
    assert.equal(a.elector.isLeader(), false);
    await clock.tick(RETRY);
    assert.equal(a.elector.isLeader(), true);
    assert.equal(store.stored?.holderIdentity, 'a');
    assert.deepEqual(a.warnings(), []);
    await a.elector.stop();
  });

  test('a renewal that conflicts: the leader keeps trying until its renew deadline, then steps down', async () => {
    const { clock, store, start } = setup();
    const a = start('a');
    await clock.tick();
    // From now on every write of a's loses to another writer that keeps the holder a's (e.g. a label edit).
    a.client.beforeWrite = () => void store.put({ ...store.stored!, holderIdentity: 'a' });
    await clock.tick(RENEW_DEADLINE - 1);
    assert.equal(a.elector.isLeader(), true);
    await clock.tick(1);
    assert.equal(a.elector.isLeader(), false);
    assert.deepEqual(a.events, ['started', 'stopped']);
    a.client.beforeWrite = undefined;
    await a.elector.stop();
  });

  for (const mode of ['hang', 'hang-ignoring-abort', 'apply-then-hang'] as const) {
    test(`the API server stops answering after the Lease was won (${mode}): the leader steps down at the renew deadline, not later`, async () => {
      const { clock, start } = setup();
      const a = start('a');
      await clock.tick();
      // One more renewal succeeds, started at RETRY: the deadline counts from there.
      await clock.tick(RETRY);
      assert.equal(a.elector.isLeader(), true);
      a.client.mode = mode;
      await clock.tick(RENEW_DEADLINE - 1);
      assert.equal(a.elector.isLeader(), true);
      assert.equal(a.signals[0]?.aborted, false);
      await clock.tick(1);
      // Exactly RETRY + RENEW_DEADLINE: the hanging renewal was abandoned, leadership is over.
      assert.equal(clock.now(), RETRY + RENEW_DEADLINE);
      assert.equal(a.elector.isLeader(), false);
      assert.equal(a.signals[0]?.aborted, true);
      assert.deepEqual(a.events, ['started', 'stopped']);
      assert.ok(a.warnings().includes('could not renew the leader Lease in time: stepping down'), a.warnings().join('\n'));
      if (mode !== 'hang-ignoring-abort') assert.ok(a.client.aborted >= 1, 'the hanging call was aborted, closing its connection');
      const stopped = a.elector.stop();
      await clock.tick(LEADER_STOP_TIMEOUT_MS);
      await stopped;
    });
  }

  test('isLeader() is false from the deadline on, even before any timer has run', async () => {
    const { clock, start } = setup();
    const a = start('a');
    await clock.tick();
    a.client.mode = 'hang-ignoring-abort';
    clock.advance(RENEW_DEADLINE); // time moves, no timer runs
    assert.equal(a.elector.isLeader(), false);
    await clock.tick();
    assert.deepEqual(a.events, ['started', 'stopped']);
    const stopped = a.elector.stop();
    await clock.tick(LEADER_STOP_TIMEOUT_MS);
    await stopped;
  });

  test('an acquisition that gets no answer is abandoned after the renew deadline, and tried again', async () => {
    const { clock, store, start } = setup();
    const a = start('a');
    a.client.mode = 'hang';
    await clock.tick(RENEW_DEADLINE);
    assert.equal(a.client.aborted, 1);
    assert.deepEqual(a.warnings(), ['could not read or write the leader Lease: the API server did not answer in time']);
    a.client.mode = 'answer';
    await clock.tick(RETRY);
    assert.equal(a.elector.isLeader(), true);
    assert.equal(store.stored?.holderIdentity, 'a');
    await a.elector.stop();
  });

  test('a long outage is one warning per distinct problem', async () => {
    const { clock, start } = setup();
    const a = start('a');
    a.client.mode = 'fail';
    await clock.tick(10 * RETRY);
    a.client.failure = new Error('forbidden');
    await clock.tick(10 * RETRY);
    assert.deepEqual(a.warnings(), ['could not read or write the leader Lease: connect ECONNREFUSED 127.0.0.1:6443', 'could not read or write the leader Lease: forbidden']);
    a.client.mode = 'answer';
    await clock.tick(RETRY);
    assert.equal(a.elector.isLeader(), true);
    await a.elector.stop();
  });

  test('stop() releases the Lease after the leader-only work stopped: another replica takes over at its next try', async () => {
    const { clock, store, start } = setup();
    const work = deferred<void>();
    const a = start('a', () => work.promise);
    await clock.tick();
    const b = start('b');
    await clock.tick(RETRY / 2);
    assert.equal(b.elector.leader(), 'a');
    const stopped = a.elector.stop();
    await clock.tick();
    assert.equal(a.elector.isLeader(), false);
    assert.equal(a.signals[0]?.aborted, true);
    // Not released while the leader-only work is still stopping.
    assert.equal(store.stored?.holderIdentity, 'a');
    work.resolve();
    await clock.tick();
    await stopped;
    assert.match(a.log.text(), /released the leader Lease/);
    assert.equal(store.stored?.holderIdentity, '');
    assert.equal(store.stored?.leaseDurationSeconds, 1);
    await clock.tick(RETRY);
    assert.equal(b.elector.isLeader(), true);
    assert.equal(store.stored?.holderIdentity, 'b');
    assert.equal(store.stored?.leaseTransitions, 0, 'taking a released Lease is not a transition');
    await b.elector.stop();
  });

  test('stop() while every call hangs (even ignoring its signal) resolves within the cap; the release is tried once', async () => {
    const { clock, start, settledFlag } = setup();
    const a = start('a');
    await clock.tick();
    a.client.mode = 'hang-ignoring-abort';
    await clock.tick(RETRY + 1); // a renewal is hanging now
    const callsBefore = a.client.calls;
    const t0 = clock.now();
    const stopped = settledFlag(a.elector.stop());
    await clock.tick(LEADER_RELEASE_TIMEOUT_MS - 1);
    assert.equal(stopped.done, false);
    await clock.tick(1);
    assert.equal(stopped.done, true);
    assert.ok(clock.now() - t0 <= LEADER_STOP_TIMEOUT_MS);
    assert.equal(a.client.calls - callsBefore, 1, 'one release attempt');
    assert.deepEqual(a.events, ['started', 'stopped']);
    assert.ok(a.warnings().some((w) => w.startsWith('could not release the leader Lease')), a.warnings().join('\n'));
  });

  test('stop() when the leader-only work never stops: resolves at the cap, without releasing the Lease', async () => {
    const { clock, store, start, settledFlag } = setup();
    const a = start('a', () => new Promise<void>(() => {}));
    await clock.tick();
    a.client.mode = 'hang';
    await clock.tick(RETRY + 1);
    const t0 = clock.now();
    const stopped = settledFlag(a.elector.stop());
    await clock.tick(LEADER_STOP_TIMEOUT_MS - LEADER_RELEASE_TIMEOUT_MS - 1);
    assert.equal(stopped.done, false);
    await clock.tick(1);
    assert.equal(stopped.done, true);
    assert.ok(clock.now() - t0 <= LEADER_STOP_TIMEOUT_MS);
    assert.equal(store.stored?.holderIdentity, 'a', 'not released beside work still running');
    assert.ok(a.warnings().some((w) => w.startsWith('the leader-only work did not stop in time')), a.warnings().join('\n'));
  });

  test('after stepping down, stop() never releases the stale record; the next leader waits for the lease to expire', async () => {
    const { clock, store, start } = setup();
    const a = start('a');
    await clock.tick();
    const b = start('b');
    await clock.tick(RETRY / 2);
    a.client.mode = 'hang';
    await clock.tick(RENEW_DEADLINE);
    assert.equal(a.elector.isLeader(), false);
    // The API server answers again, but a is stopped before it could renew.
    a.client.mode = 'answer';
    const writesBefore = store.writes.length;
    await a.elector.stop();
    assert.deepEqual(store.writes.slice(writesBefore), []);
    assert.doesNotMatch(a.log.text(), /released the leader Lease/);
    // b saw a's record (written at 0, never renewed) at 0, and takes it over only leaseDuration later.
    assert.equal(b.elector.isLeader(), false);
    await clock.tick(LEASE_MS + RETRY);
    assert.equal(b.elector.isLeader(), true);
    assert.equal(store.stored?.leaseTransitions, 1);
    await b.elector.stop();
  });

  test('a stopped elector: stop() again resolves too, nothing more is written', async () => {
    const { clock, store, start } = setup();
    const a = start('a');
    await clock.tick();
    await a.elector.stop();
    const writes = store.writes.length;
    await a.elector.stop();
    await clock.tick(10 * LEASE_MS);
    assert.equal(store.writes.length, writes);
    assert.equal(a.elector.isLeader(), false);
  });

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    test(`two electors on one Lease never both lead, whatever the API server does (seed ${seed})`, async () => {
      const { clock, start, store } = setup();
      const random = prng(seed);
      const modes: Mode[] = ['answer', 'answer', 'answer', 'answer', 'hang', 'hang-ignoring-abort', 'apply-then-hang', 'fail'];
      const a = start('a');
      const b = start('b');
      let both = 0;
      let changes = 0;
      let last: string | undefined;
      const check = () => {
        const leaders = [a, b].filter((c) => c.elector.isLeader()).map((c) => c.client.who);
        if (leaders.length > 1) both++;
        if (leaders[0] && leaders[0] !== last) {
          changes++;
          last = leaders[0];
        }
      };
      for (let step = 0; step < 300; step++) {
        for (const c of [a, b]) if (random() < 0.3) c.client.mode = modes[Math.floor(random() * modes.length)]!;
        // Checked after every timer: that is when leadership can start.
        await clock.tick(Math.floor(random() * 1_500), check);
      }
      assert.equal(both, 0, 'both led at once');
      assert.ok(changes >= 2, `leadership changed hands ${changes} times: the schedule exercised too little`);
      // Every "started" is followed by a "stopped" before the next "started".
      for (const c of [a, b]) {
        const s = c.events.filter((e) => e === 'started' || e === 'stopped');
        s.forEach((e, i) => assert.equal(e, i % 2 === 0 ? 'started' : 'stopped', s.join(',')));
      }
      a.client.mode = 'answer';
      b.client.mode = 'answer';
      await Promise.all([a.elector.stop(), b.elector.stop(), clock.tick(LEADER_STOP_TIMEOUT_MS)]);
      assert.ok(store.writes.length > 0);
    });
  }
});
