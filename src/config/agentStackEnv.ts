/**
 * `DD_*` environment variables known to the wider agent stack, ignored by Tether. One Helm values file
 * or one Secret usually feeds every component of the stack, so the cluster agent's pods carry the node
 * agent's, the tracers' and the Cluster Agent's own settings too: those must not be reported as typos.
 * Anything `DD_*` that is neither here nor a Tether key (`schema.ts`) gets a startup warning
 * (`unknownEnv.ts`).
 *
 * Names as the Datadog Agent binds them (its configuration key upper-cased, dots as underscores, in
 * `pkg/config/setup`), as its Helm chart and operator set them on the Cluster Agent's Deployment, and as
 * the tracers read them. Tether's own keys that share a name with the stack's (`DD_LOG_LEVEL`,
 * `DD_KUBE_RESOURCES_NAMESPACE`, `DD_LEADER_LEASE_*`, `DD_CLUSTER_AGENT_AUTH_TOKEN`...) are not repeated
 * here: they are Tether's, and validated as such.
 */
import { ENV_AGENT_HOST, ENV_DOGSTATSD_URL, ENV_ENTITY_ID, ENV_EXTERNAL_ENV, ENV_INTERNAL_POD_UID, ENV_TRACE_AGENT_URL, UNIFIED_SERVICE_TAGS } from './conventions.js';

/** Exact names. */
export const AGENT_STACK_ENV_VARS: readonly string[] = [
  // Credentials, intake and identity, shared by every component.
  'DD_API_KEY',
  'DD_APP_KEY',
  'DD_SITE',
  'DD_DD_URL',
  'DD_URL',
  'DD_TAGS',
  'DD_EXTRA_TAGS',
  'DD_HOSTNAME',
  'DD_HOSTNAME_FILE',
  'DD_HOSTNAME_FQDN',
  'DD_CLUSTER_NAME',
  'DD_SKIP_SSL_VALIDATION',
  'DD_MIN_TLS_VERSION',
  'DD_CHECKS_TAG_CARDINALITY',
  'DD_DOGSTATSD_TAG_CARDINALITY',
  // The stack's DogStatsD server settings Tether's node agent does not read. Listed by name, not as a
  // family: `dogstatsd_port`, `dogstatsd_socket`... are Tether keys, and a typo in one must not pass.
  'DD_DOGSTATSD_ORIGIN_DETECTION',
  'DD_DOGSTATSD_ORIGIN_DETECTION_CLIENT',
  'DD_DOGSTATSD_ENTITY_ID_PRECEDENCE',
  'DD_DOGSTATSD_STREAM_SOCKET',
  'DD_DOGSTATSD_PIPE_NAME',
  'DD_DOGSTATSD_HOST_SOCKET_PATH',
  'DD_DOGSTATSD_TAGS',
  'DD_DOGSTATSD_STATS_ENABLE',
  'DD_DOGSTATSD_STATS_PORT',
  'DD_DOGSTATSD_STATS_BUFFER',
  'DD_DOGSTATSD_METRICS_STATS_ENABLE',
  'DD_DOGSTATSD_QUEUE_SIZE',
  'DD_DOGSTATSD_PACKET_BUFFER_SIZE',
  'DD_DOGSTATSD_PACKET_BUFFER_FLUSH_TIMEOUT',
  'DD_DOGSTATSD_STRING_INTERNER_SIZE',
  'DD_DOGSTATSD_EXPIRY_SECONDS',
  'DD_DOGSTATSD_CONTEXT_EXPIRY_SECONDS',
  'DD_DOGSTATSD_MAPPER_PROFILES',
  'DD_DOGSTATSD_MAPPER_CACHE_SIZE',
  'DD_DOGSTATSD_NO_AGGREGATION_PIPELINE',
  'DD_DOGSTATSD_FLUSH_INCOMPLETE_BUCKETS',
  'DD_DOGSTATSD_EOL_REQUIRED',
  'DD_DOGSTATSD_DISABLE_VERBOSE_LOGS',
  'DD_DOGSTATSD_CAPTURE_PATH',
  'DD_DOGSTATSD_CAPTURE_DEPTH',
  'DD_DOGSTATSD_LOG_FILE',
  'DD_DOGSTATSD_LOG_FILE_MAX_SIZE',
  'DD_DOGSTATSD_WORKERS_COUNT',
  'DD_DOGSTATSD_MEM_BASED_RATE_LIMITER_ENABLED',
  // What the webhooks inject into application pods (and tracers read).
  ...UNIFIED_SERVICE_TAGS.map((t) => t.env),
  ENV_AGENT_HOST,
  ENV_ENTITY_ID,
  ENV_INTERNAL_POD_UID,
  ENV_EXTERNAL_ENV,
  ENV_TRACE_AGENT_URL,
  ENV_DOGSTATSD_URL,
  'DD_DOTNET_TRACER_HOME',
  'DD_LOGS_INJECTION',
  'DD_RUNTIME_METRICS_ENABLED',
  'DD_DATA_STREAMS_ENABLED',
  // The agents' own logging, ports and processes.
  'DD_LOG_FILE',
  'DD_LOG_FILE_MAX_SIZE',
  'DD_LOG_FILE_MAX_ROLLS',
  'DD_LOG_FORMAT_JSON',
  'DD_LOG_FORMAT_RFC3339',
  'DD_LOG_TO_CONSOLE',
  'DD_LOG_TO_SYSLOG',
  'DD_LOG_PAYLOADS',
  'DD_DISABLE_FILE_LOGGING',
  'DD_LOGS_ENABLED',
  'DD_USE_DOGSTATSD',
  'DD_CMD_HOST',
  'DD_CMD_PORT',
  'DD_BIND_HOST',
  'DD_HEALTH_PORT',
  'DD_EXPVAR_PORT',
  'DD_METRICS_PORT',
  'DD_AUTH_TOKEN_FILE_PATH',
  'DD_CONFD_PATH',
  'DD_ADDITIONAL_CHECKSD',
  'DD_AC_INCLUDE',
  'DD_AC_EXCLUDE',
  'DD_EXTRA_CONFIG_PROVIDERS',
  'DD_EXTRA_LISTENERS',
  'DD_EXCLUDE_PAUSE_CONTAINER',
  'DD_CRI_SOCKET_PATH',
  // The trace agent's settings Tether does not read (apm_config.*; families of them below).
  'DD_APM_ENABLED',
  'DD_APM_ENV',
  'DD_APM_DD_URL',
  'DD_APM_ADDITIONAL_ENDPOINTS',
  'DD_APM_MAX_EPS',
  'DD_APM_TARGET_TPS',
  'DD_APM_ERROR_TPS',
  'DD_APM_ENABLE_RARE_SAMPLER',
  'DD_APM_PROBABILISTIC_SAMPLER_ENABLED',
  'DD_APM_PROBABILISTIC_SAMPLER_SAMPLING_PERCENTAGE',
  'DD_APM_IGNORE_RESOURCES',
  'DD_APM_REPLACE_TAGS',
  'DD_APM_ANALYZED_SPANS',
  'DD_APM_MAX_MEMORY',
  'DD_APM_MAX_CPU_PERCENT',
  'DD_APM_CONNECTION_LIMIT',
  'DD_APM_RECEIVER_TIMEOUT',
  'DD_APM_MAX_PAYLOAD_SIZE',
  'DD_APM_DECODERS',
  'DD_APM_COMPUTE_STATS_BY_SPAN_KIND',
  'DD_APM_PEER_SERVICE_AGGREGATION',
  'DD_APM_PEER_TAGS_AGGREGATION',
  'DD_APM_PEER_TAGS',
  'DD_APM_FEATURES',
  'DD_APM_WINDOWS_PIPE_NAME',
  'DD_APM_REMOTE_TAGGER',
  'DD_APM_CONTAINER_TAGS_BUFFER',
  // The node agent and its kubelet (Tether's kubelet keys are in the schema).
  'DD_EKS_FARGATE',
  'DD_KUBELET_CLIENT_CRT',
  'DD_KUBELET_CLIENT_KEY',
  'DD_KUBELET_CORE_CHECK_ENABLED',
  'DD_KUBELET_CACHE_PODS_DURATION',
  'DD_KUBELET_LISTENER_POLLING_INTERVAL',
  'DD_KUBELET_WAIT_ON_MISSING_CONTAINER',
  // The Cluster Agent: leader election, its API, its Deployment as the chart and operator describe it.
  'DD_LEADER_ELECTION',
  'DD_LEADER_ELECTION_DEFAULT_RESOURCE',
  'DD_LEADER_ELECTION_RELEASE_ON_SHUTDOWN',
  'DD_KUBE_CACHE_SYNC_TIMEOUT_SECONDS',
  'DD_COLLECT_KUBERNETES_EVENTS',
  'DD_CLUSTER_AGENT_ENABLED',
  'DD_CLUSTER_AGENT_SERVICE_ACCOUNT_NAME',
  'DD_CLUSTER_AGENT_TOKEN_NAME',
  'DD_CLUSTER_AGENT_ALLOW_LEGACY_TLS',
  'DD_CLUSTER_AGENT_TAGGING_FALLBACK',
  'DD_CLUSTER_AGENT_COLLECT_KUBERNETES_TAGS',
  'DD_CLUSTER_AGENT_REFRESH_ON_CACHE_MISS',
  'DD_CLUSTER_AGENT_MAX_LEADER_CONNECTIONS',
  'DD_CLUSTER_AGENT_CLIENT_RECONNECT_PERIOD_SECONDS',
  'DD_CLUSTER_AGENT_LANGUAGE_DETECTION_PATCHER_ENABLED',
  'DD_CLUSTER_AGENT_DEPLOYMENT',
  'DD_AGENT_DAEMONSET',
  'DD_DATADOG_AGENT_CUSTOM_RESOURCE',
  'DD_POD_NAME',
  'DD_HPA_WATCHER_POLLING_FREQ',
  'DD_HPA_WATCHER_GC_PERIOD',
  'DD_HPA_CONFIGMAP_NAME',
  'DD_EXTERNAL_METRICS_AGGREGATOR',
  'DD_ORCHESTRATOR_URL',
  'DD_ORCHESTRATOR_ADDITIONAL_ENDPOINTS',
  // kubernetes_* settings of the node agent that Tether does not read (the kubelet ones it reads are its keys).
  'DD_KUBERNETES_POD_LABELS_AS_TAGS',
  'DD_KUBERNETES_POD_ANNOTATIONS_AS_TAGS',
  'DD_KUBERNETES_NAMESPACE_LABELS_AS_TAGS',
  'DD_KUBERNETES_NAMESPACE_ANNOTATIONS_AS_TAGS',
  'DD_KUBERNETES_NODE_LABELS_AS_TAGS',
  'DD_KUBERNETES_NODE_ANNOTATIONS_AS_TAGS',
  'DD_KUBERNETES_COLLECT_METADATA_TAGS',
  'DD_KUBERNETES_METADATA_TAG_UPDATE_FREQ',
  'DD_KUBERNETES_HTTP_KUBELET_PORT',
  'DD_KUBERNETES_KUBELET_PODRESOURCES_SOCKET',
  'DD_KUBERNETES_KUBECONFIG_PATH',
  'DD_KUBERNETES_APISERVER_CA_PATH',
  'DD_KUBERNETES_APISERVER_TLS_VERIFY',
  'DD_KUBERNETES_APISERVER_CLIENT_TIMEOUT',
  'DD_KUBERNETES_INFORMERS_RESYNC_PERIOD',
  'DD_KUBERNETES_MAP_SERVICES_ON_IP',
  'DD_KUBERNETES_EVENT_COLLECTION_TIMEOUT',
  'DD_KUBERNETES_EVENTS_SOURCE_DETECTION_ENABLED',
  'DD_KUBERNETES_RESOURCES_LABELS_AS_TAGS',
  'DD_KUBERNETES_RESOURCES_ANNOTATIONS_AS_TAGS',
  'DD_KUBERNETES_PERSISTENT_VOLUME_CLAIMS_AS_TAGS',
];

/**
 * Whole families, each owned by one component of the stack and too large to list. None may be the start
 * of a Tether key's variable (checked by the unit tests): a typo in a Tether key must never pass as a
 * member of a family (`DD_CLUSTER_AGENT_`, `DD_LEADER_`, `DD_LOG_` are therefore listed name by name).
 */
export const AGENT_STACK_ENV_PREFIXES: readonly string[] = [
  // The trace agent (apm_config.*) by sub-family: Tether's node agent owns DD_APM_RECEIVER_PORT,
  // DD_APM_RECEIVER_SOCKET and DD_APM_NON_LOCAL_TRAFFIC, so `DD_APM_` as a whole is not the stack's.
  'DD_APM_OBFUSCATION_',
  'DD_APM_PROFILING_',
  'DD_APM_INSTRUMENTATION_',
  'DD_APM_FILTER_TAGS_',
  'DD_APM_DEBUGGER_',
  'DD_APM_SYMDB_',
  'DD_APM_TELEMETRY_',
  'DD_APM_ERROR_TRACKING_',
  'DD_TRACE_', // tracers
  'DD_PROFILING_', // tracers' profilers
  'DD_APPSEC_', // tracers' application security
  'DD_IAST_',
  'DD_LOGS_CONFIG_', // logs agent
  'DD_PROCESS_CONFIG_', // process agent
  'DD_PROCESS_AGENT_',
  'DD_ORCHESTRATOR_EXPLORER_',
  'DD_EXTERNAL_METRICS_PROVIDER_', // Cluster Agent's external metrics server
  'DD_CLUSTER_CHECKS_',
  'DD_CLC_RUNNER_',
  'DD_CONTAINER_', // container include/exclude lists, container lifecycle and image collection
  'DD_PROMETHEUS_SCRAPE_',
  'DD_REMOTE_CONFIGURATION_',
  'DD_SECRET_BACKEND_',
  'DD_PROXY_',
  'DD_OTLP_CONFIG_',
  'DD_SYSTEM_PROBE_',
  'DD_RUNTIME_SECURITY_CONFIG_',
  'DD_COMPLIANCE_CONFIG_',
  'DD_INSTRUMENTATION_', // install telemetry the chart sets on the Cluster Agent
  'DD_AUTOSCALING_',
  'DD_INTERNAL_PROFILING_',
  'DD_TELEMETRY_',
  'DD_SBOM_',
  'DD_FIPS_',
];

const AGENT_STACK_ENV_SET = new Set(AGENT_STACK_ENV_VARS);

/** Whether `name` is one of the stack's variables. */
export function isAgentStackEnvVar(name: string): boolean {
  return AGENT_STACK_ENV_SET.has(name) || AGENT_STACK_ENV_PREFIXES.some((p) => name.startsWith(p) && name.length > p.length);
}
