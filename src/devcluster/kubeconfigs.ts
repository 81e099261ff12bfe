/**
 * KubeConfigs for the dev and test cluster's identities: a client certificate (the admin, the
 * controller manager), an impersonated user, a real service-account token.
 */
import * as k8s from '@kubernetes/client-node';
import { isAlreadyExists } from '../kube/errors.js';
import type { Issued } from './pki.js';

/** What these need of a cluster (a ControlPlane is one). */
export interface ClusterAccess {
  /** https://127.0.0.1:PORT */
  readonly server: string;
  /** PEM of the CA the API server's serving certificate chains to */
  readonly caPem: string;
  /** a fresh admin KubeConfig */
  kubeConfig(): k8s.KubeConfig;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** A KubeConfig that authenticates as `user` with the client certificate `id`. */
export function certKubeConfig(server: string, caPem: string, user: string, id: Issued): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'tether-test', server, caData: b64(caPem), skipTLSVerify: false }],
    users: [{ name: user, certData: b64(id.certPem), keyData: b64(id.keyPem) }],
    contexts: [{ name: 'tether-test', cluster: 'tether-test', user }],
    currentContext: 'tether-test',
  });
  return kc;
}

/**
 * A KubeConfig that authenticates as the admin but asks the apiserver to impersonate
 * `user` (client-node sends `Impersonate-User`, from the kubeconfig user's `as`). For a
 * service-account name (`system:serviceaccount:NS:NAME`) the apiserver adds the
 * service-account groups itself. Prefer tokenKubeConfigFor() to exercise real
 * service-account authentication.
 */
export function impersonatingKubeConfig(cp: ClusterAccess, user: string): k8s.KubeConfig {
  const admin = cp.kubeConfig();
  const adminUser = admin.getCurrentUser();
  if (!adminUser) throw new Error('admin kubeconfig has no user');
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: admin.clusters,
    users: [{ ...adminUser, name: 'impersonator', impersonateUser: user }],
    contexts: [{ name: 'impersonate', cluster: admin.clusters[0]!.name, user: 'impersonator' }],
    currentContext: 'impersonate',
  });
  return kc;
}

/**
 * A KubeConfig authenticated with a real bound service-account token (TokenRequest API),
 * i.e. exactly how a pod's service account talks to the apiserver. Creates the namespace
 * and the ServiceAccount if they do not exist.
 */
export async function tokenKubeConfigFor(
  cp: ClusterAccess,
  namespace: string,
  serviceAccountName: string,
  opts: { expirationSeconds?: number } = {},
): Promise<k8s.KubeConfig> {
  const core = cp.kubeConfig().makeApiClient(k8s.CoreV1Api);
  await createIgnoringConflict(() => core.createNamespace({ body: { metadata: { name: namespace } } }));
  await createIgnoringConflict(() =>
    core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: serviceAccountName } } }),
  );
  const tr = await core.createNamespacedServiceAccountToken({
    name: serviceAccountName,
    namespace,
    // No audiences: the token gets the apiserver's own (--api-audiences defaults to the issuer).
    body: { spec: { audiences: [], expirationSeconds: opts.expirationSeconds ?? 3600 } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${serviceAccountName} returned no token`);
  const kc = new k8s.KubeConfig();
  const user = `system:serviceaccount:${namespace}:${serviceAccountName}`;
  kc.loadFromOptions({
    clusters: [{ name: 'tether-test', server: cp.server, caData: b64(cp.caPem), skipTLSVerify: false }],
    users: [{ name: user, token }],
    contexts: [{ name: 'sa', cluster: 'tether-test', user }],
    currentContext: 'sa',
  });
  return kc;
}

async function createIgnoringConflict(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
}
