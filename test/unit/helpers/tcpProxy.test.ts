/** The test TCP proxy (test/helpers/tcpProxy.ts) that plays a Service in the rolling-restart test. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import type { CertificatePair } from '../../../src/certs/index.js';
import { makeCertificate } from '../../helpers/certs.js';
import { startTcpProxy } from '../../helpers/tcpProxy.js';

interface Backend {
  readonly port: number;
  close(): Promise<void>;
}

const listening = async (server: net.Server): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as net.AddressInfo).port;
};

/** Greets every connection with `name\n`, then echoes. */
async function namedEcho(name: string): Promise<Backend> {
  const open = new Set<net.Socket>();
  const server = net.createServer((c) => {
    open.add(c.on('close', () => open.delete(c)));
    c.on('error', () => {});
    c.write(`${name}\n`);
    c.pipe(c);
  });
  const port = await listening(server);
  return { port, close: () => new Promise((r) => (open.forEach((c) => c.destroy()), server.close(() => r()))) };
}

/** Connects through the proxy; resolves with the socket and the first chunk (the greeting), or rejects on a reset. */
function connect(port: number): Promise<{ socket: net.Socket; greeting: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setEncoding('utf8');
    socket.once('data', (d: string) => resolve({ socket, greeting: d.trim() }));
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed without a greeting')));
  });
}

async function greetingOf(port: number): Promise<string> {
  const { socket, greeting } = await connect(port);
  socket.destroy();
  return greeting;
}

describe('test TCP proxy', () => {
  test('round-robin over the backends; setBackends changes where new connections go; none: reset', async () => {
    const a = await namedEcho('a');
    const b = await namedEcho('b');
    const proxy = await startTcpProxy({ backends: [a.port, b.port] });
    try {
      const seen = [];
      for (let i = 0; i < 4; i++) seen.push(await greetingOf(proxy.port));
      assert.deepEqual(seen.sort(), ['a', 'a', 'b', 'b']);
      proxy.setBackends([b.port]);
      assert.deepEqual([await greetingOf(proxy.port), await greetingOf(proxy.port)], ['b', 'b']);
      proxy.setBackends([]);
      await assert.rejects(connect(proxy.port), /ECONNRESET|closed without a greeting/);
      assert.equal(proxy.failedConnections(), 1);
      assert.deepEqual(proxy.connections(), new Map([[a.port, 2], [b.port, 4]]));
    } finally {
      await proxy.close();
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('a backend whose port is closed: the client connection is reset', async () => {
    const gone = await namedEcho('gone');
    await gone.close();
    const proxy = await startTcpProxy({ backends: [gone.port] });
    try {
      await assert.rejects(connect(proxy.port), /ECONNRESET|closed without a greeting/);
      assert.equal(proxy.failedConnections(), 1);
    } finally {
      await proxy.close();
    }
  });

  test('pause holds data in both directions without closing; resume delivers it', async () => {
    const a = await namedEcho('a');
    const proxy = await startTcpProxy({ backends: [a.port] });
    try {
      const { socket } = await connect(proxy.port);
      let got = '';
      socket.on('data', (d: string) => (got += d));
      proxy.pause();
      socket.write('ping\n');
      // A negative check needs some time to pass: nothing may arrive while paused.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(got, '');
      assert.equal(socket.destroyed, false);
      const echoed = new Promise<void>((resolve) => socket.on('data', () => got.includes('ping') && resolve()));
      proxy.resume();
      await echoed;
      assert.equal(got, 'ping\n');
      socket.destroy();
    } finally {
      await proxy.close();
      await a.close();
    }
  });

  describe('Service mode', () => {
    let cert: CertificatePair;
    before(async () => (cert = await makeCertificate()));
    const servers: https.Server[] = [];
    after(() => servers.forEach((s) => (s.closeAllConnections(), s.close())));

    /** An HTTPS backend whose /readyz answers 200 or 503 as `ready.value` says. */
    async function pod(ready: { value: boolean }): Promise<number> {
      const s = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
        res.writeHead(req.url === '/readyz' && ready.value ? 200 : 503).end();
      });
      servers.push(s);
      return listening(s);
    }

    test('joins the rotation once ready; leaves it only the drop delay after /readyz starts failing; comes back when ready', async () => {
      const dropDelayMs = 600;
      const x = { value: true };
      const y = { value: false };
      const [px, py] = [await pod(x), await pod(y)];
      const proxy = await startTcpProxy({ backends: [px, py], service: { dropDelayMs, pollMs: 50 } });
      try {
        await proxy.until((r) => r.includes(px));
        assert.deepEqual(proxy.rotation(), [px], 'a backend that is not ready gets no connections');
        y.value = true;
        await proxy.until((r) => r.includes(py));

        x.value = false;
        const failedAt = Date.now();
        await proxy.until((r) => !r.includes(px));
        assert.ok(Date.now() - failedAt >= dropDelayMs, 'dropped only after the delay');
        x.value = true;
        await proxy.until((r) => r.includes(px));

        proxy.setBackends([py]);
        assert.deepEqual(proxy.rotation(), [py], 'a backend removed from the set leaves at once');
      } finally {
        await proxy.close();
      }
    });
  });
});
