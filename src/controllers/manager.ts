/**
 * The cluster agent's controllers, assembled (SPEC §1, §7): every replica follows the certificate
 * Secret and serves what it holds; the replica holding the leader Lease also runs the certificate and
 * webhook-configuration controllers, from watches, through one work queue with backoff.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { SECRET_CERT_KEY, SECRET_KEY_KEY, type TetherConfig } from '../config/index.js';
import { RECONCILE_TIMEOUT_MS, RESYNC_INTERVAL_MS } from '../config/limits.js';
import { describeApiError } from '../kube/errors.js';
import { createSecretStore } from '../kube/secrets.js';
import { createWebhookConfigurationStore } from '../kube/webhookConfigurations.js';
import { startLeaderElection, type LeaderElector } from '../kube/leaderElection.js';
import { createLeaseClient } from '../kube/leases.js';
import { watchNamed, type NamedWatch } from '../kube/watch.js';
import type { Logger } from '../logging/logger.js';
import { certificateNames, certificateSettings, PublicationTracker, reconcileCertificate } from './certificate.js';
import { reconcileWebhookConfiguration } from './webhookConfiguration.js';
import { WorkQueue } from './workqueue.js';

export interface ControllersOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly config: TetherConfig;
  /** Tether's namespace: Secret, Service and Lease live there. */
  readonly namespace: string;
  readonly webhookUrl?: string;
  /** This replica's name in the Lease; default the host name plus a random suffix. */
  readonly identity?: string;
  readonly logger: Logger;
  /** Every replica: the Secret holds a new certificate; serve it (throws when unusable). */
  readonly onCertificate: (certPem: string, keyPem: string) => void;
}

export interface RunningControllers {
  readonly identity: string;
  isLeader(): boolean;
  /** Stops the watches and the controllers; a leader releases the Lease. */
  stop(): Promise<void>;
}

type Key = 'certificate' | 'webhook';

const secretValue = (secret: k8s.V1Secret | undefined, key: string): string | undefined => {
  const v = secret?.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
};

export function defaultIdentity(): string {
  return `${process.env['HOSTNAME'] || hostname()}_${randomBytes(4).toString('hex')}`;
}

function watchSecret(opts: ControllersOptions, core: k8s.CoreV1Api, onChange: (s: k8s.V1Secret | undefined) => void, log: Logger): NamedWatch {
  const name = opts.config['admission_controller.certificate.secret_name'];
  return watchNamed<k8s.V1Secret>({
    kubeConfig: opts.kubeConfig,
    path: `/api/v1/namespaces/${opts.namespace}/secrets`,
    name,
    list: (fieldSelector) => core.listNamespacedSecret({ namespace: opts.namespace, fieldSelector }),
    onChange,
    logger: log,
    what: `Secret ${opts.namespace}/${name}`,
  });
}

/** Leader-only work; stops when `signal` aborts. Resolves once everything has stopped. */
function runLeaderControllers(opts: ControllersOptions, signal: AbortSignal): Promise<void> {
  const log = opts.logger.child({ component: 'controllers' });
  const core = opts.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const admissionApi = opts.kubeConfig.makeApiClient(k8s.AdmissionregistrationV1Api);
  const names = certificateNames(opts.config['admission_controller.service_name'], opts.namespace, opts.webhookUrl);
  const secretKey = `${opts.namespace}/${opts.config['admission_controller.certificate.secret_name']}`;
  const webhookName = opts.config['admission_controller.webhook_name'];

  const secrets = createSecretStore(opts.kubeConfig, opts.namespace, opts.config['admission_controller.certificate.secret_name']);
  const webhooks = createWebhookConfigurationStore(opts.kubeConfig, webhookName);
  const settings = certificateSettings(opts.config, names);
  const published = new PublicationTracker();

  const queue = new WorkQueue<Key>({
    reconcile: async (key) => {
      // A reconcile that hangs (an API server that stopped answering) is abandoned and retried, and
      // one in progress stops when leadership is lost.
      const call = AbortSignal.any([signal, AbortSignal.timeout(RECONCILE_TIMEOUT_MS)]);
      const result =
        key === 'certificate'
          ? await reconcileCertificate({ secrets, webhooks, settings, published, logger: log }, call)
          : await reconcileWebhookConfiguration({ webhooks, secrets, config: opts.config, namespace: opts.namespace, logger: log, ...(opts.webhookUrl ? { webhookUrl: opts.webhookUrl } : {}) }, call);
      log.debug(key === 'certificate' ? `Secret ${secretKey} reconciled successfully` : `Webhook ${webhookName} reconciled successfully`);
      return result;
    },
    onError: (key, e, retryInMs) => log.warn({ key, problem: describeApiError(e), retryInMs }, `reconcile of ${key === 'certificate' ? `Secret ${secretKey}` : `Webhook ${webhookName}`} failed; retrying`),
  });
  const enqueue = (key: Key, why: string) => {
    log.debug({ key, why }, `Adding object with key ${key === 'certificate' ? secretKey : webhookName} to the queue`);
    queue.add(key);
  };

  log.info(`Starting secrets controller for ${secretKey}`);
  const secretWatch = watchSecret(opts, core, () => {
    enqueue('certificate', 'the Secret changed');
    // The caBundle is the Secret's certificate.
    enqueue('webhook', 'the Secret changed');
  }, log);
  const webhookWatch = watchNamed<k8s.V1MutatingWebhookConfiguration>({
    kubeConfig: opts.kubeConfig,
    path: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
    name: webhookName,
    list: (fieldSelector) => admissionApi.listMutatingWebhookConfiguration({ fieldSelector }),
    onChange: () => {
      enqueue('webhook', 'the MutatingWebhookConfiguration changed');
      // A new CA may now be trusted by the API server: the certificate controller waits for that.
      enqueue('certificate', 'the MutatingWebhookConfiguration changed');
    },
    logger: log,
    what: `MutatingWebhookConfiguration ${webhookName}`,
  });
  const resync = setInterval(() => {
    enqueue('certificate', 'periodic resync');
    enqueue('webhook', 'periodic resync');
  }, RESYNC_INTERVAL_MS);
  resync.unref();

  return new Promise((resolve) => {
    signal.addEventListener(
      'abort',
      () => {
        clearInterval(resync);
        void Promise.all([secretWatch.stop(), webhookWatch.stop(), queue.shutdown()]).then(() => {
          log.info('controllers stopped');
          resolve();
        });
      },
      { once: true },
    );
  });
}

export function startControllers(opts: ControllersOptions): RunningControllers {
  const log = opts.logger;
  const identity = opts.identity ?? defaultIdentity();
  const core = opts.kubeConfig.makeApiClient(k8s.CoreV1Api);

  // Every replica serves the certificate the Secret holds, whoever wrote it.
  let served: string | undefined;
  const follower = watchSecret(
    opts,
    core,
    (secret) => {
      const certPem = secretValue(secret, SECRET_CERT_KEY);
      const keyPem = secretValue(secret, SECRET_KEY_KEY);
      if (!certPem || !keyPem || certPem + keyPem === served) return;
      try {
        opts.onCertificate(certPem, keyPem);
        served = certPem + keyPem;
        log.info('serving the certificate from the Secret');
      } catch (e) {
        log.warn({ problem: (e as Error).message }, 'the Secret holds a certificate that cannot be served; keeping the current one');
      }
    },
    log,
  );

  let leaderWork: Promise<void> | undefined;
  const elector: LeaderElector = startLeaderElection({
    leases: createLeaseClient(opts.kubeConfig, opts.namespace, opts.config.leader_lease_name),
    identity,
    leaseDurationMs: opts.config.leader_lease_duration * 1000,
    logger: log,
    onStartedLeading: (signal) => {
      leaderWork = runLeaderControllers(opts, signal);
    },
    // Before the Lease is released (or lost), so that a former leader never writes next to a new one.
    onStoppedLeading: async () => {
      log.info('no longer the leader: stopping the controllers');
      await leaderWork;
    },
  });

  return {
    identity,
    isLeader: () => elector.isLeader(),
    async stop() {
      await elector.stop();
      await follower.stop();
    },
  };
}
