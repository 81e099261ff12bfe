/**
 * Everything the cluster agent's controllers ask of the API server, built in one place from a
 * KubeConfig (ARCHITECTURE: only `kube/` constructs API clients): the certificate Secret, the webhook
 * configuration and the leader Lease as narrow stores, and the watches that say when to look again.
 * The controllers take this bundle, so tests can hand them in-memory versions.
 */
import type * as k8s from '@kubernetes/client-node';
import { CLUSTER_AGENT_CA_CONFIGMAP, type TetherConfig } from '../config/index.js';
import { createConfigMapStore, type ConfigMapStore } from './configMaps.js';
import type { Logger } from '../logging/logger.js';
import { createLeaseClient, type LeaseClient } from './leases.js';
import { createSecretStore, type SecretStore } from './secrets.js';
import { kubeConfigTransport } from './transport.js';
import { watchNamed, type NamedWatch } from './watch.js';
import { createWebhookConfigurationStore, type WebhookConfigurationStore } from './webhookConfigurations.js';

export interface ControllerApis {
  readonly secrets: SecretStore;
  readonly webhooks: WebhookConfigurationStore;
  readonly leases: LeaseClient;
  /** The public CA bundle node agents verify the cluster agent API with. */
  readonly caConfigMap: ConfigMapStore;
  /** A watch of the certificate Secret; one per process, shared by the follower and the leader's controllers. */
  watchSecret(logger: Logger): NamedWatch<k8s.V1Secret>;
  watchWebhookConfiguration(logger: Logger): NamedWatch<k8s.V1MutatingWebhookConfiguration>;
}

export function createControllerApis(kubeConfig: k8s.KubeConfig, config: TetherConfig, namespace: string): ControllerApis {
  const secretName = config['admission_controller.certificate.secret_name'];
  const webhookName = config['admission_controller.webhook_name'];
  const transport = kubeConfigTransport(kubeConfig);
  return {
    secrets: createSecretStore(kubeConfig, namespace, secretName),
    webhooks: createWebhookConfigurationStore(kubeConfig, webhookName),
    leases: createLeaseClient(kubeConfig, namespace, config.leader_lease_name),
    caConfigMap: createConfigMapStore(kubeConfig, namespace, CLUSTER_AGENT_CA_CONFIGMAP),
    watchSecret: (logger) =>
      watchNamed<k8s.V1Secret>({ kubeConfig, transport, path: `/api/v1/namespaces/${namespace}/secrets`, name: secretName, logger, what: `Secret ${namespace}/${secretName}` }),
    watchWebhookConfiguration: (logger) =>
      watchNamed<k8s.V1MutatingWebhookConfiguration>({
        kubeConfig,
        transport,
        path: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
        name: webhookName,
        logger,
        what: `MutatingWebhookConfiguration ${webhookName}`,
      }),
  };
}
