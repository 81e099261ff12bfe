/**
 * The webhook server for `npm run bench:podcreate` (podCreate.ts), in a process of its own so that it does
 * not share an event loop with the load. Started with `fork`; told its certificate and configuration by
 * IPC, answers `{ url }`, then on each `stats` message the requests it served per entry and the
 * connections it accepted per protocol (ALPN), so the bench can count calls per pod and see HTTP/2 used.
 */
import { loadConfig } from '../src/config/index.js';
import { silentLogger } from '../src/logging/logger.js';
import { startWebhookServer } from '../src/server/index.js';

interface Start {
  readonly certPem: string;
  readonly keyPem: string;
  readonly env: Record<string, string>;
  readonly http2: boolean;
}

const send = (m: unknown): void => void process.send?.(m);

process.once('message', async (m: Start) => {
  const config = loadConfig({ env: m.env });
  const server = await startWebhookServer({ config, tls: { certPem: m.certPem, keyPem: m.keyPem }, host: '127.0.0.1', port: 0, logger: silentLogger(), tetherNamespace: 'tether', http2: m.http2 });
  process.on('message', async (q: string) => {
    if (q !== 'stats') return;
    const requests = await server.metrics.registry.getSingleMetric('tether_admission_requests_total')?.get();
    const perEntry: Record<string, number> = {};
    for (const v of requests?.values ?? []) perEntry[String(v.labels['webhook'])] = (perEntry[String(v.labels['webhook'])] ?? 0) + v.value;
    const conns = await server.metrics.registry.getSingleMetric('tether_webhook_connections_total')?.get();
    const protocols = Object.fromEntries((conns?.values ?? []).map((v) => [String(v.labels['protocol']), v.value]));
    send({ perEntry, protocols });
  });
  process.on('SIGTERM', () => void server.close({ drainMs: 0 }).then(() => process.exit(0)));
  send({ url: server.url });
});
