/**
 * Where the cluster agent API is, found the way the stack's node agents find it (pure: the environment
 * and the configuration are handed in):
 * 1. `cluster_agent.url` (DD_CLUSTER_AGENT_URL), https only;
 * 2. else the variables Kubernetes sets in every container for each Service of its namespace that existed
 *    when the container started: `<NAME>_SERVICE_HOST` / `<NAME>_SERVICE_PORT`, NAME being
 *    `cluster_agent.kubernetes_service_name` upper-cased with `-` as `_`.
 * Neither is the usual first-install mistake: the node agent's pods started before the Service existed,
 * and the variables are only ever set at container start.
 */
import { envVarFor } from '../config/index.js';
import type { UpstreamProblem } from './problems.js';

export interface ClusterAgentEndpoint {
  /** `https://host:port`, no trailing slash; an IPv6 host in brackets. */
  readonly url: string;
  /** How it was found, for the one startup log line. */
  readonly foundFrom: string;
  /**
   * The name the certificate must carry (TLS SNI and verification). Certificates name the Service, not
   * its ClusterIP, so when the address is an IP this is the Service's DNS name `<svc>.<ns>.svc`;
   * otherwise the URL's host name.
   */
  readonly servername: string;
}

export interface DiscoveryInput {
  /** `cluster_agent.url`, already validated as https by the configuration. */
  readonly url: string | undefined;
  /** `cluster_agent.kubernetes_service_name`. */
  readonly serviceName: string;
  /** The namespace of the cluster agent's Service (the node agent's own: service links only cover it). */
  readonly namespace: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export type Discovery = { readonly ok: true; readonly endpoint: ClusterAgentEndpoint } | { readonly ok: false; readonly problem: UpstreamProblem };

const URL_VAR = envVarFor('cluster_agent.url');
const SERVICE_NAME_VAR = envVarFor('cluster_agent.kubernetes_service_name');

/** `datadog-cluster-agent` → `DATADOG_CLUSTER_AGENT`, as the kubelet names a Service's variables. */
export function serviceEnvPrefix(serviceName: string): string {
  return serviceName.toUpperCase().replaceAll('-', '_');
}

const isIp = (host: string): boolean => /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');

/** The Service's cluster DNS name, which the cluster agent's certificate carries. */
export function serviceDnsName(serviceName: string, namespace: string): string {
  return `${serviceName}.${namespace}.svc`;
}

export function discoverClusterAgent(input: DiscoveryInput): Discovery {
  const svcDns = serviceDnsName(input.serviceName, input.namespace);
  if (input.url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(input.url);
    } catch {
      return { ok: false, problem: endpointProblem(`cluster_agent.url (${URL_VAR}) ${JSON.stringify(input.url)} is not a URL.`, `Set ${URL_VAR}=https://${svcDns}:<port>.`) };
    }
    if (parsed.protocol !== 'https:') {
      return { ok: false, problem: endpointProblem(`cluster_agent.url (${URL_VAR}) ${input.url} is not https: the cluster agent API is served over TLS only.`, `Set ${URL_VAR}=https://${svcDns}:<port>.`) };
    }
    // `URL` keeps IPv6 hosts in brackets; the certificate name is the bare host.
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    return { ok: true, endpoint: { url: parsed.origin, foundFrom: `cluster_agent.url (${URL_VAR})`, servername: isIp(host) ? svcDns : host } };
  }

  const prefix = serviceEnvPrefix(input.serviceName);
  const hostVar = `${prefix}_SERVICE_HOST`;
  const portVar = `${prefix}_SERVICE_PORT`;
  const host = input.env[hostVar]?.trim();
  const port = input.env[portVar]?.trim();
  if (!host && !port) {
    return {
      ok: false,
      problem: endpointProblem(
        `could not detect the cluster agent's endpoint: cluster_agent.url (${URL_VAR}) is not set and ${hostVar} / ${portVar} are not in this container's environment.`,
        `Kubernetes sets those variables only in containers started after the Service "${input.serviceName}" existed in namespace "${input.namespace}": ` +
          `usually the Service was created after the node agent's pods, so restart them (kubectl -n ${input.namespace} rollout restart daemonset/<node agent>). ` +
          `If the Service is missing, apply deploy/cluster-agent-api.yaml; if it has another name, set ${SERVICE_NAME_VAR}; ` +
          `if it lives in another namespace, set ${URL_VAR}=https://${input.serviceName}.<namespace>.svc:<port>.`,
      ),
    };
  }
  if (!host || !port) {
    const missing = host ? portVar : hostVar;
    return { ok: false, problem: endpointProblem(`could not detect the cluster agent's endpoint: ${host ? hostVar : portVar} is set but ${missing} is not.`, `Restart the node agent's pods so Kubernetes sets both, or set ${URL_VAR}.`) };
  }
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    return { ok: false, problem: endpointProblem(`could not detect the cluster agent's endpoint: ${portVar}=${JSON.stringify(port)} is not a port number.`, `Set ${URL_VAR}=https://${svcDns}:<port>.`) };
  }
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    ok: true,
    endpoint: { url: `https://${urlHost}:${Number(port)}`, foundFrom: `the Service variables ${hostVar} / ${portVar}`, servername: isIp(host) ? svcDns : host },
  };
}

function endpointProblem(summary: string, fix: string): UpstreamProblem {
  return { upstream: 'cluster-agent', code: 'endpoint-unknown', summary, fix };
}
