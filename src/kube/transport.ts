/**
 * The narrow HTTP seam the informer lists and watches through: one abortable GET whose answer is the
 * status and the body as it streams in. Unit tests hand the informer this transport pointed at a fake
 * loopback API server (or a transport of their own); production builds it from the KubeConfig.
 *
 * Why not client-node's `Watch` (1.4.0, dist/watch.js): its `watch()` hands back the AbortController
 * only once the response headers have arrived, so a request the API server never answers cannot be
 * aborted at all (stop() would hang, or leak the socket until TCP gives up); the 30 s timeout signal it
 * builds is overwritten on the next line, so nothing bounds a silent connection; a non-200 answer loses
 * its body (the Status saying *why*: 410 Expired vs 403 Forbidden); and a list needs a separate typed
 * client per resource, whereas the informer wants list and watch of any path through one door. The
 * typed clients' own fetch middleware cannot stream a body. So this is a direct `node:http(s)` request,
 * authenticated the way client-node authenticates everything else: `applyToHTTPSOptions` (client
 * certificate, CA, bearer token re-read from an in-cluster token file, exec plugins, impersonation,
 * proxy agent) on every request, so a rotated token is picked up by the next list or watch.
 */
import http from 'node:http';
import https from 'node:https';
import type * as k8s from '@kubernetes/client-node';

export interface ApiResponse {
  readonly status: number;
  /**
   * The body as it arrives. Ends when the server ends it; throws when the connection breaks or the
   * request's signal aborts. Must be consumed (or its iterator returned) so the socket is released.
   */
  readonly body: AsyncIterable<Uint8Array | string>;
}

export interface ApiTransport {
  /**
   * GET `path` (no query string) with `query`. Resolves once the status line and headers have arrived.
   * Aborting `signal` ends the request at any point: before the headers it rejects, after them the body
   * throws.
   */
  get(path: string, query: URLSearchParams, signal: AbortSignal): Promise<ApiResponse>;
}

/** Thrown for a request that could not be made at all (no cluster in the kubeconfig). */
export class TransportError extends Error {
  override name = 'TransportError';
}

export function kubeConfigTransport(kubeConfig: k8s.KubeConfig): ApiTransport {
  return {
    async get(path, query, signal) {
      const cluster = kubeConfig.getCurrentCluster();
      if (!cluster) throw new TransportError('the kubeconfig has no current cluster');
      const url = new URL(cluster.server.replace(/\/+$/, '') + path);
      url.search = query.toString();
      const opts: https.RequestOptions = {};
      await kubeConfig.applyToHTTPSOptions(opts);
      signal.throwIfAborted();
      const send = url.protocol === 'http:' ? http.request : https.request;
      return new Promise<ApiResponse>((resolve, reject) => {
        const req = send(url, { ...opts, method: 'GET', signal, headers: { ...opts.headers, Accept: 'application/json' } }, (res) =>
          resolve({ status: res.statusCode ?? 0, body: res }),
        );
        req.on('error', reject);
        req.end();
      });
    },
  };
}
