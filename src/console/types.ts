/**
 * The console's wire format (issue 12): every JSON shape the console API (`/api/v1/console/…`) answers
 * or accepts, and the server-sent events of `/api/v1/console/events`. Shared by the server
 * (`src/console/`) and the front end (which imports this file), so the two cannot drift apart. Types,
 * paths and fixed texts only: no logic, no imports.
 *
 * Stability: this file only grows. Fields are added (optional when old servers lack them), never
 * renamed or removed; an enum may gain members, so clients must show an unknown member as text.
 *
 * Conventions:
 * - Times are RFC 3339 strings (`2024-05-01T12:00:00.000Z`); durations are milliseconds (`…Ms`).
 * - Every answer is `application/json` with `Cache-Control: no-store`, except the event stream.
 * - Errors (any status ≥ 400) answer `ConsoleError`. 401: no (valid) session: show the login page;
 *   403: wrong token at login, or an action the session's role may not take; 429: rate-limited
 *   (`Retry-After` header in seconds); 409: already running; 503: the state is not ready.
 * - Authentication: the session cookie (`CONSOLE_SESSION_COOKIE`, HttpOnly, Secure, SameSite=Strict,
 *   set by `POST login`), or `Authorization: Bearer <token>` (curl, tests) with the same tokens login
 *   accepts. State-changing requests (POST) must be `Content-Type: application/json` and, when the
 *   browser sends `Origin`, same-origin.
 * - Lists are paged: `offset` (default 0) and `limit` (default `CONSOLE_PAGE_DEFAULT`, at most
 *   `CONSOLE_PAGE_MAX`) query parameters; the answer says `total` (matches before paging).
 */

// ---------------------------------------------------------------------------------------------------
// Paths, cookie, limits

export const CONSOLE_API_PREFIX = '/api/v1/console';
/** Where the page itself is served (index.html); its assets are under `CONSOLE_ASSETS_PATH`. */
export const CONSOLE_PAGE_PATH = '/console/';
export const CONSOLE_ASSETS_PATH = '/console/assets/';

/**
 * Every console API path. `{node}`, `{ns}`, `{pod}` are single path segments, percent-encoded
 * (`encodeURIComponent`).
 */
export const CONSOLE_PATHS = {
  /** POST `LoginRequest` → 200 `SessionAnswer` + Set-Cookie; 401 (no token) / 403 (wrong token). */
  login: '/api/v1/console/login',
  /** POST (empty body or `{}`) → 204; clears the cookie, ends the session and its event streams. */
  logout: '/api/v1/console/logout',
  /** GET → `SessionAnswer`; 401 without a valid session. */
  session: '/api/v1/console/session',
  /** GET → `OverviewAnswer`. */
  overview: '/api/v1/console/overview',
  /** GET `?q=&offset=&limit=&agent=` → `NodesPage`. `q`: substring of the node name. */
  nodes: '/api/v1/console/nodes',
  /** GET → `NodeRow` (404 for a node neither a Node object nor a pod names). */
  node: (node: string): string => `/api/v1/console/nodes/${encodeURIComponent(node)}`,
  /**
   * GET `?q=&namespace=&offset=&limit=&injected=` → `PodsPage` of the pods whose `spec.nodeName` is
   * `node`, and only those. `q`: substring of `namespace/name`.
   */
  nodePods: (node: string): string => `/api/v1/console/nodes/${encodeURIComponent(node)}/pods`,
  /**
   * GET `?node=&namespace=&q=&offset=&limit=&injected=` → `PodsPage` across the cluster. `node` and
   * `namespace` are exact matches (`node=` with an empty value: unscheduled pods), `q` a substring of
   * `namespace/name`, `injected` `true`/`false`.
   */
  pods: '/api/v1/console/pods',
  /** GET → `PodDetail` (404 when unknown). */
  pod: (namespace: string, name: string): string => `/api/v1/console/pods/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`,
  /** GET → `WebhookHealth`. */
  webhook: '/api/v1/console/webhook',
  /** GET → `DiagnoseAnswer`; POST (`{}`) → 202 `DiagnoseAnswer` (started), 409 running, 429 too soon, 403 viewer. */
  diagnose: '/api/v1/console/diagnose',
  /** GET `?node=` → `text/event-stream` (see `ConsoleEvents`). */
  events: '/api/v1/console/events',
} as const;

/** The session cookie's name (its value is a random session id, never a token). */
export const CONSOLE_SESSION_COOKIE = 'tether_console_session';

export const CONSOLE_PAGE_DEFAULT = 100;
export const CONSOLE_PAGE_MAX = 1000;

// ---------------------------------------------------------------------------------------------------
// Errors and sessions

/** The body of every error answer. */
export interface ConsoleError {
  /** One sentence: what was wrong, and what to do when there is something to do. */
  readonly error: string;
  /** Stable machine-readable reason, e.g. `missing`, `invalid`, `expired`, `forbidden`, `rate-limited`, `running`, `not-found`, `bad-request`, `not-synced`. */
  readonly code: string;
}

/**
 * The bodies of the authentication failures, as the cluster agent API words them (`agentapi/types.ts`
 * `AUTH_FAILURE_TEXT`): 401 `no session token provided` (with more words after a colon when useful),
 * 403 `invalid session token`.
 */
export const CONSOLE_AUTH_TEXT = {
  missing: 'no session token provided',
  invalid: 'invalid session token',
} as const;

/** POST `login`. */
export interface LoginRequest {
  /** The console admin token (`cluster_agent.console.admin_token`) or the viewer token (`cluster_agent.console.viewer_token`). */
  readonly token: string;
}

/**
 * `admin`: logged in with the console admin token (may run diagnose); `viewer`: with the read-only
 * viewer token (reads only).
 */
export type ConsoleRole = 'admin' | 'viewer';

/** `GET session`, `POST login`. */
export interface SessionAnswer {
  readonly role: ConsoleRole;
  /** When the session ends (server-side; the cookie's Max-Age says the same). */
  readonly expiresAt: string;
  readonly canRunDiagnose: boolean;
  /** `cluster` (`tether start`, in the cluster) or `local` (`tether console`, from a kubeconfig). */
  readonly served: 'cluster' | 'local';
  /** Tether's namespace. */
  readonly namespace: string;
  /** Tether's version (package.json). */
  readonly version: string;
}

// ---------------------------------------------------------------------------------------------------
// Overview

export interface OverviewAnswer {
  readonly at: string;
  /** kube-system's uid, when known. */
  readonly clusterId?: string;
  /** Every watch has listed once and none is failing: the numbers are as fresh as the watches. */
  readonly synced: boolean;
  /** Watches not synced or failing, in words (empty when `synced`). */
  readonly syncProblems: readonly string[];
  readonly counts: OverviewCounts;
  /** Who holds the leader Lease (`LeaderInfo`); undefined until known. */
  readonly leader?: LeaderInfo;
  readonly webhook: WebhookSummary;
  readonly nodeAgents: NodeAgentsSummary;
  /** The latest diagnose run's counts; undefined before the first run ended. */
  readonly diagnose?: DiagnoseSummary;
}

export interface OverviewCounts {
  readonly nodes: number;
  readonly pods: number;
  /** Pods with no `spec.nodeName` yet. */
  readonly unscheduledPods: number;
  /** Pods the config webhook went through (see `PodInjection`). */
  readonly injectedPods: number;
  /** Pods opted in (selected by the webhooks' rules) but not injected. */
  readonly missedPods: number;
  readonly namespaces: number;
}

export interface LeaderInfo {
  /** `namespace/name` of the Lease. */
  readonly lease: string;
  /** As `tether status` says it: `Running`, `Expired`, `Released`, `Not started`, `Failing`. */
  readonly state: string;
  readonly holderIdentity?: string;
  /** This process holds it (cluster mode only). */
  readonly self?: boolean;
  readonly renewTime?: string;
  readonly error?: string;
}

export interface WebhookSummary {
  /** `ok`: configuration present, every entry's caBundle matches the Secret, certificate not near expiry. */
  readonly state: HealthState;
  /** One line per problem (empty when ok). */
  readonly problems: readonly string[];
}

export type HealthState = 'ok' | 'warning' | 'error' | 'unknown';

export interface NodeAgentsSummary {
  /** Nodes with a node agent report in ConfigMap datadog-node-agents. */
  readonly reporting: number;
  /** Of those, reports whose kubelet or cluster-agent result is failing. */
  readonly failing: number;
  /** Nodes (known to the cluster state) without a report. */
  readonly missing: number;
}

export interface DiagnoseSummary {
  readonly finishedAt: string;
  readonly ok: number;
  readonly warning: number;
  readonly error: number;
  readonly skipped: number;
}

// ---------------------------------------------------------------------------------------------------
// Nodes

export interface NodesPage {
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
  /** Sorted by name. */
  readonly rows: readonly NodeRow[];
}

export interface NodeRow {
  readonly name: string;
  /** A Node object exists (false: only pods name it). */
  readonly known: boolean;
  /** Pods whose `spec.nodeName` is this node. */
  readonly pods: number;
  /** Of those, injected by the config webhook. */
  readonly injected: number;
  /** Of those, opted in but not injected. */
  readonly missed: number;
  /** The node agent's last report, when one is recorded; undefined: no node agent reported. */
  readonly agent?: NodeAgentInfo;
}

export interface NodeAgentInfo {
  readonly lastSeen: string;
  readonly kubelet: UpstreamInfo;
  readonly clusterAgent: UpstreamInfo;
}

/** One upstream of a node agent (its kubelet, the cluster agent), with the fix when failing. */
export interface UpstreamInfo {
  readonly state: 'ok' | 'failing' | 'unknown';
  /** Problem code, e.g. `unauthorized`, `forbidden`, `tls-unknown-ca`. */
  readonly code?: string;
  readonly status?: number;
  readonly summary?: string;
  /** What to do, as `tether diagnose` says it; absent when nothing is wrong. */
  readonly fix?: string;
}

// ---------------------------------------------------------------------------------------------------
// Pods

export interface PodsPage {
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
  /** Sorted by namespace, then name. */
  readonly rows: readonly PodRow[];
  /** The node the page is of (`nodes/{node}/pods`, or `pods?node=`). */
  readonly node?: string;
}

/** One pod in a list: small (a 100-row page stays a few tens of KB). */
export interface PodRow {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** `spec.nodeName`; empty while unscheduled. */
  readonly node: string;
  /** `status.phase` (`Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`), empty when not reported. */
  readonly phase: string;
  readonly injected: boolean;
  /** Why it is, or is not, injected (see `INJECTION_REASONS`). */
  readonly reason: InjectionReason;
  /** Config mode found in the pod's spec, when injected. */
  readonly mode?: InjectionModeSeen;
  /** Library languages whose init container is in the pod, e.g. `["java"]`. */
  readonly libraries?: readonly string[];
  /** Creation time, when known. */
  readonly createdAt?: string;
}

export type InjectionModeSeen = 'hostip' | 'service' | 'socket' | 'unknown';

/**
 * Why a pod is or is not injected, decided from its own spec and labels, its namespace, the
 * configuration, when the webhook configuration was created, and the platform:
 * - `injected`: the config webhook went through it (`DD_ENTITY_ID` in its containers);
 * - `namespace-excluded`: Tether's own namespace, or one never mutated (`kube-system`);
 * - `label-false`: `admission.datadoghq.com/enabled: "false"`;
 * - `no-label`: no such label, and `admission_controller.mutate_unlabelled` is false;
 * - `label-invalid`: a value other than "true"/"false", and mutate_unlabelled is false;
 * - `webhook-disabled`: the config webhook is switched off (`admission_controller.inject_config.enabled`);
 * - `created-before-webhook`: opted in, created before the webhook configuration existed;
 * - `mode-not-allowed`: opted in, its mode is `socket` where hostPath volumes are refused (GKE
 *   Autopilot, OpenShift);
 * - `missed`: opted in, created while the webhook existed, not injected: the API server could not reach
 *   it (it fails open) or it failed; recreate the pod.
 */
export const INJECTION_REASONS = [
  'injected',
  'namespace-excluded',
  'label-false',
  'no-label',
  'label-invalid',
  'webhook-disabled',
  'created-before-webhook',
  'mode-not-allowed',
  'missed',
] as const;
export type InjectionReason = (typeof INJECTION_REASONS)[number];

/** GET `pods/{ns}/{name}`. */
export interface PodDetail extends PodRow {
  /** The reason in words, with the fix when there is one (e.g. the `kubectl rollout restart` to run). */
  readonly explanation: string;
  readonly fix?: string;
  readonly injection: PodInjection;
  /** The pod's first owner. */
  readonly owner?: { readonly kind: string; readonly name: string };
  /** The workload through its owners (Deployment, CronJob…), when known. */
  readonly workload?: { readonly kind: string; readonly name: string };
  /** The pod's `admission.datadoghq.com/enabled` label, when set. */
  readonly enabledLabel?: string;
  /** All the pod's tags as the cluster agent API gives them to node agents (`kube_namespace:…`). */
  readonly tags: readonly string[];
}

/** What Tether's webhooks left in the pod's spec (read from the pod, not from Tether's logs). */
export interface PodInjection {
  /** `DD_ENTITY_ID` in a container: the config webhook went through. */
  readonly config: boolean;
  readonly mode?: InjectionModeSeen;
  /** `DD_ENV`, `DD_SERVICE`, `DD_VERSION` found in the containers' env (values as set). */
  readonly tags: Readonly<Partial<Record<'env' | 'service' | 'version', string>>>;
  /** Languages of the `datadog-lib-<lang>-init` init containers. */
  readonly libraries: readonly string[];
}

// ---------------------------------------------------------------------------------------------------
// Webhook health

export interface WebhookHealth {
  readonly at: string;
  readonly state: HealthState;
  readonly problems: readonly string[];
  readonly configuration: WebhookConfigurationHealth;
  readonly secret: SecretHealth;
  readonly leader?: LeaderInfo;
  /**
   * From the webhook server's own metrics (`tether_admission_requests_total`,
   * `tether_admission_request_duration_seconds`) of this process; absent in `tether console` (local),
   * which has no webhook server.
   */
  readonly traffic?: WebhookTraffic;
  /** The most recent admission requests answered with an error or rejected, newest first (cluster mode). */
  readonly recentFailures?: readonly WebhookFailure[];
}

export interface WebhookConfigurationHealth {
  /** The MutatingWebhookConfiguration's name (`admission_controller.webhook_name`). */
  readonly name: string;
  readonly present: boolean;
  readonly createdAt?: string;
  readonly entries: readonly WebhookEntryHealth[];
  /** Why it could not be read, when it could not. */
  readonly error?: string;
}

export interface WebhookEntryHealth {
  readonly name: string;
  /** FNV-1 64 of the entry's caBundle (16 hex digits), as `tether status` prints it. */
  readonly caBundleDigest: string;
  /** The digest equals the Secret's CA bundle digest. */
  readonly caBundleMatches: boolean;
  /** `service ns/name:port/path` or the URL. */
  readonly target: string;
  /** Which of Tether's entries: a webhook's own (`config`, `tags`, `lib`), the single one (`inject`), or `other`. */
  readonly runs: string;
}

export interface SecretHealth {
  /** `namespace/name`. */
  readonly name: string;
  readonly present: boolean;
  readonly caBundleDigest?: string;
  readonly certificateExpiresAt?: string;
  /** Time left on the serving certificate (negative: expired). */
  readonly certificateExpiresInMs?: number;
  readonly error?: string;
}

export interface WebhookTraffic {
  /** Requests per second over the last `windowMs` (all webhooks). */
  readonly ratePerSecond: number;
  /** 99th percentile of the answer time over the window, ms (from the histogram's buckets); absent with no request. */
  readonly p99Ms?: number;
  readonly windowMs: number;
  /** Per outcome over the window (`mutated`, `unchanged`, `skipped`, `error`, `rejected`). */
  readonly outcomes: Readonly<Record<string, number>>;
  /** Since the process started. */
  readonly totalRequests: number;
}

export interface WebhookFailure {
  readonly at: string;
  /** `config`, `tags`, `lib`. */
  readonly webhook: string;
  /** `error` or `rejected`. */
  readonly outcome: string;
  /** How many failed in that sampling interval. */
  readonly count: number;
}

// ---------------------------------------------------------------------------------------------------
// Diagnose

/** One check's result, exactly as `tether diagnose -o json` prints it. */
export interface DiagnoseCheckResult {
  readonly name: string;
  readonly status: 'ok' | 'warning' | 'error' | 'skipped';
  readonly summary: string;
  readonly evidence: readonly string[];
  readonly fix: string;
}

export interface DiagnoseAnswer {
  /** A run is in progress now. */
  readonly running: boolean;
  readonly startedAt?: string;
  /** The latest finished run; undefined before the first ended. */
  readonly latest?: DiagnoseRun;
  /** Earliest time another run may start (rate limit), when that is in the future. */
  readonly nextRunAllowedAt?: string;
}

export interface DiagnoseRun {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly results: readonly DiagnoseCheckResult[];
  readonly summary: DiagnoseSummary;
  /** Whose permissions the checks ran with, in words (the cluster agent's service account, the operator's kubeconfig). */
  readonly ranAs: string;
  /** Why the run could not start at all, when it could not (then `results` is empty). */
  readonly error?: string;
}

// ---------------------------------------------------------------------------------------------------
// Server-sent events: GET events (`text/event-stream`)
//
// Each message is `event: <name>\ndata: <one line of JSON>\n\n`. Changes are coalesced over
// `flushMs` (hello): a pod changed ten times in that time is sent once, as it is at the end. When more
// changed than `maxRowsPerFlush`, a `resync` is sent instead of rows: refetch what is shown. The stream
// starts with `hello`; after a reconnect (EventSource does it by itself), refetch too. `?node=NAME`
// limits `pods` rows to that node's pods (and pods that left it); without it every pod row is sent.

export interface ConsoleEvents {
  /** First message of every stream. */
  hello: HelloEvent;
  /** Every `heartbeatMs`, so the page can tell a live stream from a dead one. */
  heartbeat: { readonly at: string };
  /** Pods added or changed (rows as they are now), and removed. */
  pods: PodsEvent;
  /** Nodes whose counts changed (rows as they are now), and nodes gone. */
  nodes: NodesEvent;
  /** The overview's counts changed. */
  counts: OverviewCounts;
  /** The webhook's health changed (state, problems, entries, leader). */
  webhook: WebhookHealth;
  /** A diagnose run started or finished. */
  diagnose: DiagnoseAnswer;
  /** Too much changed to send: refetch `what`. */
  resync: ResyncEvent;
  /** The stream ends (logout, session expiry, server shutdown); the server closes it after this. */
  bye: ByeEvent;
}
export type ConsoleEventName = keyof ConsoleEvents;

export interface HelloEvent {
  readonly at: string;
  readonly heartbeatMs: number;
  readonly flushMs: number;
  readonly maxRowsPerFlush: number;
  /** The `?node=` filter, when one was given. */
  readonly node?: string;
}

export interface PodsEvent {
  readonly upserted: readonly PodRow[];
  readonly deleted: readonly PodRef[];
}

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  /** The node it was on. */
  readonly node: string;
}

export interface NodesEvent {
  readonly rows: readonly NodeRow[];
  readonly deleted: readonly string[];
}

export interface ResyncEvent {
  readonly what: 'pods' | 'nodes';
  /** How many changes were pending. */
  readonly changes: number;
}

export interface ByeEvent {
  readonly reason: 'logout' | 'expired' | 'shutdown';
}
