/**
 * The OTLP export of the intake: one exporter per signal behind `otlp_endpoint`, fed with what the
 * receivers produce, already tagged with its pod.
 *
 * - metrics: each DogStatsD flush's series, converted and encoded at once (a flush is one window), in
 *   requests of at most `OTLP_MAX_SERIES_PER_REQUEST` series;
 * - traces: payloads arrive one per tracer flush (every second or two per pod), so they are buffered and
 *   encoded together every `OTLP_TRACE_FLUSH_MS`, or as soon as `OTLP_MAX_SPANS_PER_REQUEST` spans wait:
 *   fewer, larger requests, and the buffer before encoding never holds more than one request's spans.
 * - logs: each DogStatsD flush's service checks and events (`logs.ts`), encoded at once, in requests of
 *   at most `OTLP_MAX_LOG_RECORDS_PER_REQUEST` records;
 * Taking data never blocks: conversion and encoding are in-memory and bounded, and the exporters queue.
 */
import { ProtobufLogsSerializer, ProtobufMetricsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { Registry } from 'prom-client';
import { OTLP_MAX_LOG_RECORDS_PER_REQUEST, OTLP_MAX_SERIES_PER_REQUEST, OTLP_MAX_SPANS_PER_REQUEST, OTLP_QUEUE_MAX_BYTES, OTLP_QUEUE_MAX_BYTES_PER_ORIGIN, OTLP_STOP_DEADLINE_MS, OTLP_TRACE_FLUSH_MS } from '../../../config/index.js';
import type { Logger } from '../../../logging/logger.js';
import type { Timers } from '../../agent.js';
import type { AggregatedSeries, TaggedLogRecord, TaggedTraces } from '../types.js';
import { createOtlpExporter, signalUrl, type OtlpExporter } from './exporter.js';
import { createOtlpExporterMetrics, OTLP_SIGNALS, type OtlpExporterMetrics, type OtlpSignal } from './exporterMetrics.js';
import { encodeLogsRequest, toLogRecords } from './logs.js';
import { encodeMetricsRequest, seriesToResourceMetrics } from './metrics.js';
import { encodeTraceRequest, tracesToSpans } from './traces.js';

export interface OtlpPipelineOptions {
  /** Each signal's full URL (`otlp_traces_endpoint`, or `otlp_endpoint` + `/v1/traces`; `otlpUrls`); a signal without one is not exported. */
  readonly urls: Readonly<Partial<Record<OtlpSignal, string>>>;
  readonly registry: Registry;
  readonly logger: Logger;
  /** `otlp_retry_max_interval_seconds`, in ms. */
  readonly retryMaxMs: number;
  /** `otlp_retry_max_elapsed_seconds`, in ms. */
  readonly maxElapsedMs: number;
  readonly timers?: Timers;
  readonly traceFlushMs?: number;
}

/** Where each signal goes: its own key, else the base URL with the signal's path; neither: not exported. */
export function otlpUrls(config: {
  readonly otlp_endpoint?: string | undefined;
  readonly otlp_traces_endpoint?: string | undefined;
  readonly otlp_metrics_endpoint?: string | undefined;
  readonly otlp_logs_endpoint?: string | undefined;
}): Partial<Record<OtlpSignal, string>> {
  const base = config.otlp_endpoint;
  const own: Record<OtlpSignal, string | undefined> = { traces: config.otlp_traces_endpoint, metrics: config.otlp_metrics_endpoint, logs: config.otlp_logs_endpoint };
  const urls: Partial<Record<OtlpSignal, string>> = {};
  for (const signal of OTLP_SIGNALS) {
    const url = own[signal] ?? (base ? signalUrl(base, signal) : undefined);
    if (url) urls[signal] = url;
  }
  return urls;
}

export interface OtlpPipeline {
  readonly traces: OtlpExporter | undefined;
  readonly metrics: OtlpExporter | undefined;
  readonly logs: OtlpExporter | undefined;
  /** One flush window's series (the DogStatsD intake's `onFlush`). */
  exportSeries(series: readonly AggregatedSeries[]): void;
  /** One flush window's service checks and events (the DogStatsD intake's `onFlush`). */
  exportLogs(records: readonly TaggedLogRecord[]): void;
  /** One trace payload, its pod resolved (the trace receiver's `onPayload`). Always takes it. */
  exportTraces(traces: TaggedTraces): boolean;
  /**
   * One payload's spans already encoded (by a decode worker), from `originKey`: batched with others into
   * requests of at most `OTLP_MAX_SPANS_PER_REQUEST` spans (encoded requests concatenate: their
   * `resource_spans` are a repeated field). `false` when the queue, or this origin's share of it, is
   * full: the receiver answers 429.
   */
  takeEncodedTraces(parts: readonly { readonly body: Uint8Array; readonly items: number }[], originKey: string): boolean;
  /** Whether a payload of `originKey` would be taken now (asked before reading it). */
  tracesHaveRoom(originKey: string): boolean;
  /** Encodes the buffered spans now. */
  flushTraces(): void;
  /** Flushes the spans, then lets the exporters drain until `deadlineMs` together. */
  stop(deadlineMs?: number): Promise<void>;
}

const REAL_TIMERS: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
};

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function createOtlpPipeline(opts: OtlpPipelineOptions): OtlpPipeline {
  const timers = opts.timers ?? REAL_TIMERS;
  const log = opts.logger.child({ component: 'otlp' });
  const counters: OtlpExporterMetrics = createOtlpExporterMetrics(opts.registry);
  const common = { metrics: counters, logger: opts.logger, retryMaxMs: opts.retryMaxMs, maxElapsedMs: opts.maxElapsedMs, timers };
  /** A signal's exporter, when it has a URL; `rejected` reads a partial success's count from an answer. */
  const exporterOf = (signal: OtlpSignal, rejected: (response: Uint8Array) => number): OtlpExporter | undefined => {
    const url = opts.urls[signal];
    if (!url) return undefined;
    const exporter = createOtlpExporter({ ...common, signal, url, rejectedItems: rejected });
    counters.queue(signal, () => exporter.size());
    return exporter;
  };
  const traces = exporterOf('traces', (b) => ProtobufTraceSerializer.deserializeResponse(b).partialSuccess?.rejectedSpans ?? 0);
  const metrics = exporterOf('metrics', (b) => ProtobufMetricsSerializer.deserializeResponse(b).partialSuccess?.rejectedDataPoints ?? 0);
  const logs = exporterOf('logs', (b) => ProtobufLogsSerializer.deserializeResponse(b).partialSuccess?.rejectedLogRecords ?? 0);
  const flushMs = opts.traceFlushMs ?? OTLP_TRACE_FLUSH_MS;

  let pending: TaggedTraces[] = [];
  let pendingSpans = 0;
  let timer: unknown;
  // Encoded spans waiting to be batched, and the bytes each origin has waiting or queued.
  let encoded: { body: Uint8Array; items: number; originKey: string }[] = [];
  let encodedBytes = 0;
  let encodedItems = 0;
  const queuedByOrigin = new Map<string, number>();
  const queueMax = OTLP_QUEUE_MAX_BYTES;
  const originMax = OTLP_QUEUE_MAX_BYTES_PER_ORIGIN;
  const heldBy = (key: string) => queuedByOrigin.get(key) ?? 0;
  const traceQueueBytes = () => (traces ? traces.size().bytes + encodedBytes : 0);
  const releaseOrigin = (key: string, bytes: number) => {
    const left = heldBy(key) - bytes;
    if (left <= 0) queuedByOrigin.delete(key);
    else queuedByOrigin.set(key, left);
  };

  const flushEncoded = () => {
    if (!traces || encoded.length === 0) return;
    const batch = encoded;
    encoded = [];
    encodedBytes = encodedItems = 0;
    let i = 0;
    while (i < batch.length) {
      const parts = [batch[i++]!];
      let items = parts[0]!.items;
      while (i < batch.length && items + batch[i]!.items <= OTLP_MAX_SPANS_PER_REQUEST) {
        items += batch[i]!.items;
        parts.push(batch[i++]!);
      }
      const body = parts.length === 1 ? parts[0]!.body : Buffer.concat(parts.map((p) => p.body));
      traces.send({ body, items, release: () => parts.forEach((p) => releaseOrigin(p.originKey, p.body.length)) });
    }
  };

  /** A conversion that throws is a bug in Tether, never the data's fault: logged, its items counted as dropped. */
  const guarded = (what: string, items: number, signal: OtlpSignal, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      counters.dropped(signal, 'invalid', items);
      log.error({ err: e }, `could not encode ${items} ${what} for OTLP: ${(e as Error)?.message ?? String(e)}. This is a bug in Tether: please report it with this log line.`);
    }
  };

  const flushTraces = () => {
    if (timer !== undefined) {
      timers.clearTimeout(timer);
      timer = undefined;
    }
    flushEncoded();
    if (pending.length === 0 || !traces) return;
    const batch = pending;
    const n = pendingSpans;
    pending = [];
    pendingSpans = 0;
    guarded('spans', n, 'traces', () => {
      for (const part of chunks(tracesToSpans(batch), OTLP_MAX_SPANS_PER_REQUEST)) traces.send({ body: encodeTraceRequest(part), items: part.length });
    });
  };

  return {
    traces,
    metrics,
    logs,
    exportSeries(series) {
      if (!metrics) return;
      for (const part of chunks(series, OTLP_MAX_SERIES_PER_REQUEST)) {
        guarded('series', part.length, 'metrics', () => {
          const { resourceMetrics, points, skipped } = seriesToResourceMetrics(part);
          if (skipped > 0) counters.dropped('metrics', 'invalid', skipped);
          if (points > 0) metrics.send({ body: encodeMetricsRequest(resourceMetrics), items: points });
        });
      }
    },
    exportLogs(records) {
      if (!logs) return;
      for (const part of chunks(records, OTLP_MAX_LOG_RECORDS_PER_REQUEST)) {
        guarded('service checks and events', part.length, 'logs', () => logs.send({ body: encodeLogsRequest(toLogRecords(part)), items: part.length }));
      }
    },
    exportTraces(t) {
      if (!traces) return true;
      let n = 0;
      for (const trace of t.traces) n += trace.length;
      if (n === 0) return true;
      pending.push(t);
      pendingSpans += n;
      if (pendingSpans >= OTLP_MAX_SPANS_PER_REQUEST) flushTraces();
      else if (timer === undefined) timer = timers.setTimeout(() => {
        timer = undefined;
        flushTraces();
      }, flushMs);
      return true;
    },
    tracesHaveRoom(originKey) {
      if (!traces) return true;
      return traceQueueBytes() < queueMax && heldBy(originKey) < originMax;
    },
    takeEncodedTraces(parts, originKey) {
      if (!traces) return true;
      let bytes = 0;
      let items = 0;
      for (const p of parts) {
        bytes += p.body.length;
        items += p.items;
      }
      if (items === 0) return true;
      // Alone (nothing else queued, or nothing of this origin), a payload is taken whatever its size;
      // otherwise it must fit the queue and its origin's share.
      const queued = traceQueueBytes();
      const held = heldBy(originKey);
      if ((queued > 0 && queued + bytes > queueMax) || (held > 0 && held + bytes > originMax)) return false;
      queuedByOrigin.set(originKey, held + bytes);
      for (const p of parts) encoded.push({ body: p.body, items: p.items, originKey });
      encodedBytes += bytes;
      encodedItems += items;
      if (encodedItems >= OTLP_MAX_SPANS_PER_REQUEST) flushEncoded();
      if (encoded.length > 0 && timer === undefined) {
        timer = timers.setTimeout(() => {
          timer = undefined;
          flushTraces();
        }, flushMs);
      }
      return true;
    },
    flushTraces,
    async stop(deadlineMs = OTLP_STOP_DEADLINE_MS) {
      flushTraces();
      await Promise.all([traces?.stop(deadlineMs), metrics?.stop(deadlineMs), logs?.stop(deadlineMs)]);
    },
  };
}
