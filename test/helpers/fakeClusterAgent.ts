/**
 * A stand-in for the cluster agent API on loopback: HTTPS with a certificate from a test CA, the auth
 * rules and texts of SPEC §9, and answers set per path. It records every request that reached it (path
 * and whether a token came, never the token), so tests can prove a client sent nothing.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateCa, issueServingCertificate, type CertificatePair } from '../../src/certs/index.js';
import { AUTH_FAILURE_TEXT } from '../../src/agentapi/types.js';

export const FAKE_SERVICE_DNS = 'datadog-cluster-agent.datadog.svc';

export interface TestCa {
  readonly ca: CertificatePair;
  readonly serving: CertificatePair;
}

/** A CA and a serving certificate it signed for the Service's DNS name and loopback. */
export async function makeTestCa(name = 'test cluster agent CA'): Promise<TestCa> {
  const ca = await generateCa({ commonName: `${name} ${Date.now()}`, validityHours: 24 });
  const serving = await issueServingCertificate({ ca, dnsNames: [FAKE_SERVICE_DNS, 'localhost', '127.0.0.1'], notAfter: new Date(Date.now() + 23 * 3_600_000) });
  return { ca, serving };
}

export interface SeenRequest {
  readonly path: string;
  readonly hadAuthorization: boolean;
  /** The node agent's report header (X-Tether-Node-Agent), as sent. */
  readonly report?: string;
}

export interface FakeClusterAgent {
  readonly port: number;
  /** `https://127.0.0.1:<port>` */
  readonly url: string;
  readonly requests: SeenRequest[];
  /** path → [status, JSON body or text]; a missing path is 404. */
  readonly answers: Map<string, [number, unknown]>;
  /** Simulates a proxy that strips the Authorization header. */
  dropAuthorization: boolean;
  close(): Promise<void>;
}

export async function startFakeClusterAgent(opts: { token: string; serving: CertificatePair; tls?: https.ServerOptions }): Promise<FakeClusterAgent> {
  const requests: SeenRequest[] = [];
  const answers = new Map<string, [number, unknown]>();
  const text = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) =>
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers }).end(body + '\n');
  const state = { dropAuthorization: false };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const authorization = state.dropAuthorization ? undefined : req.headers.authorization;
    const report = req.headers['x-tether-node-agent'];
    requests.push({ path: req.url ?? '', hadAuthorization: authorization !== undefined, ...(typeof report === 'string' ? { report } : {}) });
    const m = /^Bearer (.+)$/i.exec(authorization ?? '');
    if (!m) return text(res, 401, AUTH_FAILURE_TEXT.missing, { 'WWW-Authenticate': 'Bearer' });
    if (m[1] !== opts.token) return text(res, 403, AUTH_FAILURE_TEXT.invalid);
    const a = answers.get(req.url ?? '');
    if (!a) return text(res, 404, '404 page not found');
    if (typeof a[1] === 'string') return text(res, a[0], a[1]);
    res.writeHead(a[0], { 'Content-Type': 'application/json' }).end(JSON.stringify(a[1]));
  };
  const server = https.createServer({ cert: opts.serving.certPem, key: opts.serving.keyPem, minVersion: 'TLSv1.2', ...opts.tls }, handler);
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    requests,
    answers,
    get dropAuthorization() {
      return state.dropAuthorization;
    },
    set dropAuthorization(v: boolean) {
      state.dropAuthorization = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
