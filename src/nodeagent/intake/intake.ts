/**
 * The node agent's intake, wired (I/O; each part is its own module): the DogStatsD intake and the trace
 * receiver take what injected pods send, the origin resolver (over the node agent's pods) names each
 * one's pod, and, when `otlp_endpoint` is set, the OTLP pipeline exports the result.
 *
 * Start: the receivers bind their ports and sockets (a port in use rejects: a configuration error);
 * DogStatsD flushes every window by itself, each flush going to the OTLP pipeline. Stop: the receivers
 * close first (nothing new comes in), DogStatsD flushes its current window, then the exporters drain
 * until the deadline.
 */
import { Counter, type Registry } from 'prom-client';
import { NODE_AGENT_UNKNOWN_ORIGIN_RESYNC_MS, OTLP_STOP_DEADLINE_MS, type TetherConfig } from '../../config/index.js';
import type { Logger } from '../../logging/logger.js';
import type { Timers } from '../agent.js';
import type { PodWithTags } from '../podTags.js';
import { createDogStatsDIntake, type DogStatsDConfig, type DogStatsDIntake } from './dogstatsd/index.js';
import { createOriginResolver, UNKNOWN_ORIGIN_REASONS, type CountingOriginResolver, type OriginStats } from './origin.js';
import { createAttestor, type AttestationStats, type Attestor } from './attest/attestor.js';
import { createPidOrigins, type PidOrigins } from './attest/pidOrigins.js';
import { createOtlpPipeline, otlpUrls, type OtlpPipeline } from './otlp/pipeline.js';
import type { OtlpSignal } from './otlp/exporterMetrics.js';
import { createTraceReceiverMetrics } from './traces/metrics.js';
import { createDroppedEndpoints, type DroppedCounts } from './traces/dropped.js';
import { createPrioritySampler } from './traces/prioritySampler.js';
import { createTraceReceiver, type TraceReceiver, type TraceReceiverAddress, type TraceReceiverConfig } from './traces/receiver.js';

export type IntakeConfig = DogStatsDConfig & TraceReceiverConfig & Pick<TetherConfig, 'apm_config.max_traces_per_second' | 'otlp_endpoint' | 'otlp_traces_endpoint' | 'otlp_metrics_endpoint' | 'otlp_logs_endpoint' | 'otlp_retry_max_interval_seconds' | 'otlp_retry_max_elapsed_seconds'>;

/**
 * `fn` started when called, unless a call is still running or the last one started less than
 * `minIntervalMs` ago (then the call is dropped: the next one after the interval does the work).
 */
export function rateLimited(fn: () => Promise<void>, minIntervalMs: number, now: () => number): () => void {
  let running = false;
  let lastStart = Number.NEGATIVE_INFINITY;
  return () => {
    const t = now();
    if (running || t - lastStart < minIntervalMs) return;
    running = true;
    lastStart = t;
    void fn().finally(() => (running = false));
  };
}

export interface NodeIntakeOptions {
  readonly config: IntakeConfig;
  /** The node agent's pods with their tags (`NodeAgent.pods`). */
  readonly pods: () => readonly PodWithTags[];
  readonly logger: Logger;
  /** The node agent's registry: the intake's counters go to its `/metrics`. */
  readonly registry: Registry;
  readonly timers?: Timers;
  /**
   * Re-reads the node's pods and their tags (the node agent's kubelet and cluster agent syncs), called
   * when data names a pod the list does not hold yet; at most one at a time and one per
   * `NODE_AGENT_UNKNOWN_ORIGIN_RESYNC_MS`. Never rejects.
   */
  readonly refreshPods?: () => Promise<void>;
  /** Where a Unix socket sender's pid is looked up (`/proc/<pid>/cgroup`); tests hand their own. */
  readonly pids?: PidOrigins;
  /** Test overrides: the TCP port of the trace receiver (0: a free one), the DogStatsD window. */
  readonly traceListenPort?: number;
  readonly traceHost?: string;
  readonly windowMs?: number;
}

export interface NodeIntakeStatus {
  readonly dogstatsd: ReturnType<DogStatsDIntake['status']>;
  readonly traces: TraceReceiverAddress & { readonly rateByService: Readonly<Record<string, number>>; readonly dropped: DroppedCounts };
  readonly origins: OriginStats;
  /** Claims checked against senders: verdicts by transport, the last mis-attribution. */
  readonly attestation: AttestationStats;
  readonly otlp: Partial<Record<OtlpSignal, { readonly url: string; readonly queued: { readonly requests: number; readonly bytes: number } }>>;
}

export interface NodeIntake {
  readonly resolver: CountingOriginResolver;
  readonly attestor: Attestor;
  readonly dogstatsd: DogStatsDIntake;
  readonly traces: TraceReceiver;
  readonly otlp: OtlpPipeline | undefined;
  start(): Promise<void>;
  /** Closes the receivers, flushes the DogStatsD window and lets the exporters drain up to `deadlineMs`. */
  stop(deadlineMs?: number): Promise<void>;
  status(): NodeIntakeStatus;
}

function registerOriginMetrics(registry: Registry, resolver: CountingOriginResolver): void {
  new Counter({
    name: 'tether_node_agent_intake_origins_total',
    help: "Origins of DogStatsD series and trace payloads looked up, by result: pod (resolved to a pod of this node), or why not: no-origin, unknown-pod, unknown-container, cgroup-inode. Data of unknown origin is still exported, with only its own tags.",
    labelNames: ['result'] as const,
    registers: [registry],
    collect() {
      const s = resolver.stats();
      this.reset();
      this.inc({ result: 'pod' }, s.resolved);
      for (const r of UNKNOWN_ORIGIN_REASONS) this.inc({ result: r }, s.unknown[r]);
    },
  });
}

export function createNodeIntake(opts: NodeIntakeOptions): NodeIntake {
  const log = opts.logger.child({ component: 'intake' });
  const cfg = opts.config;
  const refresh = opts.refreshPods;
  const resolver = createOriginResolver(opts.pods, refresh ? rateLimited(refresh, NODE_AGENT_UNKNOWN_ORIGIN_RESYNC_MS, opts.timers?.now ?? Date.now) : undefined);
  registerOriginMetrics(opts.registry, resolver);
  const attestor = createAttestor({ pods: resolver, pids: opts.pids ?? createPidOrigins(), logger: log, registry: opts.registry, ...(opts.timers ? { now: opts.timers.now } : {}) });

  const urls = otlpUrls(cfg);
  const otlp = urls.traces || urls.metrics || urls.logs
    ? createOtlpPipeline({
        urls,
        registry: opts.registry,
        logger: opts.logger,
        retryMaxMs: cfg.otlp_retry_max_interval_seconds * 1000,
        maxElapsedMs: cfg.otlp_retry_max_elapsed_seconds * 1000,
        ...(opts.timers ? { timers: opts.timers } : {}),
      })
    : undefined;

  const dogstatsd = createDogStatsDIntake({
    config: cfg,
    resolver,
    attestor,
    logger: opts.logger,
    registry: opts.registry,
    ...(opts.timers ? { clock: opts.timers } : {}),
    ...(opts.windowMs !== undefined ? { windowMs: opts.windowMs } : {}),
  });
  if (otlp)
    dogstatsd.onFlush((series, _stats, logs) => {
      otlp.exportSeries(series);
      otlp.exportLogs(logs);
    });

  const sampler = createPrioritySampler({ targetTps: cfg['apm_config.max_traces_per_second'], now: opts.timers?.now ?? Date.now });
  const dropped = createDroppedEndpoints(opts.registry);
  const traces = createTraceReceiver({
    config: cfg,
    logger: opts.logger,
    metrics: createTraceReceiverMetrics(opts.registry),
    // What the headers claim is checked against the connection's peer first (attested origins win), then
    // resolved as the request comes in (its pod's budgets, its OTLP resource); the decode workers hand
    // back the spans already encoded as OTLP, and their traces counted per service and env.
    attest: (claim, sender) => attestor.origin(claim, sender, 'pid' in sender ? 'traces-unix' : 'traces-tcp'),
    resolveOrigin: (origin) => resolver.resolve(origin),
    output: otlp?.traces ? 'otlp' : 'count',
    rates: () => sampler.body(),
    dropped,
    // Without an exporter the payload is taken and counted by the receiver, and goes nowhere: the
    // tracer is not told to stop sending by an error it would log every flush.
    ...(otlp?.traces ? { sinkHasRoom: (key: string) => otlp.tracesHaveRoom(key) } : {}),
    onPayload: (payload) => {
      // What the app produces, kept or not: the rates say how much of it tracers should send.
      sampler.observe(payload.roots);
      return otlp && payload.otlp ? otlp.takeEncodedTraces(payload.otlp, payload.originKey) : true;
    },
    ...(opts.traceListenPort !== undefined ? { listenPort: opts.traceListenPort } : {}),
    ...(opts.traceHost !== undefined ? { host: opts.traceHost } : {}),
  });

  return {
    resolver,
    attestor,
    dogstatsd,
    traces,
    otlp,
    async start() {
      await dogstatsd.start();
      try {
        await traces.start();
      } catch (e) {
        await dogstatsd.stop();
        throw e;
      }
      if (urls.traces) log.info({ url: urls.traces }, `exporting traces as OTLP to ${urls.traces}`);
      if (urls.metrics) log.info({ url: urls.metrics }, `exporting DogStatsD metrics as OTLP to ${urls.metrics}`);
      if (!urls.traces || !urls.metrics) {
        log.info(
          { traces: urls.traces ?? null, metrics: urls.metrics ?? null },
          `${!urls.traces && !urls.metrics ? 'traces and DogStatsD metrics are' : !urls.traces ? 'traces are' : 'DogStatsD metrics are'} received and counted, not exported: set otlp_endpoint (DD_OTLP_ENDPOINT) to export them (DogStatsD metrics are on /dogstatsd/metrics either way)`,
        );
      }
    },
    async stop(deadlineMs = OTLP_STOP_DEADLINE_MS) {
      await Promise.allSettled([traces.stop(), dogstatsd.stop()]);
      await otlp?.stop(deadlineMs);
    },
    status: () => ({
      dogstatsd: dogstatsd.status(),
      traces: { ...traces.address(), rateByService: sampler.rates(), dropped: dropped.counts() },
      origins: resolver.stats(),
      attestation: attestor.stats(),
      otlp: {
        ...(otlp?.traces ? { traces: { url: otlp.traces.url, queued: otlp.traces.size() } } : {}),
        ...(otlp?.metrics ? { metrics: { url: otlp.metrics.url, queued: otlp.metrics.size() } } : {}),
        ...(otlp?.logs ? { logs: { url: otlp.logs.url, queued: otlp.logs.size() } } : {}),
      },
    }),
  };
}
