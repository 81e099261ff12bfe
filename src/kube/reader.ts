/**
 * A small JSON client for what `status` and `diagnose` ask the API server: get one object (undefined on
 * 404), list a collection (all pages), and create a review or a dry-run object. Any path, so a check
 * needs no typed client per resource; authenticated as client-node authenticates everything else
 * (`applyToHTTPSOptions`). Errors are `ApiError`s carrying the status and the API server's own message.
 */
import http from 'node:http';
import https from 'node:https';
import type * as k8s from '@kubernetes/client-node';
import { LIST_PAGE_SIZE } from '../config/limits.js';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    /** HTTP status; 0 when no answer came. */
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface KubeReader {
  /** The object at `path`, or undefined when it does not exist (404). */
  get<T>(path: string, signal: AbortSignal, query?: Record<string, string>): Promise<T | undefined>;
  /**
   * Only the metadata of the object at `path` (a `PartialObjectMetadata`: name, labels, annotations,
   * times, managed fields; never `data`), or undefined on 404: what to ask for when metadata is enough,
   * e.g. a Secret whose keys are none of the reader's business.
   */
  getMetadata(path: string, signal: AbortSignal): Promise<PartialObjectMetadata | undefined>;
  /** Every item of the collection at `path` (paged). A 404 (an API group the server does not serve) is an empty list. */
  list<T>(path: string, signal: AbortSignal, query?: Record<string, string>): Promise<T[]>;
  /** POSTs `body` (reviews, dry-run creates with `query: { dryRun: 'All' }`). */
  create<T>(path: string, body: unknown, signal: AbortSignal, query?: Record<string, string>): Promise<T>;
  /**
   * Watches the collection at `path` (with `query`: a field selector, the resourceVersion to start
   * from) for `durationMs`, calling `onEvent` for every change: every version, none skipped as a poll
   * would. Resolves when the time is up or the server ends the watch.
   */
  watch<T>(path: string, query: Record<string, string>, durationMs: number, signal: AbortSignal, onEvent: (type: string, object: T) => void): Promise<void>;
}

/** What `getMetadata` answers (meta.k8s.io/v1 PartialObjectMetadata), narrowed to the fields read. */
export interface PartialObjectMetadata {
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly creationTimestamp?: string;
    readonly resourceVersion?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly managedFields?: readonly { readonly time?: string; readonly manager?: string; readonly operation?: string }[];
  };
}

/** The content type that makes the API server answer a get with the object's metadata only. */
export const PARTIAL_OBJECT_METADATA_ACCEPT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

export function createKubeReader(kubeConfig: k8s.KubeConfig): KubeReader {
  async function request(method: 'GET' | 'POST', path: string, query: Record<string, string> | undefined, body: unknown, signal: AbortSignal, accept = 'application/json'): Promise<{ status: number; text: string }> {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new ApiError(0, 'the kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/+$/, '') + path);
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
    const opts: https.RequestOptions = {};
    await kubeConfig.applyToHTTPSOptions(opts);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const send = url.protocol === 'http:' ? http.request : https.request;
    return new Promise((resolve, reject) => {
      const req = send(
        url,
        { ...opts, method, signal, headers: { ...opts.headers, Accept: accept, ...(payload ? { 'Content-Type': 'application/json' } : {}) } },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_ANSWER_BYTES) req.destroy(new ApiError(0, `the answer to ${method} ${path} is larger than ${MAX_ANSWER_BYTES} bytes`));
            else chunks.push(c);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', (e) => reject(e instanceof ApiError ? e : new ApiError(0, `${method} ${path}: ${e.message}`)));
      req.end(payload);
    });
  }

  const fail = (method: string, path: string, status: number, text: string): ApiError => {
    let message = text.slice(0, 300);
    try {
      const m = (JSON.parse(text) as { message?: unknown }).message;
      if (typeof m === 'string') message = m;
    } catch {
      /* not a Status */
    }
    return new ApiError(status, `${method} ${path}: HTTP ${status}: ${message}`);
  };

  async function watch<T>(path: string, query: Record<string, string>, durationMs: number, signal: AbortSignal, onEvent: (type: string, object: T) => void): Promise<void> {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new ApiError(0, 'the kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/+$/, '') + path);
    for (const [k, v] of Object.entries({ ...query, watch: '1', timeoutSeconds: String(Math.ceil(durationMs / 1000) + 1) })) url.searchParams.set(k, v);
    const opts: https.RequestOptions = {};
    await kubeConfig.applyToHTTPSOptions(opts);
    const stop = AbortSignal.any([signal, AbortSignal.timeout(durationMs)]);
    const send = url.protocol === 'http:' ? http.request : https.request;
    await new Promise<void>((resolve, reject) => {
      const req = send(url, { ...opts, method: 'GET', signal: stop, headers: { ...opts.headers, Accept: 'application/json' } }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new ApiError(res.statusCode ?? 0, `watch ${path}: HTTP ${res.statusCode}`));
          return;
        }
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (!line) continue;
            const event = JSON.parse(line) as { type: string; object: T };
            onEvent(event.type, event.object);
          }
        });
        res.on('end', () => resolve());
        res.on('error', () => resolve());
      });
      // The time being up is how a watch of a fixed duration ends, not a failure.
      req.on('error', (e) => (stop.aborted && !signal.aborted ? resolve() : reject(new ApiError(0, `watch ${path}: ${e.message}`))));
      req.end();
    });
  }

  return {
    watch,
    async get<T>(path: string, signal: AbortSignal, query?: Record<string, string>) {
      const r = await request('GET', path, query, undefined, signal);
      if (r.status === 404) return undefined;
      if (r.status !== 200) throw fail('GET', path, r.status, r.text);
      return JSON.parse(r.text) as T;
    },
    async getMetadata(path: string, signal: AbortSignal) {
      const r = await request('GET', path, undefined, undefined, signal, PARTIAL_OBJECT_METADATA_ACCEPT);
      if (r.status === 404) return undefined;
      if (r.status !== 200) throw fail('GET', path, r.status, r.text);
      return JSON.parse(r.text) as PartialObjectMetadata;
    },
    async list<T>(path: string, signal: AbortSignal, query?: Record<string, string>) {
      const items: T[] = [];
      let next: string | undefined;
      do {
        const r = await request('GET', path, { ...query, limit: String(LIST_PAGE_SIZE), ...(next ? { continue: next } : {}) }, undefined, signal);
        if (r.status === 404) return [];
        if (r.status !== 200) throw fail('GET', path, r.status, r.text);
        const page = JSON.parse(r.text) as { items?: T[]; metadata?: { continue?: string } };
        items.push(...(page.items ?? []));
        next = page.metadata?.continue || undefined;
      } while (next);
      return items;
    },
    async create<T>(path: string, body: unknown, signal: AbortSignal, query?: Record<string, string>) {
      const r = await request('POST', path, query, body, signal);
      if (r.status !== 200 && r.status !== 201) throw fail('POST', path, r.status, r.text);
      return JSON.parse(r.text) as T;
    },
  };
}
