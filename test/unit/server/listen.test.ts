/** Both IP stacks by default (SPEC §6), IPv4 alone on a host without IPv6, and URLs for either. */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { CertificatePair } from '../../../src/certs/index.js';
import { bindPort, IPV4_ANY, listenOn, listenUrl, type Bind } from '../../../src/http/listen.js';
import { DEFAULT_LISTEN_HOST, startWebhookServer } from '../../../src/server/index.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { testConfig } from '../../helpers/config.js';
import { makeCertificate } from '../../helpers/certs.js';
import { request } from '../../helpers/https.js';
import { recordingLogger } from '../../helpers/logs.js';

const reaches = (port: number, host: string) =>
  new Promise<void>((resolve, reject) => {
    const c = net.connect(port, host);
    c.on('connect', () => (c.destroy(), resolve()));
    c.on('error', reject);
  });

const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

/** What binding `::` does on a host whose kernel has IPv6 switched off. */
const noIpv6: Bind = (server, port, host) => {
  if (host === '::') return Promise.reject(Object.assign(new Error(`listen EAFNOSUPPORT: address family not supported ${host}:${port}`), { code: 'EAFNOSUPPORT', syscall: 'listen' }));
  return bindPort(server, port, host);
};

describe('listening', () => {
  test('the default host is ::, and one socket there answers IPv4 and IPv6 clients', async () => {
    assert.equal(DEFAULT_LISTEN_HOST, '::');
    const server = net.createServer((c) => c.end());
    try {
      assert.equal(await listenOn(server, 0, DEFAULT_LISTEN_HOST, silentLogger()), '::');
      await reaches(portOf(server), '127.0.0.1');
      await reaches(portOf(server), '::1');
    } finally {
      server.close();
    }
  });

  test('without IPv6, :: falls back to every IPv4 interface, with a warning', async () => {
    const log = recordingLogger();
    const server = net.createServer((c) => c.end());
    try {
      assert.equal(await listenOn(server, 0, '::', log.logger, noIpv6), IPV4_ANY);
      await reaches(portOf(server), '127.0.0.1');
      const warning = log.lines().find((l) => l['level'] === 40);
      assert.match(String(warning?.['msg']), /IPv6 is not available on this host: listening on every IPv4 interface only/);
      assert.match(String(warning?.['problem']), /EAFNOSUPPORT/);
    } finally {
      server.close();
    }
  });

  test('other failures, and failures on an explicit address, are not hidden by a fallback', async () => {
    const busy = net.createServer();
    await listenOn(busy, 0, '127.0.0.1', silentLogger());
    try {
      await assert.rejects(listenOn(net.createServer(), portOf(busy), '::', silentLogger()), /EADDRINUSE/);
      await assert.rejects(listenOn(net.createServer(), 0, '::1', silentLogger(), () => Promise.reject(Object.assign(new Error('no'), { code: 'EAFNOSUPPORT' }))), /no/);
    } finally {
      busy.close();
    }
  });

  test('URLs bracket IPv6 addresses', () => {
    assert.equal(listenUrl('::', 8000), 'https://[::]:8000');
    assert.equal(listenUrl('::1', 8000), 'https://[::1]:8000');
    assert.equal(listenUrl('[::1]', 8000), 'https://[::1]:8000');
    assert.equal(listenUrl('0.0.0.0', 8000), 'https://0.0.0.0:8000');
    assert.equal(listenUrl('127.0.0.1', 443), 'https://127.0.0.1:443');
    assert.equal(new URL(listenUrl('::', 8000)).port, '8000');
  });

  describe('the webhook server', () => {
    let cert: CertificatePair;
    before(async () => (cert = await makeCertificate()));
    const start = (o: Partial<Parameters<typeof startWebhookServer>[0]> = {}) =>
      startWebhookServer({ config: testConfig(), port: 0, logger: silentLogger(), tetherNamespace: 'datadog', tls: cert, ...o });

    test('by default on both stacks: reached on 127.0.0.1 and ::1, its URL says [::]', async () => {
      const s = await start();
      try {
        assert.equal(s.url, `https://[::]:${s.port}`);
        assert.equal((await request(`https://127.0.0.1:${s.port}/healthz`, { ca: cert.certPem })).status, 200);
        assert.equal((await request(`https://[::1]:${s.port}/healthz`, { ca: cert.certPem })).status, 200);
      } finally {
        await s.close();
      }
    });

    test('on a host without IPv6: IPv4 only, and its URL says so', async () => {
      const s = await start({ bind: noIpv6 });
      try {
        assert.equal(s.url, `https://0.0.0.0:${s.port}`);
        assert.equal((await request(`https://127.0.0.1:${s.port}/healthz`, { ca: cert.certPem })).status, 200);
      } finally {
        await s.close();
      }
    });
  });
});
