/**
 * The cluster agent, assembled (`tether start` and `tether dev`, SPEC §1): the webhook server on every replica, serving the
 * certificate held in the Secret, with owner and namespace facts read through the API; the cluster
 * agent API for node agents on every replica (when a token is configured), answered from the cluster
 * state its watches keep, with a certificate from the Secret's CA; the certificate, webhook-configuration
 * and CA ConfigMap controllers on the leader.
 */
import type * as k8s from '@kubernetes/client-node';
import type { FactResolver } from '../admission/index.js';
import type { TetherConfig } from '../config/index.js';
import { startControllers, type RunningControllers } from '../controllers/manager.js';
import { NODE_AGENTS_CONFIGMAP } from '../config/index.js';
import { createConfigMapStore } from '../kube/configMaps.js';
import { createControllerApis } from '../kube/controllerApis.js';
import type { Logger } from '../logging/logger.js';
import { startWebhookServer, type WebhookServer } from '../server/index.js';
import { createNodeAgentReportWriter, startClusterAgentApi, type ClusterAgentApi, type NodeAgentReportWriter } from '../clusteragent/api/index.js';
import { startClusterState, type ClusterState } from '../clusteragent/state.js';
import type { ClusterAgentMetrics } from '../clusteragent/api/metrics.js';
import { startConsole } from '../console/console.js';
import { defaultIdentity } from '../controllers/manager.js';
import { loadDiagnoseContext } from '../diagnose/context.js';
import { createKubeReader } from '../kube/reader.js';

export interface ClusterAgentOptions {
  readonly config: TetherConfig;
  readonly kubeConfig: k8s.KubeConfig;
  readonly namespace: string;
  readonly logger: Logger;
  /** Owner and namespace labels for the webhooks (normally read through the API). */
  readonly facts?: FactResolver;
  /** `--webhook-url`: the API server calls this URL instead of the Service. */
  readonly webhookUrl?: string;
  readonly host?: string;
  /** Default `admission_controller.port`; 0 picks a free port. */
  readonly port?: number;
  /** Default `cluster_agent.cmd_port`; 0 picks a free port. */
  readonly apiPort?: number;
  readonly identity?: string;
}

export interface ClusterAgent {
  readonly server: WebhookServer;
  readonly controllers: RunningControllers;
  /** The cluster agent API, unless no `cluster_agent.auth_token` is configured. */
  readonly api: ClusterAgentApi | undefined;
  /**
   * SIGTERM (SPEC §6): releases leadership at once, so that a successor takes over the controllers,
   * while the webhook server goes through its shutdown (`WebhookServer.shutdown`: not ready, still
   * answering for the grace period, then drained). Resolves when both are done. A second call ends the
   * grace period and the drain at once (`drainMs`, default 0).
   */
  stop(opts?: { graceMs?: number; drainMs?: number }): Promise<void>;
}

/** The API's certificate also names the host of `--webhook-url` (Tether outside the cluster: tests, `tether dev`). */
const extraNamesOf = (webhookUrl: string | undefined): string[] => (webhookUrl ? [new URL(webhookUrl).hostname.replace(/^\[(.*)\]$/, '$1')] : []);

export async function startClusterAgent(opts: ClusterAgentOptions): Promise<ClusterAgent> {
  const log = opts.logger;
  // No certificate yet: the server answers no TLS handshake and /readyz says 503 until the Secret's arrives.
  const server = await startWebhookServer({
    config: opts.config,
    logger: log,
    tetherNamespace: opts.namespace,
    ...(opts.host !== undefined ? { host: opts.host } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.facts ? { facts: opts.facts } : {}),
  });

  // Node agents authenticate with the shared token: without one there is nobody to serve.
  let state: ClusterState | undefined;
  let api: ClusterAgentApi | undefined;
  let reports: NodeAgentReportWriter | undefined;
  // Known before the controllers start: the console tells whether this replica holds the Lease.
  const identity = opts.identity ?? defaultIdentity();
  const authToken = opts.config['cluster_agent.auth_token'];
  if (authToken) {
    const clusterState = startClusterState({ kubeConfig: opts.kubeConfig, logger: log.child({ component: 'cluster-state' }) });
    state = clusterState;
    reports = createNodeAgentReportWriter({ store: createConfigMapStore(opts.kubeConfig, opts.namespace, NODE_AGENTS_CONFIGMAP), logger: log });
    try {
      api = await startClusterAgentApi({
        config: opts.config,
        namespace: opts.namespace,
        view: state,
        logger: log,
        extraNames: extraNamesOf(opts.webhookUrl),
        recorder: reports,
        ...(opts.config['cluster_agent.console.enabled']
          ? {
              console: (metrics: ClusterAgentMetrics) => {
                const c = startConsole({
                  config: opts.config,
                  namespace: opts.namespace,
                  view: clusterState,
                  kube: createKubeReader(opts.kubeConfig),
                  diagnoseContext: async () => (await loadDiagnoseContext({ config: opts.config, namespace: opts.namespace, kubeConfig: opts.kubeConfig })).ctx,
                  ranAs: "the cluster agent's service account (checks it may not read are skipped; run tether diagnose with deploy/diagnose-rbac.yaml for all of them)",
                  served: 'cluster',
                  logger: log,
                  // Never the token every node agent holds: a node agent's host must not make its holder an admin.
                  adminToken: opts.config['cluster_agent.console.admin_token'],
                  viewerToken: opts.config['cluster_agent.console.viewer_token'],
                  identity,
                  webhookRegistry: server.metrics.registry,
                  onAnswer: (status) => metrics.countRequest('consoleApi', status),
                  onRefused: (f) => metrics.countAuthFailure(f.reason),
                });
                return { handle: (req, res, path) => c.handler.handle(req, res, path), close: () => c.close() };
              },
            }
          : {}),
        ...(opts.host !== undefined ? { host: opts.host } : {}),
        ...(opts.apiPort !== undefined ? { port: opts.apiPort } : {}),
      });
    } catch (e) {
      await Promise.all([state.stop(), server.close({ drainMs: 0 })]);
      throw e;
    }
  } else {
    log.warn('no cluster_agent.auth_token (DD_CLUSTER_AGENT_AUTH_TOKEN): the cluster agent API for node agents is off');
  }

  const controllers = startControllers({
    apis: createControllerApis(opts.kubeConfig, opts.config, opts.namespace),
    config: opts.config,
    namespace: opts.namespace,
    logger: log,
    onCertificate: (certPem, keyPem) => server.setCertificate(certPem, keyPem),
    ...(api ? { onCa: (caPem: string, caKeyPem: string) => void api.setCa(caPem, caKeyPem), onLeadership: (l: boolean) => api.metrics.setLeader(l), onReconcile: (c: string, o: 'success' | 'error') => api.metrics.countReconcile(c, o) } : {}),
    ...(opts.webhookUrl ? { webhookUrl: opts.webhookUrl } : {}),
    identity,
  });
  let stopped: Promise<void> | undefined;
  return {
    server,
    controllers,
    api,
    stop(stopOpts = {}) {
      if (stopped) return Promise.all([server.close({ drainMs: stopOpts.drainMs ?? 0 }), api?.close({ drainMs: stopOpts.drainMs ?? 0 })]).then(() => stopped);
      // In parallel with the grace period, not after it: the controllers have a successor within
      // seconds, while this replica keeps answering the reviews the Service still sends it.
      const released = controllers.stop().catch((e: unknown) => log.warn({ err: e }, 'could not stop the controllers cleanly'));
      stopped = Promise.all([released, server.shutdown(stopOpts), api?.shutdown(stopOpts).then(() => Promise.all([state?.stop(), reports?.stop()]))]).then(() => undefined);
      return stopped;
    },
  };
}
