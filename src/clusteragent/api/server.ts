/**
 * The cluster agent API server (SPEC §9), part of `tether start` on every replica: HTTPS on
 * `cluster_agent.cmd_port` with Tether's server limits (server/httpServer.ts), TLS 1.2+, a serving
 * certificate each replica issues in memory from the webhook Secret's newest CA (./certificate.ts), bearer
 * authentication, answers from the `ClusterView`, and the webhook server's shutdown phases
 * (http/shutdown.ts).
 *
 * Until the first certificate exists no TLS handshake succeeds and `/readyz` (were it reachable) says so;
 * until the view has synced `/readyz` is 503 and names the watches behind.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureContext } from 'node:tls';
import type { CertificateInfo } from '../../certs/index.js';
import { ConfigError, type TetherConfig } from '../../config/index.js';
import { CLUSTER_AGENT_CA_SWITCH_DELAY_MS, SHUTDOWN_DRAIN_MS, TLS_MIN_VERSION } from '../../config/limits.js';
import { certificateNames } from '../../certs/policy.js';
import type { Logger } from '../../logging/logger.js';
import { createHttpsServer, type ServerLimits } from '../../http/httpsServer.js';
import { IPV6_ANY, listenOn, listenUrl, type Bind } from '../../http/listen.js';
import { trackRequests } from '../../http/shutdown.js';
import type { ClusterView } from '../../clusterview/types.js';
import { createBearerAuth } from '../../agentapi/auth.js';
import { createApiCertificates, type CertificateTimers } from './certificate.js';
import { createApiHandler } from './handler.js';
import type { NodeAgentRecorder } from './nodeAgentRecorder.js';
import { createClusterAgentMetrics, type ClusterAgentMetrics } from './metrics.js';
import { defaultTagsOf, type TagsOf } from '../../clusterview/tags.js';
import { COMMIT_ENV, packageVersion, versionAnswer } from '../../agentapi/version.js';

export interface ClusterAgentApiOptions {
  readonly config: TetherConfig;
  /** Tether's namespace: the Service's, named in the certificate. */
  readonly namespace: string;
  readonly view: ClusterView;
  readonly logger: Logger;
  /** Default every interface of both IP stacks (as the webhook server). */
  readonly host?: string;
  /** Default `cluster_agent.cmd_port`; 0 picks a free port. */
  readonly port?: number;
  /** Names the certificate carries besides the Service's (e.g. `127.0.0.1` in tests). */
  readonly extraNames?: readonly string[];
  /** A pod's tags for `/api/v1/tether/pods/{node}`; default `defaultTagsOf`. */
  readonly tagsOf?: TagsOf;
  /** Default `CLUSTER_AGENT_CA_SWITCH_DELAY_MS`. */
  readonly caSwitchDelayMs?: number;
  /** Tests: a manual clock and timers for the certificate's renewal. */
  readonly clock?: { readonly now: () => number; readonly timers: CertificateTimers };
  /** Tests: shorter connection limits. */
  readonly limits?: Partial<ServerLimits>;
  readonly bind?: Bind;
  /** `GET /version`'s Commit; default the `TETHER_COMMIT` environment variable, else "unknown". */
  readonly commit?: string;
  /** Where each node agent's last report and answer go (`createNodeAgentReportWriter`); default nowhere. */
  readonly recorder?: NodeAgentRecorder;
  /**
   * The web console, served on this port (issue 12), made once the API's metrics exist (it counts its
   * requests there); its event streams end when the API shuts down.
   */
  readonly console?: (metrics: ClusterAgentMetrics) => { handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean>; close(): void };
}

export interface ClusterAgentApi {
  /** e.g. `https://127.0.0.1:5005`. */
  readonly url: string;
  readonly port: number;
  readonly metrics: ClusterAgentMetrics;
  /** The certificate's names (the Service's, then `extraNames`). */
  readonly names: readonly string[];
  /**
   * The webhook certificate Secret's trust bundle (`ca.pem`) and newest CA key (`ca-key.pem`): issues
   * the API's certificate (see ./certificate.ts for when it switches). Resolves with the certificate
   * served afterwards; a CA that cannot sign is logged and the current certificate kept.
   */
  setCa(caCertPem: string, caKeyPem: string): Promise<CertificateInfo | undefined>;
  certificate(): CertificateInfo | undefined;
  /** SIGTERM (as the webhook server's): `/readyz` fails at once, requests are answered for `graceMs`, then drained. */
  shutdown(opts?: { graceMs?: number; drainMs?: number }): Promise<void>;
  /** Stops accepting now; in-flight requests get `drainMs` (default `SHUTDOWN_DRAIN_MS`). */
  close(opts?: { drainMs?: number }): Promise<void>;
}

export async function startClusterAgentApi(opts: ClusterAgentApiOptions): Promise<ClusterAgentApi> {
  const log = opts.logger.child({ component: 'cluster-agent-api' });
  const token = opts.config['cluster_agent.auth_token'];
  if (token === undefined || token === '') {
    throw new ConfigError([{ key: 'cluster_agent.auth_token', source: 'configuration', message: 'the cluster agent API needs the token node agents present (DD_CLUSTER_AGENT_AUTH_TOKEN)' }]);
  }
  const metrics = createClusterAgentMetrics();
  const names = [...certificateNames(opts.config['cluster_agent.kubernetes_service_name'], opts.namespace)];
  for (const n of opts.extraNames ?? []) if (!names.includes(n)) names.push(n);

  let serving = false;
  const consoleServer = opts.console?.(metrics);
  const listener = createApiHandler({
    ...(consoleServer ? { console: consoleServer } : {}),
    view: opts.view,
    auth: createBearerAuth(token),
    metrics,
    logger: log,
    tagsOf: opts.tagsOf ?? defaultTagsOf,
    versionBody: JSON.stringify(versionAnswer(packageVersion(), opts.commit ?? process.env[COMMIT_ENV])),
    ...(opts.recorder ? { recorder: opts.recorder } : {}),
    notReady: () => (drainer.phase() !== 'serving' ? 'shutting down' : !serving ? 'no TLS certificate issued yet' : undefined),
  });
  const server = createHttpsServer(listener, undefined, opts.limits);
  const drainer = trackRequests(server);
  // A client that does not trust us, or speaks plain HTTP to this port, is the client's problem (its own
  // diagnosis says so); the stack logs these as "http: TLS handshake error from …".
  server.on('tlsClientError', (e: Error, socket) => log.debug({ problem: e.message, remote: socket.remoteAddress }, 'TLS handshake error'));

  const certificates = createApiCertificates({
    names,
    logger: log,
    switchDelayMs: opts.caSwitchDelayMs ?? CLUSTER_AGENT_CA_SWITCH_DELAY_MS,
    ...(opts.clock ? { now: opts.clock.now, timers: opts.clock.timers } : {}),
    apply: (pair) => {
      // OpenSSL's own check first: a pair it refuses must not replace the one being served.
      createSecureContext({ cert: pair.certPem, key: pair.keyPem, minVersion: TLS_MIN_VERSION });
      server.setSecureContext({ cert: pair.certPem, key: pair.keyPem, minVersion: TLS_MIN_VERSION });
      serving = true;
    },
  });

  let host = opts.host ?? IPV6_ANY;
  try {
    host = await listenOn(server, opts.port ?? opts.config['cluster_agent.cmd_port'], host, log, opts.bind);
  } catch (e) {
    certificates.stop();
    throw e;
  }
  server.on('error', (e) => log.error({ err: e }, 'cluster agent API server error'));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 0);
  const url = listenUrl(host, port);
  log.info({ url, names }, 'cluster agent API listening; no TLS handshake is accepted until its certificate is issued from the webhook CA');

  return {
    url,
    port,
    metrics,
    names,
    setCa: (caCertPem, caKeyPem) => certificates.setCa(caCertPem, caKeyPem),
    certificate: () => certificates.current(),
    async shutdown(shutdownOpts = {}) {
      const graceMs = shutdownOpts.graceMs ?? opts.config.shutdown_grace_seconds * 1000;
      const drainMs = shutdownOpts.drainMs ?? SHUTDOWN_DRAIN_MS;
      if (drainer.phase() === 'serving') log.info({ graceMs, drainMs }, `shutting down: /readyz fails now; requests are still answered for ${graceMs / 1000} s, then the listener closes`);
      // Event streams never end on their own: told `bye` now, so the drain is not kept waiting.
      consoleServer?.close();
      await drainer.shutdown({ graceMs, drainMs });
      certificates.stop();
    },
    async close(closeOpts = {}) {
      consoleServer?.close();
      certificates.stop();
      await drainer.close(closeOpts.drainMs ?? SHUTDOWN_DRAIN_MS);
    },
  };
}
