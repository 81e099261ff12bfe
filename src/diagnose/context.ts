/**
 * The context every check runs with: configuration, Tether's namespace, the cluster agent's service
 * account, a read-only API client, the platform (detected once, on first use), the clock, and a signal
 * that ends the whole run after `DIAGNOSE_TIMEOUT_MS`.
 */
import type * as k8s from '@kubernetes/client-node';
import { CLUSTER_AGENT_DEPLOYMENT, CLUSTER_AGENT_SERVICE_ACCOUNT, type TetherConfig } from '../config/index.js';
import { ApiError, createKubeReader, type KubeReader } from '../kube/reader.js';
import type { DiagnoseContext, Platform } from './check.js';
import { detectPlatform } from './platform.js';

/** The whole run may take this long (each check is bounded too: `CHECK_TIMEOUT_MS`). */
export const DIAGNOSE_TIMEOUT_MS = 180_000;

/**
 * The cluster agent's Deployment (deploy/cluster-agent.yaml) and the service account used when there is
 * none: the name deploy/ and the chart use. NOTE for the merge: other checks may define the same names;
 * keep one (config/conventions.ts).
 */

export interface ServiceAccountChoice {
  readonly name: string;
  /** Where the name came from, in words (`--service-account`, the Deployment, the default). */
  readonly source: string;
}

interface DeploymentLike {
  spec?: { template?: { spec?: { serviceAccountName?: string; serviceAccount?: string } } };
}

/**
 * `--service-account`, else the Deployment's pod template's, else the default. A Deployment that cannot
 * be read (forbidden, unreachable) falls back to the default rather than stopping every check; a pod
 * template without one runs as `default`, as Kubernetes does.
 */
export async function resolveServiceAccount(flag: string | undefined, kube: KubeReader, namespace: string, signal: AbortSignal): Promise<ServiceAccountChoice> {
  if (flag) return { name: flag, source: '--service-account' };
  const where = `Deployment ${namespace}/${CLUSTER_AGENT_DEPLOYMENT}`;
  try {
    const d = await kube.get<DeploymentLike>(`/apis/apps/v1/namespaces/${namespace}/deployments/${CLUSTER_AGENT_DEPLOYMENT}`, signal);
    if (d) {
      const pod = d.spec?.template?.spec;
      return { name: pod?.serviceAccountName || pod?.serviceAccount || 'default', source: where };
    }
    return { name: CLUSTER_AGENT_SERVICE_ACCOUNT, source: `default (no ${where})` };
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    return { name: CLUSTER_AGENT_SERVICE_ACCOUNT, source: `default (could not read ${where}: ${e.message})` };
  }
}

/** Runs `f` once, on first call; every caller gets the same promise (a failure is not retried). */
export function once<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
}

export interface ContextParts {
  readonly config: TetherConfig;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly kube: KubeReader;
  readonly detectPlatform: (kube: KubeReader, signal: AbortSignal) => Promise<Platform>;
  readonly now?: () => Date;
  readonly signal: AbortSignal;
}

export function createDiagnoseContext(p: ContextParts): DiagnoseContext {
  return {
    config: p.config,
    namespace: p.namespace,
    serviceAccount: p.serviceAccount,
    kube: p.kube,
    platform: once(() => p.detectPlatform(p.kube, p.signal)),
    now: p.now ?? (() => new Date()),
    signal: p.signal,
  };
}

export interface LoadContextOptions {
  readonly config: TetherConfig;
  readonly namespace: string;
  readonly serviceAccountFlag?: string;
  /** From `kube/client.ts` `loadKubeConfig` (`--kubeconfig`, `--context`, as `tether start` finds it). */
  readonly kubeConfig: k8s.KubeConfig;
  readonly timeoutMs?: number;
}

/** The context for a run: a reader over the kubeconfig, the service account, the run's deadline. */
export async function loadDiagnoseContext(o: LoadContextOptions): Promise<{ ctx: DiagnoseContext; serviceAccount: ServiceAccountChoice }> {
  const kube = createKubeReader(o.kubeConfig);
  const signal = AbortSignal.timeout(o.timeoutMs ?? DIAGNOSE_TIMEOUT_MS);
  const serviceAccount = await resolveServiceAccount(o.serviceAccountFlag, kube, o.namespace, signal);
  const ctx = createDiagnoseContext({ config: o.config, namespace: o.namespace, serviceAccount: serviceAccount.name, kube, detectPlatform, signal });
  return { ctx, serviceAccount };
}
