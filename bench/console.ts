/**
 * Bench of the web console's first screen (issue 12) on a simulated cluster of 5,000 nodes and 150,000
 * pods (30 per node, two thirds injected), fed to an in-memory ClusterView; everything after that is
 * real: the console's handler (API, event stream, static files from dist/console/) over HTTPS on
 * loopback, the built page in Debian's Chromium (headless, cache disabled, a fresh profile).
 *
 * For each screen, loaded cold (a new page, no cache, the session cookie already set): the requests
 * made, the bytes received on the wire (headers and bodies, as Chromium's network layer counts them)
 * and the time from navigation start to the screen drawn (measured in the page, on animation frames).
 * Not a test: it prints figures (the issue's target: under 1 s and under 500 KB for the first screen).
 *
 *   npm run bench:console [-- --runs 5]
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import type { PodInjectionFacts } from '../src/clusterview/podInjection.js';
import type { ClusterChanges, ClusterView } from '../src/clusterview/types.js';
import { ENABLED_LABEL } from '../src/config/index.js';
import { startConsole } from '../src/console/console.js';
import { CONSOLE_DIST_DIR } from '../src/console/static.js';
import { CONSOLE_PAGE_PATH } from '../src/console/types.js';
import { silentLogger } from '../src/logging/logger.js';
import { launchBrowser } from '../test/helpers/browser.js';
import { makeCertificate } from '../test/helpers/certs.js';
import { testConfig } from '../test/helpers/config.js';
import { fakeClusterView } from '../test/helpers/fakeClusterView.js';
import { fakeReader } from '../test/helpers/fakeKubeReader.js';

const NODES = 5_000;
const PODS_PER_NODE = 30;
const NAMESPACES = 500;
const TOKEN = 'bench-token-' + 'x'.repeat(32);
const NS = 'datadog';
const SCREEN_TIMEOUT_MS = 30_000;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

/** The cluster: node-00000…node-04999, each with 30 pods in ns-000…ns-499. */
function buildView(): ClusterView & ClusterChanges {
  const view = fakeClusterView();
  const createdS = Math.floor(Date.now() / 1000) - 86_400;
  const injected = (svc: string, java: boolean): PodInjectionFacts => ({ config: true, mode: 'hostip', tags: { env: 'prod', service: svc, version: '1.0' }, libraries: java ? ['java'] : [] });
  view.setNamespace('kube-system', {}, 'bench-cluster');
  for (let n = 0; n < NODES; n++) {
    const node = `node-${String(n).padStart(5, '0')}`;
    view.setNode(node, { 'topology.kubernetes.io/zone': `zone-${n % 3}` });
    for (let p = 0; p < PODS_PER_NODE; p++) {
      const i = n * PODS_PER_NODE + p;
      const ns = `ns-${String(i % NAMESPACES).padStart(3, '0')}`;
      const app = `app-${i % 997}`;
      const optedIn = i % 3 !== 0;
      view.addPod({
        namespace: ns,
        name: `${app}-${i.toString(36)}`,
        node,
        phase: 'Running',
        labels: { app, ...(optedIn ? { [ENABLED_LABEL]: 'true' } : {}) },
        owner: { kind: 'ReplicaSet', name: `${app}-rs` },
        createdS,
        ...(optedIn ? { injection: injected(app, i % 5 === 0) } : {}),
      });
    }
  }
  // The console subscribes to changes; none happen during the bench.
  return { ...view, subscribe: () => () => undefined };
}

interface Traffic {
  requests: number;
  bytes: number;
}

/** Counts what Chromium's network layer receives for `page`: every request, headers and bodies as on the wire. */
async function meter(page: Page): Promise<() => Traffic> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const streamed = new Map<string, number>();
  const finished = new Map<string, number>();
  cdp.on('Network.requestWillBeSent', (e) => streamed.set(e.requestId, 0));
  cdp.on('Network.dataReceived', (e) => streamed.set(e.requestId, (streamed.get(e.requestId) ?? 0) + e.encodedDataLength));
  cdp.on('Network.loadingFinished', (e) => finished.set(e.requestId, e.encodedDataLength));
  return () => {
    let bytes = 0;
    // A finished request's total includes its headers; the event stream never finishes: its chunks so far.
    for (const [id, n] of streamed) bytes += finished.get(id) ?? n;
    return { requests: streamed.size, bytes };
  };
}

/** What a screen shows once drawn: at least `min` elements matching `selector`. */
interface Drawn {
  readonly selector: string;
  readonly min: number;
}

/**
 * Milliseconds from navigation start until the page shows `drawn` (checked every frame). A function, not
 * a string: the console's Content-Security-Policy forbids the eval a string predicate needs.
 */
async function drawnAt(page: Page, drawn: Drawn): Promise<number> {
  const handle = await page.waitForFunction(
    ({ selector, min }) => {
      const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document;
      return doc.querySelectorAll(selector).length >= min && performance.now();
    },
    drawn,
    { polling: 'raf', timeout: SCREEN_TIMEOUT_MS },
  );
  return (await handle.jsonValue()) as number;
}

interface Screen {
  readonly name: string;
  readonly hash: string;
  readonly drawn: Drawn;
  /** After the page is drawn: an action and what it draws (measured from the action). */
  readonly then?: { readonly act: (page: Page) => Promise<void>; readonly drawn: Drawn };
}

const NODES_PAGE: Drawn = { selector: 'table.nodes > tbody', min: 100 };

const SCREENS: readonly Screen[] = [
  { name: 'overview (first screen)', hash: '#overview', drawn: { selector: '.stat', min: 6 } },
  { name: 'nodes: first page of 100', hash: '#nodes', drawn: NODES_PAGE },
  {
    name: 'nodes + one node expanded (30 pods)',
    hash: '#nodes',
    drawn: NODES_PAGE,
    then: {
      act: (page) => page.locator('tbody[data-node="node-00000"] button.expander').click(),
      drawn: { selector: 'table[data-node="node-00000"] tr[data-pod]', min: PODS_PER_NODE },
    },
  },
  {
    name: 'nodes + pod search across 150,000',
    hash: '#nodes',
    drawn: NODES_PAGE,
    then: {
      act: (page) => page.locator('#f-pod').fill('app-42-'),
      drawn: { selector: 'table[aria-label="Matching pods"] tr[data-pod]', min: 1 },
    },
  },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

async function bundleFigures(): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (dir: string, rel = ''): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) await walk(path, `${rel}${e.name}/`);
      else {
        const body = await readFile(path);
        lines.push(`  ${`${rel}${e.name}`.padEnd(34)} ${String((await stat(path)).size).padStart(7)} B   ${String(gzipSync(body, { level: 9 }).length).padStart(6)} B gzipped`);
      }
    }
  };
  await walk(CONSOLE_DIST_DIR);
  return lines;
}

async function main(): Promise<void> {
  const runs = arg('runs', 5);
  const t0 = performance.now();
  const view = buildView();
  const built = performance.now() - t0;
  const console_ = startConsole({
    config: testConfig(),
    namespace: NS,
    view,
    kube: fakeReader({}),
    diagnoseContext: () => Promise.reject(new Error('diagnose does not run in the bench')),
    ranAs: 'the bench',
    served: 'cluster',
    logger: silentLogger(),
    adminToken: TOKEN,
  });
  const cert = await makeCertificate();
  const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const path = new URL(req.url ?? '/', 'https://bench').pathname;
    console_.handler.handle(req, res, path).then(
      (handled) => {
        if (!handled) res.writeHead(404).end();
      },
      (e: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(e));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `https://127.0.0.1:${(server.address() as AddressInfo).port}${CONSOLE_PAGE_PATH}`;

  const browser = await launchBrowser({ viewport: { width: 1280, height: 860 } });
  try {
    // Log in once, through the form, as a person would: the cookie is then shared by every page.
    const login = await browser.newPage();
    const loginTraffic = await meter(login);
    await login.goto(base);
    await login.locator('#token').fill(TOKEN);
    const loginStart = await login.evaluate<number>('performance.now()');
    await login.locator('button[type=submit]').click();
    const loginDrawn = (await drawnAt(login, SCREENS[0]!.drawn)) - loginStart;
    const loginBytes = loginTraffic();
    await login.close();

    const rows: string[] = [];
    for (const screen of SCREENS) {
      const times: number[] = [];
      const afters: number[] = [];
      let traffic: Traffic = { requests: 0, bytes: 0 };
      for (let r = 0; r < runs + 1; r++) {
        const page = await browser.newPage();
        const counted = await meter(page);
        await page.goto(`${base}${screen.hash}`);
        const at = await drawnAt(page, screen.drawn);
        if (screen.then) {
          const start = await page.evaluate<number>('performance.now()');
          await screen.then.act(page);
          afters.push((await drawnAt(page, screen.then.drawn)) - start);
        }
        // The first load warms Chromium and the server up: not counted.
        if (r > 0) {
          times.push(at);
          traffic = counted();
        } else afters.length = 0;
        await page.close();
      }
      const extra = afters.length ? `; then ${median(afters).toFixed(0)} ms (max ${Math.max(...afters).toFixed(0)})` : '';
      rows.push(`  ${screen.name.padEnd(38)} ${String(traffic.requests).padStart(4)}   ${kb(traffic.bytes).padStart(9)}   ${median(times).toFixed(0).padStart(5)} ms (max ${Math.max(...times).toFixed(0)})${extra}`);
    }

    const out = [
      `Console first screen on ${NODES.toLocaleString('en-US')} nodes / ${(NODES * PODS_PER_NODE).toLocaleString('en-US')} pods (fake cluster view, built in ${(built / 1000).toFixed(1)} s),`,
      `the console handler over HTTPS on loopback, Chromium ${browser.context.browser()?.version() ?? ''} headless, cache disabled; median of ${runs} cold loads.`,
      '',
      'Built front end (dist/console/):',
      ...(await bundleFigures()),
      '',
      `  ${'screen'.padEnd(38)} reqs   received    drawn after navigation start`,
      `  ${'login form → overview'.padEnd(38)} ${String(loginBytes.requests).padStart(4)}   ${kb(loginBytes.bytes).padStart(9)}   ${loginDrawn.toFixed(0).padStart(5)} ms after submitting (page + login + overview)`,
      ...rows,
      '',
    ];
    process.stdout.write(out.join('\n'));
  } finally {
    await browser.close();
    console_.close();
    server.close();
    server.closeAllConnections();
  }
}

await main();
