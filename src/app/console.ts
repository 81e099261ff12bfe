/**
 * The composition root of `tether console` (issue 12): the console served on an operator's machine, from their kubeconfig. The
 * cluster state is built by the same watches the cluster agent runs (`startClusterState`), diagnose runs
 * with the operator's permissions, and the page and API are served over plain HTTP on loopback only
 * (browsers treat 127.0.0.1 as a secure context, so the Secure session cookie works).
 *
 * Login is with a token made at start (`randomBytes`), printed once on stdout by the CLI and never
 * logged; it is valid for this run only. Requests whose Host is not this loopback address and port are
 * refused (421), so a page of another site that rebinds its DNS name to 127.0.0.1 gets nothing.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type * as k8s from '@kubernetes/client-node';
import { pathOf } from '../http/request.js';
import { startClusterState, type ClusterState } from '../clusteragent/state.js';
import type { TetherConfig } from '../config/index.js';
import { HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from '../config/limits.js';
import { loadDiagnoseContext } from '../diagnose/context.js';
import { createKubeReader } from '../kube/reader.js';
import type { Logger } from '../logging/logger.js';
import { startConsole, type Console } from '../console/console.js';
import { CONSOLE_PAGE_PATH } from '../console/types.js';

export const LOCAL_CONSOLE_HOST = '127.0.0.1';

export interface LocalConsoleOptions {
  readonly config: TetherConfig;
  readonly namespace: string;
  readonly kubeConfig: k8s.KubeConfig;
  /** In words, for diagnose's "ran as": the kubeconfig and context. */
  readonly kubeSource: string;
  readonly logger: Logger;
  /** 0 picks a free port. */
  readonly port: number;
  /** Tests: a fixed token (default: 24 random bytes, hex). */
  readonly token?: string;
  readonly staticDir?: string;
}

export interface LocalConsole {
  /** `http://127.0.0.1:PORT/console/`. */
  readonly url: string;
  readonly port: number;
  /** The login token of this run (print it once; never log it). */
  readonly token: string;
  readonly console: Console;
  readonly state: ClusterState;
  stop(): Promise<void>;
}

export async function startLocalConsole(o: LocalConsoleOptions): Promise<LocalConsole> {
  const token = o.token ?? randomBytes(24).toString('hex');
  const state = startClusterState({ kubeConfig: o.kubeConfig, logger: o.logger.child({ component: 'cluster-state' }) });
  const c = startConsole({
    config: o.config,
    namespace: o.namespace,
    view: state,
    kube: createKubeReader(o.kubeConfig),
    diagnoseContext: async () => (await loadDiagnoseContext({ config: o.config, namespace: o.namespace, kubeConfig: o.kubeConfig })).ctx,
    ranAs: `your kubeconfig's user (${o.kubeSource})`,
    served: 'local',
    logger: o.logger,
    adminToken: token,
    viewerToken: o.config['cluster_agent.console.viewer_token'],
    ...(o.staticDir !== undefined ? { staticDir: o.staticDir } : {}),
  });

  let port = o.port;
  const allowedHosts = (): Set<string> => new Set([`${LOCAL_CONSOLE_HOST}:${port}`, `localhost:${port}`]);
  const server = http.createServer((req, res) => {
    const path = pathOf(req.url);
    if (!allowedHosts().has(req.headers.host ?? '')) {
      res.writeHead(421, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(`this console answers only at ${LOCAL_CONSOLE_HOST}:${port}\n`);
      return;
    }
    c.handler
      .handle(req, res, path)
      .then((handled) => {
        if (handled) return;
        if (path === '/') {
          res.writeHead(308, { Location: CONSOLE_PAGE_PATH, 'Content-Length': 0 });
          res.end();
          return;
        }
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('404 page not found\n');
      })
      .catch((e: unknown) => {
        o.logger.error({ err: e, path }, 'unexpected error while answering a console request');
        if (res.headersSent) res.destroy();
        else {
          res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
          res.end('internal error\n');
        }
      });
  });
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, LOCAL_CONSOLE_HOST, () => resolve());
    });
  } catch (e) {
    c.close();
    await state.stop();
    throw e;
  }
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : o.port;
  return {
    url: `http://${LOCAL_CONSOLE_HOST}:${port}${CONSOLE_PAGE_PATH}`,
    port,
    token,
    console: c,
    state,
    async stop() {
      c.close();
      server.closeAllConnections();
      await Promise.all([new Promise<void>((r) => server.close(() => r())), state.stop()]);
    },
  };
}
