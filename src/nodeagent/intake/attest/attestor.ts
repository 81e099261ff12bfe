/**
 * The intake's attestation (`decide.ts`), wired: a Unix peer's pid read through `/proc` (`pidOrigins.ts`),
 * an address looked up in the pods, every verdict counted by transport and outcome (in `/intake` and
 * `tether_node_agent_intake_attestation_total`), and a mis-attribution (a pod claiming another) logged at
 * warn once per `ATTEST_MISMATCH_LOG_INTERVAL_MS`, naming both pods and the sender.
 */
import { Counter, type Registry } from 'prom-client';
import { ATTEST_MISMATCH_LOG_INTERVAL_MS } from '../../../config/limits.js';
import type { Logger } from '../../../logging/logger.js';
import type { PodLookup } from '../origin.js';
import type { Origin, Sender } from '../types.js';
import { decideByAddress, decideBySocket, OUTCOMES, type Outcome, type Verdict } from './decide.js';
import type { PidOrigins } from './pidOrigins.js';

export type AttestTransport = 'dogstatsd-udp' | 'dogstatsd-unix' | 'traces-tcp' | 'traces-unix';
export const ATTEST_TRANSPORTS: readonly AttestTransport[] = ['dogstatsd-udp', 'dogstatsd-unix', 'traces-tcp', 'traces-unix'];

export interface AttestationStats {
  /** Verdicts by transport and outcome (`overridden` and `untrusted` are the mis-attribution attempts). */
  readonly verdicts: Readonly<Record<AttestTransport, Readonly<Record<Outcome, number>>>>;
  /** The last mis-attribution seen, for people: which pod claimed to be which. */
  readonly lastMisattribution: { readonly at: string; readonly transport: AttestTransport; readonly sender: string; readonly claimed: string; readonly attributedTo: string } | null;
}

export interface Attestor {
  /** The origin to resolve for data claiming `claim`, sent by `sender` over `transport`. */
  origin(claim: Origin, sender: Sender, transport: AttestTransport): Origin;
  stats(): AttestationStats;
}

export interface AttestorOptions {
  readonly pods: PodLookup;
  readonly pids: PidOrigins;
  readonly logger: Logger;
  readonly registry?: Registry;
  readonly now?: () => number;
}

const zero = (): Record<Outcome, number> => Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;

export function createAttestor(opts: AttestorOptions): Attestor {
  const now = opts.now ?? Date.now;
  const verdicts = Object.fromEntries(ATTEST_TRANSPORTS.map((t) => [t, zero()])) as Record<AttestTransport, Record<Outcome, number>>;
  // The last mis-attribution, formatted only when asked for (a flood of them costs no strings).
  let last: { atMs: number; transport: AttestTransport; sender: Sender; verdict: Verdict } | null = null;
  let lastLogMs = Number.NEGATIVE_INFINITY;
  let notLogged = 0;

  if (opts.registry) {
    new Counter({
      name: 'tether_node_agent_intake_attestation_total',
      help: "Origins checked against what the kernel (Unix socket peer credentials) or the network (source address) says, by transport and outcome: attested, claim (taken, nothing to check against), host (a process of the node), unattested (pid not visible: hostPID off; or sent through a host port, masqueraded to the node\'s address), overridden and untrusted (a claim of a pod the sender is not: mis-attributions).",
      labelNames: ['transport', 'outcome'] as const,
      registers: [opts.registry],
      collect() {
        this.reset();
        for (const t of ATTEST_TRANSPORTS) for (const o of OUTCOMES) this.inc({ transport: t, outcome: o }, verdicts[t][o]);
      },
    });
  }

  const senderText = (s: Sender): string => ('pid' in s ? `pid ${s.pid}` : s.ip);

  const describe = (v: Verdict): { claimed: string; to: string } => {
    const claimed = v.claimed ? `${v.claimed.namespace}/${v.claimed.pod}` : 'unknown';
    const toPod = v.outcome === 'untrusted' ? undefined : opts.pods.claimed(v.origin);
    const to = v.outcome === 'untrusted' ? 'no pod' : toPod ? `${toPod.namespace}/${toPod.pod}` : `a container not listed yet (${JSON.stringify(v.origin)})`;
    return { claimed, to };
  };

  const misattributed = (v: Verdict, sender: Sender, transport: AttestTransport): void => {
    const t = now();
    last = { atMs: t, transport, sender, verdict: v };
    if (t - lastLogMs < ATTEST_MISMATCH_LOG_INTERVAL_MS) {
      notLogged++;
      return;
    }
    const { claimed, to } = describe(v);
    opts.logger.warn(
      { transport, sender: senderText(sender), claimed, attributedTo: to, outcome: v.outcome, ...(notLogged > 0 ? { notLoggedSinceLast: notLogged } : {}) },
      `intake: data from ${senderText(sender)} claimed to come from pod ${claimed} but ${v.outcome === 'untrusted' ? 'cannot have (its address is not that pod\'s): exported without a pod\'s tags' : `comes from ${to}: tagged as ${to}`} (every such attempt is counted in tether_node_agent_intake_attestation_total)`,
    );
    lastLogMs = t;
    notLogged = 0;
  };

  return {
    origin(claim, sender, transport) {
      const v = 'pid' in sender ? decideBySocket(claim, opts.pids.of(sender.pid), opts.pods) : decideByAddress(claim, sender.ip, opts.pods);
      verdicts[transport][v.outcome]++;
      if (v.outcome === 'overridden' || v.outcome === 'untrusted') misattributed(v, sender, transport);
      return v.origin;
    },
    stats() {
      let lastMisattribution: AttestationStats['lastMisattribution'] = null;
      if (last) {
        const { claimed, to } = describe(last.verdict);
        lastMisattribution = { at: new Date(last.atMs).toISOString(), transport: last.transport, sender: senderText(last.sender), claimed, attributedTo: to };
      }
      return { verdicts: Object.fromEntries(ATTEST_TRANSPORTS.map((t) => [t, { ...verdicts[t] }])) as AttestationStats['verdicts'], lastMisattribution };
    },
  };
}
