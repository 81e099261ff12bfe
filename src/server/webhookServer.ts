/**
 * The webhook server (SPEC §6), assembled: HTTPS (HTTP/2, and HTTP/1.1) with Tether's limits, the
 * certificate (from files, reloaded when they change, or set directly by the cluster agent from its
 * Secret), routes for the configured webhook entries, a metrics registry of its own, and graceful shutdown.
 */
import { createSecureContext, type TLSSocket } from 'node:tls';
import { checkKeyPair, InvalidCertificate, type CertificateInfo } from '../certs/index.js';
import { ConfigError, type TetherConfig } from '../config/index.js';
import { SHUTDOWN_DRAIN_MS, TLS_MIN_VERSION } from '../config/limits.js';
import { entryEndpoint, entryEndpointKey, webhookEntries, type WebhookEntry } from '../admission/index.js';
import type { Logger } from '../logging/logger.js';
import type { FactResolver } from './facts.js';
import { createHttpsServer, createWebhookTlsServer, type ServerLimits } from '../http/httpsServer.js';
import { createRequestListener } from './httpServer.js';
import { createServerMetrics, type ServerMetrics } from './metrics.js';
import { IPV6_ANY, listenOn, listenUrl, type Bind } from '../http/listen.js';
import { trackRequests } from '../http/shutdown.js';
import { readCertificateFiles, watchCertificateFiles, type CertificateFiles, type CertificateWatcher, type PemPair } from './tlsReloader.js';

export interface WebhookServerOptions {
  readonly config: TetherConfig;
  /**
   * Files (watched, reloaded on change), PEM text, or nothing: then the server accepts no TLS handshake
   * and `/readyz` is 503 until `setCertificate` is called.
   */
  readonly tls?: CertificateFiles | PemPair;
  /** Default `DEFAULT_LISTEN_HOST` (every interface of both stacks; IPv4 only on a host without IPv6). */
  readonly host?: string;
  /** Default `admission_controller.port`; 0 picks a free port (see `WebhookServer.port`). */
  readonly port?: number;
  readonly logger: Logger;
  /** Tether's own namespace, whose pods are never mutated. */
  readonly tetherNamespace: string;
  /** Owner and namespace labels; without it, those facts are unknown. */
  readonly facts?: FactResolver;
  /** How often certificate files are checked; default `CERT_POLL_INTERVAL_MS`. */
  readonly certPollIntervalMs?: number;
  /** Overrides the facts budget derived from `timeout_seconds` (tests). */
  readonly factsBudgetMs?: number;
  /** Overrides connection limits and timeouts of `config/limits.ts` (tests: short timeouts, few connections). */
  readonly limits?: Partial<ServerLimits>;
  /** How the port is bound (tests inject failures); default `bindPort`. */
  readonly bind?: Bind;
  /** false: HTTP/1.1 only, no `h2` in ALPN (how the server was before issue 22; the pod-create bench compares). Default true. */
  readonly http2?: boolean;
}

export interface WebhookServer {
  /** e.g. `https://127.0.0.1:8000`. */
  readonly url: string;
  /** The port actually listened on. */
  readonly port: number;
  /** Endpoint path → the entry served there. */
  readonly routes: ReadonlyMap<string, WebhookEntry>;
  readonly metrics: ServerMetrics;
  /**
   * Validates the pair and serves it to new connections (existing ones keep theirs); throws
   * `InvalidCertificate` and keeps the old one. With certificate files, their next change replaces it again.
   */
  setCertificate(certPem: string, keyPem: string): CertificateInfo;
  /** The certificate being served, if any. */
  certificate(): CertificateInfo | undefined;
  /** Checks the certificate files now instead of at the next poll (no-op without files). */
  reloadCertificateFiles(): Promise<void>;
  /**
   * What SIGTERM does (SPEC §6): `/readyz` fails at once; reviews, on new connections too, are still
   * answered for `graceMs` (default `shutdown_grace_seconds`), the last `SHUTDOWN_CLOSE_NOTICE_MS` of it
   * with `Connection: close`; then the listener closes and in-flight reviews get `drainMs` (default
   * `SHUTDOWN_DRAIN_MS`) to finish. Resolves once every connection is closed.
   */
  shutdown(opts?: { graceMs?: number; drainMs?: number }): Promise<void>;
  /**
   * Stops accepting now (ending a running `shutdown`'s grace period), lets in-flight reviews finish within
   * `drainMs` (default `SHUTDOWN_DRAIN_MS`; 0 cuts every connection at once).
   */
  close(opts?: { drainMs?: number }): Promise<void>;
}

/**
 * Every interface of both IP stacks: the API server reaches the webhook through a Service, on the pod's
 * IP, which is an IPv6 address in a single-stack IPv6 cluster.
 */
export const DEFAULT_LISTEN_HOST = IPV6_ANY;

const isFiles = (t: CertificateFiles | PemPair): t is CertificateFiles => 'certFile' in t;

/** Endpoint → entry for the configuration's entries; two entries on one path is a `ConfigError`. */
export function webhookRoutes(config: TetherConfig): Map<string, WebhookEntry> {
  const routes = new Map<string, WebhookEntry>();
  for (const entry of webhookEntries(config)) {
    const path = entryEndpoint(entry, config);
    const other = routes.get(path);
    if (other) {
      const key = entryEndpointKey(entry);
      throw new ConfigError([{ key, source: 'configuration', message: `${path} is already the endpoint of the ${other.id} webhook; give each webhook its own` }]);
    }
    routes.set(path, entry);
  }
  return routes;
}

/** Validated the way the server will use it: our checks (clear messages), then OpenSSL's own. */
function validatePair(pair: PemPair): CertificateInfo {
  const info = checkKeyPair(pair.certPem, pair.keyPem);
  try {
    createSecureContext({ cert: pair.certPem, key: pair.keyPem, minVersion: TLS_MIN_VERSION });
  } catch (e) {
    throw new InvalidCertificate(`the TLS library refuses the certificate or key: ${(e as Error).message}`);
  }
  return info;
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const log = opts.logger;
  const routes = webhookRoutes(opts.config);
  const metrics = createServerMetrics([...routes.values()].map((e) => e.id));

  const initial = opts.tls ? (isFiles(opts.tls) ? await readCertificateFiles(opts.tls) : opts.tls) : undefined;
  let current = initial ? validatePair(initial) : undefined;

  const listener = createRequestListener({
    config: opts.config,
    tetherNamespace: opts.tetherNamespace,
    logger: log,
    metrics,
    routes,
    isReady: () => current !== undefined,
    // From the first moment of a shutdown, so that the Service stops routing new reviews here.
    shuttingDown: () => drainer.phase() !== 'serving',
    ...(opts.facts ? { facts: opts.facts } : {}),
    ...(opts.factsBudgetMs !== undefined ? { factsBudgetMs: opts.factsBudgetMs } : {}),
  });
  const server = opts.http2 === false ? createHttpsServer(listener, initial, opts.limits) : createWebhookTlsServer(listener, initial, opts.limits);
  const drainer = trackRequests(server);
  if (current) metrics.setCertificateExpiry(current.notAfter);

  server.on('secureConnection', (socket: TLSSocket) => metrics.countConnection(socket.alpnProtocol || 'http/1.1'));
  // Failed handshakes (an old TLS version, a client that does not trust us) are the client's problem.
  server.on('tlsClientError', (e: Error) => log.debug({ problem: e.message }, 'TLS handshake failed'));

  const setCertificate = (certPem: string, keyPem: string): CertificateInfo => {
    const info = validatePair({ certPem, keyPem });
    server.setSecureContext({ cert: certPem, key: keyPem, minVersion: TLS_MIN_VERSION });
    current = info;
    metrics.setCertificateExpiry(info.notAfter);
    if (info.notAfter.getTime() < Date.now()) log.warn({ notAfter: info.notAfter.toISOString() }, 'the webhook certificate has expired; the API server will refuse it');
    return info;
  };

  let watcher: CertificateWatcher | undefined;
  if (opts.tls && initial && isFiles(opts.tls)) {
    watcher = watchCertificateFiles(opts.tls, {
      current: initial,
      apply: (pair) => setCertificate(pair.certPem, pair.keyPem),
      logger: log,
      ...(opts.certPollIntervalMs !== undefined ? { intervalMs: opts.certPollIntervalMs } : {}),
    });
  }

  let host = opts.host ?? DEFAULT_LISTEN_HOST;
  try {
    host = await listenOn(server, opts.port ?? opts.config['admission_controller.port'], host, log, opts.bind);
  } catch (e) {
    watcher?.stop();
    throw e;
  }
  server.on('error', (e) => log.error({ err: e }, 'webhook server error'));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 0);
  const url = listenUrl(host, port);

  return {
    url,
    port,
    routes,
    metrics,
    setCertificate,
    certificate: () => current,
    reloadCertificateFiles: () => watcher?.check() ?? Promise.resolve(),
    async shutdown(shutdownOpts = {}) {
      const graceMs = shutdownOpts.graceMs ?? opts.config.shutdown_grace_seconds * 1000;
      const drainMs = shutdownOpts.drainMs ?? SHUTDOWN_DRAIN_MS;
      if (drainer.phase() === 'serving') {
        log.info({ graceMs, drainMs }, `shutting down: /readyz fails now; reviews are still answered for ${graceMs / 1000} s, then the listener closes`);
      }
      await drainer.shutdown({
        graceMs,
        drainMs,
        onGraceEnd: () => log.info({ inFlight: drainer.inFlight(), drainMs }, 'grace period over: closing the listener, letting in-flight reviews finish'),
      });
      watcher?.stop();
    },
    async close(closeOpts = {}) {
      watcher?.stop();
      await drainer.close(closeOpts.drainMs ?? SHUTDOWN_DRAIN_MS);
    },
  };
}
