/**
 * What tracers send to their agent besides traces, which Tether does not forward: accepted, read,
 * dropped and counted, answered the way tracers take without logging an error every flush (the paths
 * answered 404 would make them log one, and some retry):
 * - `/v0.6/stats` (client-side computed stats): 200, dropped (the spans themselves go out as OTLP, and a
 *   backend computes its own stats from them). Not listed in `/info`, so tracers do not compute them;
 * - `/telemetry/proxy/…` (tracer telemetry for the vendor's backend): 202, dropped;
 * - `/evp_proxy/v1/` … `/evp_proxy/v4/…` (the event platform proxy: CI visibility, LLM observability…):
 *   202, dropped. Not listed in `/info`: a tracer that needs it sees it is not there;
 * - `/profiling/…` (profiles): 202, dropped.
 * Bodies are read and dropped (never held) up to the trace payload limit; past it, 413.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, type Registry } from 'prom-client';

export type DroppedEndpoint = 'stats' | 'telemetry' | 'evp_proxy' | 'profiling';
export const DROPPED_ENDPOINTS: readonly DroppedEndpoint[] = ['stats', 'telemetry', 'evp_proxy', 'profiling'];

/** The paths, as listed in `/info`'s `tether_dropped_endpoints` (people's, not tracers'). */
export const DROPPED_PATHS: Readonly<Record<DroppedEndpoint, string>> = {
  stats: '/v0.6/stats',
  telemetry: '/telemetry/proxy/',
  evp_proxy: '/evp_proxy/v{1,2,3,4}/',
  profiling: '/profiling/',
};

const EVP = /^\/evp_proxy\/v[1-4]\//;

/** Which dropped endpoint a path is, if any (pure). */
export function droppedEndpointOf(path: string): DroppedEndpoint | undefined {
  if (path === '/v0.6/stats') return 'stats';
  if (path.startsWith('/telemetry/proxy/')) return 'telemetry';
  if (EVP.test(path)) return 'evp_proxy';
  if (path.startsWith('/profiling/')) return 'profiling';
  return undefined;
}

export interface DroppedCounts {
  readonly requests: Readonly<Record<DroppedEndpoint, number>>;
  readonly bytes: Readonly<Record<DroppedEndpoint, number>>;
}

export interface DroppedEndpoints {
  /** Reads and drops the body, answers, counts. */
  handle(req: IncomingMessage, res: ServerResponse, which: DroppedEndpoint, maxBytes: number): Promise<void>;
  counts(): DroppedCounts;
}

const zero = (): Record<DroppedEndpoint, number> => ({ stats: 0, telemetry: 0, evp_proxy: 0, profiling: 0 });

export function createDroppedEndpoints(registry?: Registry): DroppedEndpoints {
  const requests = zero();
  const bytes = zero();
  if (registry) {
    new Counter({
      name: 'tether_node_agent_trace_receiver_dropped_requests_total',
      help: 'Requests tracers send besides traces that the node agent accepts and drops (not forwarded): /v0.6/stats, /telemetry/proxy, /evp_proxy, /profiling.',
      labelNames: ['endpoint'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const e of DROPPED_ENDPOINTS) this.inc({ endpoint: e }, requests[e]);
      },
    });
  }
  const answer = (res: ServerResponse, status: number, body: string) => {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
  };
  return {
    handle(req, res, which, maxBytes) {
      return new Promise((resolve) => {
        let size = 0;
        const done = () => {
          req.off('data', onData);
          req.off('end', onEnd);
          req.off('close', onClose);
          resolve();
        };
        const onData = (chunk: Buffer) => {
          size += chunk.length;
          bytes[which] += chunk.length;
          if (size > maxBytes) {
            answer(res, 413, JSON.stringify({ error: `body larger than ${maxBytes} bytes` }));
            req.socket.destroySoon?.();
            done();
          }
        };
        const onEnd = () => {
          requests[which]++;
          answer(res, which === 'stats' ? 200 : 202, '{}');
          done();
        };
        const onClose = () => done();
        req.on('data', onData);
        req.on('end', onEnd);
        req.on('close', onClose);
        req.resume();
      });
    },
    counts: () => ({ requests: { ...requests }, bytes: { ...bytes } }),
  };
}
