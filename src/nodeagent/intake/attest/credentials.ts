/**
 * The Unix sockets' peer credentials, from Tether's native addon `native/unixcred` (Linux; built by
 * `npm run build:native` with the node-gyp npm bundles):
 * - `peerPid(socket)`: `SO_PEERCRED` of an accepted stream connection (the trace receiver's socket);
 * - `listenCredentialDatagrams`: the DogStatsD datagram socket with `SO_PASSCRED`, every datagram
 *   handed over with its sender's pid (`SCM_CREDENTIALS`).
 * Why an addon of our own: Node exposes neither; `unix-dgram` (what the DogStatsD socket used before)
 * exposes no ancillary data or socket options; the npm modules with `SO_PEERCRED` (unix-socket-credentials,
 * 0.1.x) cover stream sockets only and none receives `SCM_CREDENTIALS`. Node-API keeps it ABI-stable;
 * where it did not build, the sockets work without credentials (origins as claimed) and the reason is
 * reported.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UNIXCRED_ADDON_FILE } from '../../../config/nativeAddons.js';
import { closingOnce, errnoName, openSocketToSenders, prepareSocketPath, UnixSocketUnavailable, type UnixListener } from '../dogstatsd/unixgram.js';

interface Binding {
  peerCredentials(fd: number): { pid: number; uid: number; gid: number } | number;
  listenDatagrams(path: string, bufferBytes: number, rcvbufBytes: number, onMessage: (buf: Buffer, pid: number, uid: number, gid: number) => void, onError: (errno: number) => void): { close(): void } | number;
}

let cached: { binding: Binding } | { problem: string } | undefined;

/** The repository's root, from this file's place in `dist/src/…` or `src/…`. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** The addon, or why there is none. */
export function unixCredentials(): { binding: Binding } | { problem: string } {
  if (cached) return cached;
  if (process.platform !== 'linux') return (cached = { problem: `peer credentials of Unix sockets are read on Linux only (this is ${process.platform})` });
  try {
    const require = createRequire(import.meta.url);
    cached = { binding: require(join(packageRoot(), UNIXCRED_ADDON_FILE)) as Binding };
  } catch (e) {
    cached = { problem: `Tether's native addon native/unixcred is not built (${(e as Error).message.split('\n')[0]}): run npm run build:native (a C compiler, make and python3 are needed)` };
  }
  return cached;
}

/** The pid of a Unix stream connection's peer, in this process's pid namespace (0: not visible from it); undefined without the addon or for another kind of socket. */
export function peerPid(socket: Socket): number | undefined {
  const found = unixCredentials();
  if ('problem' in found) return undefined;
  // Node exposes the descriptor only on its handle; a TCP or closed socket has none worth asking.
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  const c = found.binding.peerCredentials(fd);
  return typeof c === 'number' ? undefined : c.pid;
}

export interface CredentialListenerOptions {
  readonly path: string;
  /** Longest datagram kept (`dogstatsd_buffer_size`); longer ones are cut there. */
  readonly bufferBytes: number;
  /** SO_RCVBUF (`dogstatsd_so_rcvbuf`); 0 keeps the system's. */
  readonly receiveBufferBytes: number;
  readonly onDatagram: (msg: Buffer, pid: number) => void;
  readonly onReceiveError?: (errno: number) => void;
}

/** The DogStatsD Unix datagram socket with its senders' pids; throws `UnixSocketUnavailable` saying why it cannot. */
export function listenCredentialDatagrams(opts: CredentialListenerOptions): UnixListener {
  const found = unixCredentials();
  if ('problem' in found) throw new UnixSocketUnavailable(found.problem);
  prepareSocketPath(opts.path);
  const handle = found.binding.listenDatagrams(opts.path, opts.bufferBytes, opts.receiveBufferBytes, (buf, pid) => opts.onDatagram(buf, pid), (errno) => opts.onReceiveError?.(errno));
  if (typeof handle === 'number') throw new UnixSocketUnavailable(`cannot bind the Unix datagram socket ${opts.path} (errno ${-handle}: ${errnoName(-handle)})`);
  openSocketToSenders(opts.path);
  return { path: opts.path, close: closingOnce(opts.path, () => handle.close()) };
}
