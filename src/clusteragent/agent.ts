/**
 * The cluster agent (`tether start`, SPEC §1): the webhook server on every replica, serving the
 * certificate held in the Secret, with owner and namespace facts read through the API; the
 * certificate and webhook-configuration controllers on the leader.
 */
import type * as k8s from '@kubernetes/client-node';
import type { FactResolver } from '../admission/index.js';
import type { TetherConfig } from '../config/index.js';
import { startControllers, type RunningControllers } from '../controllers/manager.js';
import { createControllerApis } from '../kube/controllerApis.js';
import type { Logger } from '../logging/logger.js';
import { startWebhookServer, type WebhookServer } from '../server/index.js';

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
  readonly identity?: string;
}

export interface ClusterAgent {
  readonly server: WebhookServer;
  readonly controllers: RunningControllers;
  /**
   * SIGTERM (SPEC §6): releases leadership at once, so that a successor takes over the controllers,
   * while the webhook server goes through its shutdown (`WebhookServer.shutdown`: not ready, still
   * answering for the grace period, then drained). Resolves when both are done. A second call ends the
   * grace period and the drain at once (`drainMs`, default 0).
   */
  stop(opts?: { graceMs?: number; drainMs?: number }): Promise<void>;
}

export async function startClusterAgent(opts: ClusterAgentOptions): Promise<ClusterAgent> {
  // No certificate yet: the server answers no TLS handshake and /readyz says 503 until the Secret's arrives.
  const server = await startWebhookServer({
    config: opts.config,
    logger: opts.logger,
    tetherNamespace: opts.namespace,
    ...(opts.host !== undefined ? { host: opts.host } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.facts ? { facts: opts.facts } : {}),
  });
  const controllers = startControllers({
    apis: createControllerApis(opts.kubeConfig, opts.config, opts.namespace),
    config: opts.config,
    namespace: opts.namespace,
    logger: opts.logger,
    onCertificate: (certPem, keyPem) => server.setCertificate(certPem, keyPem),
    ...(opts.webhookUrl ? { webhookUrl: opts.webhookUrl } : {}),
    ...(opts.identity ? { identity: opts.identity } : {}),
  });
  let stopped: Promise<void> | undefined;
  return {
    server,
    controllers,
    stop(stopOpts = {}) {
      if (stopped) return server.close({ drainMs: stopOpts.drainMs ?? 0 }).then(() => stopped);
      // In parallel with the grace period, not after it: the controllers have a successor within
      // seconds, while this replica keeps answering the reviews the Service still sends it.
      const released = controllers.stop().catch((e: unknown) => opts.logger.warn({ err: e }, 'could not stop the controllers cleanly'));
      stopped = Promise.all([released, server.shutdown(stopOpts)]).then(() => undefined);
      return stopped;
    },
  };
}
