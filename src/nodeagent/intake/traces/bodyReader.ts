/**
 * Reads one trace body under the receiver's bounds (I/O): at most `max` bytes, each chunk taken from the
 * request's `Hold` as it arrives (never reserved from `Content-Length`), and cut when no byte has come
 * for `idleMs` (a sender that declares a body and stalls holds a connection, never the budget, and not
 * for long). The body comes back as one buffer of its own memory, ready to be transferred to a worker.
 */
import type { IncomingMessage } from 'node:http';
import type { Hold, HoldRefusal } from './inflight.js';

export type BodyRead = { readonly ok: true; readonly body: Buffer } | { readonly ok: false; readonly why: 'too_large' | 'timeout' | 'aborted' | HoldRefusal; readonly read: number };

export function readTraceBody(req: IncomingMessage, opts: { readonly max: number; readonly hold: Hold; readonly idleMs: number; readonly declared: number | undefined }): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (r: BodyRead) => {
      if (timer !== undefined) clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('close', onClose);
      if (!r.ok) chunks.length = 0;
      resolve(r);
    };
    const idle = () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(() => finish({ ok: false, why: 'timeout', read: size }), opts.idleMs);
    };
    const onData = (chunk: Buffer) => {
      const next = size + chunk.length;
      if (next > opts.max || (opts.declared !== undefined && next > opts.declared)) {
        finish({ ok: false, why: 'too_large', read: next });
        return;
      }
      const refused = opts.hold.take(chunk.length);
      if (refused) {
        finish({ ok: false, why: refused, read: next });
        return;
      }
      chunks.push(chunk);
      size = next;
      idle();
    };
    // Large bodies get memory of their own here (`Buffer.concat` pools only small ones): transferable.
    const onEnd = () => finish({ ok: true, body: Buffer.concat(chunks, size) });
    const onAbort = () => finish({ ok: false, why: 'aborted', read: size });
    const onClose = () => {
      if (!req.complete) onAbort();
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('close', onClose);
    idle();
  });
}
