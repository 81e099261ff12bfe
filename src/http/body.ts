/**
 * Reading a request body under a size limit, and throwing away bodies we will not read, without letting
 * a client make the server buffer (or endlessly read) more than the limits allow.
 */
import type { IncomingMessage } from 'node:http';
import { constants as h2, type Http2ServerRequest } from 'node:http2';
import { MAX_DISCARDED_BODY_BYTES } from '../config/limits.js';

/** A request over HTTP/1.1 or over HTTP/2 (the webhook port speaks both). */
export type AnyRequest = IncomingMessage | Http2ServerRequest;

const isHttp2 = (req: AnyRequest): req is Http2ServerRequest => req.httpVersionMajor === 2;

/**
 * Stops a request we will not read to its end: over HTTP/1.1 its connection is cut (nothing else can be
 * read on it past an unread body); over HTTP/2 only its stream is reset, the connection's other reviews
 * go on.
 */
export function abortRequest(req: AnyRequest): void {
  if (isHttp2(req)) req.stream.close(h2.NGHTTP2_CANCEL);
  else req.socket.destroy();
}

/**
 * After the answer, end a request whose body is left unread. HTTP/1.1: `Connection: close` (set before the
 * answer); HTTP/2: the stream is reset once the answer is sent (RFC 9113 §8.1: NO_ERROR, the answer stands).
 */
export function closeAfterAnswer(req: AnyRequest, res: { setHeader(name: string, value: string): unknown; once(event: 'finish', f: () => void): unknown }): void {
  if (isHttp2(req)) res.once('finish', () => req.stream.close(h2.NGHTTP2_NO_ERROR));
  else res.setHeader('Connection', 'close');
}

export class BodyTooLarge extends Error {
  override name = 'BodyTooLarge';
  constructor(readonly limit: number) {
    super(`the request body is larger than ${limit} bytes`);
  }
}

/** The request ended before its body did (client gone, timeout). Nobody is left to answer. */
export class BodyAborted extends Error {
  override name = 'BodyAborted';
}

/** `Content-Length` as a number, `undefined` when absent (chunked) or not a plain decimal. */
export function declaredLength(req: AnyRequest): number | undefined {
  const raw = req.headers['content-length'];
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
}

/**
 * Reads the whole body, counting streamed bytes: `Content-Length` is checked up front by the caller, but a
 * chunked body has none. Past `limit` it rejects with `BodyTooLarge` and leaves the rest to `discardBody`.
 */
export function readBody(req: AnyRequest, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        chunks.length = 0;
        reject(new BodyTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(new BodyAborted(e.message));
    };
    const onClose = () => {
      // 'close' before 'end': the connection went away mid-body.
      if (!req.complete) {
        cleanup();
        reject(new BodyAborted('the client closed the connection before sending the whole body'));
      }
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** Whether a rejected body is small enough to be read and dropped (see `drainBody`). */
export function worthDiscarding(req: AnyRequest, alreadyRead = 0): boolean {
  return alreadyRead + (declaredLength(req) ?? 0) <= MAX_DISCARDED_BODY_BYTES;
}

/**
 * Reads and drops the rest of a body we will answer without reading (413, 415, 405...), before the
 * answer is sent: answering while the client is still sending and then closing (as Node does when the
 * client asked for `Connection: close`) resets the connection, and the client sees EPIPE/ECONNRESET
 * instead of our status. Resolves `true` once the body is drained, `false` if the connection went away
 * or the body grew beyond `MAX_DISCARDED_BODY_BYTES` (then the connection is cut).
 */
export function drainBody(req: AnyRequest, alreadyRead = 0): Promise<boolean> {
  if (req.readableEnded) return Promise.resolve(true);
  return new Promise((resolve) => {
    let size = alreadyRead;
    const finish = (drained: boolean) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.off('error', onClose);
      resolve(drained);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_DISCARDED_BODY_BYTES) {
        abortRequest(req);
        finish(false);
      }
    };
    const onEnd = () => finish(true);
    const onClose = () => finish(req.complete);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.on('error', onClose);
    req.resume();
  });
}
