/**
 * The composition root of `tether dev --node real`: a local control plane, a real node beside it
 * (containerd, kubelet, kube-proxy, scheduler, CoreDNS; devcluster/node/), the Tether image built here
 * and loaded into the node, and Tether installed by its own chart (`helm install`), as on any cluster: the
 * API server calls the webhook through its Service, the node agent is the DaemonSet's pod, injected pods
 * run. Needs root (the node's network, cgroups and mounts); plain `tether dev` needs none.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLUSTER_AGENT_DEPLOYMENT, ENABLED_LABEL } from '../config/index.js';
import { CONSOLE_PAGE_PATH } from '../console/types.js';
import { startRealCluster } from '../devcluster/realCluster.js';
import { INTAKE_APP_IMAGE_REF } from '../devcluster/images/catalogue.js';
import type { DevOptions, RunningDev } from './dev.js';

export async function runRealNodeDev(o: DevOptions): Promise<RunningDev> {
  const { config, logger: log } = o;
  const token = config['cluster_agent.auth_token'];
  const adminToken = config['cluster_agent.console.admin_token'];
  const cluster = await startRealCluster({
    namespace: o.namespace,
    values: {
      datadog: { logLevel: config.log_level },
      clusterAgent: { ...(token ? { token } : {}), console: { enabled: config['cluster_agent.console.enabled'], ...(adminToken ? { adminToken } : {}) } },
      diagnose: { rbac: { create: true } },
    },
    log: (line) => log.info(line),
  });
  const { cp, node } = cluster;
  const tokenFile = join(cp.dir, 'cluster-agent.token');
  if (o.generatedToken) await writeFile(tokenFile, o.generatedToken, { mode: 0o600 });
  log.info({ apiServer: cp.server, kubeconfig: cp.kubeconfigPath, node: node.name, nodeIp: node.ip, ...cluster.timings }, 'Tether dev cluster with a real node is up');
  const ns = o.namespace;
  const hints = [
    '',
    `Tether runs in real pods on a real node (${node.name}, ${node.ip}), installed by its chart, against ${cp.server}.`,
    'In another shell:',
    `  export KUBECONFIG=${cp.kubeconfigPath}`,
    `  kubectl -n ${ns} get pods -o wide        # 2 cluster agent replicas, the node agent DaemonSet pod`,
    `  kubectl -n ${ns} exec deploy/${CLUSTER_AGENT_DEPLOYMENT} -- agent status`,
    '  kubectl apply -f examples/deployment.yaml   # created and mutated; its image is not on the node (no registry here)',
    `  the test app image ${INTAKE_APP_IMAGE_REF} is loaded: a pod of it labelled ${ENABLED_LABEL}=true runs, is injected and sends traces and DogStatsD to the node agent`,
    `  tether status -n ${ns}; tether diagnose -n ${ns}`,
    ...(o.generatedToken ? [`The cluster agent token (node agents', curl's) is in ${tokenFile}.`] : []),
    ...(config['cluster_agent.console.enabled']
      ? [
          `The web console is at ${CONSOLE_PAGE_PATH} on the cluster agent API Service (\`kubectl -n ${ns} get svc ${config['cluster_agent.kubernetes_service_name']}\`: its ClusterIP and port are reachable from this machine; the certificate is Tether's own CA's).`,
          // A throwaway dev cluster's token, printed for the person at this terminal (never logged).
          o.generatedAdminToken ? `  login token: ${o.generatedAdminToken}` : '  log in with your DD_CLUSTER_AGENT_CONSOLE_ADMIN_TOKEN',
        ]
      : []),
    `Up in ${(cluster.timings.imagesSeconds + cluster.timings.nodeSeconds + cluster.timings.installSeconds).toFixed(0)} s (helm install → all Ready: ${cluster.timings.installSeconds.toFixed(1)} s).`,
    'Ctrl-C stops everything: the pods, the node (its network set-up) and the cluster.',
    '',
  ].join('\n');
  return { hints, stop: () => cluster.stop() };
}
