/** A small HTTPS client for tests: one fresh connection per request (so certificate changes are seen). */
import https from 'node:https';
import type { PeerCertificate } from 'node:tls';

export interface HttpReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly peerCertificate?: PeerCertificate;
}

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Record<string, string | number>;
  readonly body?: string | Buffer;
  /** PEM trusted as CA (the server's self-signed certificate). */
  readonly ca?: string;
  readonly servername?: string;
  readonly minVersion?: https.RequestOptions['minVersion'];
  readonly maxVersion?: https.RequestOptions['maxVersion'];
  readonly ciphers?: string;
  readonly timeoutMs?: number;
}

export function request(url: string, o: RequestOptions = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: o.method ?? 'GET',
        headers: o.headers ?? {},
        agent: false,
        ...(o.ca ? { ca: o.ca } : {}),
        ...(o.servername ? { servername: o.servername } : {}),
        ...(o.minVersion ? { minVersion: o.minVersion } : {}),
        ...(o.maxVersion ? { maxVersion: o.maxVersion } : {}),
        ...(o.ciphers ? { ciphers: o.ciphers } : {}),
        timeout: o.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        const peerCertificate = (res.socket as import('node:tls').TLSSocket).getPeerCertificate?.();
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), ...(peerCertificate ? { peerCertificate } : {}) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${o.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

export const postJson = (url: string, body: unknown, o: RequestOptions = {}): Promise<HttpReply> =>
  request(url, { ...o, method: 'POST', headers: { 'Content-Type': 'application/json', ...o.headers }, body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) });

/** Polls `url` until it answers `status` (e.g. /readyz 200). */
export async function waitFor(url: string, o: RequestOptions & { status?: number; deadlineMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (o.deadlineMs ?? 15_000);
  let last = '';
  while (Date.now() < deadline) {
    try {
      const r = await request(url, { ...o, timeoutMs: 2_000 });
      if (r.status === (o.status ?? 200)) return;
      last = `status ${r.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer ${o.status ?? 200} in time (last: ${last})`);
}
