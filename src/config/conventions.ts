/**
 * The public conventions Tether shares with the agent stack it implements: label, annotation,
 * environment-variable and object names that tracers, node agents and the seeds' troubleshooting
 * steps rely on. They are protocol, not configuration: changing one breaks compatibility.
 */

/** Opt-in label read from the pod (never from its owner). */
export const ENABLED_LABEL = 'admission.datadoghq.com/enabled';
/** Per-pod override of `admission_controller.inject_config.mode`. */
export const CONFIG_MODE_LABEL = 'admission.datadoghq.com/config.mode';
/** Prefix of the library-injection annotations (`<prefix><lang>-lib.version`, ...). */
export const ANNOTATION_PREFIX = 'admission.datadoghq.com/';

/** Unified service tagging: pod (or owner) label → environment variable, and the tag it becomes. */
export const UNIFIED_SERVICE_TAGS = [
  { label: 'tags.datadoghq.com/env', env: 'DD_ENV', tag: 'env' },
  { label: 'tags.datadoghq.com/service', env: 'DD_SERVICE', tag: 'service' },
  { label: 'tags.datadoghq.com/version', env: 'DD_VERSION', tag: 'version' },
] as const;
/** What the unified service tag labels share (the cluster agent keeps only these of a workload's labels). */
export const UNIFIED_SERVICE_TAG_PREFIX = 'tags.datadoghq.com/';

export const ENV_AGENT_HOST = 'DD_AGENT_HOST';
export const ENV_ENTITY_ID = 'DD_ENTITY_ID';
/**
 * The stack's "external data" for origin detection: the pod UID (downward API) and, per container,
 * `it-<init container?>,cn-<container name>,pu-$(DD_INTERNAL_POD_UID)`. Tracers that never read
 * `DD_ENTITY_ID` (dd-trace-js 5.x) send it as the `Datadog-External-Env` header, which is how the node
 * agent tells their pod on cgroup v2 hosts, where the container id is not visible inside the container.
 */
export const ENV_INTERNAL_POD_UID = 'DD_INTERNAL_POD_UID';
export const ENV_EXTERNAL_ENV = 'DD_EXTERNAL_ENV';
export const ENV_TRACE_AGENT_URL = 'DD_TRACE_AGENT_URL';
export const ENV_DOGSTATSD_URL = 'DD_DOGSTATSD_URL';

/** Socket-mode volume names. */
export const SOCKET_DIR_VOLUME = 'datadog';
export const TRACE_SOCKET_VOLUME = 'datadog-trace-agent';
export const DOGSTATSD_SOCKET_VOLUME = 'datadog-dogstatsd';

/** Library injection: the shared emptyDir and where it is mounted. */
export const LIB_VOLUME = 'datadog-auto-instrumentation';
export const LIB_MOUNT_PATH = '/datadog-lib';
export const LIB_INIT_COMMAND = ['sh', 'copy-lib.sh', LIB_MOUNT_PATH] as const;
/** A language's init image under a registry: `<registry>/dd-lib-<lang>-init` (its tag is the library version). */
export const libInitImageRepository = (registry: string, lang: string): string => `${registry.replace(/\/+$/, '')}/dd-lib-${lang}-init`;

/** Pod Security admission label whose `restricted` value changes the init containers' default context. */
export const POD_SECURITY_ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';

/** Namespaces whose pods Tether never mutates (besides its own). */
export const NEVER_MUTATED_NAMESPACES = ['kube-system'] as const;

/** The three webhooks: entry-name suffix (SPEC §4) and config section. */
export const WEBHOOK_KINDS = ['config', 'tags', 'lib'] as const;
export type WebhookKind = (typeof WEBHOOK_KINDS)[number];
export const WEBHOOK_ENTRY_SUFFIX: Record<WebhookKind, string> = {
  config: 'config',
  tags: 'tags',
  lib: 'auto.instrumentation',
};

/**
 * How the webhooks are laid out in the MutatingWebhookConfiguration (issue 22): `separate`, one entry per
 * webhook under the seeds' names (three calls per pod, plus reinvocations); `single`, one entry that runs
 * every enabled webhook in one review (one call per pod).
 */
export const WEBHOOK_ENTRY_SHAPES = ['separate', 'single'] as const;
export type WebhookEntryShape = (typeof WEBHOOK_ENTRY_SHAPES)[number];
/** The single entry: its id (metrics label, logs) and entry-name suffix (`datadog.webhook.inject`). */
export const SINGLE_ENTRY_ID = 'inject';

export const INJECTION_MODES = ['hostip', 'service', 'socket'] as const;
export type InjectionMode = (typeof INJECTION_MODES)[number];

export const LIB_LANGUAGES = ['java', 'js', 'python', 'dotnet', 'ruby'] as const;
export type LibLanguage = (typeof LIB_LANGUAGES)[number];
/** The languages whose init images `tether image lib` builds from the library's own package (diagnose's fixes name it). */
export const BUILDABLE_LIB_LANGUAGES = ['js', 'python', 'java'] as const satisfies readonly LibLanguage[];
export type BuildableLibLanguage = (typeof BUILDABLE_LIB_LANGUAGES)[number];
export function isBuildableLibLanguage(s: string): s is BuildableLibLanguage {
  return (BUILDABLE_LIB_LANGUAGES as readonly string[]).includes(s);
}

/**
 * Keys of the webhook certificate Secret's data (SPEC §7): the serving certificate and its key (what
 * every replica presents), the trust bundle (every CA whose certificates may still be served: the
 * webhook entries' `caBundle`) and the key of the newest CA. A Secret written before Tether had a CA
 * holds only the first two, a self-signed certificate that is its own trust bundle.
 */
export const SECRET_CERT_KEY = 'cert.pem';
export const SECRET_KEY_KEY = 'key.pem';
export const SECRET_CA_KEY = 'ca.pem';
export const SECRET_CA_KEY_KEY = 'ca-key.pem';

/**
 * An operator's request, as an annotation on that Secret, to rotate now rather than at expiry:
 * `ca` (a new CA, published before it is used: e.g. after its key leaked) or `certificate` (a new
 * serving certificate from the current CA). The leader removes it once done.
 */
export const ROTATE_ANNOTATION = 'tether.dev/rotate';
export const ROTATE_VALUES = ['ca', 'certificate'] as const;

/**
 * The field manager Tether's writes of the webhook configuration carry (`metadata.managedFields`), so
 * that `diagnose` can tell them from another install's. Without it the API server names the manager
 * after the User-Agent, which for client-node is the generic `node-fetch`.
 */
export const TETHER_FIELD_MANAGER = 'tether';

/** Port of the Service in front of the webhook; it forwards to `admission_controller.port`. */
export const WEBHOOK_SERVICE_PORT = 443;

/**
 * The cluster agent API's deployment objects (deploy/cluster-agent-api.yaml, deploy/node-agent.yaml),
 * named in the node agent's fixes: the Secret both agents read the shared token from, the ConfigMap the
 * cluster agent publishes its API's CA in (mounted where `cluster_agent.ca_file` points), and the node
 * agent's DaemonSet and ServiceAccount.
 */
export const CLUSTER_AGENT_TOKEN_SECRET = 'datadog-cluster-agent';
export const CLUSTER_AGENT_TOKEN_SECRET_KEY = 'token';
export const CLUSTER_AGENT_CA_CONFIGMAP = 'datadog-cluster-agent-ca';
/** The key of that ConfigMap holding the CA bundle: the file name `cluster_agent.ca_file` ends with. */
export const CLUSTER_AGENT_CA_CONFIGMAP_KEY = 'ca.pem';
/**
 * The key of that ConfigMap holding the webhook's serving certificate (public, no key): what `status`,
 * `diagnose` and the console read its expiry and names from, so none of them reads the Secret's keys.
 */
export const CLUSTER_AGENT_CA_CONFIGMAP_CERT_KEY = 'cert.pem';
export const NODE_AGENT_NAME = 'datadog-agent';
/** The cluster agent's Deployment and its service account (deploy/cluster-agent.yaml, deploy/rbac.yaml). */
export const CLUSTER_AGENT_DEPLOYMENT = 'datadog-cluster-agent';
export const CLUSTER_AGENT_SERVICE_ACCOUNT = 'datadog-cluster-agent';
/**
 * Tether's container image (the Dockerfile's, or `tether image build`'s), tagged with the package
 * version; the chart's image.repository default (a unit test keeps values.yaml equal to it).
 */
export const TETHER_IMAGE_REPOSITORY = 'ghcr.io/tether/tether';
/**
 * Where the cluster agent API records what each node agent last said and was answered (one key per node):
 * `tether status` and `diagnose` read it (agentapi/nodeAgentReport.ts).
 */
export const NODE_AGENTS_CONFIGMAP = 'datadog-node-agents';

/**
 * Kubernetes' own convention, which the library init containers follow: where the ServiceAccount admission
 * plugin mounts a pod's token, and the prefix of the projected volume it adds (`kube-api-access-<random>`).
 */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
export const SERVICE_ACCOUNT_VOLUME_PREFIX = 'kube-api-access-';
