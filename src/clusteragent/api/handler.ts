/**
 * The cluster agent API's request listener (SPEC §9): route, authenticate, answer. Every answer is
 * complete (Content-Length), `Cache-Control: no-store` (tags change with the cluster), and counted by
 * route pattern and status.
 *
 * Order: the route is looked up first only to know whether it is open (`/healthz`, `/readyz`,
 * `/metrics`) and how to count it; any other request is authenticated before anything else is said
 * about it, so that without the token a 404, 405 or 400 reveals nothing.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { AUTH_FAILURE_LOG_INTERVAL_MS } from '../../config/limits.js';
import type { Logger } from '../../logging/logger.js';
import type { ClusterView } from '../../clusterview/types.js';
import { clusterIdAnswer, namespaceLabelsAnswer, nodeLabelsAnswer, nodePodsAnswer, notSyncedAnswer, podServicesAnswer, podTagsAnswer, watchesBehind, type Answer } from './answers.js';
import type { AuthFailure, AuthFailureReason, BearerAuth } from '../../agentapi/auth.js';
import type { ClusterAgentMetrics } from './metrics.js';
import { NODE_AGENT_REPORT_HEADER, parseNodeAgentHeader } from '../../agentapi/nodeAgentReport.js';
import { NOOP_NODE_AGENT_RECORDER, type NodeAgentRecorder } from './nodeAgentRecorder.js';
import { pathOf } from '../../http/request.js';
import { BadPath, matchRoute, OPEN_ROUTES, ROUTES, type RouteId, type RouteMatch } from './routes.js';
import type { TagsOf } from '../../clusterview/tags.js';

export interface ApiHandlerDeps {
  readonly view: ClusterView;
  readonly auth: BearerAuth;
  readonly metrics: ClusterAgentMetrics;
  readonly logger: Logger;
  readonly tagsOf: TagsOf;
  /** `GET /version`'s body. */
  readonly versionBody: string;
  /** Why the API is not ready (no certificate yet, shutting down), or undefined; the watches are checked here. */
  readonly notReady: () => string | undefined;
  /** ms clock for the log throttle (tests). */
  readonly now?: () => number;
  /** What each node agent reported and was answered (`tether status`, `diagnose`); default: nothing is recorded. */
  readonly recorder?: NodeAgentRecorder;
  /** The web console (`/api/v1/console/…`, `/console/…`), which authenticates its own requests (sessions). */
  readonly console?: { handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> };
}

/** The routes a node agent asks about its own node, `{node}` first. */
const NODE_ROUTES: ReadonlySet<RouteId> = new Set<RouteId>(['podServices', 'podTags', 'nodeLabels', 'nodePods']);
const REPORT_HEADER = NODE_AGENT_REPORT_HEADER.toLowerCase();

const JSON_TYPE = 'application/json';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const ALLOW = 'GET, HEAD';

function write(req: IncomingMessage, res: ServerResponse, status: number, body: string, contentType: string, extra?: Record<string, string>): void {
  // A body we do not read (a POST to a GET endpoint): close after answering rather than read it all.
  if (!req.complete && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)) res.setHeader('Connection', 'close');
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...extra,
  });
  res.end(body);
}

/** The data endpoints, by route. */
function dataAnswer(m: RouteMatch, deps: ApiHandlerDeps): Answer {
  const p = m.params;
  switch (m.route) {
    case 'version':
      return { status: 200, body: deps.versionBody };
    case 'podServices':
      return podServicesAnswer(deps.view, p[0] as string);
    case 'podTags':
      return podTagsAnswer(deps.view, p[0] as string, p[1] as string, p[2] as string);
    case 'nodeLabels':
      return nodeLabelsAnswer(deps.view, p[0] as string);
    case 'namespaceLabels':
      return namespaceLabelsAnswer(deps.view, p[0] as string);
    case 'clusterId':
      return clusterIdAnswer(deps.view);
    case 'nodePods':
      return nodePodsAnswer(deps.view, p[0] as string, deps.tagsOf);
    default:
      throw new Error(`no data handler for route ${m.route}`);
  }
}

/** `/readyz`: the first reason not to route node agents here, with every watch that is not synced. */
export function readiness(view: ClusterView, notReady: string | undefined): Answer {
  if (notReady) return { status: 503, body: `not ready: ${notReady}\n`, text: true };
  if (!view.isSynced()) return { status: 503, body: `not ready: watches not synced: ${watchesBehind(view)}\n`, text: true };
  return { status: 200, body: 'ok\n', text: true };
}

export function createApiHandler(deps: ApiHandlerDeps): RequestListener {
  const log = deps.logger;
  const now = deps.now ?? Date.now;
  const recorder = deps.recorder ?? NOOP_NODE_AGENT_RECORDER;
  const lastLogged = new Map<AuthFailureReason, number>();
  const suppressed = new Map<AuthFailureReason, number>();
  /**
   * Whether every watch has listed once: until then the data endpoints answer 503 (`notSyncedAnswer`).
   * Latched: a watch failing later leaves answers stale, not empty (`/readyz` says so), and node agents
   * are better served by them than by a 503 for the length of an API server blip.
   */
  let synced = false;
  const hasSynced = (): boolean => (synced ||= deps.view.isSynced());

  /** Refusals are counted always, logged once per reason per interval (a scanner must not flood the logs). */
  const logRefusal = (req: IncomingMessage, f: AuthFailure, route: RouteId | undefined): void => {
    const t = now();
    const last = lastLogged.get(f.reason);
    if (last !== undefined && t - last < AUTH_FAILURE_LOG_INTERVAL_MS) {
      suppressed.set(f.reason, (suppressed.get(f.reason) ?? 0) + 1);
      return;
    }
    lastLogged.set(f.reason, t);
    const alsoRefused = suppressed.get(f.reason) ?? 0;
    suppressed.delete(f.reason);
    const fields = {
      status: f.status,
      reason: f.reason,
      endpoint: route ? ROUTES[route] : 'unknown',
      remote: req.socket.remoteAddress,
      userAgent: req.headers['user-agent'],
      ...(alsoRefused > 0 ? { alsoRefusedSinceLastLog: alsoRefused } : {}),
    };
    const why =
      f.reason === 'invalid'
        ? "a node agent's cluster_agent.auth_token differs from this cluster agent's (both must read the same Secret; restart both after it changes)"
        : f.reason === 'missing'
          ? 'no bearer token: the client does not send DD_CLUSTER_AGENT_AUTH_TOKEN, or a proxy drops the Authorization header'
          : f.reason === 'scheme'
            ? 'the Authorization header does not use the Bearer scheme'
            : 'several Authorization headers';
    // A wrong token is a misconfiguration someone must fix; the others are as likely probes.
    if (f.reason === 'invalid') log.warn(fields, `refused a cluster agent API request (${f.status} ${f.message}): ${why}`);
    else log.info(fields, `refused a cluster agent API request (${f.status}): ${why}`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (deps.console && (await deps.console.handle(req, res, pathOf(req.url)))) return;
    let match: RouteMatch | undefined;
    let badPath: string | undefined;
    try {
      match = matchRoute(pathOf(req.url));
    } catch (e) {
      if (!(e instanceof BadPath)) throw e;
      badPath = e.message;
    }
    const route = match?.route;
    const node = match && NODE_ROUTES.has(match.route) ? match.params[0] : undefined;
    const answer = (status: number, body: string, contentType: string, extra?: Record<string, string>): void => {
      write(req, res, status, body, contentType, extra);
      deps.metrics.countRequest(route, status);
    };

    if (route === undefined || !OPEN_ROUTES.has(route)) {
      const failure = deps.auth.check(req);
      if (failure) {
        deps.metrics.countAuthFailure(failure.reason);
        logRefusal(req, failure, route);
        // A refusal is never recorded: the node in its path is whatever the sender wrote, so anyone
        // reaching the port could mark any node's agent as failing. Refusals are counted (metrics) and
        // logged; a node agent that is refused stops being seen, which status and diagnose show.
        return answer(failure.status, failure.message + '\n', TEXT_TYPE, failure.challenge ? { 'WWW-Authenticate': failure.challenge } : undefined);
      }
    }
    if (badPath !== undefined) return answer(400, `bad request path: ${badPath}\n`, TEXT_TYPE);
    // Go's net/http wording: what the stack's clients (and people) expect from an unknown path.
    if (!match) return answer(404, '404 page not found\n', TEXT_TYPE);
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, `method ${req.method} not allowed on ${ROUTES[match.route]}\n`, TEXT_TYPE, { Allow: ALLOW });
    if (node !== undefined) recorder.record(node, parseNodeAgentHeader(req.headers[REPORT_HEADER]), { state: 'ok' });

    switch (match.route) {
      case 'healthz':
        return answer(200, 'ok\n', TEXT_TYPE);
      case 'readyz': {
        const a = readiness(deps.view, deps.notReady());
        return answer(a.status, a.body, TEXT_TYPE);
      }
      case 'metrics': {
        const body = await deps.metrics.registry.metrics();
        return answer(200, body, deps.metrics.registry.contentType);
      }
      default: {
        const a = match.route === 'version' || hasSynced() ? dataAnswer(match, deps) : notSyncedAnswer(deps.view, match.route === 'podServices');
        return answer(a.status, a.body, a.text ? TEXT_TYPE : JSON_TYPE);
      }
    }
  };

  return (req, res) => {
    handle(req, res).catch((e: unknown) => {
      // Only a bug (or a view that throws) gets here: answer, never crash; the path, never the headers.
      log.error({ err: e, path: pathOf(req.url) }, 'unexpected error while answering a cluster agent API request');
      if (res.headersSent) res.destroy();
      else {
        write(req, res, 500, 'internal error\n', TEXT_TYPE);
        deps.metrics.countRequest(undefined, 500);
      }
    });
  };
}
