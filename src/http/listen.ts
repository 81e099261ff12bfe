/**
 * Where the webhook server listens (SPEC §6: both IP stacks by default). `::` with Node's default
 * `ipv6Only: false` is one dual-stack socket: IPv6 clients, and IPv4 clients as `::ffff:a.b.c.d`, so a
 * single-stack IPv6 cluster reaches the pod as well as an IPv4 or dual-stack one (Node sets IPV6_V6ONLY
 * off itself, whatever the host's `net.ipv6.bindv6only`). A host with IPv6 switched off cannot bind
 * `::`: then every IPv4 interface, said in the log.
 */
import type { Server } from 'node:net';
import type { Logger } from '../logging/logger.js';

/** Every interface of both stacks. */
export const IPV6_ANY = '::';
/** Every IPv4 interface: the fallback when the host has no IPv6. */
export const IPV4_ANY = '0.0.0.0';

/** Binding `::` fails with one of these when the kernel has no IPv6 (module absent, or disabled). */
const NO_IPV6 = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EPROTONOSUPPORT']);

/** Starts `server` listening; rejects with the listen error. A seam for tests to inject failures. */
export type Bind = (server: Server, port: number, host: string) => Promise<void>;

export const bindPort: Bind = (server, port, host) =>
  new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

/** Listens on `host`, falling back from `::` to `0.0.0.0` without IPv6; returns the host actually bound. */
export async function listenOn(server: Server, port: number, host: string, log: Logger, bindFn: Bind = bindPort): Promise<string> {
  try {
    await bindFn(server, port, host);
    return host;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (host !== IPV6_ANY || code === undefined || !NO_IPV6.has(code)) throw e;
    log.warn({ host: IPV6_ANY, problem: (e as Error).message, fallback: IPV4_ANY }, 'IPv6 is not available on this host: listening on every IPv4 interface only');
    await bindFn(server, port, IPV4_ANY);
    return IPV4_ANY;
  }
}

/** `https://host:port`, with an IPv6 address in brackets (`https://[::]:8000`) and a zone index escaped. */
export function listenUrl(host: string, port: number): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return `https://${bare.includes(':') ? `[${bare.replace('%', '%25')}]` : bare}:${port}`;
}
