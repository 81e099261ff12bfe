/**
 * Watches one named object (a field selector on metadata.name, which is also what lets RBAC restrict
 * list and watch by resource name) and calls `onChange` on every add, update and delete, including the
 * ones seen when the watch is re-listed after a disconnect. Controllers treat a call as "look again"
 * (level-triggered): they read the object afresh and compare it with what they want, so a missed or
 * repeated event costs nothing. A watch that fails (API server down, RBAC) is restarted with backoff.
 */
import * as k8s from '@kubernetes/client-node';
import { WATCH_RETRY_BASE_MS, WATCH_RETRY_MAX_MS } from '../config/limits.js';
import type { Logger } from '../logging/logger.js';
import { describeApiError } from './errors.js';

export interface NamedWatchOptions<T extends k8s.KubernetesObject> {
  readonly kubeConfig: k8s.KubeConfig;
  /** The collection's URL path, e.g. `/api/v1/namespaces/datadog/secrets`. */
  readonly path: string;
  readonly name: string;
  /** The list call for the same collection, with the same field selector. */
  readonly list: (fieldSelector: string) => Promise<k8s.KubernetesListObject<T>>;
  /** The object as last seen, or undefined when it was deleted (or does not exist). */
  readonly onChange: (obj: T | undefined) => void;
  readonly logger: Logger;
  /** For logs: e.g. `Secret datadog/webhook-certificate`. */
  readonly what: string;
}

export interface NamedWatch {
  /** Resolves once the first list has been answered (the object is known to exist or not). */
  readonly synced: Promise<void>;
  stop(): Promise<void>;
}

export function watchNamed<T extends k8s.KubernetesObject>(opts: NamedWatchOptions<T>): NamedWatch {
  const fieldSelector = `metadata.name=${opts.name}`;
  const log = opts.logger;
  let stopped = false;
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;
  let markSynced: () => void = () => {};
  const synced = new Promise<void>((resolve) => (markSynced = resolve));

  const listWatch = new k8s.ListWatch<T>(
    opts.path,
    new k8s.Watch(opts.kubeConfig),
    async () => {
      const list = await opts.list(fieldSelector);
      failures = 0;
      // The list's items are delivered as add events right after this returns; a missing object has none.
      if (!list.items.some((o) => o.metadata?.name === opts.name)) opts.onChange(undefined);
      setImmediate(markSynced);
      return list;
    },
    false,
    undefined,
    fieldSelector,
  );
  const changed = (obj: T) => {
    if (obj.metadata?.name === opts.name) opts.onChange(obj);
  };
  listWatch.on(k8s.ADD, changed);
  listWatch.on(k8s.UPDATE, changed);
  listWatch.on(k8s.DELETE, (obj: T) => {
    if (obj.metadata?.name === opts.name) opts.onChange(undefined);
  });
  listWatch.on(k8s.ERROR, (err: unknown) => {
    if (stopped) return;
    failures++;
    const delay = Math.min(WATCH_RETRY_MAX_MS, WATCH_RETRY_BASE_MS * 2 ** Math.min(failures - 1, 20));
    log.warn({ what: opts.what, problem: describeApiError(err), retryInMs: delay }, `watch of ${opts.what} failed; restarting it`);
    retry = setTimeout(() => {
      retry = undefined;
      if (!stopped) void start();
    }, delay);
    retry.unref();
  });
  const start = (): Promise<void> =>
    listWatch.start().catch((e: unknown) => {
      // start() rejects only on a synchronous failure of the watch request itself; the ERROR
      // handler has already been called for list failures.
      log.warn({ what: opts.what, problem: describeApiError(e) }, `could not start the watch of ${opts.what}`);
    });
  void start();
  log.debug({ what: opts.what }, `watching ${opts.what}`);

  return {
    synced,
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      await listWatch.stop();
    },
  };
}
