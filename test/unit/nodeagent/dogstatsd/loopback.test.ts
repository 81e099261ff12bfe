/**
 * The real `hot-shots` client, configured the way the webhook configures a pod (DD_AGENT_HOST and
 * DD_DOGSTATSD_PORT, or DD_DOGSTATSD_URL=unix://…, and DD_ENTITY_ID), sending into the real listeners.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatsD } from 'hot-shots';
import { createDogStatsDIntake, unixDgramBinding, type DogStatsDIntake } from '../../../../src/nodeagent/intake/dogstatsd/index.js';
import type { AggregatedSeries, OriginResolver } from '../../../../src/nodeagent/intake/types.js';
import { createNodeAgentMetrics } from '../../../../src/nodeagent/metrics.js';
import { startStatusServer } from '../../../../src/nodeagent/statusServer.js';
import { testConfig } from '../../../helpers/config.js';
import { eventually } from '../../../helpers/eventually.js';
import { recordingLogger } from '../../../helpers/logs.js';

const UID = '6f1c1e9a-3b7e-4c55-9d7e-0a4c2b1d9e11';
const resolver: OriginResolver = {
  resolve: (o) => (o.entityId === UID ? { namespace: 'shop', pod: 'web-1', uid: UID, tags: ['kube_deployment:web', 'kube_namespace:shop', 'pod_name:web-1'] } : undefined),
};

/** A UDP port free right now (the intake's port 0 means "off", as the stack's does). */
async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Runs `fn` with these variables set (the webhook's env), restoring them after. */
function withEnv<T>(env: Record<string, string>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

function send(client: StatsD): Promise<void> {
  client.increment('checkout.requests', 1, ['route:/pay']);
  client.increment('checkout.requests', 2, ['route:/pay']);
  client.gauge('checkout.queue', 7);
  client.histogram('checkout.latency', 12);
  client.histogram('checkout.latency', 30);
  client.distribution('checkout.size', 3);
  client.timing('checkout.db', 5);
  client.set('checkout.users', 'alice');
  client.set('checkout.users', 'bob');
  client.check('checkout.up', client.CHECKS.OK);
  client.event('deployed', 'version 2');
  return new Promise((resolve, reject) => client.close((e?: Error) => (e ? reject(e) : resolve())));
}

function checkSeries(series: readonly AggregatedSeries[]) {
  const by = (name: string) => series.find((s) => s.name === name)!;
  assert.equal(by('checkout.requests').value, 3);
  assert.deepEqual(by('checkout.requests').tags, ['env:prod', 'kube_deployment:web', 'kube_namespace:shop', 'pod_name:web-1', 'route:/pay', 'service:checkout']);
  assert.equal(by('checkout.requests').origin?.pod, 'web-1');
  assert.equal(by('checkout.queue').value, 7);
  assert.equal(by('checkout.latency').summary?.count, 2);
  assert.equal(by('checkout.latency').summary?.max, 30);
  assert.equal(by('checkout.size').kind, 'summary');
  assert.equal(by('checkout.db').summary?.sum, 5);
  assert.equal(by('checkout.users').value, 2);
}

describe('DogStatsD intake with the hot-shots client', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-dsd-'));
  const intakes: DogStatsDIntake[] = [];
  after(async () => {
    for (const i of intakes) await i.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('over UDP, env as the webhook injects it (DD_AGENT_HOST, DD_DOGSTATSD_PORT, DD_ENTITY_ID); served on /dogstatsd/metrics', async () => {
    const port = await freeUdpPort();
    const log = recordingLogger('info');
    const metrics = createNodeAgentMetrics();
    const intake = createDogStatsDIntake({ config: testConfig({ dogstatsd_port: port, dogstatsd_socket: '' }), resolver, logger: log.logger, registry: metrics.registry });
    intakes.push(intake);
    await intake.start();
    const client = withEnv({ DD_AGENT_HOST: '127.0.0.1', DD_DOGSTATSD_PORT: String(port), DD_ENTITY_ID: UID, DD_ENV: 'prod', DD_SERVICE: 'checkout' }, () => new StatsD({ maxBufferSize: 1024 }));
    await send(client);
    await eventually('every metric received', async () => assert.ok(intake.status().counts.samples >= 10 && intake.status().counts.events === 1), 10_000, 10);
    const counts = intake.status().counts;
    assert.equal(counts.serviceChecks, 1);
    assert.deepEqual(counts.malformed, Object.fromEntries(Object.keys(counts.malformed).map((k) => [k, 0])));
    checkSeries(intake.flush());

    const server = await startStatusServer({
      agent: { ready: () => true, pods: () => [], status: () => ({}) as never, nodeName: 'n' },
      metrics,
      dogstatsd: intake,
      token: 'loopback-status-token-0123456789abcdef',
      port: 0,
      host: '127.0.0.1',
      logger: log.logger,
    });
    try {
      const body = await new Promise<string>((resolve, reject) =>
        http.get(`${server.url}/dogstatsd/metrics`, { headers: { Authorization: 'Bearer loopback-status-token-0123456789abcdef' } }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve(text));
        }).on('error', reject),
      );
      assert.match(body, /^checkout_requests\{env="prod",kube_deployment="web",kube_namespace="shop",pod_name="web-1",route="\/pay",service="checkout"\} 3$/m);
      assert.match(body, /^checkout_latency\{.*quantile="0.99"\} 30/m);
    } finally {
      await server.close({ drainMs: 0 });
    }
  });

  test('over the Unix datagram socket (DD_DOGSTATSD_URL=unix://…)', async (t) => {
    if ('problem' in unixDgramBinding()) {
      t.skip(`no Unix datagram sockets here: ${(unixDgramBinding() as { problem: string }).problem}`);
      return;
    }
    const path = join(dir, 'dsd.socket');
    const log = recordingLogger('info');
    const intake = createDogStatsDIntake({ config: testConfig({ dogstatsd_port: 0, dogstatsd_socket: path }), resolver, logger: log.logger });
    intakes.push(intake);
    await intake.start();
    assert.deepEqual(intake.status().socket, { path });
    const client = withEnv({ DD_DOGSTATSD_URL: `unix://${path}`, DD_ENTITY_ID: UID, DD_ENV: 'prod', DD_SERVICE: 'checkout' }, () => new StatsD({}));
    await send(client);
    await eventually('every metric received', async () => assert.ok(intake.status().counts.samples >= 10 && intake.status().counts.events === 1), 10_000, 10);
    assert.ok(intake.status().counts.datagrams.unix > 0);
    assert.equal(intake.status().counts.datagrams.udp, 0);
    checkSeries(intake.flush());
  });
});
