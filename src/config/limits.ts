/**
 * Limits of the webhook server (SPEC §6): sizes, timeouts and counts that protect it from slow, large or
 * too many requests. They are not user settings (the API server's behaviour is fixed), so they live here
 * as constants, each defined once; `server/` and the tests import them.
 */

/** Largest AdmissionReview body accepted. The API server caps objects at about 1.5 MiB in etcd; a
 * review carries the object (and, on UPDATE, the old object), so 3 MiB leaves room without inviting abuse. */
export const MAX_REVIEW_BODY_BYTES = 3 * 1024 * 1024;

/**
 * A rejected body (413, 415, 405...) up to this size is still read and thrown away, so the client gets
 * to read our answer instead of a connection reset while it is still sending; beyond it the connection
 * is cut.
 */
export const MAX_DISCARDED_BODY_BYTES = 16 * 1024 * 1024;

/** Time to receive a request's headers (slowloris protection); Node requires it below `REQUEST_TIMEOUT_MS`. */
export const HEADERS_TIMEOUT_MS = 10_000;

/** Time to receive a whole request. The API server gives up after `timeout_seconds` (at most 30 s) anyway. */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * How often incomplete requests are checked against `HEADERS_TIMEOUT_MS` and `REQUEST_TIMEOUT_MS`. Node
 * checks every 30 s by default, which lets a slowloris connection hold a slot for up to 40 s instead of 10.
 */
export const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/**
 * Idle keep-alive sockets are closed after this. The API server reuses connections to a webhook; Go's
 * transport drops idle ones after 90 s, and a shorter server side timeout is the usual, safe arrangement.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 60_000;

/** TLS handshakes that do not finish within this are dropped (Node's default is 120 s). */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Lowest TLS version offered; TLS 1.3 is negotiated whenever the client supports it. */
export const TLS_MIN_VERSION = 'TLSv1.2' as const;

/** Headers per request: an AdmissionReview POST carries about ten. */
export const MAX_HEADERS_COUNT = 64;

/** Simultaneous connections; the API server opens a few per replica, so this only stops floods. */
export const MAX_CONNECTIONS = 1024;

/**
 * HTTP/2 streams (reviews) one connection may have open at once. The API server multiplexes its webhook
 * calls on one connection and opens another when this many are in flight (Go's transport does), so it
 * bounds what one connection can make the server buffer: this many bodies of `MAX_REVIEW_BODY_BYTES`.
 */
export const H2_MAX_CONCURRENT_STREAMS = 100;

/** Bytes of headers per HTTP/2 request (HPACK-decoded): HTTP/1.1's own limit in Node (16 KiB). */
export const H2_MAX_HEADER_LIST_BYTES = 16 * 1024;

/**
 * On shutdown, in-flight reviews get this long to finish before their connections are cut. Below the
 * Kubernetes default grace period (30 s), so the process exits on its own before it is killed.
 */
export const SHUTDOWN_DRAIN_MS = 20_000;

/**
 * The last part of the shutdown grace period (`shutdown_grace_seconds`) in which every answer carries
 * `Connection: close`. The API server keeps idle keep-alive connections to a Service pinned to the pod
 * they first reached (kube-proxy translates per connection), and Go's transport reuses them before it
 * opens new ones: without this, it would still send reviews here after the Service dropped the pod, and a
 * review written just as the idle connection is closed fails (a POST is not retried). Told to close, the
 * client ends the connection itself after reading the answer, with nothing in flight. Only near the end:
 * earlier, every review would pay for a new connection and TLS handshake, which the Service may well
 * route to this pod again while it still lists it.
 */
export const SHUTDOWN_CLOSE_NOTICE_MS = 1_000;

/**
 * Outside facts (owner labels, namespace labels) must be resolved before the API server's webhook
 * timeout: the budget is `timeout_seconds` minus this margin (for decoding, mutating, answering and the
 * network), capped by `FACTS_BUDGET_MAX_MS`, and never below `FACTS_BUDGET_MIN_MS`.
 */
export const FACTS_BUDGET_MARGIN_MS = 500;
/** Waiting longer for an owner than this only delays every pod creation; answer without its tags instead. */
export const FACTS_BUDGET_MAX_MS = 5_000;
export const FACTS_BUDGET_MIN_MS = 100;

/**
 * Facts read from the API server (`kube/facts.ts`). Owners are cached for `pod_owners_cache_validity`;
 * a failed read (404, 403, unreachable) only for `FACT_FAILURE_CACHE_TTL_MS`, long enough that a burst
 * of pods does not repeat a doomed read, short enough that a fixed RBAC rule or a recovered API server
 * is noticed at once. Namespace labels (the Pod Security level) change rarely but matter for security:
 * one minute. Each cache keeps at most `*_MAX_ENTRIES` entries (least recently used go first) so that a
 * cluster with very many owners cannot grow the process without bound (an entry is a few hundred bytes).
 */
export const OWNER_CACHE_MAX_ENTRIES = 10_000;
export const NAMESPACE_CACHE_TTL_MS = 60_000;
export const NAMESPACE_CACHE_MAX_ENTRIES = 10_000;
export const FACT_FAILURE_CACHE_TTL_MS = 5_000;
/**
 * A read nobody waits for any more is aborted at once; this bounds one that a caller without a deadline
 * waits for, so an API server that accepts connections and never answers cannot collect sockets. Above
 * `FACTS_BUDGET_MAX_MS`: the webhook's own budget always runs out first.
 */
export const FACT_READ_TIMEOUT_MS = 10_000;
/**
 * An API server that stops answering (`kube/breaker.ts`): after `FACT_BREAKER_THRESHOLD` reads in a row
 * that waited at least `FACT_BREAKER_SLOW_READ_MS` and got nothing, owner and namespace reads fail at
 * once for `FACT_BREAKER_COOL_DOWN_MS` (reviews are answered without those facts, with a warning), then
 * one read probes the server. Without it every tags review would wait its whole facts budget (up to
 * `FACTS_BUDGET_MAX_MS`) for as long as the API server is silent.
 */
export const FACT_BREAKER_THRESHOLD = 3;
export const FACT_BREAKER_SLOW_READ_MS = 250;
export const FACT_BREAKER_COOL_DOWN_MS = 10_000;

/** How often certificate files are checked for a new pair (Secret volumes are updated by symlink swap). */
export const CERT_POLL_INTERVAL_MS = 2_000;

/**
 * Controllers (SPEC §7): a failed reconcile is retried after `RECONCILE_BACKOFF_BASE_MS`, doubling per
 * consecutive failure up to `RECONCILE_BACKOFF_MAX_MS`; every object is reconciled again every
 * `RESYNC_INTERVAL_MS` even without an event, as a safety net for a missed watch event.
 */
export const RECONCILE_BACKOFF_BASE_MS = 200;
export const RECONCILE_BACKOFF_MAX_MS = 60_000;
export const RESYNC_INTERVAL_MS = 10 * 60_000;
/**
 * Certificates (SPEC §7): the CA lives `certificate.validity_bound` hours; the serving certificates it
 * signs at most `SERVING_CERT_MAX_HOURS`, renewed when less than `SERVING_CERT_RENEW_FRACTION` of their
 * lifetime is left (a leaked serving key is good for days, not a year). The trust bundle keeps every
 * unexpired CA, up to `MAX_TRUSTED_CAS`, so that a replica whose Secret watch lags behind several
 * rotations still serves a trusted certificate; only forced rotations (ROTATE_ANNOTATION) can reach it.
 */
export const SERVING_CERT_MAX_HOURS = 7 * 24;
export const SERVING_CERT_RENEW_FRACTION = 1 / 3;
export const MAX_TRUSTED_CAS = 5;
/** How long one reconcile (its API calls and certificate generation) may take before it is abandoned and retried. */
export const RECONCILE_TIMEOUT_MS = 30_000;
/**
 * Watches (`kube/informer.ts`). A list or watch that failed (API server unreachable, 403, a silent
 * connection) is retried after `WATCH_RETRY_BASE_MS`, doubling per failure in a row up to
 * `WATCH_RETRY_MAX_MS`; the count starts again as soon as a list succeeds or a watch is answered 200.
 */
export const WATCH_RETRY_BASE_MS = 500;
export const WATCH_RETRY_MAX_MS = 30_000;
/**
 * Each watch request asks the API server to end it after a random time in this range (client-go's
 * reflector: 5 to 10 minutes), so that many watchers do not all reconnect at once; the informer then
 * watches again from the last resourceVersion, without a list.
 */
export const WATCH_TIMEOUT_MIN_S = 300;
export const WATCH_TIMEOUT_MAX_S = 600;
/**
 * A watch connection that goes silent without closing (a dead peer, a NAT or proxy that dropped it)
 * is noticed on the client side: after `WATCH_IDLE_TIMEOUT_MS` without a byte once the server is known
 * to send bookmarks (the API server's watch cache sends one to every watcher that allows them about once
 * a minute: `defaultBookmarkFrequency` in k8s.io/apiserver's cacher), or,
 * before any bookmark was seen, after the server-side timeout plus `WATCH_TIMEOUT_MARGIN_MS` (by then
 * the server should have ended the watch itself). The connection is then cut and the watch restarted.
 */
export const WATCH_IDLE_TIMEOUT_MS = 150_000;
export const WATCH_TIMEOUT_MARGIN_MS = 30_000;
/**
 * Lists are read in pages of `LIST_PAGE_SIZE` objects (client-go's default), so that a collection of
 * 150,000 pods is never one response of a gigabyte; a page that brings no byte for
 * `LIST_IDLE_TIMEOUT_MS` is aborted and the list retried.
 */
export const LIST_PAGE_SIZE = 500;
export const LIST_IDLE_TIMEOUT_MS = 60_000;
/**
 * A watch the server closes within this time without sending anything counts as a failure (with
 * backoff), as in client-go's reflector: otherwise a proxy that accepts and hangs up is retried in a loop.
 */
export const MIN_WATCH_DURATION_MS = 1_000;
/** One watch event (one line) larger than this means a broken stream: Kubernetes objects are at most ~1.5 MiB. */
export const MAX_WATCH_EVENT_BYTES = 16 * 1024 * 1024;

/**
 * Leader election timing, as fractions of `leader_lease_duration` (client-go's defaults are 15 s, 10 s
 * and 2 s): the leader renews every `retry`, gives up leadership when it could not renew for `renew
 * deadline` (before anyone else may take the Lease), and candidates try every `retry`.
 */
export const LEASE_RENEW_DEADLINE_FRACTION = 2 / 3;
export const LEASE_RETRY_FRACTION = 2 / 15;
/**
 * `stop()` of leader election always resolves within `LEADER_STOP_TIMEOUT_MS`, however the API server
 * behaves (SIGTERM must end the process well within Kubernetes' 30 s grace period, next to
 * `SHUTDOWN_DRAIN_MS`): leader-only work gets what is left after `LEADER_RELEASE_TIMEOUT_MS` to stop, and
 * releasing the Lease (one try, so that a successor need not wait a whole lease duration) gets at most that.
 */
export const LEADER_STOP_TIMEOUT_MS = 5_000;
export const LEADER_RELEASE_TIMEOUT_MS = 1_000;

/**
 * The node agent's kubelet client (`nodeagent/kubelet.ts`). Bound service-account tokens rotate (the
 * kubelet refreshes the projected file at 80 % of the token's lifetime, an hour by default), so the token
 * file, and the CA file with it, is read again when the copy in memory is older than
 * `KUBELET_TOKEN_REREAD_MS`, as the stack's node agent does. One `/pods` request gets
 * `KUBELET_REQUEST_TIMEOUT_MS` (a kubelet that accepts the connection and never answers must not stall
 * the agent) and at most `KUBELET_MAX_PODLIST_BYTES` of answer: a node runs at most a few hundred pods
 * of some kilobytes each, so more than this is not a kubelet's pod list.
 */
export const KUBELET_TOKEN_REREAD_MS = 60_000;
export const KUBELET_REQUEST_TIMEOUT_MS = 10_000;
export const KUBELET_MAX_PODLIST_BYTES = 64 * 1024 * 1024;

/**
 * A problem with an upstream that repeats is logged at warn once, then at debug, and at warn again
 * after this long, so that it is not lost from logs kept for a day while not flooding them either.
 */
export const UPSTREAM_PROBLEM_REWARN_MS = 10 * 60_000;

/**
 * The node agent (`tether node-agent`, SPEC §9). It reads its kubelet and asks the cluster agent every
 * `NODE_AGENT_SYNC_INTERVAL_MS`; an upstream that failed is asked again after `NODE_AGENT_RETRY_BASE_MS`,
 * doubling per failure in a row up to `NODE_AGENT_RETRY_MAX_MS`, so a cluster agent that is down for an
 * hour gets one request a minute from each of a thousand node agents, not one a second.
 */
export const NODE_AGENT_SYNC_INTERVAL_MS = 10_000;
/**
 * Data from a pod the node agent has not listed yet (it started since the last sync) makes it read its
 * kubelet and the cluster agent again at once, at most once per `NODE_AGENT_UNKNOWN_ORIGIN_RESYNC_MS`:
 * a new pod's first metrics and traces get its tags, and a sender the node never runs cannot make the
 * agent ask more than that.
 */
export const NODE_AGENT_UNKNOWN_ORIGIN_RESYNC_MS = 2_000;
/**
 * A Unix-socket sender's pid → its container (read from `/proc/<pid>/cgroup`) is remembered this long:
 * a client sends many datagrams a second, and reading /proc for each would cost more than parsing them.
 * Short, because pids are reused: a pid that changed hands keeps its old container for at most this.
 */
export const ATTEST_PID_CACHE_TTL_MS = 5_000;
/** At most this many pids remembered (one entry is a few hundred bytes; the oldest go first). */
export const ATTEST_PID_CACHE_MAX = 4_096;
/** A mis-attribution (data claiming a pod it does not come from) is always counted; logged once per this interval. */
export const ATTEST_MISMATCH_LOG_INTERVAL_MS = 60_000;
/**
 * Priority sampling (`traces/prioritySampler.ts`): traces per service and env are counted over windows of
 * this length, and each key's rate follows the last full window (the stack's agent also adjusts about
 * every 10 s), so a rate given now reflects the last 10 to 20 s.
 */
export const PRIORITY_SAMPLING_WINDOW_MS = 10_000;
/** Service/env keys with a rate of their own; traces of further keys get the default key's rate (1), and are counted. */
export const PRIORITY_SAMPLING_MAX_KEYS = 2_000;
export const NODE_AGENT_RETRY_BASE_MS = 1_000;
export const NODE_AGENT_RETRY_MAX_MS = 60_000;
/** One request to the cluster agent API, connection and TLS handshake included. */
export const CLUSTER_AGENT_REQUEST_TIMEOUT_MS = 10_000;
/** Largest answer read from the cluster agent API: a node's pods and their tags are a few hundred KB at most. */
export const CLUSTER_AGENT_MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/**
 * The cluster agent API (`clusteragent/api/`). Each replica issues its serving certificate from the
 * webhook Secret's newest CA; when that CA changes, a certificate of the previous one (still in the trust
 * bundle) is served for `CLUSTER_AGENT_CA_SWITCH_DELAY_MS` more, since node agents read the CA from a
 * ConfigMap volume that the kubelet refreshes only a minute or two after the ConfigMap changes (its sync
 * period plus its ConfigMap cache). A refused request is logged once per reason per
 * `AUTH_FAILURE_LOG_INTERVAL_MS` (and always counted), so a scanner cannot flood the logs.
 */
export const CLUSTER_AGENT_CA_SWITCH_DELAY_MS = 3 * 60_000;
export const AUTH_FAILURE_LOG_INTERVAL_MS = 60_000;

/**
 * Node agent reports (agentapi/nodeAgentReport.ts). Each request of a node agent carries its last
 * kubelet result in a small header (at most `NODE_AGENT_REPORT_HEADER_MAX_BYTES`, its summary cut to
 * `NODE_AGENT_REPORT_SUMMARY_MAX_CHARS`); the cluster agent API writes what changed into one ConfigMap at
 * most every `NODE_AGENT_REPORT_FLUSH_MS`. An unchanged report is rewritten only to move its `lastSeen`
 * on, once per `NODE_AGENT_REPORT_REFRESH_MS` (so a thousand healthy node agents asking every 10 s do not
 * rewrite the ConfigMap every flush), and a node not seen for `NODE_AGENT_REPORT_RETENTION_MS` is dropped.
 * The ConfigMap stays under `NODE_AGENT_REPORT_MAX_BYTES` (the API server refuses objects above 1 MiB):
 * summaries go first, then the oldest reports. `diagnose` trusts reports seen within
 * `NODE_AGENT_REPORT_STALE_MS` (a refresh period and a few missed ones).
 */
export const NODE_AGENT_REPORT_HEADER_MAX_BYTES = 1024;
export const NODE_AGENT_REPORT_SUMMARY_MAX_CHARS = 300;
export const NODE_AGENT_REPORT_FLUSH_MS = 5_000;
export const NODE_AGENT_REPORT_REFRESH_MS = 5 * 60_000;
export const NODE_AGENT_REPORT_RETENTION_MS = 24 * 60 * 60_000;
export const NODE_AGENT_REPORT_MAX_BYTES = 900 * 1024;
export const NODE_AGENT_REPORT_STALE_MS = 3 * NODE_AGENT_REPORT_REFRESH_MS;

/**
 * The node agent's trace receiver (`nodeagent/intake/traces/`). A payload larger than
 * `TRACE_MAX_PAYLOAD_BYTES` is answered 413, by its `Content-Length` before reading or once that many
 * bytes have streamed in: the agent's historic `apm_config.max_payload_size` (tracers flush well below
 * it: dd-trace-js at 8 MiB, dd-trace-go at 10 MB). Decoding builds spans directly (no generic msgpack
 * tree), and one payload may make it allocate at most `TRACE_MAX_SPANS_PER_PAYLOAD` spans and
 * `TRACE_MAX_ITEMS_PER_PAYLOAD` spans + tags (a real 25 MiB payload has a few tens of thousands of spans
 * of 20 to 30 tags; a hostile one of empty spans would otherwise be millions of objects): past that,
 * 413 too. Bodies being received or decoded together hold at most `TRACE_MAX_INFLIGHT_BYTES`, taken as
 * their bytes arrive; a payload whose next bytes would pass it is answered 429, as the agent answers when
 * its decoders are all busy, and the tracer drops it and counts the drop itself.
 */
export const TRACE_MAX_PAYLOAD_BYTES = 25 * 1024 * 1024;
export const TRACE_MAX_SPANS_PER_PAYLOAD = 100_000;
export const TRACE_MAX_ITEMS_PER_PAYLOAD = 1_000_000;
export const TRACE_MAX_INFLIGHT_BYTES = 64 * 1024 * 1024;
/**
 * Bounds per sender of the trace receiver (issue 19). Bytes are taken from the in-flight budget as they
 * arrive, never from a declared `Content-Length`: a connection that declares 16 MiB and sends nothing
 * holds nothing. A body that goes `TRACE_BODY_IDLE_TIMEOUT_MS` without a byte is cut (408). One origin
 * (the pod the payload resolves to, else its sender's address) holds at most
 * `TRACE_MAX_INFLIGHT_BYTES_PER_ORIGIN` of the budget and `TRACE_MAX_CONNECTIONS_PER_ORIGIN` requests
 * being read or decoded: past either, its payloads get 429 while its neighbours' still go through.
 * Decoding and conversion run on `TRACE_DECODE_WORKERS` worker threads, each capped at
 * `TRACE_DECODE_WORKER_HEAP_MB` of heap (a worker that runs out is replaced, the payload answered 413).
 */
export const TRACE_BODY_IDLE_TIMEOUT_MS = 5_000;
export const TRACE_MAX_INFLIGHT_BYTES_PER_ORIGIN = 32 * 1024 * 1024;
export const TRACE_MAX_CONNECTIONS_PER_ORIGIN = 8;
export const TRACE_DECODE_WORKERS = 2;
export const TRACE_DECODE_WORKER_HEAP_MB = 512;
/** A refused trace payload is logged once per reason per this interval (and always counted), so a broken tracer cannot flood the logs. */
export const TRACE_REJECT_LOG_INTERVAL_MS = 60_000;
/**
 * Mode of the trace receiver's socket file: anyone may write (connecting to a Unix socket needs write
 * permission, and pods run as any user), only the node agent reads: the trace agent's own choice.
 */
export const TRACE_SOCKET_MODE = 0o722;

/**
 * The web console (`console/`, issue 12). A session lives `CONSOLE_SESSION_TTL_MS` from login (server
 * side; the cookie's Max-Age says the same); at most `CONSOLE_MAX_SESSIONS` are kept (the oldest ends
 * first), so logins in a loop cannot grow memory. A login body is at most `CONSOLE_LOGIN_BODY_MAX_BYTES`.
 * The event stream sends what changed every `CONSOLE_EVENTS_FLUSH_MS` (coalesced: a pod changed ten
 * times is sent once), rows of at most `CONSOLE_EVENTS_MAX_ROWS` pods or nodes per flush (more: a
 * `resync`, so 150,000 pods re-listed never become an event storm), a heartbeat every
 * `CONSOLE_EVENTS_HEARTBEAT_MS`; a client that does not read (more than `CONSOLE_EVENTS_MAX_BUFFERED_BYTES`
 * waiting) is cut off (its EventSource reconnects and refetches); at most `CONSOLE_EVENTS_MAX_CLIENTS`
 * streams at once. Diagnose runs one at a time, at most once per `CONSOLE_DIAGNOSE_MIN_INTERVAL_MS`.
 * Webhook health is read from the API server at most every `CONSOLE_HEALTH_MAX_AGE_MS` (and polled at
 * that period while a stream is open); the webhook's request rate and p99 are over the last
 * `CONSOLE_TRAFFIC_WINDOW_MS`, sampled every `CONSOLE_TRAFFIC_SAMPLE_MS`; node agent reports are re-read
 * at most every `CONSOLE_NODE_AGENTS_MAX_AGE_MS`.
 */
export const CONSOLE_SESSION_TTL_MS = 8 * 60 * 60_000;
export const CONSOLE_MAX_SESSIONS = 1_000;
/**
 * Console logins per client (console/loginLimiter.ts): `CONSOLE_LOGIN_MAX_FAILURES` failed logins per
 * `CONSOLE_LOGIN_WINDOW_MS`, then 429 until the window ends; at most `CONSOLE_LOGIN_MAX_CLIENTS` clients
 * remembered (about 100 bytes each). Sessions are kept per role (`CONSOLE_MAX_SESSIONS` each), so viewer
 * logins never end an admin's session.
 */
export const CONSOLE_LOGIN_MAX_FAILURES = 10;
export const CONSOLE_LOGIN_WINDOW_MS = 60_000;
export const CONSOLE_LOGIN_MAX_CLIENTS = 4_096;
export const CONSOLE_LOGIN_BODY_MAX_BYTES = 4 * 1024;
export const CONSOLE_EVENTS_FLUSH_MS = 1_000;
export const CONSOLE_EVENTS_MAX_ROWS = 500;
export const CONSOLE_EVENTS_HEARTBEAT_MS = 15_000;
export const CONSOLE_EVENTS_MAX_BUFFERED_BYTES = 1024 * 1024;
export const CONSOLE_EVENTS_MAX_CLIENTS = 200;
export const CONSOLE_DIAGNOSE_MIN_INTERVAL_MS = 30_000;
export const CONSOLE_HEALTH_MAX_AGE_MS = 10_000;
export const CONSOLE_TRAFFIC_WINDOW_MS = 60_000;
export const CONSOLE_TRAFFIC_SAMPLE_MS = 5_000;
export const CONSOLE_NODE_AGENTS_MAX_AGE_MS = 10_000;

/**
 * The node agent's DogStatsD intake (`nodeagent/intake/dogstatsd/`). Samples are aggregated per
 * `DOGSTATSD_FLUSH_INTERVAL_MS` window (the stack's 10 s), one series per name, type, sorted tags and
 * origin. A window holds at most `DOGSTATSD_MAX_SERIES_PER_WINDOW` series: past that, samples of new
 * series are dropped and counted (a client that puts a request id in a tag must not grow the process
 * without bound), while series already seen keep aggregating. Histograms, timings and distributions
 * keep a log-bucketed sketch (DDSketch) of relative accuracy `DOGSTATSD_SKETCH_RELATIVE_ACCURACY` and
 * at most `DOGSTATSD_SKETCH_MAX_BINS` bins per sign per series (256 bins at 1 % span a range of values of
 * about 160×; beyond it the lowest bins collapse first, so p95 and p99 keep their accuracy); a set counts at most `DOGSTATSD_MAX_SET_MEMBERS` distinct members per window.
 */
export const DOGSTATSD_FLUSH_INTERVAL_MS = 10_000;
export const DOGSTATSD_MAX_SERIES_PER_WINDOW = 50_000;
export const DOGSTATSD_SKETCH_RELATIVE_ACCURACY = 0.01;
export const DOGSTATSD_SKETCH_MAX_BINS = 256;
export const DOGSTATSD_MAX_SET_MEMBERS = 10_000;
/**
 * All sets of a window together hold at most this many members. With the caps above, the worst case of
 * one window is about 50,000 series of 2 KiB of sketch each plus these members: some 150 MiB, reached
 * only by a client that tries to; the usual is a few MiB.
 */
export const DOGSTATSD_MAX_SET_MEMBERS_PER_WINDOW = 500_000;
/** The quantiles each summary reports. */
export const DOGSTATSD_QUANTILES: readonly number[] = [0.5, 0.95, 0.99];
/** Malformed lines are always counted; one log line per this interval names the first one's problem. */
export const DOGSTATSD_MALFORMED_LOG_INTERVAL_MS = 10_000;
/** A malformed line is quoted in that log line up to this many characters, never the whole datagram. */
export const DOGSTATSD_MALFORMED_QUOTE_CHARS = 120;
/**
 * The Prometheus exposition of the DogStatsD metrics keeps a series (counters cumulative, as Prometheus
 * expects) until it has not been seen for `DOGSTATSD_PROMETHEUS_TTL_MS`, and at most
 * `DOGSTATSD_MAX_SERIES_PER_WINDOW` series.
 */
export const DOGSTATSD_PROMETHEUS_TTL_MS = 5 * 60_000;

/**
 * DogStatsD bounds in bytes (issue 19): what one window may hold is counted in bytes, not only in series,
 * since a series' cost is its name and tags (kilobytes when a client sends 8 KB tag sets). A series costs
 * `DOGSTATSD_SERIES_OVERHEAD_BYTES` (its object and map entries) plus the UTF-8 bytes of its name, tags
 * and lookup keys, plus its value state (a summary's sketch at its largest, `DOGSTATSD_SKETCH_MAX_BYTES`;
 * a set's members as they come). A window holds at most `dogstatsd_window_max_bytes`, one origin (the pod
 * the sender resolves to, or the unresolved sender's key) at most `dogstatsd_origin_max_bytes` of it: a
 * pod that sends too much loses its own new series, never its neighbours'. Before any of that, a sample
 * whose name is longer than `dogstatsd_max_metric_name_length`, or with a tag longer than
 * `dogstatsd_max_tag_length`, or with more than `dogstatsd_max_tags_per_metric` tags, is dropped (200
 * characters is the longest name and tag the stack's backend keeps). Every drop is counted by reason and
 * origin; at most `DOGSTATSD_MAX_ORIGINS_PER_WINDOW` origins get their own budget (and label) per window,
 * the others share one (`DOGSTATSD_OTHER_ORIGINS`).
 * Worst case of one window: the window budget, plus the same again briefly while its flush is exported.
 */
export const DOGSTATSD_WINDOW_MAX_BYTES = 32 * 1024 * 1024;
export const DOGSTATSD_ORIGIN_MAX_BYTES = 8 * 1024 * 1024;
export const DOGSTATSD_MAX_METRIC_NAME_LENGTH = 200;
export const DOGSTATSD_MAX_TAG_LENGTH = 200;
export const DOGSTATSD_MAX_TAGS_PER_METRIC = 100;
export const DOGSTATSD_SERIES_OVERHEAD_BYTES = 256;
export const DOGSTATSD_SKETCH_MAX_BYTES = 2 * DOGSTATSD_SKETCH_MAX_BINS * 8 + 256;
export const DOGSTATSD_SET_MEMBER_OVERHEAD_BYTES = 48;
export const DOGSTATSD_MAX_ORIGINS_PER_WINDOW = 1_000;
export const DOGSTATSD_OTHER_ORIGINS = 'other';
/**
 * DogStatsD service checks and events (exported as OTLP log records) are held until their window's flush
 * under budgets of their own, in bytes: a window at most `DOGSTATSD_LOGS_WINDOW_MAX_BYTES`, one origin
 * (counted as for series) at most `DOGSTATSD_LOGS_ORIGIN_MAX_BYTES`; a record costs
 * `DOGSTATSD_LOG_RECORD_OVERHEAD_BYTES` plus the UTF-8 bytes of its strings (each at most a datagram,
 * `dogstatsd_buffer_size`). Past a budget it is dropped and counted by reason and origin, as samples are.
 * A series' name and tag caps apply to a record's name or title and tags too.
 */
export const DOGSTATSD_LOGS_WINDOW_MAX_BYTES = 4 * 1024 * 1024;
export const DOGSTATSD_LOGS_ORIGIN_MAX_BYTES = 512 * 1024;
export const DOGSTATSD_LOG_RECORD_OVERHEAD_BYTES = 256;
/**
 * The Prometheus view (`/dogstatsd/metrics`) keeps at most `DOGSTATSD_PROMETHEUS_MAX_BYTES` of rendered
 * series (names and labels; a summary counts its five lines), and streams its page in chunks of about
 * `DOGSTATSD_PROMETHEUS_CHUNK_BYTES`, written as the client reads (never one string of the whole page).
 */
export const DOGSTATSD_PROMETHEUS_MAX_BYTES = 32 * 1024 * 1024;
export const DOGSTATSD_PROMETHEUS_CHUNK_BYTES = 64 * 1024;

/**
 * The node agent's OTLP export (`nodeagent/intake/otlp/`). Each signal (traces, metrics, logs) has its own
 * queue of encoded requests, bounded by `OTLP_QUEUE_MAX_BYTES` and `OTLP_QUEUE_MAX_REQUESTS`: a backend
 * that is down fills it, and then the oldest request is dropped for each new one (the newest data is
 * the most useful once the backend is back), so memory stays flat however long the outage. A request
 * larger than the whole queue is dropped at once. One request holds at most `OTLP_MAX_SPANS_PER_REQUEST`
 * spans, `OTLP_MAX_SERIES_PER_REQUEST` series or `OTLP_MAX_LOG_RECORDS_PER_REQUEST` log records (collectors refuse bodies of more than a few MiB).
 * A failed request (429, 5xx, network error, timeout after `OTLP_REQUEST_TIMEOUT_MS`) is retried after
 * `OTLP_RETRY_BASE_MS` doubling up to `otlp_retry_max_interval_seconds`, with jitter (a hundred node agents that lost
 * the same collector do not come back in step), or after the server's `Retry-After` when it says so
 * (capped at `OTLP_RETRY_AFTER_MAX_MS`), and dropped once it has been failing for `otlp_retry_max_elapsed_seconds`.
 * Spans wait at most `OTLP_TRACE_FLUSH_MS` (or until `OTLP_MAX_SPANS_PER_REQUEST` are buffered) before
 * they are encoded; on shutdown the queues get `OTLP_STOP_DEADLINE_MS` to drain.
 */
export const OTLP_QUEUE_MAX_BYTES = 16 * 1024 * 1024;
export const OTLP_QUEUE_MAX_REQUESTS = 256;
/**
 * One origin (pod) may hold at most this much of the trace export queue (issue 19): past it, its trace
 * payloads get 429 (`sink_full`) while other pods' still fit. A payload is taken alone when its origin
 * holds nothing queued, or the queue is empty, whatever its size.
 */
export const OTLP_QUEUE_MAX_BYTES_PER_ORIGIN = OTLP_QUEUE_MAX_BYTES / 2;
export const OTLP_MAX_SPANS_PER_REQUEST = 2_000;
export const OTLP_MAX_SERIES_PER_REQUEST = 2_000;
export const OTLP_MAX_LOG_RECORDS_PER_REQUEST = 2_000;
export const OTLP_REQUEST_TIMEOUT_MS = 10_000;
export const OTLP_RETRY_BASE_MS = 500;
export const OTLP_RETRY_AFTER_MAX_MS = 5 * 60_000;
export const OTLP_TRACE_FLUSH_MS = 1_000;
export const OTLP_STOP_DEADLINE_MS = 5_000;
/** A failing backend is logged at warn once, then at debug, and at warn again after this long (as upstream problems). */
export const OTLP_PROBLEM_REWARN_MS = UPSTREAM_PROBLEM_REWARN_MS;
