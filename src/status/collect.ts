/**
 * Reads what `tether status` reports (get and list only: the tether-diagnose roles are enough; the
 * certificate Secret as metadata only, its certificates from the CA ConfigMap)
 * and builds the report from the pure section builders. Reads run in parallel; one that fails is shown
 * in its section; only when no read got an answer at all is it an error (the API server is unreachable).
 */
import { CLUSTER_AGENT_CA_CONFIGMAP, type TetherConfig } from '../config/index.js';
import { ApiError, type KubeReader } from '../kube/reader.js';
import { admissionStatus } from './admission.js';
import { clusterAgentApiStatus } from './clusterAgentApi.js';
import { leaderElectionStatus } from './leaderElection.js';
import { NODE_AGENTS_CONFIGMAP, nodeAgentsStatus } from './nodeAgents.js';
import type { ConfigMap, EndpointSlice, Lease, MutatingWebhookConfiguration, Read, Service } from './objects.js';
import type { StatusReport } from './types.js';

export interface CollectStatusOptions {
  readonly kube: KubeReader;
  readonly config: TetherConfig;
  readonly namespace: string;
  readonly now: () => Date;
  readonly signal: AbortSignal;
}

export const statusPaths = (config: TetherConfig, ns: string) => ({
  webhook: `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${config['admission_controller.webhook_name']}`,
  secret: `/api/v1/namespaces/${ns}/secrets/${config['admission_controller.certificate.secret_name']}`,
  lease: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${config.leader_lease_name}`,
  apiService: `/api/v1/namespaces/${ns}/services/${config['cluster_agent.kubernetes_service_name']}`,
  endpointSlices: `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
  caConfigMap: `/api/v1/namespaces/${ns}/configmaps/${CLUSTER_AGENT_CA_CONFIGMAP}`,
  nodeAgents: `/api/v1/namespaces/${ns}/configmaps/${NODE_AGENTS_CONFIGMAP}`,
});

export async function collectStatus(opts: CollectStatusOptions): Promise<StatusReport> {
  const { kube, config, namespace: ns, signal } = opts;
  const paths = statusPaths(config, ns);
  const failures: ApiError[] = [];
  const attempt = async <T>(read: () => Promise<T | undefined>): Promise<Read<T>> => {
    try {
      return { ok: true, value: await read() };
    } catch (e) {
      if (e instanceof ApiError) failures.push(e);
      return { ok: false, error: (e as Error).message };
    }
  };
  const apiService = config['cluster_agent.kubernetes_service_name'];
  const [webhook, secret, lease, service, slices, caConfigMap, nodeAgents] = await Promise.all([
    attempt(() => kube.get<MutatingWebhookConfiguration>(paths.webhook, signal)),
    attempt(() => kube.getMetadata(paths.secret, signal)),
    attempt(() => kube.get<Lease>(paths.lease, signal)),
    attempt(() => kube.get<Service>(paths.apiService, signal)),
    attempt(() => kube.list<EndpointSlice>(paths.endpointSlices, signal, { labelSelector: `kubernetes.io/service-name=${apiService}` })),
    attempt(() => kube.get<ConfigMap>(paths.caConfigMap, signal)),
    attempt(() => kube.get<ConfigMap>(paths.nodeAgents, signal)),
  ]);
  // Seven reads and not one answer: say that once, rather than seven sections of the same error.
  if (failures.length === 7 && failures.every((f) => f.status === 0)) throw failures[0]!;
  const now = opts.now();
  return {
    namespace: ns,
    at: now.toISOString(),
    admissionController: admissionStatus({
      webhookName: config['admission_controller.webhook_name'],
      secretName: config['admission_controller.certificate.secret_name'],
      namespace: ns,
      webhook,
      secret,
      certificates: caConfigMap,
      now,
    }),
    leaderElection: leaderElectionStatus(ns, config.leader_lease_name, lease, now),
    clusterAgentApi: clusterAgentApiStatus({ namespace: ns, serviceName: apiService, caConfigMapName: CLUSTER_AGENT_CA_CONFIGMAP, service, endpointSlices: slices, caConfigMap }),
    nodeAgents: nodeAgentsStatus(ns, nodeAgents),
  };
}
