/**
 * The DogStatsD UDP listener (I/O only: each datagram goes to `onDatagram`).
 *
 * Local traffic only (`dogstatsd_non_local_traffic: false`, the stack's default): 127.0.0.1 and ::1,
 * both, since a client told `localhost` may resolve it to either. Non-local: `::` with IPv4 mapped
 * (every interface of both families), or 0.0.0.0 on a host without IPv6.
 */
import dgram, { type RemoteInfo } from 'node:dgram';
import type { Logger } from '../../../logging/logger.js';

export interface UdpListenerOptions {
  readonly port: number;
  readonly nonLocalTraffic: boolean;
  /** SO_RCVBUF, bytes; 0 keeps the system's default. */
  readonly receiveBufferBytes: number;
  /** Each datagram with its sender's address (checked against its claimed pod: attest/). */
  readonly onDatagram: (msg: Buffer, rinfo: RemoteInfo) => void;
  readonly logger: Logger;
}

export interface UdpListener {
  /** The port bound (the one asked, or the one the system picked for 0 in tests). */
  readonly port: number;
  readonly addresses: readonly string[];
  close(): Promise<void>;
}

function bind(type: 'udp4' | 'udp6', address: string, port: number, opts: UdpListenerOptions): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type, ipv6Only: false, ...(opts.receiveBufferBytes > 0 ? { recvBufferSize: opts.receiveBufferBytes } : {}) });
    const onError = (e: Error) => {
      socket.close();
      reject(e);
    };
    socket.once('error', onError);
    socket.bind(port, address, () => {
      socket.off('error', onError);
      // After binding, errors are per datagram (ICMP unreachable and the like): logged, never fatal.
      socket.on('error', (e) => opts.logger.warn({ err: e, address }, `DogStatsD UDP socket on ${address}: ${e.message}`));
      socket.on('message', opts.onDatagram);
      resolve(socket);
    });
  });
}

const NO_IPV6 = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EINVAL']);

export async function listenUdp(opts: UdpListenerOptions): Promise<UdpListener> {
  const sockets: dgram.Socket[] = [];
  const addresses: string[] = [];
  const closeAll = () => Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined);
  try {
    if (opts.nonLocalTraffic) {
      try {
        sockets.push(await bind('udp6', '::', opts.port, opts));
        addresses.push('::');
      } catch (e) {
        if (!NO_IPV6.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
        sockets.push(await bind('udp4', '0.0.0.0', opts.port, opts));
        addresses.push('0.0.0.0');
      }
    } else {
      const v4 = await bind('udp4', '127.0.0.1', opts.port, opts);
      sockets.push(v4);
      addresses.push('127.0.0.1');
      // The same port on ::1 (the system's pick for port 0, so that both share it).
      try {
        sockets.push(await bind('udp6', '::1', v4.address().port, opts));
        addresses.push('::1');
      } catch (e) {
        opts.logger.debug({ err: e }, 'DogStatsD: no UDP on ::1 (no IPv6 loopback here); 127.0.0.1 only');
      }
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
  return { port: sockets[0]!.address().port, addresses, close: closeAll };
}
