/**
 * Raw HTTP/1.1 over TLS, for requests Node's own client refuses to send (several headers of one name,
 * a bare newline or non-ASCII bytes in a value, a 10 KB header): the request bytes go out as given.
 */
import tls from 'node:tls';

export interface RawReply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** `headerLines` are written as they are, each followed by CRLF (give Buffers for exact bytes). */
export function rawRequest(o: { port: number; ca: string; servername?: string; method?: string; path: string; headerLines: readonly (string | Buffer)[] }): Promise<RawReply> {
  const parts: Buffer[] = [Buffer.from(`${o.method ?? 'GET'} ${o.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`, 'latin1')];
  for (const l of o.headerLines) parts.push(typeof l === 'string' ? Buffer.from(l, 'latin1') : l, Buffer.from('\r\n'));
  parts.push(Buffer.from('\r\n'));
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: o.port, ca: o.ca, ...(o.servername ? { servername: o.servername } : {}) }, () => socket.write(Buffer.concat(parts)));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no complete answer: ${JSON.stringify(text.slice(0, 200))}`));
      const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const c = l.indexOf(':');
        headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
      }
      resolve({ status: Number(statusLine?.split(' ')[1]), headers, body: text.slice(end + 4) });
    });
  });
}
