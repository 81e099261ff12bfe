/**
 * Certificate files that change under a running server: Kubernetes updates a Secret volume by swapping
 * a symlink (`..data`), cert-manager or an operator may rewrite the files in place. Polling the contents
 * every few seconds sees all of these (fs.watch does not reliably follow symlink swaps) and costs two
 * small reads. A changed pair is handed to `apply`, which validates it before using it: a bad or
 * half-written pair keeps the previous certificate, and is retried when the files change again.
 */
import { readFile } from 'node:fs/promises';
import { InvalidCertificate, type CertificateInfo } from '../certs/index.js';
import { CERT_POLL_INTERVAL_MS } from '../config/limits.js';
import type { Logger } from '../logging/logger.js';

export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface PemPair {
  readonly certPem: string;
  readonly keyPem: string;
}

/** Reads both files; a missing or unreadable one is an `InvalidCertificate` naming the file. */
export async function readCertificateFiles(files: CertificateFiles): Promise<PemPair> {
  const read = async (path: string, what: string): Promise<string> => {
    try {
      return await readFile(path, 'utf8');
    } catch (e) {
      // Node's message repeats the path ("ENOENT: no such file or directory, open '/x'"): keep the reason.
      const reason = (e as Error).message.replace(/, \w+ '.*'$/, '');
      throw new InvalidCertificate(`cannot read the TLS ${what} file ${path}: ${reason}`);
    }
  };
  // Both read at once; when both fail, the certificate's problem is the one reported (deterministic).
  const [cert, key] = await Promise.allSettled([read(files.certFile, 'certificate'), read(files.keyFile, 'key')]);
  if (cert.status === 'rejected') throw cert.reason;
  if (key.status === 'rejected') throw key.reason;
  return { certPem: cert.value, keyPem: key.value };
}

export interface CertificateWatcher {
  /** Looks at the files now (the poller calls it; tests too). */
  check(): Promise<void>;
  stop(): void;
}

export interface WatchOptions {
  /** The pair already in use, so that an unchanged pair is not re-applied. */
  readonly current: PemPair;
  /** Validates and installs a pair; throws `InvalidCertificate` to refuse it. */
  readonly apply: (pair: PemPair) => CertificateInfo;
  readonly logger: Logger;
  readonly intervalMs?: number;
}

export function watchCertificateFiles(files: CertificateFiles, opts: WatchOptions): CertificateWatcher {
  const log = opts.logger;
  let seen = opts.current;
  let lastReadError: string | undefined;
  let running: Promise<void> | undefined;

  async function checkOnce(): Promise<void> {
    let pair: PemPair;
    try {
      pair = await readCertificateFiles(files);
    } catch (e) {
      // Mid-swap or deleted: keep serving; say so once per distinct problem, not every poll.
      const msg = (e as Error).message;
      if (msg !== lastReadError) log.warn({ ...files, problem: msg }, 'cannot read the certificate files; keeping the current certificate');
      lastReadError = msg;
      return;
    }
    lastReadError = undefined;
    if (pair.certPem === seen.certPem && pair.keyPem === seen.keyPem) return;
    seen = pair;
    try {
      const info = opts.apply(pair);
      log.info({ ...files, notAfter: info.notAfter.toISOString(), dnsNames: info.dnsNames }, 'reloaded the TLS certificate from its files');
    } catch (e) {
      if (!(e instanceof InvalidCertificate)) throw e;
      log.error({ ...files, problem: e.message }, 'the new certificate files are not usable; keeping the previous certificate');
    }
  }

  const check = (): Promise<void> => {
    // One check at a time: a slow disk must not stack up reads.
    running ??= checkOnce()
      .catch((e: unknown) => log.error({ err: e }, 'unexpected error while checking the certificate files'))
      .finally(() => (running = undefined));
    return running;
  };

  const timer = setInterval(() => void check(), opts.intervalMs ?? CERT_POLL_INTERVAL_MS);
  // The poller alone must not keep the process alive.
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
