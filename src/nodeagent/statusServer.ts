/**
 * The node agent's small local HTTP endpoint (`node_agent.port`): what it holds and how its upstreams
 * are doing, for people (`kubectl port-forward`, `curl`), probes and Prometheus.
 *
 * - `/healthz`: 200 while the process runs (liveness: a failing upstream is not fixed by a restart);
 * - `/readyz`: 200 once the kubelet has been read once, else 503 with the kubelet's problem;
 * - `/status`: the agent's status (upstreams, their last problem with its fix, counts, tags age);
 * - `/pods`: this node's pods with their tags;
 * - `/intake`: the DogStatsD and trace listeners, origins resolved and not, the OTLP queues;
 * - `/metrics`: Prometheus: the node agent's own metrics;
 * - `/dogstatsd/metrics`: Prometheus: what pods sent to its DogStatsD intake, aggregated and tagged with
 *   their pod. Apart from `/metrics` because it is the applications' data, not the agent's: its size and
 *   names are the applications' (a metric of theirs named like one of the agent's would make the page
 *   invalid and lose the agent's own metrics with it), and it is scraped with its own job and labels.
 * Plain HTTP (the probes and the scraper need it on the pod's IP). `/healthz`, `/readyz` and `/metrics`
 * (the agent's own counters) are open; the rest says what runs on the node (every pod with its tags,
 * every application's metrics, the intake's senders) and needs the cluster agent's token, checked by
 * the cluster agent API's own code (`agentapi/auth.ts`: `Authorization: Bearer`, constant
 * time, the same 401/403 texts): any pod reaching the port would otherwise read its neighbours' data.
 * A node agent without a token (it cannot ask the cluster agent either) keeps those paths closed.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HEADERS_TIMEOUT_MS, MAX_HEADERS_COUNT, REQUEST_TIMEOUT_MS, SHUTDOWN_DRAIN_MS, TIMEOUT_CHECK_INTERVAL_MS } from '../config/index.js';
import type { Logger } from '../logging/logger.js';
import { trackRequests } from '../http/shutdown.js';
import { createBearerAuth, type BearerAuth } from '../agentapi/auth.js';
import type { NodeAgent } from './agent.js';
import type { DogStatsDIntake } from './intake/dogstatsd/index.js';
import type { NodeIntake } from './intake/intake.js';
import type { NodeAgentMetrics } from './metrics.js';

/** Every interface, IPv6 and IPv4 (dual stack); falls back to IPv4 only where the host has no IPv6. */
export const STATUS_DEFAULT_HOST = '::';
const IPV4_ANY = '0.0.0.0';

export interface StatusServerOptions {
  readonly agent: Pick<NodeAgent, 'ready' | 'pods' | 'status' | 'nodeName'>;
  readonly metrics: NodeAgentMetrics;
  /** The DogStatsD intake, whose metrics `/dogstatsd/metrics` serves (404 without it). */
  readonly dogstatsd?: Pick<DogStatsDIntake, 'prometheus'>;
  /** The intake, whose state `/intake` serves (listeners, origins resolved, OTLP queues). */
  readonly intake?: Pick<NodeIntake, 'status'>;
  /** `cluster_agent.auth_token`: what `/status`, `/pods`, `/intake` and `/dogstatsd/metrics` need; without it they stay closed. */
  readonly token: string | undefined;
  readonly port: number;
  /** Default `STATUS_DEFAULT_HOST`. */
  readonly host?: string;
  readonly logger: Logger;
}

export interface StatusServer {
  readonly port: number;
  /** `http://host:port`. */
  readonly url: string;
  close(opts?: { drainMs?: number }): Promise<void>;
}

/** The paths anyone reaching the port may read: the probes' and Prometheus'. */
export const OPEN_STATUS_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

export function statusRequestListener(opts: Pick<StatusServerOptions, 'agent' | 'metrics' | 'logger' | 'dogstatsd' | 'intake' | 'token'>) {
  const auth: BearerAuth | undefined = opts.token ? createBearerAuth(opts.token) : undefined;
  const json = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body, null, 2) + '\n';
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }).end(text);
  };
  const plain = (res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}) =>
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers }).end(text + '\n');

  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      plain(res, 405, `method ${req.method} not allowed: the node agent's endpoint is read-only`, { Allow: 'GET, HEAD' });
      return;
    }
    if (!OPEN_STATUS_PATHS.has(path ?? '/')) {
      if (!auth) {
        plain(res, 403, "this node agent has no cluster_agent.auth_token (DD_CLUSTER_AGENT_AUTH_TOKEN): only /healthz, /readyz and /metrics are served");
        return;
      }
      const failure = auth.check(req);
      if (failure) {
        opts.logger.debug({ status: failure.status, reason: failure.reason, path, remote: req.socket.remoteAddress }, 'node agent status endpoint: request refused');
        plain(res, failure.status, failure.message, failure.challenge ? { 'WWW-Authenticate': failure.challenge } : {});
        return;
      }
    }
    switch (path) {
      case '/healthz':
        plain(res, 200, 'ok');
        return;
      case '/readyz': {
        if (opts.agent.ready()) {
          plain(res, 200, 'ok');
          return;
        }
        const problem = opts.agent.status().upstreams.kubelet.problem;
        plain(res, 503, problem ? `not ready: the kubelet has not been read yet: ${problem.summary} Fix: ${problem.fix}` : 'not ready: the kubelet has not been read yet');
        return;
      }
      case '/status':
        json(res, 200, opts.agent.status());
        return;
      case '/pods': {
        const status = opts.agent.status();
        json(res, 200, { node: opts.agent.nodeName, tags: status.tags, pods: opts.agent.pods() });
        return;
      }
      case '/metrics':
        opts.metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'Content-Type': opts.metrics.registry.contentType }).end(text),
          (e: unknown) => {
            opts.logger.error({ err: e }, 'cannot render the node agent metrics');
            plain(res, 500, 'cannot render the metrics');
          },
        );
        return;
      case '/intake':
        if (!opts.intake) plain(res, 404, 'the intake is not running in this node agent');
        else json(res, 200, opts.intake.status());
        return;
      case '/dogstatsd/metrics': {
        if (!opts.dogstatsd) {
          plain(res, 404, 'the DogStatsD intake is not running in this node agent');
          return;
        }
        // Streamed as the client reads (the page can be tens of MiB: never one string).
        const { contentType, body } = opts.dogstatsd.prometheus();
        res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
        pipeline(Readable.from(body), res).catch(() => undefined);
        return;
      }
      default:
        plain(res, 404, `no such path ${JSON.stringify(path)}: try /status, /pods, /intake, /healthz, /readyz, /metrics or /dogstatsd/metrics`);
    }
  };
}

export async function startStatusServer(opts: StatusServerOptions): Promise<StatusServer> {
  const server = http.createServer(
    { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
    statusRequestListener(opts),
  );
  server.maxHeadersCount = MAX_HEADERS_COUNT;
  const drainer = trackRequests(server);
  const listen = (host: string) =>
    new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      server.once('error', onError);
      server.listen(opts.port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
  let host = opts.host ?? STATUS_DEFAULT_HOST;
  try {
    await listen(host);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // A host without IPv6 (disabled by sysctl) cannot bind `::`; the default then means every IPv4 interface.
    if (opts.host !== undefined || (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL')) throw e;
    host = IPV4_ANY;
    await listen(host);
  }
  const port = (server.address() as AddressInfo).port;
  const shown = host === STATUS_DEFAULT_HOST || host === IPV4_ANY ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return {
    port,
    url: `http://${shown}:${port}`,
    close: (o) => drainer.close(o?.drainMs ?? SHUTDOWN_DRAIN_MS),
  };
}
