/**
 * For measuring how the webhook scales with cores only: N processes (node:cluster, connections handed
 * out round-robin by the primary) each running exactly what `tether serve` runs, `startWebhookServer`
 * with the same configuration and certificate files, on one shared port. `tether serve` itself has no
 * worker mode (see RESULTS.md for why); `run.ts --workers N` uses this, and runs the baselines with the
 * same number of processes.
 *
 * Usage: node dist/bench/clusterServe.js WORKERS CERT_FILE KEY_FILE
 * The primary logs one JSON line `{"msg":"... listening","url":...}` on stderr once every worker listens.
 */
import cluster from 'node:cluster';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/logging/logger.js';
import { startWebhookServer } from '../src/server/index.js';

const [workersArg, certFile, keyFile] = process.argv.slice(2);
const workers = Number(workersArg);
if (!(workers >= 1) || !certFile || !keyFile) {
  process.stderr.write('usage: clusterServe.js WORKERS CERT_FILE KEY_FILE\n');
  process.exit(2);
}

if (cluster.isPrimary) {
  let listening = 0;
  let stopping = false;
  cluster.on('listening', (_worker, address) => {
    if (++listening === workers) process.stderr.write(JSON.stringify({ msg: `tether webhook (${workers} workers) listening`, url: `https://127.0.0.1:${address.port}` }) + '\n');
  });
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      process.stderr.write(JSON.stringify({ level: 50, msg: `worker ${worker.process.pid} exited (${code ?? signal}); stopping` }) + '\n');
      process.exit(1);
    }
  });
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  });
} else {
  const config = loadConfig({ env: process.env });
  const server = await startWebhookServer({
    config,
    tls: { certFile, keyFile },
    host: '127.0.0.1',
    port: 0,
    logger: createLogger(config.log_level),
    tetherNamespace: 'tether',
  });
  process.on('SIGTERM', () => void server.close({ drainMs: 1000 }).then(() => process.exit(0)));
}
