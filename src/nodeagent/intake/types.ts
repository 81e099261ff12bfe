/**
 * The shapes the node agent's intake passes between its parts (types only). DogStatsD and trace
 * receivers decode what injected pods send and say where it came from (`Origin`); the origin resolver
 * turns that into the pod's tags; the exporters send the tagged result out as OTLP and Prometheus.
 * Each part depends on these shapes, not on the others, so each is built and tested alone.
 */

/** Where a datagram or trace payload says it came from, as the client sent it (unverified). */
export interface Origin {
  /** `DD_ENTITY_ID` (the pod's UID, from the downward API): the `dd.internal.entity_id` tag or the `Datadog-Entity-ID` header. */
  readonly entityId?: string;
  /** The container id: DogStatsD's `|c:` field, the `Datadog-Container-ID` header, or the Unix socket peer's cgroup. */
  readonly containerId?: string;
  /**
   * The inode of the sender's cgroup directory (`Datadog-Entity-ID: in-<inode>`): what tracers send on
   * cgroup v2 hosts, where the container id is not visible from inside the container. Maps to a
   * container by finding the directory with that inode under the host's `/sys/fs/cgroup`.
   */
  readonly cgroupInode?: string;
}

/**
 * Who sent, as the kernel or the network says (not the client): a Unix socket peer's pid (`SO_PEERCRED`,
 * `SCM_CREDENTIALS`; 0 when the node agent's pid namespace cannot see it), or a TCP/UDP source address.
 * Checked against the claim by the attestation (`attest/`), which wins where it can tell.
 */
export type Sender = { readonly pid: number } | { readonly ip: string };

/** The pod an origin resolved to, with its Kubernetes tags (`kube_namespace:…`, `pod_name:…`, `kube_deployment:…`, …). */
export interface ResolvedOrigin {
  readonly namespace: string;
  readonly pod: string;
  readonly uid: string;
  readonly tags: readonly string[];
  /** The pod's IPs (`status.podIPs`), when the kubelet has given them: what its TCP/UDP data comes from. */
  readonly ips?: readonly string[];
  /** `spec.hostNetwork`: its data comes from the node's addresses, shared with every such pod. */
  readonly hostNetwork?: boolean;
}

/** Maps an origin to its pod through the node's pod list; `undefined` when no pod of this node matches. */
export interface OriginResolver {
  resolve(origin: Origin): ResolvedOrigin | undefined;
  /**
   * A sender seen for the first time in a while (a new DogStatsD series): not counted as a lookup, but
   * a pod this node does not know yet is asked for now, so that it is known by the time its data is
   * resolved (at the window's flush) instead of a sync interval later.
   */
  notice?(origin: Origin): void;
}

// ---- metrics -----------------------------------------------------------------------------------

export type DogStatsDMetricType = 'count' | 'gauge' | 'histogram' | 'distribution' | 'set' | 'timing';

/** One metric of one DogStatsD line, decoded (sample rate not yet applied). */
export interface DogStatsDSample {
  readonly name: string;
  readonly type: DogStatsDMetricType;
  /** The numeric value; for sets, `setValue` carries the member and this is 0. */
  readonly value: number;
  readonly setValue?: string;
  /** 0 < rate <= 1; 1 when absent. */
  readonly sampleRate: number;
  /** The client's own tags, `dd.internal.entity_id` removed (it is in `origin`). */
  readonly tags: readonly string[];
  readonly origin: Origin;
  /** `|T<unix seconds>`: the client's own timestamp, in milliseconds. */
  readonly timestampMs?: number;
  /**
   * The line as sent without its name and values (`|c|@0.5|#a,b|c:…`): equal for the samples of one
   * series sent alike, so the aggregator finds their series without sorting their tags. A lookup key
   * only (tags in the client's order); absent, the aggregator builds one.
   */
  readonly contextKey?: string;
}

/** A service check's status, by its wire number (`_sc|<name>|<0-3>`). */
export const SERVICE_CHECK_STATUSES = ['ok', 'warning', 'critical', 'unknown'] as const;
export type ServiceCheckStatus = (typeof SERVICE_CHECK_STATUSES)[number];
/** An event's `t:` (alert type); `info` when absent. */
export const EVENT_ALERT_TYPES = ['info', 'warning', 'error', 'success'] as const;
export type EventAlertType = (typeof EVENT_ALERT_TYPES)[number];

/** What service checks and events share: the client's tags, its origin, and its own time and host. */
interface DogStatsDRecordBase {
  /** The client's own tags, `dd.internal.entity_id` and `dd.internal.card` removed. */
  readonly tags: readonly string[];
  readonly origin: Origin;
  /** `d:<unix seconds>`, in milliseconds; absent: when it arrived. */
  readonly timestampMs?: number;
  /** `h:<hostname>`: the host it is about (the OTLP resource's `host.name`). */
  readonly hostname?: string;
}

/** `_sc|<name>|<status>|d:…|h:…|#…|m:<message>`. */
export interface DogStatsDServiceCheck extends DogStatsDRecordBase {
  readonly kind: 'service_check';
  readonly name: string;
  readonly status: ServiceCheckStatus;
  /** `m:`, newlines sent as `\n` restored. */
  readonly message?: string;
}

/** `_e{<title bytes>,<text bytes>}:<title>|<text>|d:…|h:…|p:…|t:…|k:…|s:…|#…`. */
export interface DogStatsDEvent extends DogStatsDRecordBase {
  readonly kind: 'event';
  readonly title: string;
  /** Newlines sent as `\n` restored. */
  readonly text: string;
  readonly alertType: EventAlertType;
  /** `p:`: `normal` (default) or `low`. */
  readonly priority: 'normal' | 'low';
  /** `k:`: the key the backend groups events by. */
  readonly aggregationKey?: string;
  /** `s:`: the kind of source (`jenkins`, `my_apps`…). */
  readonly sourceType?: string;
}

/** A service check or an event: what DogStatsD exports as OTLP log records (`otlp/logs.ts`). */
export type DogStatsDLogRecord = DogStatsDServiceCheck | DogStatsDEvent;

/** A service check or event of one flush window, with the pod it came from when its origin resolved. */
export interface TaggedLogRecord {
  readonly record: DogStatsDLogRecord;
  readonly origin?: ResolvedOrigin;
  /** When the node agent received it (ms): its OTLP observed time, and its time without `d:`. */
  readonly receivedMs: number;
}

/**
 * One aggregated series of one flush window: counts summed (sample rate applied), gauges last value,
 * sets counted, histograms/timings/distributions summarised.
 */
export interface AggregatedSeries {
  readonly name: string;
  readonly kind: 'sum' | 'gauge' | 'summary';
  /** The client's tags plus its pod's tags when the origin resolved; sorted. */
  readonly tags: readonly string[];
  /** The pod it came from (its resource in OTLP), absent when the origin is unknown. */
  readonly origin?: ResolvedOrigin;
  /** Window start and end, epoch milliseconds. */
  readonly startMs: number;
  readonly endMs: number;
  /** `sum` and `gauge` kinds. */
  readonly value?: number;
  /** `summary` kind: count, sum, min, max and the raw values' quantiles the exporter needs. */
  readonly summary?: { readonly count: number; readonly sum: number; readonly min: number; readonly max: number; readonly quantiles: readonly { readonly q: number; readonly value: number }[] };
}

// ---- traces ------------------------------------------------------------------------------------

/** One span as tracers send it to `/v0.4/traces` (ids are unsigned 64-bit). */
export interface DdSpan {
  readonly traceId: bigint;
  readonly spanId: bigint;
  readonly parentId: bigint;
  readonly name: string;
  readonly resource: string;
  readonly service: string;
  readonly type: string;
  /** Epoch nanoseconds. */
  readonly start: bigint;
  readonly duration: bigint;
  readonly error: number;
  readonly meta: Readonly<Record<string, string>>;
  readonly metrics: Readonly<Record<string, number>>;
}

/** A payload's traces counted by the `service:…,env:…` key of their root spans (`traces/prioritySampler.ts`). */
export type RootCounts = readonly (readonly [key: string, traces: number])[];

/**
 * One decoded `/v0.4`, `/v0.5` or `/v0.7` payload and where it came from. What the decode worker handed back
 * depends on what the receiver was asked for: the spans themselves (`traces`), or their OTLP requests
 * already encoded with the pod's resource (`otlp`), or only the counts.
 */
export interface TracePayload {
  /** The decoded traces (each a list of spans) when the receiver's output is `traces`; empty otherwise. */
  readonly traces: readonly (readonly DdSpan[])[];
  readonly traceCount: number;
  readonly spanCount: number;
  /** `ExportTraceServiceRequest`s of the payload, encoded, when the receiver's output is `otlp`. */
  readonly otlp?: readonly { readonly body: Uint8Array; readonly items: number }[];
  readonly origin: Origin;
  /** Who sent it (the connection's peer, read when it connected), which `origin` was checked against. */
  readonly sender?: Sender;
  /** Its traces counted by their root's `service:…,env:…` (for the priority sampler). */
  readonly roots: RootCounts;
  /** The pod `origin` resolved to when the request came in (its resource is in `otlp`). */
  readonly resolved?: ResolvedOrigin;
  /** The key its budgets were counted under (`pod:<uid>`, or the sender's address). */
  readonly originKey: string;
  /** `Datadog-Meta-Lang` and its version, when sent. */
  readonly lang?: string;
  readonly tracerVersion?: string;
}

/** A trace payload with its pod resolved: what the OTLP trace exporter takes. */
export interface TaggedTraces {
  readonly traces: readonly (readonly DdSpan[])[];
  readonly origin?: ResolvedOrigin;
}
