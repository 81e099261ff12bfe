/**
 * Misbehaving clients for robustness tests: connections that trickle their headers or body a byte at a
 * time (slowloris), that never start the TLS handshake, or that just hold a slot. Each records when the
 * server closed it and what the server sent before closing.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface SlowConnection {
  /** When the connection was established (TCP connect, or the TLS handshake for TLS ones). */
  readonly openedAt: number;
  /** When it closed, if it has. */
  closedAt(): number | undefined;
  /** Closed by the other side (not by `destroy()`). */
  closedByServer(): boolean;
  /** Bytes the server sent, as text. */
  received(): string;
  /** Stops trickling and closes it. */
  destroy(): void;
}

function target(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

function track(socket: net.Socket, openedAt: number, stopWriting: () => void): SlowConnection {
  let closedAt: number | undefined;
  let byUs = false;
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (received += d));
  socket.on('error', () => {});
  socket.on('close', () => {
    closedAt ??= Date.now();
    stopWriting();
  });
  return {
    openedAt,
    closedAt: () => closedAt,
    closedByServer: () => closedAt !== undefined && !byUs,
    received: () => received,
    destroy() {
      if (closedAt === undefined) byUs = true;
      stopWriting();
      socket.destroy();
    },
  };
}

/** A TLS connection, resolved once the handshake is done. */
export function connectTls(url: string, ca: string): Promise<tls.TLSSocket> {
  const { host, port } = target(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, ca, servername: host === '127.0.0.1' ? undefined : host }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Writes `text` one byte every `intervalMs`, then calls `then`; returns a function that stops it. */
function trickle(socket: net.Socket, text: string, intervalMs: number, then?: () => void): () => void {
  let i = 0;
  const timer = setInterval(() => {
    if (i >= text.length) {
      clearInterval(timer);
      then?.();
      return;
    }
    if (!socket.destroyed) socket.write(text[i++]!);
  }, intervalMs);
  return () => clearInterval(timer);
}

/**
 * Slowloris on headers: a POST to `path` whose headers arrive a byte every `intervalMs` and never end
 * (the last header line grows for as long as the connection lives).
 */
export async function trickleHeaders(url: string, ca: string, path: string, intervalMs: number): Promise<SlowConnection> {
  const socket = await connectTls(url, ca);
  const openedAt = Date.now();
  const head = `POST ${path} HTTP/1.1\r\nHost: ${target(url).host}\r\nContent-Type: application/json\r\nX-Slow: `;
  let stop = () => {};
  const c = track(socket, openedAt, () => stop());
  stop = trickle(socket, head + 'x'.repeat(10_000), intervalMs);
  return c;
}

/** Slowloris on the body: complete headers announcing `declared` bytes, then a byte every `intervalMs`. */
export async function trickleBody(url: string, ca: string, path: string, intervalMs: number, declared = 100_000): Promise<SlowConnection> {
  const socket = await connectTls(url, ca);
  const openedAt = Date.now();
  socket.write(`POST ${path} HTTP/1.1\r\nHost: ${target(url).host}\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`);
  let stop = () => {};
  const c = track(socket, openedAt, () => stop());
  stop = trickle(socket, '{"apiVersion":"admission.k8s.io/v1",' + ' '.repeat(declared), intervalMs);
  return c;
}

/** A plain TCP connection that sends nothing (not even a TLS ClientHello). Resolves once connected. */
export function silentTcp(url: string): Promise<SlowConnection> {
  const { host, port } = target(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port }, () => {
      socket.off('error', reject);
      resolve(track(socket, Date.now(), () => {}));
    });
    socket.once('error', reject);
  });
}

/** Opens `count` connections with `open`, `batch` at a time; failures to connect are counted, not thrown. */
export async function openMany(count: number, batch: number, open: () => Promise<SlowConnection>): Promise<{ connections: SlowConnection[]; failed: number }> {
  const connections: SlowConnection[] = [];
  let failed = 0;
  for (let i = 0; i < count; i += batch) {
    const results = await Promise.allSettled(Array.from({ length: Math.min(batch, count - i) }, open));
    for (const r of results) {
      if (r.status === 'fulfilled') connections.push(r.value);
      else failed++;
    }
  }
  return { connections, failed };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
