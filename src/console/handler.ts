/**
 * The console's HTTP side (issue 12): `/api/v1/console/…` (login, logout, session, data, webhook health,
 * diagnose, events) and the page under `/console/`. Taken by the cluster agent API's listener (same
 * port, same TLS, `tether start`) and by `tether console`'s loopback server.
 *
 * Order, as the rest of the API: anything under the console's API prefix is authenticated before anything
 * else is said about it (login aside, which checks the token it is given), so without a session a 404
 * reveals nothing. POSTs must be JSON (a cross-site form cannot send that without a CORS preflight this
 * server never grants) and, when the browser names its origin, same-origin. Every JSON answer is
 * `no-store`; errors are `ConsoleError` with the 401/403 texts of the cluster agent API.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PodView, ClusterView } from '../clusterview/types.js';
import { AUTH_FAILURE_LOG_INTERVAL_MS, CONSOLE_LOGIN_BODY_MAX_BYTES } from '../config/limits.js';
import type { Logger } from '../logging/logger.js';
import { BodyAborted, BodyTooLarge, readBody } from '../http/body.js';
import { isJsonContentType } from '../http/request.js';
import { BadQuery, nodeExists, nodeRow, nodePodsPage, nodesPage, podDetail, podsPage, type ConsoleData } from './answers.js';
import { clearedSessionCookie, INVALID_FAILURE, MISSING_FAILURE, sessionCookie, type ConsoleAuth, type ConsoleAuthFailure } from './auth.js';
import type { DiagnoseRunner } from './diagnoseRunner.js';
import { SSE_HEADERS, type EventHub } from './events.js';
import { createLoginLimiter, type LoginLimiter } from './loginLimiter.js';
import type { SessionStore } from './sessions.js';
import { CONSOLE_CSP, type StaticServer } from './static.js';
import { CONSOLE_API_PREFIX, CONSOLE_PATHS, type ConsoleError, type ConsoleRole, type OverviewAnswer, type SessionAnswer, type WebhookHealth } from './types.js';

export interface ConsoleHandlerDeps {
  readonly data: ConsoleData;
  readonly auth: ConsoleAuth;
  readonly sessions: SessionStore;
  /** Failed logins per client (default: one over `now`, with the limits of config/limits.ts). */
  readonly loginLimiter?: LoginLimiter;
  readonly hub: EventHub;
  readonly diagnose: DiagnoseRunner;
  readonly staticFiles: StaticServer;
  /** The webhook's health now (cached by its source). */
  readonly health: () => Promise<WebhookHealth>;
  /** The overview (counts, leader, summaries). */
  readonly overview: () => Promise<OverviewAnswer>;
  /**
   * Brings the node agent reports up to date (a read at most as old as the health cache allows) before
   * an answer that shows them: without it a node's agent column is whatever was read last, which is the
   * start-up read when nobody has opened the overview since.
   */
  readonly refreshNodeAgents: () => Promise<void>;
  readonly tagsOf: (view: ClusterView, pod: PodView) => string[];
  readonly served: 'cluster' | 'local';
  readonly namespace: string;
  readonly version: string;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Counts an answered request (the API's metrics). */
  readonly onAnswer?: (status: number) => void;
  /** Counts a refused request by reason (the API's metrics). */
  readonly onRefused?: (failure: ConsoleAuthFailure) => void;
}

export interface ConsoleHandler {
  /** Answers the request when its path is the console's (true); false otherwise, nothing written. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean>;
}

const JSON_TYPE = 'application/json';

/** The console's paths: its API and its page. */
export const isConsolePath = (path: string): boolean => path === CONSOLE_API_PREFIX || path.startsWith(`${CONSOLE_API_PREFIX}/`) || path === '/console' || path.startsWith('/console/');

type Route =
  | { readonly id: 'login' | 'logout' | 'session' | 'overview' | 'nodes' | 'pods' | 'webhook' | 'diagnose' | 'events' }
  | { readonly id: 'node' | 'nodePods'; readonly node: string }
  | { readonly id: 'pod'; readonly namespace: string; readonly name: string };

const EXACT: ReadonlyMap<string, Route['id']> = new Map(
  (['login', 'logout', 'session', 'overview', 'nodes', 'pods', 'webhook', 'diagnose', 'events'] as const).map((id) => [CONSOLE_PATHS[id], id]),
);
const POSTS: ReadonlySet<Route['id']> = new Set(['login', 'logout', 'diagnose']);
const GETS: ReadonlySet<Route['id']> = new Set(['session', 'overview', 'nodes', 'pods', 'webhook', 'diagnose', 'events', 'node', 'nodePods', 'pod']);

/** The route of a console API path, undefined for none; throws BadQuery on bad percent-encoding. */
export function matchConsoleRoute(path: string): Route | undefined {
  const exact = EXACT.get(path);
  if (exact) return { id: exact } as Route;
  const dec = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new BadQuery(`the path segment ${JSON.stringify(s)} is not valid percent-encoding`);
    }
  };
  const nodesPrefix = `${CONSOLE_PATHS.nodes}/`;
  if (path.startsWith(nodesPrefix)) {
    const parts = path.slice(nodesPrefix.length).split('/');
    if (parts[0] === '' || parts[0] === undefined) return undefined;
    if (parts.length === 1) return { id: 'node', node: dec(parts[0]) };
    if (parts.length === 2 && parts[1] === 'pods') return { id: 'nodePods', node: dec(parts[0]) };
    return undefined;
  }
  const podsPrefix = `${CONSOLE_PATHS.pods}/`;
  if (path.startsWith(podsPrefix)) {
    const parts = path.slice(podsPrefix.length).split('/');
    if (parts.length === 2 && parts[0] && parts[1]) return { id: 'pod', namespace: dec(parts[0]), name: dec(parts[1]) };
  }
  return undefined;
}

/** A POST from a page of another origin (the browser says so), or without a JSON body type: refused. */
export function crossSiteProblem(req: Pick<IncomingMessage, 'headers'>): string | undefined {
  if (!isJsonContentType(req.headers['content-type'])) return 'a console POST must be Content-Type: application/json';
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `a console POST must come from the console's own page (Sec-Fetch-Site: ${site})`;
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host === undefined || host !== req.headers.host) return `a console POST must come from the console's own page (Origin ${origin} is not this server)`;
  }
  return undefined;
}

export function createConsoleHandler(deps: ConsoleHandlerDeps): ConsoleHandler {
  const log = deps.logger.child({ component: 'console' });
  const now = deps.now ?? Date.now;
  const lastLogged = new Map<string, number>();
  const limiter = deps.loginLimiter ?? createLoginLimiter({ now });

  const send = (req: IncomingMessage, res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void => {
    const text = body === undefined ? '' : JSON.stringify(body);
    if (!req.complete && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)) res.setHeader('Connection', 'close');
    res.writeHead(status, {
      ...(body === undefined ? {} : { 'Content-Type': JSON_TYPE }),
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': CONSOLE_CSP,
      ...extra,
    });
    res.end(req.method === 'HEAD' ? undefined : text);
    deps.onAnswer?.(status);
  };
  const fail = (req: IncomingMessage, res: ServerResponse, status: number, code: string, error: string, extra?: Record<string, string>): void =>
    send(req, res, status, { error, code } satisfies ConsoleError, extra);

  const refuse = (req: IncomingMessage, res: ServerResponse, f: ConsoleAuthFailure, route: string): void => {
    deps.onRefused?.(f);
    // Once per reason per interval: a scanner must not flood the logs. Never a token, never the cookie.
    const t = now();
    const last = lastLogged.get(f.code);
    if (last === undefined || t - last >= AUTH_FAILURE_LOG_INTERVAL_MS) {
      lastLogged.set(f.code, t);
      const fields = { status: f.status, reason: f.code, endpoint: route, remote: req.socket.remoteAddress, userAgent: req.headers['user-agent'] };
      if (f.code === 'invalid') log.warn(fields, `refused a console request (${f.status} ${f.message}): the token is neither the console admin token nor the console viewer token`);
      else log.info(fields, `refused a console request (${f.status})`);
    }
    fail(req, res, f.status, f.code, f.message, f.challenge ? { 'WWW-Authenticate': f.challenge } : undefined);
  };

  const sessionAnswer = (role: ConsoleRole, expiresAtMs: number | undefined): SessionAnswer => ({
    role,
    // A bearer request has no session: it lasts as long as the token.
    expiresAt: new Date(expiresAtMs ?? now()).toISOString(),
    canRunDiagnose: role === 'admin',
    served: deps.served,
    namespace: deps.namespace,
    version: deps.version,
  });

  const login = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const client = req.socket.remoteAddress ?? '';
    const wait = limiter.blockedFor(client);
    if (wait !== undefined) {
      const seconds = Math.ceil(wait / 1000);
      return fail(req, res, 429, 'rate-limited', `too many failed logins from this address: try again in ${seconds} s`, { 'Retry-After': String(seconds) });
    }
    let token: unknown;
    try {
      const body = await readBody(req, CONSOLE_LOGIN_BODY_MAX_BYTES);
      token = (JSON.parse(body.toString('utf8')) as { token?: unknown } | null)?.token;
    } catch (e) {
      if (e instanceof BodyAborted) return;
      const why = e instanceof BodyTooLarge ? `the login body is larger than ${CONSOLE_LOGIN_BODY_MAX_BYTES} bytes` : 'the login body is not JSON {"token": "…"}';
      return fail(req, res, 400, 'bad-request', why);
    }
    if (typeof token !== 'string' || token === '') {
      limiter.failed(client);
      return refuse(req, res, MISSING_FAILURE, CONSOLE_PATHS.login);
    }
    const role = deps.auth.tokenRole(token);
    if (!role) {
      limiter.failed(client);
      return refuse(req, res, INVALID_FAILURE, CONSOLE_PATHS.login);
    }
    const s = deps.sessions.create(role);
    log.info({ role, remote: req.socket.remoteAddress }, 'console login');
    send(req, res, 200, sessionAnswer(role, s.expiresAtMs), { 'Set-Cookie': sessionCookie(s.id, (s.expiresAtMs - now()) / 1000) });
  };

  const events = (req: IncomingMessage, res: ServerResponse, params: URLSearchParams, sessionId: string | undefined): void => {
    const node = params.get('node');
    res.writeHead(200, { ...SSE_HEADERS, 'Content-Security-Policy': CONSOLE_CSP });
    // A long-lived answer: no idle timeout on its socket (the heartbeat keeps proxies from closing it).
    req.socket.setTimeout(0);
    const stream = deps.hub.attach(res, { ...(node ? { node } : {}), ...(sessionId ? { sessionId } : {}) });
    if (!stream) {
      res.end(`event: bye\ndata: ${JSON.stringify({ reason: 'shutdown' })}\n\n`);
      return;
    }
    res.on('close', () => stream.detach());
    deps.onAnswer?.(200);
  };

  const api = async (req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<void> => {
    let route: Route | undefined;
    try {
      route = matchConsoleRoute(path);
    } catch {
      route = undefined;
    }
    const method = req.method ?? 'GET';
    if (route?.id === 'login') {
      if (method !== 'POST') return fail(req, res, 405, 'method', `method ${method} not allowed on ${CONSOLE_PATHS.login}`, { Allow: 'POST' });
      const problem = crossSiteProblem(req);
      if (problem) return fail(req, res, 403, 'cross-site', problem);
      return login(req, res);
    }
    const who = deps.auth.authenticate(req);
    if ('failure' in who) return refuse(req, res, who.failure, route ? route.id : 'unknown');
    if (!route) return fail(req, res, 404, 'not-found', `no console endpoint ${path}`);

    const isPost = method === 'POST';
    if (isPost ? !POSTS.has(route.id) : !(method === 'GET' || method === 'HEAD') || !GETS.has(route.id)) {
      const allow = [GETS.has(route.id) ? 'GET, HEAD' : '', POSTS.has(route.id) ? 'POST' : ''].filter(Boolean).join(', ');
      return fail(req, res, 405, 'method', `method ${method} not allowed on ${path}`, { Allow: allow });
    }
    if (isPost) {
      const problem = crossSiteProblem(req);
      if (problem) return fail(req, res, 403, 'cross-site', problem);
    }
    const params = new URLSearchParams(query);
    switch (route.id) {
      case 'logout': {
        if (who.session) {
          deps.sessions.end(who.session.id, 'logout');
          log.info({ role: who.role }, 'console logout');
        }
        res.setHeader('Set-Cookie', clearedSessionCookie());
        return send(req, res, 204, undefined);
      }
      case 'session':
        return send(req, res, 200, sessionAnswer(who.role, who.session?.expiresAtMs));
      case 'overview':
        if (!deps.diagnose.answer().latest && !deps.diagnose.answer().running) deps.diagnose.start(true);
        return send(req, res, 200, await deps.overview());
      case 'nodes':
        await deps.refreshNodeAgents();
        return send(req, res, 200, nodesPage(deps.data, params));
      case 'node':
        await deps.refreshNodeAgents();
        if (!nodeExists(route.node, deps.data)) return fail(req, res, 404, 'not-found', `no node ${route.node}: no Node object and no pod bound to it${deps.data.view.isSynced() ? '' : " (the cluster agent's state is not synced yet)"}`);
        return send(req, res, 200, nodeRow(route.node, deps.data));
      case 'nodePods':
        return send(req, res, 200, nodePodsPage(deps.data, route.node, params));
      case 'pods':
        return send(req, res, 200, podsPage(deps.data, params));
      case 'pod': {
        const d = podDetail(deps.data, route.namespace, route.name, deps.tagsOf);
        return d ? send(req, res, 200, d) : fail(req, res, 404, 'not-found', `no pod ${route.namespace}/${route.name}${deps.data.view.isSynced() ? '' : " (the cluster agent's state is not synced yet)"}`);
      }
      case 'webhook':
        return send(req, res, 200, await deps.health());
      case 'diagnose': {
        if (!isPost) {
          if (!deps.diagnose.answer().latest && !deps.diagnose.answer().running) deps.diagnose.start(true);
          return send(req, res, 200, deps.diagnose.answer());
        }
        if (who.role !== 'admin') return fail(req, res, 403, 'forbidden', 'the console viewer token is read-only: running diagnose needs a login with the console admin token');
        const started = deps.diagnose.start();
        if (started.started) return send(req, res, 202, deps.diagnose.answer());
        const retry = { 'Retry-After': String(Math.ceil(started.retryAfterMs / 1000)) };
        return started.why === 'running'
          ? fail(req, res, 409, 'running', 'diagnose is already running; its result is sent on the event stream when it ends', retry)
          : fail(req, res, 429, 'rate-limited', `diagnose ran moments ago (one run at a time, not more often than the console allows); try again in ${Math.ceil(started.retryAfterMs / 1000)} s`, retry);
      }
      case 'events':
        return events(req, res, params, who.session?.id);
    }
  };

  return {
    async handle(req, res, path) {
      if (!isConsolePath(path)) return false;
      const q = req.url?.indexOf('?') ?? -1;
      const query = q < 0 ? '' : (req.url as string).slice(q + 1);
      try {
        if (path === CONSOLE_API_PREFIX || path.startsWith(`${CONSOLE_API_PREFIX}/`)) await api(req, res, path, query);
        else await deps.staticFiles.handle(req, res, path);
      } catch (e) {
        if (e instanceof BadQuery) {
          if (!res.headersSent) fail(req, res, 400, 'bad-request', e.message);
          return true;
        }
        throw e;
      }
      return true;
    },
  };
}
