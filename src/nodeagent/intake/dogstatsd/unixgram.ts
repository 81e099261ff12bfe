/**
 * The DogStatsD Unix datagram socket (`dogstatsd_socket`, what `DD_DOGSTATSD_URL=unix://…` points
 * clients at). Node's `dgram` has no AF_UNIX datagrams, so this uses the native binding of
 * `unix-dgram` (the module the `hot-shots` client itself uses for the same socket; an optional
 * dependency: where it did not build, the socket is off and the reason logged, UDP still works).
 *
 * Its binding is called directly, not through its JavaScript wrapper: the wrapper reads `buf.length` of
 * a failed receive (a null buffer) and would throw out of the event loop; here a failed receive is
 * counted and ignored.
 */
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';

/** Anyone on the node may write (pods of any user); only the agent reads. The stack's server does the same. */
const SOCKET_MODE = 0o722;

interface Binding {
  readonly AF_UNIX: number;
  readonly SOCK_DGRAM: number;
  socket(domain: number, type: number, protocol: number, onRecv: (status: number, buf: Buffer | null) => void, onWritable: () => void): number;
  bind(fd: number, path: string): number;
  close(fd: number): number;
}

let cached: { binding: Binding } | { problem: string } | undefined;

/** The native binding, or why there is none (not installed, not built for this Node). */
export function unixDgramBinding(): { binding: Binding } | { problem: string } {
  if (cached) return cached;
  try {
    const require = createRequire(import.meta.url);
    const pkg = dirname(require.resolve('unix-dgram/package.json'));
    cached = { binding: require(join(pkg, 'build', 'Release', 'unix_dgram.node')) as Binding };
  } catch (e) {
    cached = {
      problem: `the unix-dgram module (Node has no Unix datagram sockets of its own) is not available: ${(e as Error).message.split('\n')[0]}. It is an optional dependency built with node-gyp at install: install a C++ compiler, make and python3, then npm rebuild unix-dgram`,
    };
  }
  return cached;
}

export interface UnixListenerOptions {
  readonly path: string;
  readonly onDatagram: (msg: Buffer) => void;
  /** A receive that failed (errno, negative). */
  readonly onReceiveError?: (errno: number) => void;
}

export interface UnixListener {
  readonly path: string;
  close(): void;
}

/** Thrown when the socket cannot be made; the message says what and where. */
export class UnixSocketUnavailable extends Error {
  override name = 'UnixSocketUnavailable';
}

/**
 * Makes `path` free to bind a datagram socket on (shared with the credentials listener, attest/credentials.ts):
 * a socket file left by a previous run is removed, its directory made when missing. Throws
 * `UnixSocketUnavailable` saying what is wrong.
 */
export function prepareSocketPath(path: string): void {
  // A socket file left by a previous run is replaced; any other kind of file at that path is not ours.
  try {
    const st = lstatSync(path);
    if (!st.isSocket()) throw new UnixSocketUnavailable(`${path} exists and is not a socket; not replacing it`);
    unlinkSync(path);
  } catch (e) {
    if (e instanceof UnixSocketUnavailable) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new UnixSocketUnavailable(`cannot replace ${path}: ${(e as Error).message}`);
  }
  // Its directory is made when missing (`/var/run/datadog` on a node where nothing made it yet), but not
  // its parents: a path whose parent is missing is a mistake to report, not to build.
  try {
    mkdirSync(dirname(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new UnixSocketUnavailable(`cannot create ${dirname(path)}: ${(e as Error).message}`);
  }
}

/** Lets every user on the node write to the bound socket at `path` (pods run as any user). */
export function openSocketToSenders(path: string): void {
  try {
    chmodSync(path, SOCKET_MODE);
  } catch {
    // The socket works for the agent's own user; other users' clients then get EACCES (their problem to see).
  }
}

/** Closes a listener once: `closeFd`, then the socket file goes. */
export function closingOnce(path: string, closeFd: () => void): () => void {
  let closed = false;
  return () => {
    if (closed) return;
    closed = true;
    closeFd();
    try {
      unlinkSync(path);
    } catch {
      // Already gone.
    }
  };
}

export function listenUnixgram(opts: UnixListenerOptions): UnixListener {
  const found = unixDgramBinding();
  if ('problem' in found) throw new UnixSocketUnavailable(found.problem);
  const b = found.binding;
  prepareSocketPath(opts.path);
  const fd = b.socket(
    b.AF_UNIX,
    b.SOCK_DGRAM,
    0,
    (status, buf) => {
      if (status < 0 || buf === null) opts.onReceiveError?.(status);
      else opts.onDatagram(buf);
    },
    () => {},
  );
  if (fd < 0) throw new UnixSocketUnavailable(`cannot create a Unix datagram socket (errno ${-fd})`);
  const err = b.bind(fd, opts.path);
  if (err < 0) {
    b.close(fd);
    throw new UnixSocketUnavailable(`cannot bind the Unix datagram socket ${opts.path} (errno ${-err}: ${errnoName(-err)})`);
  }
  openSocketToSenders(opts.path);
  return { path: opts.path, close: closingOnce(opts.path, () => b.close(fd)) };
}

const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));
export const errnoName = (n: number): string => ERRNO_NAMES.get(n) ?? 'see errno(3)';
