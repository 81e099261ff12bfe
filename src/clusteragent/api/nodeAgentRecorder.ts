/**
 * Records, per node, what each node agent last reported of its kubelet and what this cluster agent API
 * answered it, into ConfigMap `datadog-node-agents` (agentapi/nodeAgentReport.ts), for `tether status`
 * and `diagnose`.
 *
 * The API handler calls `record` on every request that names a node; that only updates memory. Writes
 * are batched: at most one per `NODE_AGENT_REPORT_FLUSH_MS`, and only of nodes whose report changed (or
 * whose `lastSeen` is a refresh period old), so node agents asking every 10 s cost the API server one
 * small write now and then, not one per request. Every replica records the node agents connected to it;
 * each write is a conditional update of a fresh read merged with what the others wrote (newest report
 * per node wins), retried on Conflict. A write that fails is logged with the permission it needs and
 * retried at the next flush; it never affects the answers.
 */
import {
  NODE_AGENT_REPORT_FLUSH_MS,
  NODE_AGENT_REPORT_REFRESH_MS,
  NODE_AGENT_REPORT_RETENTION_MS,
} from '../../config/limits.js';
import { Conflict, type ConfigMapStore } from '../../kube/configMaps.js';
import type { Logger } from '../../logging/logger.js';
import { mergeNodeAgentRecords, sameReport, type ClusterAgentAnswer, type KubeletReport, type NodeAgentRecord } from '../../agentapi/nodeAgentReport.js';

export interface NodeAgentRecorder {
  /**
   * A request from the node agent of `node`: its kubelet report (`undefined`: keep the last one, as for
   * a refused request, whose header is not to be trusted) and this API's answer.
   */
  record(node: string, kubelet: KubeletReport | undefined, answer: ClusterAgentAnswer): void;
}

/** The handler's default: records nothing. */
export const NOOP_NODE_AGENT_RECORDER: NodeAgentRecorder = { record() {} };

export interface NodeAgentReportWriter extends NodeAgentRecorder {
  /** Writes what changed now (tests; `stop`). Never rejects. */
  flush(signal?: AbortSignal): Promise<void>;
  /** Stops the timer and writes what is left (bounded by `FINAL_FLUSH_TIMEOUT_MS`). */
  stop(): Promise<void>;
}

export interface RecorderTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

const REAL_TIMERS: RecorderTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
};

export interface NodeAgentReportWriterOptions {
  readonly store: ConfigMapStore;
  readonly logger: Logger;
  readonly timers?: RecorderTimers;
  readonly flushMs?: number;
  readonly refreshMs?: number;
  readonly retentionMs?: number;
}

/** A write that keeps conflicting with other replicas' writes is given up until the next flush. */
const MAX_ATTEMPTS = 5;
const FINAL_FLUSH_TIMEOUT_MS = 5_000;
const WRITE_TIMEOUT_MS = 10_000;

export function createNodeAgentReportWriter(opts: NodeAgentReportWriterOptions): NodeAgentReportWriter {
  const timers = opts.timers ?? REAL_TIMERS;
  const flushMs = opts.flushMs ?? NODE_AGENT_REPORT_FLUSH_MS;
  const refreshMs = opts.refreshMs ?? NODE_AGENT_REPORT_REFRESH_MS;
  const retentionMs = opts.retentionMs ?? NODE_AGENT_REPORT_RETENTION_MS;
  const log = opts.logger.child({ component: 'node-agent-reports' });

  /** This replica's newest record per node. */
  const latest = new Map<string, NodeAgentRecord>();
  /** What this replica last wrote per node (or found newer in the ConfigMap). */
  const written = new Map<string, NodeAgentRecord>();
  const dirty = new Set<string>();
  let timer: unknown;
  let lastFlushMs = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<void> | undefined;
  let stopped = false;
  let loggedFailure: string | undefined;

  const schedule = (): void => {
    if (timer !== undefined || stopped || dirty.size === 0) return;
    const wait = Math.max(0, lastFlushMs + flushMs - timers.now());
    timer = timers.setTimeout(() => {
      timer = undefined;
      void flush();
    }, wait);
  };

  const write = async (mine: Map<string, NodeAgentRecord>, signal: AbortSignal): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      const current = await opts.store.get(signal);
      const changes = mergeNodeAgentRecords(current?.data, mine, timers.now() - retentionMs);
      if (Object.keys(changes).length === 0) return;
      try {
        if (current) await opts.store.update(current.resourceVersion, { data: changes }, signal);
        else await opts.store.create({ data: changes }, signal);
        return;
      } catch (e) {
        // Another replica wrote (or created it) in between: read again and merge with theirs.
        if (!(e instanceof Conflict) || attempt >= MAX_ATTEMPTS) throw e;
      }
    }
  };

  const flushOnce = async (signal: AbortSignal): Promise<void> => {
    if (dirty.size === 0) return;
    lastFlushMs = timers.now();
    const mine = new Map<string, NodeAgentRecord>();
    for (const node of dirty) mine.set(node, latest.get(node)!);
    dirty.clear();
    try {
      await write(mine, signal);
      for (const [node, r] of mine) written.set(node, r);
      if (loggedFailure !== undefined) log.info({ configMap: opts.store.id }, `node agent reports are written to ConfigMap ${opts.store.id} again`);
      loggedFailure = undefined;
    } catch (e) {
      // Kept for the next flush, unless a newer record came meanwhile.
      for (const node of mine.keys()) dirty.add(node);
      const message = (e as Error).message;
      const fields = { configMap: opts.store.id, nodes: mine.size, problem: message };
      const line = `cannot write node agent reports to ConfigMap ${opts.store.id} (${message}); tether status and diagnose will not show them. Fix: the cluster agent's service account needs create on configmaps and get, update on ConfigMap ${opts.store.id} (deploy/rbac.yaml).`;
      if (loggedFailure !== message) log.warn(fields, line);
      else log.debug(fields, line);
      loggedFailure = message;
    }
  };

  const flush = (signal: AbortSignal = AbortSignal.timeout(WRITE_TIMEOUT_MS)): Promise<void> => {
    // One write at a time; records that came during it are written by the next.
    const run = (inFlight ?? Promise.resolve()).then(() => flushOnce(signal)).finally(() => {
      if (inFlight === run) inFlight = undefined;
      schedule();
    });
    inFlight = run;
    return run;
  };

  return {
    record(node, kubelet, answer) {
      if (stopped) return;
      const now = timers.now();
      const r: NodeAgentRecord = {
        lastSeen: new Date(now).toISOString(),
        kubelet: kubelet ?? latest.get(node)?.kubelet ?? { state: 'unknown' },
        clusterAgent: answer,
      };
      latest.set(node, r);
      const was = written.get(node);
      if (!was || !sameReport(was, r) || now - Date.parse(was.lastSeen) >= refreshMs) {
        dirty.add(node);
        schedule();
      }
    },
    flush,
    async stop() {
      stopped = true;
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
      await flush(AbortSignal.timeout(FINAL_FLUSH_TIMEOUT_MS));
    },
  };
}
