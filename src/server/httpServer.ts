/**
 * HTTP side of the webhook server (SPEC §6): routing, method/content-type/size checks, health, readiness
 * and metrics endpoints, over HTTP/1.1 or HTTP/2 (the servers themselves are `http/httpsServer.ts`). The
 * admission work itself is `handleAdmission`; this module only decides whether a request gets that far
 * and writes the answer.
 */
import type { WebhookEntry } from '../admission/index.js';
import type { TetherConfig } from '../config/index.js';
import { MAX_REVIEW_BODY_BYTES } from '../config/limits.js';
import type { Logger } from '../logging/logger.js';
import { handleAdmission } from './admissionHandler.js';
import { abortRequest, BodyAborted, BodyTooLarge, closeAfterAnswer, declaredLength, drainBody, readBody, worthDiscarding, type AnyRequest } from '../http/body.js';
import type { AnyRequestListener, AnyResponse } from '../http/httpsServer.js';
import { isJsonContentType } from '../http/request.js';
import type { FactResolver } from './facts.js';
import type { AdmissionOutcome, ServerMetrics } from './metrics.js';

export interface RequestListenerDeps {
  readonly config: TetherConfig;
  readonly tetherNamespace: string;
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  /** Endpoint path → the entry served there. */
  readonly routes: ReadonlyMap<string, WebhookEntry>;
  /** Whether a certificate is loaded (`/readyz`). */
  readonly isReady: () => boolean;
  /** A shutdown has begun: `/readyz` fails, whatever `isReady` says (the Service must drop this pod). */
  readonly shuttingDown?: () => boolean;
  readonly facts?: FactResolver;
  /** Defaults to `MAX_REVIEW_BODY_BYTES`; smaller in tests. */
  readonly bodyLimit?: number;
  readonly factsBudgetMs?: number;
}

const TEXT = 'text/plain; charset=utf-8';

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Writes a complete answer. A body we did not read (or not entirely) is first drained when small
 * enough, so the client reads our answer rather than a reset; a larger one gets the answer at once and
 * the connection is closed after it, so one client cannot make us read without end.
 */
async function send(req: AnyRequest, res: AnyResponse, a: Answer, bodyBytesRead = 0): Promise<void> {
  if (!req.complete) {
    if (!worthDiscarding(req, bodyBytesRead)) closeAfterAnswer(req, res);
    else if (!(await drainBody(req, bodyBytesRead))) return;
  }
  if (res.headersSent || gone(res)) return;
  res.writeHead(a.status, {
    'Content-Type': a.contentType ?? TEXT,
    'Content-Length': Buffer.byteLength(a.body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...a.headers,
  });
  res.end(a.body);
}

/** The response can no longer be written (the connection, or the HTTP/2 stream, is gone). */
const gone = (res: AnyResponse): boolean => ('stream' in res ? res.stream.destroyed : res.destroyed);

/** Aborts when the client hangs up before the answer is written (e.g. while facts are being resolved). */
function clientGone(res: AnyResponse): AbortSignal {
  const gone = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  return gone.signal;
}

const text = (status: number, message: string, headers?: Record<string, string>): Answer => ({ status, body: message + '\n', ...(headers ? { headers } : {}) });

export function createRequestListener(deps: RequestListenerDeps): AnyRequestListener {
  const log = deps.logger;
  const limit = deps.bodyLimit ?? MAX_REVIEW_BODY_BYTES;

  async function webhook(entry: WebhookEntry, req: AnyRequest, res: AnyResponse): Promise<void> {
    const kind = entry.id;
    const started = process.hrtime.bigint();
    const done = (outcome: AdmissionOutcome, injections = 0) => {
      deps.metrics.observeRequest(kind, outcome, Number(process.hrtime.bigint() - started) / 1e9);
      deps.metrics.addMutations(kind, injections);
    };
    const reject = async (a: Answer, read = 0): Promise<void> => {
      log.info({ webhook: kind, status: a.status, problem: a.body.trim() }, 'rejected an admission request');
      await send(req, res, a, read);
      done('rejected');
    };

    if (req.method !== 'POST') return reject(text(405, `method ${req.method} not allowed: admission reviews are sent with POST`, { Allow: 'POST' }));
    if (!isJsonContentType(req.headers['content-type'])) {
      const got = req.headers['content-type'] === undefined ? 'none' : JSON.stringify(req.headers['content-type']);
      return reject(text(415, `unsupported Content-Type ${got}: an AdmissionReview is sent as application/json`));
    }
    const declared = declaredLength(req);
    if (declared !== undefined && declared > limit) return reject(text(413, `request body of ${declared} bytes is over the limit of ${limit} bytes`));

    let body: Buffer;
    try {
      body = await readBody(req, limit);
    } catch (e) {
      if (e instanceof BodyTooLarge) return reject(text(413, `request body is over the limit of ${limit} bytes`), limit);
      if (e instanceof BodyAborted) {
        log.info({ webhook: kind, problem: e.message }, 'admission request abandoned by the client');
        abortRequest(req);
        done('rejected');
        return;
      }
      throw e;
    }

    const reply = await handleAdmission(body, entry, {
      config: deps.config,
      tetherNamespace: deps.tetherNamespace,
      logger: log,
      clientGone: () => clientGone(res),
      ...(deps.facts ? { facts: deps.facts } : {}),
      ...(deps.factsBudgetMs !== undefined ? { factsBudgetMs: deps.factsBudgetMs } : {}),
    });
    await send(req, res, { status: reply.status, body: reply.body, contentType: reply.contentType });
    done(reply.outcome, reply.injections);
  }

  async function other(path: string, req: AnyRequest, res: AnyResponse): Promise<void> {
    const handlers: Record<string, () => Promise<Answer> | Answer> = {
      '/healthz': () => text(200, 'ok'),
      '/readyz': () =>
        deps.shuttingDown?.()
          ? text(503, 'not ready: shutting down')
          : deps.isReady()
            ? text(200, 'ok')
            : text(503, 'not ready: no TLS certificate loaded yet'),
      '/metrics': async () => ({ status: 200, body: await deps.metrics.registry.metrics(), contentType: deps.metrics.registry.contentType }),
    };
    const handler = handlers[path];
    if (!handler) return send(req, res, text(404, `no such endpoint: ${path}; webhooks are served at ${[...deps.routes.keys()].join(', ') || '(none enabled)'}`));
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(req, res, text(405, `method ${req.method} not allowed on ${path}`, { Allow: 'GET, HEAD' }));
    await send(req, res, await handler());
  }

  return (req, res) => {
    // The API server adds `?timeout=10s` to webhook URLs: route on the path alone.
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const entry = deps.routes.get(path);
    (entry ? webhook(entry, req, res) : other(path, req, res)).catch((e: unknown) => {
      // Only a bug gets here; the admission path itself fails open. Answer, never crash.
      log.error({ err: e, path }, 'unexpected error while answering a request');
      if (res.headersSent) res.destroy();
      else void send(req, res, text(500, 'internal error')).catch(() => res.destroy());
    });
  };
}
