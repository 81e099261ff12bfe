/**
 * Every configuration key Tether reads, with its default and validation, defined once (SPEC §2).
 * Keys are snake_case dotted names; `DD_` + upper-cased key with dots as underscores is the
 * environment variable that sets the same key.
 */
import { INJECTION_MODES, WEBHOOK_ENTRY_SHAPES, type InjectionMode, type WebhookEntryShape } from './conventions.js';
import { DOGSTATSD_MAX_METRIC_NAME_LENGTH, DOGSTATSD_MAX_TAG_LENGTH, DOGSTATSD_MAX_TAGS_PER_METRIC, DOGSTATSD_ORIGIN_MAX_BYTES, DOGSTATSD_WINDOW_MAX_BYTES } from './limits.js';

/** A parser turns a raw value (from YAML or from an environment string) into a typed value or says what it expected. */
export interface KeySpec<T> {
  /** The value used when neither the file nor the environment sets the key; `undefined` = unset. */
  readonly default: T | undefined;
  /** What a valid value looks like, for error messages and docs. */
  readonly expected: string;
  /** `fromEnv` = the raw value is an environment string and may need converting. Throws `InvalidValue`. */
  parse(raw: unknown, fromEnv: boolean): T;
  /** Secrets are never echoed back in errors or logs. */
  readonly secret?: boolean;
  /** The environment variable that sets the key, when the stack does not name it `DD_` + the key (`apm_config.*` ⇐ `DD_APM_*`). */
  readonly env?: string;
  readonly doc: string;
}

export class InvalidValue extends Error {}

// Limits that other modules enforce too: defined here, imported there.
export const AUTH_TOKEN_MIN_LENGTH = 32;
export const TIMEOUT_SECONDS_RANGE = [1, 30] as const;
export const DEFAULT_PORT = 8000;
/**
 * After SIGTERM the pod stays in its Service's endpoints for a few seconds (endpoints controller, then
 * kube-proxy on every node); the API server keeps connecting to it meanwhile. 5 s covers that in practice.
 */
export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 5;
/** Namespace of objects that do not name one, as kubectl assumes. */
export const DEFAULT_NAMESPACE = 'default';
/**
 * Offline `inject` has no service account to say where the cluster agent runs: it assumes the usual
 * dedicated namespace, so that manifests for `default` are mutated (Tether never mutates its own namespace).
 */
export const OFFLINE_TETHER_NAMESPACE = 'datadog';

function bool(def: boolean, doc: string): KeySpec<boolean> & { readonly default: boolean } {
  return {
    default: def,
    expected: 'a boolean (true or false)',
    doc,
    parse(raw, fromEnv) {
      if (typeof raw === 'boolean') return raw;
      if (fromEnv && typeof raw === 'string') {
        const v = raw.trim().toLowerCase();
        if (v === 'true' || v === '1') return true;
        if (v === 'false' || v === '0') return false;
      }
      throw new InvalidValue();
    },
  };
}

function int<D extends number | undefined>(def: D, min: number, max: number, doc: string): KeySpec<number> & { readonly default: D } {
  return {
    default: def,
    expected: `an integer from ${min} to ${max}`,
    doc,
    parse(raw, fromEnv) {
      const n = typeof raw === 'number' ? raw : fromEnv && typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isInteger(n) || n < min || n > max) throw new InvalidValue();
      return n;
    },
  };
}

function str<D extends string | undefined>(
  def: D,
  doc: string,
  check?: { test: (s: string) => boolean; expected: string },
): KeySpec<string> & { readonly default: D } {
  return {
    default: def,
    expected: check?.expected ?? 'a non-empty string',
    doc,
    parse(raw) {
      if (typeof raw !== 'string' || raw.trim() === '') throw new InvalidValue();
      if (check && !check.test(raw)) throw new InvalidValue();
      return raw;
    },
  };
}

/** A console login token (secret, optional): at least `AUTH_TOKEN_MIN_LENGTH` characters, as the API token. */
function consoleToken(role: 'admin' | 'viewer', doc: string): KeySpec<string> & { readonly default: undefined } {
  return {
    ...str(undefined, doc),
    expected: `a string of at least ${AUTH_TOKEN_MIN_LENGTH} characters`,
    secret: true,
    parse(raw: unknown): string {
      if (typeof raw !== 'string') throw new InvalidValue();
      if (raw.length < AUTH_TOKEN_MIN_LENGTH) throw new InvalidValue(`console ${role} token length must be at least ${AUTH_TOKEN_MIN_LENGTH}, currently: ${raw.length}`);
      return raw;
    },
  };
}

/** A Unix socket the node agent listens on: an absolute path, or empty for none (a receiver that stays off). */
function optionalSocketPath(def: string, doc: string): KeySpec<string> & { readonly default: string } {
  return {
    default: def,
    expected: 'an absolute path, or an empty string for no socket',
    doc,
    parse(raw) {
      if (typeof raw !== 'string') throw new InvalidValue();
      const v = raw.trim();
      if (v !== '' && !v.startsWith('/')) throw new InvalidValue();
      return v;
    },
  };
}

/** An enumeration compared case-insensitively and normalised to its canonical spelling. */
function oneOf<const T extends string>(def: T, values: readonly T[], doc: string): KeySpec<T> & { readonly default: T } {
  return {
    default: def,
    expected: `one of ${values.join(', ')} (case-insensitive)`,
    doc,
    parse(raw) {
      if (typeof raw !== 'string') throw new InvalidValue();
      const found = values.find((v) => v.toLowerCase() === raw.trim().toLowerCase());
      if (found === undefined) throw new InvalidValue();
      return found;
    },
  };
}

/** Kubernetes resource quantity (e.g. `50m`, `20Mi`, `1.5`). */
const QUANTITY = /^[+]?(\d+(\.\d*)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+)?$/;
/** DNS-1123 label: what a Service or Secret name must be. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** DNS-1123 subdomain: what a MutatingWebhookConfiguration name must be. */
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const URL_PATH = /^\/[A-Za-z0-9._~\-/]*$/;

const dnsLabel = { test: (s: string) => DNS_LABEL.test(s), expected: 'a DNS-1123 label (lower-case letters, digits and -, at most 63)' };
const dnsSubdomain = { test: (s: string) => DNS_SUBDOMAIN.test(s), expected: 'a DNS-1123 subdomain' };
const urlPath = { test: (s: string) => URL_PATH.test(s), expected: 'an absolute URL path such as /injectconfig' };
const quantity = { test: (s: string) => QUANTITY.test(s.trim()), expected: 'a Kubernetes quantity such as 50m or 20Mi' };
const unixUrl = { test: (s: string) => /^unix:\/\/\/.+/.test(s), expected: 'a unix:///absolute/path URL' };
const absPath = { test: (s: string) => s.startsWith('/'), expected: 'an absolute path' };

/** A JSON object (a SecurityContext): given as an object in YAML or as a JSON string. */
function jsonObject(doc: string): KeySpec<Record<string, unknown>> & { readonly default: undefined } {
  return {
    default: undefined,
    expected: 'a JSON object (a Kubernetes SecurityContext)',
    doc,
    parse(raw) {
      let v = raw;
      if (typeof raw === 'string') {
        try {
          v = JSON.parse(raw);
        } catch {
          throw new InvalidValue();
        }
      }
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidValue();
      return v as Record<string, unknown>;
    },
  };
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const AC = 'admission_controller';

/** The table of keys. Order is the documentation order. */
export const SCHEMA = {
  log_level: oneOf<LogLevel>('info', LOG_LEVELS, 'log level; debug shows every injection decision'),
  kube_resources_namespace: str(undefined, "Tether's namespace (default: the service account's namespace, else `default`)", dnsLabel),
  leader_lease_name: str('datadog-leader-election', 'coordination.k8s.io Lease the cluster agent replicas elect their leader with', dnsSubdomain),
  leader_lease_duration: int(15, 2, 300, 'seconds a leader holds the Lease without renewing it; a new leader takes over after this'),
  shutdown_grace_seconds: int(
    DEFAULT_SHUTDOWN_GRACE_SECONDS,
    0,
    300,
    'seconds the webhook server keeps answering after SIGTERM with /readyz failing, so the Service drops the pod before its port closes',
  ),

  [`${AC}.enabled`]: bool(true, 'run the admission controller at all'),
  [`${AC}.port`]: int(DEFAULT_PORT, 1, 65535, 'HTTPS port of the webhook server'),
  [`${AC}.service_name`]: str('datadog-admission-controller', 'Service in front of the webhook (port 443 → port)', dnsLabel),
  [`${AC}.webhook_name`]: str('datadog-webhook', 'the MutatingWebhookConfiguration', dnsSubdomain),
  [`${AC}.certificate.secret_name`]: str('webhook-certificate', 'Secret holding cert.pem / key.pem', dnsSubdomain),
  [`${AC}.certificate.validity_bound`]: int(8760, 1, 100 * 8760, 'certificate lifetime, hours'),
  [`${AC}.certificate.expiration_threshold`]: int(720, 0, 100 * 8760, 'renew when less than this many hours are left'),
  [`${AC}.certificate.ca_propagation_seconds`]: int(
    60,
    0,
    24 * 3600,
    "seconds a new CA must have been in the webhook configuration's caBundle before serving certificates it signs are used (the API server's informer lag)",
  ),
  [`${AC}.mutate_unlabelled`]: bool(false, 'mutate pods without the opt-in label'),
  [`${AC}.failure_policy`]: oneOf('Ignore', ['Ignore', 'Fail'] as const, 'webhook failurePolicy'),
  [`${AC}.reinvocation_policy`]: oneOf('IfNeeded', ['IfNeeded', 'Never'] as const, 'webhook reinvocationPolicy'),
  [`${AC}.timeout_seconds`]: int(10, TIMEOUT_SECONDS_RANGE[0], TIMEOUT_SECONDS_RANGE[1], 'webhook timeoutSeconds'),
  [`${AC}.webhook_entries`]: oneOf<WebhookEntryShape>(
    'separate',
    WEBHOOK_ENTRY_SHAPES,
    'separate: one webhook entry per webhook (the seeds\' names: config, tags, auto.instrumentation); single: one entry (<webhook_name>.inject) that runs every enabled webhook in one call per pod',
  ),
  [`${AC}.single_entry.endpoint`]: str('/inject', 'path of the single entry (webhook_entries single)', urlPath),
  [`${AC}.add_aks_selectors`]: bool(false, "add the namespace selectors AKS's admissions enforcer expects"),

  [`${AC}.inject_config.enabled`]: bool(true, 'config webhook'),
  [`${AC}.inject_config.endpoint`]: str('/injectconfig', 'config webhook path', urlPath),
  [`${AC}.inject_config.mode`]: oneOf<InjectionMode>('hostip', INJECTION_MODES, 'how pods reach their node agent'),
  [`${AC}.inject_config.local_service_name`]: str('datadog', 'node-local agent Service for service mode', dnsLabel),
  [`${AC}.inject_config.socket_path`]: str('/var/run/datadog', 'host directory with the agent sockets', absPath),
  [`${AC}.inject_config.trace_agent_socket`]: str('unix:///var/run/datadog/apm.socket', 'trace agent socket URL', unixUrl),
  [`${AC}.inject_config.dogstatsd_socket`]: str('unix:///var/run/datadog/dsd.socket', 'DogStatsD socket URL', unixUrl),
  [`${AC}.inject_config.type_socket_volumes`]: bool(false, 'one Socket hostPath volume per socket instead of one directory'),

  [`${AC}.inject_tags.enabled`]: bool(true, 'tags webhook'),
  [`${AC}.inject_tags.endpoint`]: str('/injecttags', 'tags webhook path', urlPath),
  [`${AC}.inject_tags.pod_owners_cache_validity`]: int(10, 0, 24 * 60, 'owner cache TTL, minutes'),

  [`${AC}.auto_instrumentation.enabled`]: bool(true, 'library-injection webhook'),
  [`${AC}.auto_instrumentation.endpoint`]: str('/injectlib', 'library-injection webhook path', urlPath),
  [`${AC}.auto_instrumentation.container_registry`]: str('gcr.io/datadoghq', 'registry of the library images'),
  [`${AC}.auto_instrumentation.init_resources.cpu`]: str('50m', 'init container CPU request = limit', quantity),
  [`${AC}.auto_instrumentation.init_resources.memory`]: str('20Mi', 'init container memory request = limit', quantity),
  [`${AC}.auto_instrumentation.init_security_context`]: jsonObject('SecurityContext of the library init containers'),

  'cluster_agent.auth_token': {
    ...str(undefined, 'shared token node agents present to the cluster agent'),
    expected: `a string of at least ${AUTH_TOKEN_MIN_LENGTH} characters`,
    secret: true,
    parse(raw: unknown): string {
      if (typeof raw !== 'string') throw new InvalidValue();
      if (raw.length < AUTH_TOKEN_MIN_LENGTH) {
        // The seeds' wording, so searching the error finds the fix; the length is not a secret, the token is.
        throw new InvalidValue(
          `cluster agent authentication token length must be at least ${AUTH_TOKEN_MIN_LENGTH}, currently: ${raw.length}`,
        );
      }
      return raw;
    },
  } satisfies KeySpec<string>,
  'cluster_agent.cmd_port': int(5005, 1, 65535, 'HTTPS port of the cluster agent API'),
  'cluster_agent.console.enabled': bool(true, 'serve the web console (/console/) and its API (/api/v1/console/) on the cluster agent API port'),
  'cluster_agent.console.admin_token': consoleToken('admin', "the web console's admin token (may run diagnose); distinct from the token node agents hold (unset: no admin login)"),
  'cluster_agent.console.viewer_token': consoleToken('viewer', 'read-only token for the web console (cluster_agent.console.admin_token logs in as admin)'),

  'cluster_agent.url': str(undefined, 'node agent: the cluster agent API, https://HOST:PORT (default: from the Service environment variables)', {
    test: (s) => /^https:\/\/[^/]+/.test(s),
    expected: 'an https:// URL (the cluster agent API is served over TLS only)',
  }),
  'cluster_agent.kubernetes_service_name': str('datadog-cluster-agent', 'the cluster agent API Service; node agents find it through its <NAME>_SERVICE_HOST/_PORT variables', dnsLabel),
  'cluster_agent.tls_verify': bool(true, "node agent verifies the cluster agent API's certificate against cluster_agent.ca_file"),
  'cluster_agent.ca_file': str('/var/run/tether/cluster-agent-ca/ca.pem', "CA bundle the cluster agent API's certificate is verified with (the ConfigMap the cluster agent publishes, mounted)", absPath),
  'node_agent.port': int(5001, 1, 65535, "node agent's local HTTP endpoint (its pods and tags, health, last errors)"),
  kubernetes_kubelet_nodename: str(undefined, "node agent: its node's name, from the downward API's spec.nodeName; required", dnsSubdomain),
  kubernetes_kubelet_host: str(undefined, "node agent: the kubelet's address, from the downward API's status.hostIP (default: the node name)"),
  kubernetes_https_kubelet_port: int(10250, 1, 65535, "the kubelet's HTTPS port"),
  kubelet_tls_verify: bool(true, "node agent verifies the kubelet's certificate"),
  kubelet_auth_token_path: str('/var/run/secrets/kubernetes.io/serviceaccount/token', 'kubelet bearer token file, re-read every minute', absPath),
  kubelet_client_ca: str(undefined, "CA that signed the kubelet's certificate (default: the service account's ca.crt)", absPath),

  // The node agent's trace receiver (SPEC §10), under the trace agent's names and environment variables.
  'apm_config.receiver_port': { ...int(8126, 0, 65535, 'node agent: TCP port tracers send traces to (0: no TCP receiver)'), env: 'DD_APM_RECEIVER_PORT' },
  'apm_config.apm_non_local_traffic': {
    ...bool(false, "node agent: accept traces from other hosts, not only from 127.0.0.1 (pods reaching the node's IP need it: the DaemonSet sets it)"),
    env: 'DD_APM_NON_LOCAL_TRAFFIC',
  },
  'apm_config.receiver_socket': {
    ...optionalSocketPath('/var/run/datadog/apm.socket', 'node agent: Unix socket tracers send traces to (socket mode); empty: none'),
    env: 'DD_APM_RECEIVER_SOCKET',
  },
  'apm_config.max_traces_per_second': {
    ...int(10, 1, 100_000, "node agent: priority sampling's target, traces per second per service and env: the rate_by_service tracers are answered makes them keep about this many (0 < rate <= 1)"),
    env: 'DD_APM_MAX_TPS',
  },

  // The node agent's DogStatsD intake (nodeagent/intake/dogstatsd/): the stack's own key names, so the
  // same DD_DOGSTATSD_* variables configure it.
  dogstatsd_port: int(8125, 0, 65535, 'node agent: UDP port of the DogStatsD intake; 0 turns UDP off'),
  dogstatsd_non_local_traffic: bool(
    false,
    "node agent: DogStatsD over UDP from other hosts and pods (listen on every interface, not only loopback); a DaemonSet reached through its hostPort or the node's IP needs true",
  ),
  dogstatsd_socket: optionalSocketPath(
    '/var/run/datadog/dsd.socket',
    'node agent: Unix datagram socket of the DogStatsD intake (what DD_DOGSTATSD_URL=unix://... points clients at); empty turns it off',
  ),
  dogstatsd_buffer_size: int(8192, 512, 65536, 'node agent: largest DogStatsD datagram read, bytes; longer ones are cut there (the last line is then usually malformed)'),
  dogstatsd_so_rcvbuf: int(0, 0, 256 * 1024 * 1024, "node agent: the DogStatsD UDP socket's receive buffer (SO_RCVBUF), bytes; 0 keeps the system's default"),
  // Bounds in bytes per window and per origin (limits.ts says how a series' bytes are counted).
  dogstatsd_window_max_bytes: int(DOGSTATSD_WINDOW_MAX_BYTES, 1024 * 1024, 1024 * 1024 * 1024, 'node agent: bytes of DogStatsD series (names, tags, value state) one 10 s window holds; past it, new series are dropped and counted'),
  dogstatsd_origin_max_bytes: int(DOGSTATSD_ORIGIN_MAX_BYTES, 64 * 1024, 1024 * 1024 * 1024, 'node agent: bytes of DogStatsD series one origin (a pod, or an unresolved sender) holds per window; past it, its new series are dropped and counted'),
  dogstatsd_max_metric_name_length: int(DOGSTATSD_MAX_METRIC_NAME_LENGTH, 1, 8192, 'node agent: longest DogStatsD metric name, characters; longer: the sample is dropped and counted'),
  dogstatsd_max_tag_length: int(DOGSTATSD_MAX_TAG_LENGTH, 1, 8192, 'node agent: longest DogStatsD tag, characters; a sample with a longer one is dropped and counted'),
  dogstatsd_max_tags_per_metric: int(DOGSTATSD_MAX_TAGS_PER_METRIC, 1, 4096, 'node agent: most tags on one DogStatsD sample; more: the sample is dropped and counted'),

  // The node agent's OTLP export (nodeagent/intake/otlp/): what injected pods send, tagged with their pod.
  otlp_endpoint: str(
    undefined,
    'node agent: OTLP/HTTP (protobuf) base URL traces, DogStatsD metrics and DogStatsD service checks and events (as logs) are exported to, e.g. http://otel-collector:4318 (/v1/traces, /v1/metrics and /v1/logs are appended); unset: nothing is exported',
    { test: (s) => /^https?:\/\/[^/]+/.test(s), expected: 'an http:// or https:// URL' },
  ),
  otlp_traces_endpoint: str(undefined, 'node agent: the full OTLP/HTTP URL traces are sent to, over otlp_endpoint (e.g. a Jaeger or Tempo at http://jaeger:4318/v1/traces)', {
    test: (s) => /^https?:\/\/[^/]+/.test(s),
    expected: 'an http:// or https:// URL',
  }),
  otlp_metrics_endpoint: str(undefined, 'node agent: the full OTLP/HTTP URL DogStatsD metrics are sent to, over otlp_endpoint (e.g. http://prometheus:9090/api/v1/otlp/v1/metrics)', {
    test: (s) => /^https?:\/\/[^/]+/.test(s),
    expected: 'an http:// or https:// URL',
  }),
  otlp_logs_endpoint: str(undefined, 'node agent: the full OTLP/HTTP URL DogStatsD service checks and events are sent to as log records, over otlp_endpoint (e.g. http://loki:3100/otlp/v1/logs)', {
    test: (s) => /^https?:\/\/[^/]+/.test(s),
    expected: 'an http:// or https:// URL',
  }),
  otlp_retry_max_interval_seconds: int(30, 1, 600, 'node agent: longest wait between two tries of a failed OTLP request (the wait doubles from 0.5 s, with jitter; a Retry-After is honoured)'),
  otlp_retry_max_elapsed_seconds: int(300, 1, 24 * 3600, 'node agent: an OTLP request still failing this long after its first try is dropped (and counted)'),
} as const satisfies Record<string, KeySpec<unknown>>;

export type ConfigKey = keyof typeof SCHEMA;
type ValueOf<S> = S extends KeySpec<infer T> ? T : never;

/** The validated configuration: every key, typed; keys without a default and unset are `undefined`. */
export type TetherConfig = {
  readonly [K in ConfigKey]: (typeof SCHEMA)[K]['default'] extends undefined
    ? ValueOf<(typeof SCHEMA)[K]> | undefined
    : ValueOf<(typeof SCHEMA)[K]>;
};

export const CONFIG_KEYS = Object.keys(SCHEMA) as ConfigKey[];

/** `admission_controller.add_aks_selectors` ⇒ `DD_ADMISSION_CONTROLLER_ADD_AKS_SELECTORS`. */
export function envVarFor(key: string): string {
  const named = (SCHEMA as Record<string, KeySpec<unknown>>)[key]?.env;
  return named ?? 'DD_' + key.toUpperCase().replaceAll('.', '_');
}

/**
 * Environment prefixes Tether owns: an unknown variable under them is most likely a typo and is a
 * configuration error. Other unknown `DD_*` variables only get a warning (`unknownEnv.ts`): they may be
 * the rest of the agent stack's.
 */
export const OWNED_ENV_PREFIXES: readonly string[] = ['DD_ADMISSION_CONTROLLER_'];
