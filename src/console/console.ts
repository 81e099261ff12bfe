/**
 * The console, assembled (issue 12): the cluster state's changes feed the counts index and the event
 * stream; webhook health and node agent reports are read through `status`'s reads; diagnose runs
 * in-process; the handler answers the API and the page. The same assembly serves `tether start` (in the
 * cluster agent API server, `served: 'cluster'`) and `tether console` (from an operator's kubeconfig,
 * `served: 'local'`); only what they hand in differs.
 */
import type { Registry } from 'prom-client';
import type { ClusterChanges, ClusterView } from '../clusterview/types.js';
import { defaultTagsOf, type TagsOf } from '../clusterview/tags.js';
import { packageVersion } from '../agentapi/version.js';
import { sameReport, type NodeAgentRecord } from '../agentapi/nodeAgentReport.js';
import type { TetherConfig } from '../config/index.js';
import { servingRenewBeforeMs } from '../certs/policy.js';
import { CONSOLE_HEALTH_MAX_AGE_MS } from '../config/limits.js';
import type { Check, DiagnoseContext } from '../diagnose/check.js';
import { CHECKS } from '../diagnose/checks/index.js';
import { hostPathRefusal } from '../diagnose/checks/socketModePlatform.js';
import type { KubeReader } from '../kube/reader.js';
import type { Logger } from '../logging/logger.js';
import { nodeExists, nodeRow, podRow, type ConsoleData } from './answers.js';
import { createConsoleAuth, type ConsoleAuthFailure } from './auth.js';
import { createDiagnoseRunner, type DiagnoseRunner } from './diagnoseRunner.js';
import { createEventHub, REAL_HUB_TIMERS, type EventHub, type HubTimers } from './events.js';
import { createConsoleHandler, type ConsoleHandler } from './handler.js';
import { createHealthSource, healthFingerprint, leaderInfo, webhookHealthOf, webhookSinceS, type HealthReads } from './health.js';
import type { InjectionContext } from './injection.js';
import { nodeAgentsSummary } from './nodeAgents.js';
import { createPodIndex, type PodIndex } from './podIndex.js';
import { createSessionStore, type SessionStore } from './sessions.js';
import { createStaticServer } from './static.js';
import { createTrafficSampler, sampleRegistry, type TrafficSampler } from './traffic.js';
import type { OverviewAnswer, WebhookHealth } from './types.js';

export interface ConsoleOptions {
  readonly config: TetherConfig;
  /** Tether's namespace. */
  readonly namespace: string;
  readonly view: ClusterView & ClusterChanges;
  /** Reads of the webhook configuration, Secret, Lease and node agent reports. */
  readonly kube: KubeReader;
  /** A fresh diagnose context per run. */
  readonly diagnoseContext: () => Promise<DiagnoseContext>;
  /** Whose permissions diagnose runs with, in words. */
  readonly ranAs: string;
  readonly served: 'cluster' | 'local';
  readonly logger: Logger;
  /**
   * Logs in as `admin` (may run diagnose): `cluster_agent.console.admin_token` (its own Secret, never the
   * token node agents hold), or `tether console`'s one-time token. Absent: nobody logs in as admin.
   */
  readonly adminToken?: string | undefined;
  readonly viewerToken?: string | undefined;
  /** This process's leader-election identity (cluster mode). */
  readonly identity?: string;
  /** The webhook server's metrics registry (cluster mode): request rate, p99, failures. */
  readonly webhookRegistry?: Registry;
  readonly tagsOf?: TagsOf;
  /** Default `CONSOLE_DIST_DIR`. */
  readonly staticDir?: string;
  readonly checks?: readonly Check[];
  readonly timers?: HubTimers;
  /** Counts answered and refused requests (the API's metrics). */
  readonly onAnswer?: (status: number) => void;
  readonly onRefused?: (failure: ConsoleAuthFailure) => void;
}

export interface Console {
  readonly handler: ConsoleHandler;
  readonly sessions: SessionStore;
  readonly hub: EventHub;
  readonly index: PodIndex;
  readonly diagnose: DiagnoseRunner;
  /** The webhook health now (reads at most every `CONSOLE_HEALTH_MAX_AGE_MS`). */
  health(): Promise<WebhookHealth>;
  /** Ends every event stream (`bye: shutdown`), stops the timers and the watch subscription. */
  close(): void;
}

export function startConsole(o: ConsoleOptions): Console {
  const log = o.logger.child({ component: 'console' });
  const timers = o.timers ?? REAL_HUB_TIMERS;
  const now = (): number => timers.now();
  const sessions = createSessionStore({ now });
  const auth = createConsoleAuth({ adminToken: o.adminToken, viewerToken: o.viewerToken, sessions });
  const source = createHealthSource({ kube: o.kube, config: o.config, namespace: o.namespace, now });
  const sampler: TrafficSampler | undefined = o.webhookRegistry ? createTrafficSampler({ read: (t) => sampleRegistry(o.webhookRegistry as Registry, t), now }) : undefined;

  let hostPathRefused: string | undefined;
  const contextOf = (reads: HealthReads | undefined): InjectionContext => ({
    config: o.config,
    tetherNamespace: o.namespace,
    // Until the configuration was read, assume it has always existed: no pod is blamed on its age.
    webhookSinceS: reads ? webhookSinceS(reads) : 0,
    hostPathRefused,
  });
  const index = createPodIndex(o.view, contextOf(undefined));
  const data: ConsoleData = { view: o.view, index, nodeAgents: () => source.last()?.nodeAgents ?? new Map() };

  const hub = createEventHub({
    rowOf: (pod) => podRow(pod, data),
    nodeRowOf: (node) => (nodeExists(node, data) ? nodeRow(node, data) : undefined),
    counts: () => index.totals(),
    timers,
  });
  const unsubscribe = o.view.subscribe((change) => {
    index.apply(change);
    if (change.kind === 'pod') hub.podChanged(change.old, change.pod);
    else hub.nodeChanged(change.name);
  });
  const unlisten = sessions.onEnd((id, reason) => hub.endSession(id, reason));

  /** A new classification context re-counts everything: every stream refetches. */
  const setContext = (ctx: InjectionContext): void => {
    if (!index.setContext(ctx)) return;
    hub.broadcast('resync', { what: 'pods', changes: 0 });
    hub.broadcast('resync', { what: 'nodes', changes: 0 });
    hub.broadcast('counts', index.totals());
  };

  let lastFingerprint: string | undefined;
  let lastReports: ReadonlyMap<string, NodeAgentRecord> | undefined;
  /**
   * Each node whose agent report appeared, went or changed state since the last read gets its row sent
   * again to the streams (not for a newer `lastSeen` alone: every report moves it each refresh period).
   */
  const reportsRead = (reports: ReadonlyMap<string, NodeAgentRecord>): void => {
    if (reports === lastReports) return;
    const before = lastReports ?? new Map<string, NodeAgentRecord>();
    lastReports = reports;
    for (const node of new Set([...before.keys(), ...reports.keys()])) {
      const [was, is] = [before.get(node), reports.get(node)];
      if (!was || !is || !sameReport(was, is)) hub.nodeChanged(node);
    }
  };
  const health = async (): Promise<WebhookHealth> => {
    const reads = await source.get();
    reportsRead(reads.nodeAgents);
    setContext(contextOf(reads));
    const h = webhookHealthOf(reads, {
      ...(o.identity !== undefined ? { identity: o.identity } : {}),
      ...(sampler ? { recentFailures: sampler.recentFailures() } : {}),
      ...(sampler?.traffic() ? { traffic: sampler.traffic()! } : {}),
      servingRenewBeforeMs: servingRenewBeforeMs({ caValidityHours: o.config['admission_controller.certificate.validity_bound'] }),
    });
    const fp = healthFingerprint(h);
    if (lastFingerprint !== undefined && fp !== lastFingerprint) hub.broadcast('webhook', h);
    lastFingerprint = fp;
    return h;
  };

  const diagnose = createDiagnoseRunner({
    checks: o.checks ?? CHECKS,
    context: o.diagnoseContext,
    ranAs: o.ranAs,
    now,
    onChange: (a) => hub.broadcast('diagnose', a),
    onPlatform: (p) => {
      hostPathRefused = hostPathRefusal(p);
      setContext(contextOf(source.last()));
    },
  });

  const overview = async (): Promise<OverviewAnswer> => {
    const h = await health().catch((e: unknown) => {
      log.warn({ err: e }, 'could not read the webhook health for the console');
      return undefined;
    });
    const reads = source.last();
    const latest = diagnose.answer().latest;
    const problems = o.view
      .syncStatus()
      .filter((s) => !s.synced || s.lastError !== undefined)
      .map((s) => `${s.resource}: ${s.lastError ? `failing: ${s.lastError}` : 'not listed yet'}`);
    const clusterId = o.view.clusterId();
    return {
      at: new Date(now()).toISOString(),
      ...(clusterId !== undefined ? { clusterId } : {}),
      synced: o.view.isSynced(),
      syncProblems: problems,
      counts: index.totals(),
      ...(reads ? { leader: leaderInfo(reads.leader, o.identity) } : {}),
      webhook: h ? { state: h.state, problems: h.problems } : { state: 'unknown', problems: ['the webhook configuration could not be read'] },
      nodeAgents: nodeAgentsSummary(reads?.nodeAgents ?? new Map(), o.view.nodes(), now()),
      ...(latest ? { diagnose: latest.summary } : {}),
    };
  };

  // While someone watches, health is polled so that its changes reach the streams.
  const poll = timers.setInterval(() => {
    if (hub.clients() > 0) void health().catch(() => {});
  }, CONSOLE_HEALTH_MAX_AGE_MS);
  const sweep = timers.setInterval(() => sessions.sweep(), 60_000);
  void health().catch((e: unknown) => log.debug({ err: e }, 'first webhook health read failed'));

  const handler = createConsoleHandler({
    data,
    auth,
    sessions,
    hub,
    diagnose,
    staticFiles: createStaticServer(o.staticDir !== undefined ? { dir: o.staticDir } : {}),
    health,
    overview,
    refreshNodeAgents: () =>
      health().then(
        () => undefined,
        (e: unknown) => log.warn({ err: e }, 'could not read the node agent reports for the console'),
      ),
    tagsOf: o.tagsOf ?? defaultTagsOf,
    served: o.served,
    namespace: o.namespace,
    version: packageVersion(),
    logger: o.logger,
    now,
    ...(o.onAnswer ? { onAnswer: o.onAnswer } : {}),
    ...(o.onRefused ? { onRefused: o.onRefused } : {}),
  });

  let closed = false;
  return {
    handler,
    sessions,
    hub,
    index,
    diagnose,
    health,
    close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      unlisten();
      timers.clearInterval(poll);
      timers.clearInterval(sweep);
      sampler?.stop();
      hub.close('shutdown');
    },
  };
}
