/**
 * The node agent's loop (SPEC §9): every `NODE_AGENT_SYNC_INTERVAL_MS` it reads its kubelet's pods and
 * asks the cluster agent for their tags, each on its own schedule (a failing upstream is retried with a
 * capped backoff and never holds up the other), and keeps what its status endpoint serves: its node's
 * pods with their tags, each upstream's last result, and a count per result.
 *
 * Failures never stop it. Each is logged as one line with its fix, once per change (the same failure
 * repeated goes to debug), and recovery once. When the cluster agent fails, the last tags it gave are
 * kept and marked stale, with their age.
 */
import { envVarFor, NODE_AGENT_RETRY_BASE_MS, NODE_AGENT_RETRY_MAX_MS, NODE_AGENT_SYNC_INTERVAL_MS } from '../config/index.js';
import type { NodePodsAnswer, PodServicesAnswer } from '../agentapi/types.js';
import type { KubeletReport } from '../agentapi/nodeAgentReport.js';
import type { Logger } from '../logging/logger.js';
import type { KubeletPod, KubeletSource } from './kubeletSource.js';
import type { NodeAgentMetrics, RequestResult } from './metrics.js';
import { joinPodTags, type ClusterTags, type PodWithTags, type TagsSource } from './podTags.js';
import { UpstreamError, type Upstream, type UpstreamProblem } from './problems.js';

/**
 * What the agent asks the cluster agent (`ClusterAgentClient` implements it). Each request carries the
 * agent's last kubelet result, so that the cluster agent can record it for `tether status` and `diagnose`.
 */
export interface ClusterAgentSource {
  readonly url: string;
  nodePods(node: string, signal?: AbortSignal, report?: KubeletReport): Promise<NodePodsAnswer>;
  podServices(node: string, signal?: AbortSignal, report?: KubeletReport): Promise<PodServicesAnswer>;
}

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

const REAL_TIMERS: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
};

export interface NodeAgentOptions {
  /** `kubernetes_kubelet_nodename`; required (see `NodeAgentRefused`). */
  readonly nodeName: string | undefined;
  readonly kubelet: KubeletSource;
  /** The cluster agent to ask, or why there is none (its endpoint unknown, no token): reported, never asked. */
  readonly clusterAgent: ClusterAgentSource | UpstreamProblem;
  /** How the cluster agent's URL was found, for the status. */
  readonly clusterAgentFoundFrom?: string;
  readonly logger: Logger;
  readonly metrics?: NodeAgentMetrics;
  readonly timers?: Timers;
  readonly intervalMs?: number;
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
}

export type UpstreamState = 'unknown' | 'ok' | 'failing' | 'not-configured';

export interface UpstreamStatus {
  readonly state: UpstreamState;
  readonly lastSuccess: string | null;
  readonly lastAttempt: string | null;
  readonly consecutiveFailures: number;
  /** The current problem (`null` once it answered again). */
  readonly problem: UpstreamProblem | null;
  readonly problemSince: string | null;
  /** Requests by result since start: `ok` and each problem code seen. */
  readonly results: Readonly<Partial<Record<RequestResult, number>>>;
}

export interface TagsStatus {
  readonly source: TagsSource | 'none';
  /** When the cluster agent last answered. */
  readonly asOf: string | null;
  readonly ageSeconds: number | null;
  /** The cluster agent's last request failed: these are the tags of its last answer. */
  readonly stale: boolean;
}

export interface NodeAgentStatus {
  readonly node: string;
  readonly startedAt: string;
  /** The kubelet has been read at least once. */
  readonly ready: boolean;
  readonly clusterAgent: { readonly url: string; readonly foundFrom: string | null } | null;
  readonly pods: { readonly count: number; readonly foreignDropped: number };
  readonly tags: TagsStatus;
  readonly upstreams: Readonly<Record<Upstream, UpstreamStatus>>;
}

export interface NodeAgent {
  readonly nodeName: string;
  /** Starts both loops (each syncs at once). */
  start(): void;
  /** Stops the loops and aborts requests in flight. */
  stop(): Promise<void>;
  /** One read of the kubelet (the loop calls it; tests too). Never rejects. */
  syncKubelet(): Promise<void>;
  /** One request round to the cluster agent. Never rejects. */
  syncClusterAgent(): Promise<void>;
  /** Both, one after the other (the intake asks when data names a pod it does not know yet). Never rejects. */
  refresh(): Promise<void>;
  ready(): boolean;
  pods(): readonly PodWithTags[];
  status(): NodeAgentStatus;
}

/** The node agent cannot run with this configuration; the message says why and what to set. */
export class NodeAgentRefused extends Error {
  override name = 'NodeAgentRefused';
}

const NODE_NAME_VAR = envVarFor('kubernetes_kubelet_nodename');
const KUBELET_HOST_VAR = envVarFor('kubernetes_kubelet_host');

/** The refusal of a node agent without a node name (exported for the CLI, which checks before building anything). */
export function requireNodeName(nodeName: string | undefined): string {
  if (nodeName) return nodeName;
  throw new NodeAgentRefused(
    `kubernetes_kubelet_nodename (${NODE_NAME_VAR}) is not set: the node agent must know its node to keep only that node's pods. ` +
      `A node agent that does not know its node reports pods of other nodes as its own, which is how an overview comes to show every pod of the cluster on every node. ` +
      `Set ${NODE_NAME_VAR} from the downward API (env valueFrom fieldRef spec.nodeName, as deploy/node-agent.yaml does).`,
  );
}

/** The wait before retry number `failures` (1, 2, ...): doubling from `baseMs`, capped at `maxMs` (pure). */
export function retryDelayMs(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
}

interface MutableUpstream {
  lastSuccessMs: number | undefined;
  lastAttemptMs: number | undefined;
  failures: number;
  problem: UpstreamProblem | undefined;
  problemSinceMs: number | undefined;
  /** The problem last logged at warn, as a key: the same one again goes to debug. */
  loggedKey: string | undefined;
  results: Partial<Record<RequestResult, number>>;
}

const problemKey = (p: UpstreamProblem): string => `${p.code}|${p.status ?? ''}|${p.summary}`;
const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

export function createNodeAgent(opts: NodeAgentOptions): NodeAgent {
  const node = requireNodeName(opts.nodeName);
  const timers = opts.timers ?? REAL_TIMERS;
  const log = opts.logger.child({ component: 'node-agent', node });
  const intervalMs = opts.intervalMs ?? NODE_AGENT_SYNC_INTERVAL_MS;
  const retryBaseMs = opts.retryBaseMs ?? NODE_AGENT_RETRY_BASE_MS;
  const retryMaxMs = opts.retryMaxMs ?? NODE_AGENT_RETRY_MAX_MS;
  const startedAtMs = timers.now();
  const clusterAgent = 'nodePods' in opts.clusterAgent ? opts.clusterAgent : undefined;

  const upstream = (): MutableUpstream => ({ lastSuccessMs: undefined, lastAttemptMs: undefined, failures: 0, problem: undefined, problemSinceMs: undefined, loggedKey: undefined, results: {} });
  const state: Record<Upstream, MutableUpstream> = { kubelet: upstream(), 'cluster-agent': upstream() };

  let kubeletPods: KubeletPod[] | undefined;
  let foreignDropped = 0;
  let clusterTags: ClusterTags | undefined;
  /** The cluster agent does not serve Tether's API: ask the stack's `/api/v1/tags/pod/{node}` instead, until restart. */
  let servicesOnly = false;
  let joined: PodWithTags[] = [];
  const rejoin = () => {
    joined = joinPodTags(kubeletPods ?? [], clusterTags);
    opts.metrics?.setPods(joined.length, foreignDropped);
  };
  opts.metrics?.tagsAge(() => {
    const at = state['cluster-agent'].lastSuccessMs;
    return at === undefined ? undefined : (timers.now() - at) / 1000;
  });

  const succeeded = (which: Upstream): void => {
    const s = state[which];
    const now = timers.now();
    s.lastAttemptMs = now;
    s.lastSuccessMs = now;
    s.results.ok = (s.results.ok ?? 0) + 1;
    opts.metrics?.observe(which, 'ok', now);
    if (s.problem) log.info({ upstream: which, after: s.failures, was: s.problem.code }, `${which} answers again (after ${s.failures} failed ${s.failures === 1 ? 'request' : 'requests'})`);
    s.failures = 0;
    s.problem = undefined;
    s.problemSinceMs = undefined;
    s.loggedKey = undefined;
  };

  const failed = (which: Upstream, problem: UpstreamProblem, counted = true): void => {
    const s = state[which];
    const now = timers.now();
    s.lastAttemptMs = now;
    if (counted) {
      s.failures++;
      s.results[problem.code] = (s.results[problem.code] ?? 0) + 1;
      opts.metrics?.observe(which, problem.code, now);
    }
    if (!s.problem || problemKey(s.problem) !== problemKey(problem)) s.problemSinceMs = now;
    s.problem = problem;
    const key = problemKey(problem);
    const fields = { upstream: which, code: problem.code, ...(problem.status !== undefined ? { status: problem.status } : {}), failures: s.failures };
    const line = `${problem.summary} Fix: ${problem.fix}`;
    if (key !== s.loggedKey) {
      s.loggedKey = key;
      log.warn(fields, line);
    } else log.debug(fields, line);
  };

  /** An error that is not an `UpstreamError` is a bug in a client: reported as such, never thrown out of the loop. */
  const asProblem = (which: Upstream, e: unknown): UpstreamProblem =>
    e instanceof UpstreamError
      ? e.problem
      : { upstream: which, code: 'bad-answer', summary: `unexpected error asking the ${which}: ${(e as Error)?.message ?? String(e)}.`, fix: 'This is a bug in Tether: please report it with this log line.' };

  let stopped = false;
  const abort = new AbortController();
  const isAbort = (e: unknown) => abort.signal.aborted && !(e instanceof UpstreamError);

  const syncKubelet = async (): Promise<void> => {
    let answer: { readonly pods: readonly KubeletPod[]; readonly foreign: number };
    try {
      answer = await opts.kubelet.pods(abort.signal);
    } catch (e) {
      if (isAbort(e)) return;
      failed('kubelet', asProblem('kubelet', e));
      return;
    }
    // The client keeps only this node's pods already; checked again here, because a pod of another node
    // shown as this node's is exactly the failure this agent exists to prevent.
    const own = answer.pods.filter((p) => p.nodeName === node);
    const foreign = answer.foreign + (answer.pods.length - own.length);
    if (foreign > 0 && foreignDropped === 0) {
      log.warn(
        { upstream: 'kubelet', foreign, own: own.length },
        `the kubelet returned ${foreign} pods bound to other nodes; they were dropped. Fix: ${KUBELET_HOST_VAR} must be this node's own address (downward API status.hostIP), not another node's kubelet or a proxy in front of several.`,
      );
    } else if (foreign === 0 && foreignDropped > 0) log.info({ upstream: 'kubelet' }, 'the kubelet returns only pods of this node again');
    else if (foreign > 0) log.debug({ upstream: 'kubelet', foreign }, `the kubelet returned ${foreign} pods bound to other nodes; dropped`);
    foreignDropped = foreign;
    kubeletPods = own;
    succeeded('kubelet');
    rejoin();
  };

  /** The kubelet's last result as the cluster agent records it: state and problem, no counts. */
  const kubeletReport = (): KubeletReport => {
    const k = state.kubelet;
    if (k.problem) return { state: 'failing', code: k.problem.code, ...(k.problem.status !== undefined ? { status: k.problem.status } : {}), summary: k.problem.summary };
    return { state: k.lastSuccessMs !== undefined ? 'ok' : 'unknown' };
  };

  const syncClusterAgent = async (): Promise<void> => {
    if (!clusterAgent) {
      failed('cluster-agent', opts.clusterAgent as UpstreamProblem, false);
      return;
    }
    const report = kubeletReport();
    try {
      if (!servicesOnly) {
        try {
          const answer = await clusterAgent.nodePods(node, abort.signal, report);
          clusterTags = { kind: 'pods', byUid: new Map(answer.pods.map((p) => [p.uid, [...p.tags].sort()])) };
        } catch (e) {
          if (!(e instanceof UpstreamError && e.problem.code === 'bad-answer' && e.problem.status === 404)) throw e;
          servicesOnly = true;
          log.warn(
            { upstream: 'cluster-agent', url: clusterAgent.url },
            `the cluster agent at ${clusterAgent.url} does not serve Tether's /api/v1/tether/pods (another cluster agent, or an older Tether): asking /api/v1/tags/pod instead, whose tags are the Services only, until this node agent restarts.`,
          );
        }
      }
      if (servicesOnly) {
        const answer = await clusterAgent.podServices(node, abort.signal, report);
        clusterTags = { kind: 'services', services: answer.Nodes[node]?.services ?? {} };
      }
    } catch (e) {
      if (isAbort(e)) return;
      failed('cluster-agent', asProblem('cluster-agent', e));
      return;
    }
    succeeded('cluster-agent');
    rejoin();
  };

  const timersRunning = new Set<unknown>();
  const inFlight = new Set<Promise<void>>();
  const loop = (which: Upstream, sync: () => Promise<void>): void => {
    const run = () => {
      if (stopped) return;
      const p = sync().finally(() => {
        inFlight.delete(p);
        if (stopped) return;
        const failures = state[which].failures;
        const delay = failures === 0 ? intervalMs : retryDelayMs(failures, retryBaseMs, retryMaxMs);
        const id = timers.setTimeout(() => {
          timersRunning.delete(id);
          run();
        }, delay);
        timersRunning.add(id);
      });
      inFlight.add(p);
    };
    run();
  };

  const upstreamStatus = (which: Upstream): UpstreamStatus => {
    const s = state[which];
    const notConfigured = which === 'cluster-agent' && !clusterAgent;
    return {
      state: notConfigured ? 'not-configured' : s.problem ? 'failing' : s.lastSuccessMs !== undefined ? 'ok' : 'unknown',
      lastSuccess: iso(s.lastSuccessMs),
      lastAttempt: iso(s.lastAttemptMs),
      consecutiveFailures: s.failures,
      problem: s.problem ?? (notConfigured ? (opts.clusterAgent as UpstreamProblem) : null),
      problemSince: iso(s.problemSinceMs ?? (notConfigured ? startedAtMs : undefined)),
      results: { ...s.results },
    };
  };

  return {
    nodeName: node,
    start() {
      if (!clusterAgent) failed('cluster-agent', opts.clusterAgent as UpstreamProblem, false);
      loop('kubelet', syncKubelet);
      if (clusterAgent) loop('cluster-agent', syncClusterAgent);
    },
    async stop() {
      stopped = true;
      for (const id of timersRunning) timers.clearTimeout(id);
      timersRunning.clear();
      abort.abort();
      await Promise.allSettled([...inFlight]);
    },
    syncKubelet,
    syncClusterAgent,
    refresh: async () => {
      await syncKubelet();
      await syncClusterAgent();
    },
    ready: () => kubeletPods !== undefined,
    pods: () => joined,
    status(): NodeAgentStatus {
      const ca = state['cluster-agent'];
      const now = timers.now();
      return {
        node,
        startedAt: new Date(startedAtMs).toISOString(),
        ready: kubeletPods !== undefined,
        clusterAgent: clusterAgent ? { url: clusterAgent.url, foundFrom: opts.clusterAgentFoundFrom ?? null } : null,
        pods: { count: joined.length, foreignDropped },
        tags: {
          source: clusterTags === undefined ? 'none' : clusterTags.kind === 'pods' ? 'cluster-agent' : 'cluster-agent-services',
          asOf: iso(ca.lastSuccessMs),
          ageSeconds: ca.lastSuccessMs === undefined ? null : Math.max(0, Math.round((now - ca.lastSuccessMs) / 1000)),
          stale: clusterTags !== undefined && ca.problem !== undefined,
        },
        upstreams: { kubelet: upstreamStatus('kubelet'), 'cluster-agent': upstreamStatus('cluster-agent') },
      };
    },
  };
}

