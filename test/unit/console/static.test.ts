/**
 * The console's page (console/static.ts): index.html at /console/, assets with their content types and
 * a year's immutable caching, the CSP on every answer, no way out of the folder, and a placeholder when
 * the front end is not built. Also the traffic figures from the webhook's own histogram.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServerMetrics } from '../../../src/server/metrics.js';
import { createStaticServer, PLACEHOLDER_HTML, staticTarget } from '../../../src/console/static.js';
import { quantileOf, sampleRegistry, trafficOf } from '../../../src/console/traffic.js';
import { tempDir, type TempDir } from '../../helpers/certs.js';

async function serve(dir: string): Promise<{ url: string; close: () => Promise<void> }> {
  const s = createStaticServer({ dir });
  const server = http.createServer((req, res) => {
    void s.handle(req, res, (req.url ?? '/').split('?')[0]!).then((h) => {
      if (!h) {
        res.writeHead(418);
        res.end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

/** A raw GET, so that `..` reaches the server as sent (fetch would normalise it). */
function rawGet(url: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    http.get({ host: u.hostname, port: u.port, path }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

describe('static files', () => {
  let dir: TempDir;
  let srv: { url: string; close: () => Promise<void> };
  before(async () => {
    dir = await tempDir('tether-console-');
    await mkdir(join(dir.path, 'dist', 'assets'), { recursive: true });
    await writeFile(join(dir.path, 'dist', 'index.html'), '<!doctype html><title>console</title>');
    await writeFile(join(dir.path, 'dist', 'assets', 'app-1234.js'), 'console.log(1)');
    await writeFile(join(dir.path, 'dist', 'assets', 'app-1234.css'), 'body{}');
    await writeFile(join(dir.path, 'secret.txt'), 'outside');
    srv = await serve(join(dir.path, 'dist'));
  });
  after(async () => {
    await srv.close();
    await dir.remove();
  });

  test('index.html at /console/, revalidated, with the CSP', async () => {
    const res = await fetch(`${srv.url}/console/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.equal(res.headers.get('content-security-policy'), "default-src 'self'");
    assert.match(await res.text(), /<title>console/);
    const route = await fetch(`${srv.url}/console/nodes/node-a`);
    assert.match(await route.text(), /<title>console/, "the page's own routes reload the page");
    const redirect = await fetch(`${srv.url}/console`, { redirect: 'manual' });
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.get('location'), '/console/');
  });

  test('assets with their types, cached for a year', async () => {
    const js = await fetch(`${srv.url}/console/assets/app-1234.js`);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(js.headers.get('content-security-policy'), "default-src 'self'");
    assert.equal((await fetch(`${srv.url}/console/assets/app-1234.css`)).headers.get('content-type'), 'text/css; charset=utf-8');
    assert.equal((await fetch(`${srv.url}/console/assets/missing.js`)).status, 404);
  });

  test('no way out of the folder', async () => {
    for (const p of ['/console/../secret.txt', '/console/assets/../../secret.txt', '/console/assets/%2e%2e/%2e%2e/secret.txt', '/console/assets/..%2f..%2fsecret.txt', '/console/assets/.hidden', '/console/assets/a%00.js', '/console/assets/..\\..\\secret.txt']) {
      const status = await rawGet(srv.url, p);
      assert.ok(status === 404 || status === 418, `${p}: ${status}`);
    }
    assert.equal(staticTarget('/console/assets/%2e%2e/x'), undefined);
  });

  test('other paths are not the console\'s; other methods are refused', async () => {
    assert.equal((await fetch(`${srv.url}/consoles`)).status, 418);
    assert.equal((await fetch(`${srv.url}/console/`, { method: 'POST' })).status, 405);
  });

  test('without a built front end: a placeholder page', async () => {
    const empty = await serve(join(dir.path, 'nothing-here'));
    try {
      const res = await fetch(`${empty.url}/console/`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), PLACEHOLDER_HTML);
    } finally {
      await empty.close();
    }
  });
});

describe('webhook traffic from its own metrics', () => {
  test('rate, p99 and outcomes over the window, from two samples of the registry', async () => {
    const m = createServerMetrics(['config', 'tags']);
    const first = await sampleRegistry(m.registry, 0);
    for (let i = 0; i < 99; i++) m.observeRequest('config', 'mutated', 0.0008);
    m.observeRequest('tags', 'error', 0.4);
    m.observeRequest('tags', 'error', 0.4);
    const second = await sampleRegistry(m.registry, 10_000);
    const t = trafficOf([first, second])!;
    assert.equal(t.ratePerSecond, 10.1);
    assert.equal(t.outcomes['mutated'], 99);
    assert.equal(t.outcomes['error'], 2);
    assert.ok(t.p99Ms !== undefined && t.p99Ms > 0.5 && t.p99Ms <= 500, String(t.p99Ms));
    assert.equal(quantileOf(0.99, [[0.1, 0], [Infinity, 0]]), undefined);
  });
});
