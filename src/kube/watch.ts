/**
 * Watches one named object (a field selector on metadata.name, which is also what lets RBAC restrict
 * list and watch by resource name) and tells every subscriber the object as last seen, or undefined
 * when it was deleted or does not exist, on every add, update and delete, including the ones a re-list
 * finds after a disconnect. Subscribers treat a call as "look again" (level-triggered): they compare
 * the object with what they want, so a repeated call costs nothing.
 *
 * One watch, many subscribers: the follower that serves the Secret's certificate and the leader's
 * controllers subscribe to the same watch instead of opening one connection each. A subscriber that
 * arrives after the first list is told the current state at once (on a microtask), so it never waits
 * for a change to learn what exists.
 *
 * List, watch, retries, backoff and the silent-connection watchdog are the informer's (`informer.ts`).
 */
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from '../logging/logger.js';
import { startInformer, type InformerOptions } from './informer.js';
import { kubeConfigTransport, type ApiTransport } from './transport.js';

/** Informer settings a caller (or a test) may override: timing, clock, timers. */
export type NamedWatchTuning = Partial<
  Pick<
    InformerOptions<k8s.KubernetesObject>,
    'retryBaseMs' | 'retryMaxMs' | 'watchTimeoutSeconds' | 'watchIdleTimeoutMs' | 'watchTimeoutMarginMs' | 'listIdleTimeoutMs' | 'now' | 'timers' | 'random'
  >
>;

export interface NamedWatchOptions<T extends k8s.KubernetesObject> {
  readonly kubeConfig: k8s.KubeConfig;
  /** The collection's URL path, e.g. `/api/v1/namespaces/datadog/secrets`. */
  readonly path: string;
  readonly name: string;
  /**
   * Not used any more: the watch lists through the same transport it watches with (one code path for
   * list, watch and their failures). Still accepted so that existing callers compile.
   */
  readonly list?: (fieldSelector: string) => Promise<k8s.KubernetesListObject<T>>;
  /** A first subscriber, as if passed to `subscribe`. */
  readonly onChange?: (obj: T | undefined) => void;
  readonly logger: Logger;
  /** For logs: e.g. `Secret datadog/webhook-certificate`. */
  readonly what: string;
  /** Default: requests made with `kubeConfig`. */
  readonly transport?: ApiTransport;
  readonly tuning?: NamedWatchTuning;
  /** Stops the watch when aborted. */
  readonly signal?: AbortSignal;
}

export interface NamedWatch<T = k8s.KubernetesObject> {
  /** Resolves once the first list has been answered (the object is known to exist or not). */
  readonly synced: Promise<void>;
  /** Whether the last known state is as fresh as the watch (false while it is disconnected). */
  isSynced(): boolean;
  /** The object as last seen; undefined when absent or not listed yet. */
  current(): T | undefined;
  /**
   * Calls `handler` on every change from now on (and at once with the current state if the first list
   * is already done). Returns the function that unsubscribes it. The watch runs until `stop()`.
   */
  subscribe(handler: (obj: T | undefined) => void): () => void;
  stop(): Promise<void>;
}

export function watchNamed<T extends k8s.KubernetesObject>(opts: NamedWatchOptions<T>): NamedWatch<T> {
  const subscribers = new Set<{ handler: (obj: T | undefined) => void }>();
  let current: T | undefined;
  /** What subscribers were last told, so a list that still finds nothing does not repeat "absent". */
  let told: 'nothing' | 'absent' | 'present' = 'nothing';
  let listed = false;

  const tell = (obj: T | undefined): void => {
    current = obj;
    told = obj ? 'present' : 'absent';
    for (const s of [...subscribers]) {
      try {
        s.handler(obj);
      } catch (e) {
        opts.logger.warn({ what: opts.what, problem: e instanceof Error ? e.message : String(e) }, `a subscriber to ${opts.what} threw; ignored`);
      }
    }
  };
  // The field selector already restricts the watch to the name; checking again costs nothing.
  const mine = (obj: T) => obj.metadata?.name === opts.name;

  const informer = startInformer<T>({
    ...opts.tuning,
    transport: opts.transport ?? kubeConfigTransport(opts.kubeConfig),
    path: opts.path,
    fieldSelector: `metadata.name=${opts.name}`,
    logger: opts.logger,
    what: opts.what,
    ...(opts.signal ? { signal: opts.signal } : {}),
    handlers: {
      onAdd: (obj) => mine(obj) && tell(obj),
      onUpdate: (obj) => mine(obj) && tell(obj),
      onDelete: (obj) => mine(obj) && tell(undefined),
      onSync: () => {
        listed = true;
        const present = [...informer.entries()].some(([, o]) => mine(o));
        if (!present && told !== 'absent') tell(undefined);
      },
    },
  });

  const subscribe = (handler: (obj: T | undefined) => void): (() => void) => {
    const s = { handler };
    subscribers.add(s);
    if (listed) {
      queueMicrotask(() => {
        if (!subscribers.has(s)) return;
        try {
          handler(current);
        } catch (e) {
          opts.logger.warn({ what: opts.what, problem: e instanceof Error ? e.message : String(e) }, `a subscriber to ${opts.what} threw; ignored`);
        }
      });
    }
    return () => void subscribers.delete(s);
  };
  if (opts.onChange) subscribe(opts.onChange);
  opts.logger.debug({ what: opts.what }, `watching ${opts.what}`);

  return {
    synced: informer.synced,
    isSynced: () => informer.isSynced(),
    current: () => current,
    subscribe,
    stop: () => informer.stop(),
  };
}
