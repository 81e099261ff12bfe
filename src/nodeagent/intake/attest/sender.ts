/**
 * Who is on the other end of an HTTP connection (the trace receiver's), as a `Sender`: a TCP peer's
 * address, or a Unix socket peer's pid (`SO_PEERCRED`, read once per connection: it is fixed at connect).
 * The trace receiver asks when it accepts a connection, so the pid is the kernel's from the start, on the
 * event loop's thread; its requests find it here.
 */
import type { Socket } from 'node:net';
import type { Sender } from '../types.js';
import { peerPid } from './credentials.js';

const pids = new WeakMap<Socket, Sender | undefined>();

export function senderOf(socket: Socket): Sender | undefined {
  if (socket.remoteAddress !== undefined) return { ip: socket.remoteAddress };
  if (pids.has(socket)) return pids.get(socket);
  const pid = peerPid(socket);
  const sender = pid === undefined ? undefined : { pid };
  pids.set(socket, sender);
  return sender;
}
