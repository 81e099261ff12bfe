/**
 * A console over fakes for the console's unit tests: the real cluster store (fed pods the real webhook
 * chain mutated), a fake KubeReader holding the webhook configuration, Secret and Lease, manual timers,
 * a fake diagnose check, served by a loopback HTTP server and asked with fetch.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runWebhookChain, type Pod } from '../../../src/admission/index.js';
import { caBundleDigest } from '../../../src/certs/index.js';
import { generateCa, issueServingCertificate } from '../../../src/certs/generate.js';
import { pathOf } from '../../../src/http/request.js';
import { createClusterStore, type ClusterStore } from '../../../src/clusteragent/clusterStore.js';
import { startConsole, type Console } from '../../../src/console/console.js';
import type { HubTimers } from '../../../src/console/events.js';
import { statusPaths } from '../../../src/status/collect.js';
import type { Check, DiagnoseContext } from '../../../src/diagnose/check.js';
import { createDiagnoseContext } from '../../../src/diagnose/context.js';
import { recordingLogger, type RecordedLog } from '../../helpers/logs.js';
import { fakeReader } from '../../helpers/fakeKubeReader.js';
import { testConfig } from '../fixtures.js';

export const ADMIN = 'a'.repeat(20) + '-admin-token-0123456789';
export const VIEWER = 'v'.repeat(20) + '-viewer-token-0123456789';
export const NS = 'datadog';
export const ENABLED = { 'admission.datadoghq.com/enabled': 'true' };
export const WEBHOOK_CREATED = '2024-01-01T00:00:00Z';

export interface ManualHubTimers extends HubTimers {
  advance(ms: number): void;
}

export function manualHubTimers(start = Date.parse('2024-06-01T00:00:00Z')): ManualHubTimers {
  let t = start;
  let seq = 0;
  const pending = new Map<number, { at: number; fn: () => void; every?: number }>();
  return {
    now: () => t,
    setTimeout: (fn, ms) => (pending.set(++seq, { at: t + ms, fn }), seq),
    clearTimeout: (id) => void pending.delete(id as number),
    setInterval: (fn, ms) => (pending.set(++seq, { at: t + ms, fn, every: ms }), seq),
    clearInterval: (id) => void pending.delete(id as number),
    advance(ms) {
      const end = t + ms;
      for (;;) {
        let next: [number, { at: number; fn: () => void; every?: number }] | undefined;
        for (const e of pending) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
        if (!next) break;
        const [id, p] = next;
        t = Math.max(t, p.at);
        if (p.every) p.at += p.every;
        else pending.delete(id);
        p.fn();
      }
      t = end;
    },
  };
}

export function podObject(o: { name: string; namespace?: string; node?: string; labels?: Record<string, string>; phase?: string; created?: string }): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: o.name, namespace: o.namespace ?? 'apps', uid: `uid-${o.namespace ?? 'apps'}-${o.name}`, creationTimestamp: o.created ?? '2024-05-01T00:00:00Z', labels: o.labels ?? {} },
    spec: { ...(o.node !== undefined ? { nodeName: o.node } : {}), containers: [{ name: 'app', image: 'app:1' }] },
    status: { phase: o.phase ?? 'Running' },
  } as Pod;
}

/** As the API server stores it: through the webhooks when labelled (and `inject` is not false). */
export function stored(p: Pod, inject = true): Pod {
  if (!inject) return p;
  return runWebhookChain(p, { config: testConfig(), namespace: p.metadata?.namespace ?? 'apps', tetherNamespace: NS }).pod;
}

export interface ConsoleUnderTest {
  readonly url: string;
  readonly store: ClusterStore;
  readonly console: Console;
  readonly timers: ManualHubTimers;
  readonly log: RecordedLog;
  /** Objects the fake API server holds (webhook configuration, Secret, Lease). */
  readonly objects: Record<string, unknown>;
  readonly caPem: string;
  readonly diagnoseRuns: () => number;
  /** The fake check waits for this promise (undefined: it does not wait). */
  holdDiagnose(p: Promise<void> | undefined): void;
  fetch(path: string, init?: RequestInit & { token?: string; cookie?: string }): Promise<Response>;
  login(token: string): Promise<{ res: Response; cookie: string }>;
  close(): Promise<void>;
}

export async function startConsoleUnderTest(o: { staticDir?: string; checks?: Check[] } = {}): Promise<ConsoleUnderTest> {
  const config = testConfig({ 'cluster_agent.auth_token': ADMIN, 'cluster_agent.console.viewer_token': VIEWER });
  const store = createClusterStore();
  const timers = manualHubTimers();
  const log = recordingLogger('debug');
  const paths = statusPaths(config, NS);
  const ca = await generateCa({ commonName: 'test-ca', validityHours: 24 * 365 });
  const serving = await issueServingCertificate({ ca, dnsNames: ['datadog-admission-controller.datadog.svc'], notAfter: new Date(Date.now() + 300 * 86_400_000) });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const entry = (name: string, caPem: string) => ({ name, clientConfig: { caBundle: b64(caPem), service: { namespace: NS, name: 'datadog-admission-controller', port: 443, path: '/injectconfig' } } });
  const objects: Record<string, unknown> = {
    [paths.webhook]: { metadata: { name: 'datadog-webhook', creationTimestamp: WEBHOOK_CREATED }, webhooks: [entry('datadog.webhook.config', ca.certPem), entry('datadog.webhook.tags', ca.certPem)] },
    [paths.secret]: { metadata: { name: 'webhook-certificate' } },
    [paths.caConfigMap]: { data: { 'ca.pem': ca.certPem, 'cert.pem': serving.certPem } },
    [paths.lease]: { spec: { holderIdentity: 'replica-1', leaseDurationSeconds: 15, renewTime: new Date(timers.now()).toISOString() } },
  };
  const kube = fakeReader(objects);
  let runs = 0;
  let hold: Promise<void> | undefined;
  const checks: Check[] = o.checks ?? [
    {
      name: 'fake-check',
      finds: 'nothing',
      fixes: 'nothing',
      async run() {
        runs++;
        await hold;
        return { status: 'warning', summary: 'found something', evidence: ['e1'], fix: 'do this' };
      },
    },
  ];
  const diagnoseContext = async (): Promise<DiagnoseContext> =>
    createDiagnoseContext({ config, namespace: NS, serviceAccount: 'sa', kube, detectPlatform: async () => ({ gkeAutopilot: false, gke: false, eks: false, aks: false, openshift: false, rancher: false, evidence: [] }), signal: new AbortController().signal });
  const c = startConsole({
    config,
    namespace: NS,
    view: store,
    kube,
    diagnoseContext,
    ranAs: 'the test',
    served: 'cluster',
    logger: log.logger,
    adminToken: ADMIN,
    viewerToken: VIEWER,
    identity: 'replica-1',
    checks,
    timers,
    ...(o.staticDir !== undefined ? { staticDir: o.staticDir } : {}),
  });
  const server = http.createServer((req, res) => {
    void c.handler.handle(req, res, pathOf(req.url)).then((handled) => {
      if (!handled) {
        res.writeHead(404);
        res.end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const doFetch = (path: string, init: RequestInit & { token?: string; cookie?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.token) headers.set('Authorization', `Bearer ${init.token}`);
    if (init.cookie) headers.set('Cookie', init.cookie);
    return fetch(url + path, { ...init, headers });
  };
  return {
    url,
    store,
    console: c,
    timers,
    log,
    objects,
    caPem: ca.certPem,
    diagnoseRuns: () => runs,
    holdDiagnose: (p) => void (hold = p),
    fetch: doFetch,
    async login(token) {
      const res = await doFetch('/api/v1/console/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }) });
      const set = res.headers.getSetCookie()[0] ?? '';
      return { res, cookie: set.split(';')[0] ?? '' };
    },
    async close() {
      c.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export { caBundleDigest };
