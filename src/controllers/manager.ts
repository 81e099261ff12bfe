/**
 * The cluster agent's controllers, assembled (SPEC §1, §7): every replica follows the certificate
 * Secret and serves what it holds; the replica holding the leader Lease also runs the certificate and
 * webhook-configuration controllers, from watches, through one work queue with backoff. One watch of
 * the Secret serves both; everything the API server is asked goes through `ControllerApis` (kube/).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { SECRET_CA_KEY, SECRET_CA_KEY_KEY, SECRET_CERT_KEY, SECRET_KEY_KEY, type TetherConfig } from '../config/index.js';
import { RECONCILE_TIMEOUT_MS, RESYNC_INTERVAL_MS } from '../config/limits.js';
import type { ControllerApis } from '../kube/controllerApis.js';
import { deadline } from '../kube/deadline.js';
import { describeApiError } from '../kube/errors.js';
import { startLeaderElection, type ElectionClock, type LeaderElector } from '../kube/leaderElection.js';
import { secretRecordOf } from '../kube/secrets.js';
import type { NamedWatch } from '../kube/watch.js';
import type { Logger } from '../logging/logger.js';
import { reconcileCaConfigMap } from './caConfigMap.js';
import { certificateNames, certificateSettings, trustBundlePem } from '../certs/policy.js';
import { PublicationTracker, reconcileCertificate } from './certificate.js';
import { reconcileWebhookConfiguration } from './webhookConfiguration.js';
import { WorkQueue, type ReconcileResult } from './workqueue.js';

export interface ControllersOptions {
  readonly apis: ControllerApis;
  readonly config: TetherConfig;
  /** Tether's namespace: Secret, Service and Lease live there. */
  readonly namespace: string;
  readonly webhookUrl?: string;
  /** This replica's name in the Lease; default the host name plus a random suffix. */
  readonly identity?: string;
  readonly logger: Logger;
  /** Every replica: the Secret holds a new certificate; serve it (throws when unusable). */
  readonly onCertificate: (certPem: string, keyPem: string) => void;
  /** Every replica: the Secret's CA (trust bundle and newest CA's key), e.g. for the cluster agent API's certificate. */
  readonly onCa?: (caBundlePem: string, caKeyPem: string) => void;
  /** Leadership won or lost (the leader gauge). */
  readonly onLeadership?: (leading: boolean) => void;
  /** A reconcile finished (per-controller counters). */
  readonly onReconcile?: (controller: Key, outcome: 'success' | 'error') => void;
  /** Leader election's clock (tests). */
  readonly clock?: ElectionClock;
}

export interface RunningControllers {
  readonly identity: string;
  isLeader(): boolean;
  /** Stops the watches and the controllers; a leader releases the Lease. */
  stop(): Promise<void>;
}

export type Key = 'certificate' | 'webhook' | 'caConfigMap';

export function defaultIdentity(): string {
  return `${process.env['HOSTNAME'] || hostname()}_${randomBytes(4).toString('hex')}`;
}

/** Leader-only work; stops when `signal` aborts. Resolves once everything has stopped. */
function runLeaderControllers(opts: ControllersOptions, secretWatch: NamedWatch<k8s.V1Secret>, signal: AbortSignal): Promise<void> {
  const { apis, config, namespace } = opts;
  const log = opts.logger.child({ component: 'controllers' });
  const names = certificateNames(config['admission_controller.service_name'], namespace, opts.webhookUrl);
  const settings = certificateSettings(config, names);
  const published = new PublicationTracker();
  const OBJECTS: Record<Key, string> = { certificate: apis.secrets.id, webhook: apis.webhooks.name, caConfigMap: apis.caConfigMap.id };
  const describe = (key: Key) => ({ certificate: 'Secret', webhook: 'Webhook', caConfigMap: 'ConfigMap' })[key] + ` ${OBJECTS[key]}`;
  const reconcilers: Record<Key, (signal: AbortSignal) => Promise<ReconcileResult | void>> = {
    certificate: (s) => reconcileCertificate({ secrets: apis.secrets, webhooks: apis.webhooks, settings, published, logger: log }, s),
    webhook: (s) => reconcileWebhookConfiguration({ webhooks: apis.webhooks, secrets: apis.secrets, config, namespace, logger: log, ...(opts.webhookUrl ? { webhookUrl: opts.webhookUrl } : {}) }, s),
    caConfigMap: async (s) => {
      const data = (await apis.secrets.get(s))?.data;
      await reconcileCaConfigMap(apis.caConfigMap, trustBundlePem(data), s, log, data?.[SECRET_CERT_KEY]);
    },
  };

  const queue = new WorkQueue<Key>({
    reconcile: async (key) => {
      // A reconcile that hangs (an API server that stopped answering) is abandoned and retried, and one
      // in progress stops when leadership is lost.
      const bound = deadline(RECONCILE_TIMEOUT_MS, signal);
      try {
        const result = await reconcilers[key](bound.signal);
        opts.onReconcile?.(key, 'success');
        log.debug(`${describe(key)} reconciled successfully`);
        return result;
      } catch (e) {
        opts.onReconcile?.(key, 'error');
        throw e;
      } finally {
        bound.dispose();
      }
    },
    onError: (key, e, retryInMs) => log.warn({ key, problem: describeApiError(e), retryInMs }, `reconcile of ${describe(key)} failed; retrying`),
  });
  const enqueue = (key: Key, why: string) => {
    log.debug({ key, why }, `Adding object with key ${OBJECTS[key]} to the queue`);
    queue.add(key);
  };

  log.info(`Starting secrets controller for ${apis.secrets.id}`);
  const unsubscribe = secretWatch.subscribe(() => {
    enqueue('certificate', 'the Secret changed');
    // The caBundle, and the node agents' CA ConfigMap, are the Secret's trust bundle.
    enqueue('webhook', 'the Secret changed');
    enqueue('caConfigMap', 'the Secret changed');
  });
  const webhookWatch = apis.watchWebhookConfiguration(log);
  webhookWatch.subscribe(() => {
    enqueue('webhook', 'the MutatingWebhookConfiguration changed');
    // A new CA may now be trusted by the API server: the certificate controller waits for that.
    enqueue('certificate', 'the MutatingWebhookConfiguration changed');
  });
  const resync = setInterval(() => {
    for (const key of Object.keys(reconcilers) as Key[]) enqueue(key, 'periodic resync');
  }, RESYNC_INTERVAL_MS);
  resync.unref();

  return new Promise((resolve) => {
    const stop = () => {
      clearInterval(resync);
      unsubscribe();
      void Promise.all([webhookWatch.stop(), queue.shutdown()]).then(() => {
        log.info('controllers stopped');
        resolve();
      });
    };
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });
}

export function startControllers(opts: ControllersOptions): RunningControllers {
  const log = opts.logger;
  const identity = opts.identity ?? defaultIdentity();
  const secretWatch = opts.apis.watchSecret(log);

  // Every replica serves the certificate the Secret holds, whoever wrote it.
  let served: string | undefined;
  let ca: string | undefined;
  secretWatch.subscribe((secret) => {
    const data = secret ? secretRecordOf(secret).data : {};
    const caPem = data[SECRET_CA_KEY];
    const caKeyPem = data[SECRET_CA_KEY_KEY];
    if (opts.onCa && caPem && caKeyPem && caPem + caKeyPem !== ca) {
      ca = caPem + caKeyPem;
      opts.onCa(caPem, caKeyPem);
    }
    const certPem = data[SECRET_CERT_KEY];
    const keyPem = data[SECRET_KEY_KEY];
    if (!certPem || !keyPem || certPem + keyPem === served) return;
    try {
      opts.onCertificate(certPem, keyPem);
      served = certPem + keyPem;
      log.info('serving the certificate from the Secret');
    } catch (e) {
      log.warn({ problem: (e as Error).message }, 'the Secret holds a certificate that cannot be served; keeping the current one');
    }
  });

  let leaderWork: Promise<void> | undefined;
  const elector: LeaderElector = startLeaderElection({
    leases: opts.apis.leases,
    identity,
    leaseDurationMs: opts.config.leader_lease_duration * 1000,
    logger: log,
    ...(opts.clock ? { clock: opts.clock } : {}),
    onStartedLeading: (signal) => {
      opts.onLeadership?.(true);
      leaderWork = runLeaderControllers(opts, secretWatch, signal);
    },
    // Before the Lease is released (or lost), so that a former leader never writes next to a new one.
    onStoppedLeading: async () => {
      opts.onLeadership?.(false);
      log.info('no longer the leader: stopping the controllers');
      await leaderWork;
    },
  });

  return {
    identity,
    isLeader: () => elector.isLeader(),
    async stop() {
      await elector.stop();
      await secretWatch.stop();
    },
  };
}
