/**
 * The composition root of `tether dev` (what `npm start` runs): a local control plane (etcd,
 * kube-apiserver, kube-controller-manager on loopback, `devcluster/`), Tether's RBAC from `deploy/`, the
 * cluster agent against it (reached by the API server through `--webhook-url`), and a node agent for the
 * dev cluster's one node (`devcluster/devNode.ts`). Returns what to tell the person at the terminal.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLUSTER_AGENT_CA_CONFIGMAP, CLUSTER_AGENT_SERVICE_ACCOUNT, envVarFor, type TetherConfig } from '../config/index.js';
import { CONSOLE_PAGE_PATH } from '../console/types.js';
import * as k8s from '@kubernetes/client-node';
import { startControlPlane } from '../devcluster/controlPlane.js';
import { startDevNode } from '../devcluster/devNode.js';
import { impersonatingKubeConfig } from '../devcluster/kubeconfigs.js';
import { applyDeployRbac } from '../devcluster/manifests.js';
import { freePort } from '../devcluster/processes.js';
import { createApiFactResolver } from '../kube/facts.js';
import type { Logger } from '../logging/logger.js';
import { createNodeAgent } from '../nodeagent/agent.js';
import { createClusterAgentClient } from '../nodeagent/clusterAgentClient.js';
import { discoverClusterAgent } from '../nodeagent/discovery.js';
import { createNodeIntake } from '../nodeagent/intake/intake.js';
import { createNodeAgentMetrics } from '../nodeagent/metrics.js';
import { startStatusServer } from '../nodeagent/statusServer.js';
import { startClusterAgent } from './clusterAgent.js';

export interface DevOptions {
  readonly config: TetherConfig;
  /** The cluster agent token `tether dev` made (unless DD_CLUSTER_AGENT_AUTH_TOKEN set one): written to a file, printed once. */
  readonly generatedToken: string | undefined;
  /** The console's admin token `tether dev` made (unless DD_CLUSTER_AGENT_CONSOLE_ADMIN_TOKEN set one): printed once. */
  readonly generatedAdminToken: string | undefined;
  /** Tether's namespace in the dev cluster. */
  readonly namespace: string;
  readonly logger: Logger;
}

export interface RunningDev {
  /** What to print on stdout: the kubeconfig, the example commands, the URLs (and the generated login token). */
  readonly hints: string;
  /** Everything, then the cluster (its directory removed). */
  stop(): Promise<void>;
}

export async function runDev(o: DevOptions): Promise<RunningDev> {
  const { config, generatedToken, generatedAdminToken, logger: log } = o;
  log.info('starting a local control plane (etcd, kube-apiserver, kube-controller-manager)');
  const cp = await startControlPlane();
  const admin = cp.kubeConfig();
  await admin
    .makeApiClient(k8s.CoreV1Api)
    .createNamespace({ body: { metadata: { name: o.namespace } } })
    .catch((e: unknown) => {
      if (!(e instanceof k8s.ApiException && e.code === 409)) throw e;
    });
  // As an install runs it: the cluster agent as its own service account, with deploy/rbac.yaml's
  // permissions and no more; the node agents' and diagnose's RBAC beside it.
  for (const file of ['rbac.yaml', 'node-agent.yaml', 'diagnose-rbac.yaml']) await applyDeployRbac(admin, file, o.namespace);
  const kubeConfig = impersonatingKubeConfig(cp, `system:serviceaccount:${o.namespace}:${CLUSTER_AGENT_SERVICE_ACCOUNT}`);
  const [port, apiPort] = await Promise.all([freePort(), freePort()]);
  const tokenFile = join(cp.dir, 'cluster-agent.token');
  if (generatedToken) await writeFile(tokenFile, generatedToken, { mode: 0o600 });
  const agent = await startClusterAgent({
    config,
    kubeConfig,
    namespace: o.namespace,
    logger: log,
    facts: createApiFactResolver({ kubeConfig, config, logger: log }),
    host: '127.0.0.1',
    port,
    apiPort,
    webhookUrl: `https://127.0.0.1:${port}`,
  });

  // A node agent beside the cluster agent, as on a node: its one node is the dev cluster's (pods are
  // bound to it; see devcluster/devNode.ts), its tags from the cluster agent API, its intake on the
  // agent's usual ports (sockets in the cluster's directory, not /var/run/datadog, unless set).
  const node = await startDevNode({ kubeConfig: admin, logger: log });
  const caFile = join(cp.dir, 'cluster-agent-ca.pem');
  let clusterAgentClient: ReturnType<typeof createClusterAgentClient> | undefined;
  if (agent.api) {
    const core = admin.makeApiClient(k8s.CoreV1Api);
    for (let i = 0; ; i++) {
      const cm = await core.readNamespacedConfigMap({ name: CLUSTER_AGENT_CA_CONFIGMAP, namespace: o.namespace }).catch(() => undefined);
      const pem = cm?.data?.['ca.pem'];
      if (pem) {
        await writeFile(caFile, pem);
        break;
      }
      if (i > 300) throw new Error(`the cluster agent did not publish its CA (ConfigMap ${o.namespace}/${CLUSTER_AGENT_CA_CONFIGMAP}) within a minute`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const found = discoverClusterAgent({ url: agent.api.url, serviceName: config['cluster_agent.kubernetes_service_name'], namespace: o.namespace, env: {} });
    if (found.ok) clusterAgentClient = createClusterAgentClient({ endpoint: found.endpoint, authToken: config['cluster_agent.auth_token'], tlsVerify: true, caFile });
  }
  const nodeMetrics = createNodeAgentMetrics();
  const nodeAgent = createNodeAgent({
    nodeName: node.nodeName,
    kubelet: node.kubelet,
    clusterAgent: clusterAgentClient ?? { upstream: 'cluster-agent', code: 'token-missing', summary: 'the dev cluster agent API is off.', fix: 'Set cluster_agent.auth_token (tether dev generates one unless DD_CLUSTER_AGENT_AUTH_TOKEN is set).' },
    logger: log,
    metrics: nodeMetrics,
  });
  const intakeConfig: TetherConfig = {
    ...config,
    dogstatsd_socket: process.env[envVarFor('dogstatsd_socket')] !== undefined ? config.dogstatsd_socket : join(cp.dir, 'dsd.socket'),
    'apm_config.receiver_socket': process.env[envVarFor('apm_config.receiver_socket')] !== undefined ? config['apm_config.receiver_socket'] : join(cp.dir, 'apm.socket'),
  };
  const intake = createNodeIntake({ config: intakeConfig, pods: () => nodeAgent.pods(), refreshPods: () => nodeAgent.refresh(), logger: log, registry: nodeMetrics.registry });
  await intake.start();
  const nodeStatus = await startStatusServer({ agent: nodeAgent, metrics: nodeMetrics, dogstatsd: intake.dogstatsd, intake, token: config['cluster_agent.auth_token'], port: await freePort(), host: '127.0.0.1', logger: log });
  nodeAgent.start();
  const intakeAt = intake.status();
  log.info({ apiServer: cp.server, kubeconfig: cp.kubeconfigPath, webhook: agent.server.url, ...(agent.api ? { apiUrl: agent.api.url } : {}), nodeAgent: nodeStatus.url }, 'Tether dev cluster is up');
  const hints = [
    '',
    `Tether is running against a local Kubernetes API server at ${cp.server}.`,
    'In another shell:',
    `  export KUBECONFIG=${cp.kubeconfigPath}`,
    '  kubectl apply -f examples/pod.yaml',
    '  kubectl get pod billing -o yaml        # DD_AGENT_HOST, DD_ENTITY_ID, DD_ENV..., the java init container',
    '  kubectl apply -f examples/deployment.yaml',
    '(there is no kubelet or scheduler: pods are bound to one dev node and stay Pending, but they are created, and mutated, for real)',
    ...(agent.api
      ? [
          `The cluster agent API is at ${agent.api.url}${generatedToken ? ` (its token is in ${tokenFile})` : ''}:`,
          `  curl -sk -H "Authorization: Bearer $(cat ${generatedToken ? tokenFile : '<your token file>'})" ${agent.api.url}/api/v1/cluster/id`,
          `  tether status -n ${o.namespace}; tether diagnose -n ${o.namespace}`,
          ...(config['cluster_agent.console.enabled']
            ? [
                `The web console is at ${agent.api.url}${CONSOLE_PAGE_PATH} (its certificate is issued by Tether's own CA: your browser warns once).`,
                // A throwaway dev cluster's token, printed for the person at this terminal (never logged).
                generatedAdminToken ? `  login token: ${generatedAdminToken}` : '  log in with your DD_CLUSTER_AGENT_CONSOLE_ADMIN_TOKEN',
              ]
            : []),
        ]
      : []),
    `A node agent runs for the node ${node.nodeName} (pods are bound to it; nothing runs them): ${nodeStatus.url}/pods, /intake (Authorization: Bearer <the cluster agent token>), /metrics`,
    `  DogStatsD: udp 127.0.0.1:${intakeAt.dogstatsd.udp?.port ?? 'off'}${intakeAt.dogstatsd.socket ? `, ${intakeAt.dogstatsd.socket.path}` : ''}; traces: ${intakeAt.traces.tcp ? `tcp ${intakeAt.traces.tcp.host}:${intakeAt.traces.tcp.port}` : 'tcp off'}${intakeAt.traces.socket ? `, ${intakeAt.traces.socket}` : ''}`,
    `  ${intakeAt.otlp.traces || intakeAt.otlp.metrics ? `OTLP export: ${[intakeAt.otlp.traces?.url, intakeAt.otlp.metrics?.url].filter(Boolean).join(', ')}` : 'no OTLP export: set DD_OTLP_ENDPOINT=http://HOST:4318 (or DD_OTLP_TRACES_ENDPOINT and DD_OTLP_METRICS_ENDPOINT, full URLs) to send traces and metrics to a collector'}`,
    '  an app run with a pod\'s injected env (DD_AGENT_HOST=127.0.0.1; DD_ENTITY_ID and DD_EXTERNAL_ENV with its uid) is tagged with that pod',
    'Ctrl-C stops everything and removes the cluster.',
    '',
  ].join('\n');
  return {
    hints,
    async stop() {
      // No grace period: the API server calls this process directly, not through a Service that
      // would need time to drop it.
      await intake.stop();
      await nodeAgent.stop();
      node.stop();
      clusterAgentClient?.close();
      await nodeStatus.close({ drainMs: 0 });
      await agent.stop({ graceMs: 0 });
      await cp.stop();
    },
  };
}
