/**
 * Where the cluster agent runs, as the checks that look at its pods need it: their labels (what a
 * NetworkPolicy or a Service selects) and their containers (what a named port resolves to). Found by
 * the service account the context names: Deployments in Tether's namespace whose pod template runs as
 * it, else the pods that do (a cluster agent started some other way).
 */
import type * as k8s from '@kubernetes/client-node';
import type { DiagnoseContext } from './check.js';

export interface ClusterAgentPods {
  /** What they were found as, for evidence: `Deployment datadog/datadog-cluster-agent`, `Pod datadog/x`. */
  readonly source: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly containers: readonly k8s.V1Container[];
  /** On the node's network: NetworkPolicies do not apply, and the webhook port is the node's. */
  readonly hostNetwork: boolean;
}

/** The service account a pod spec runs as: `default` when it names none. */
const serviceAccountOf = (spec: k8s.V1PodSpec | undefined): string => spec?.serviceAccountName || 'default';

/** Each distinct pod shape of the cluster agent: one per Deployment, else one per pod; empty when none is found. */
export async function findClusterAgentPods(ctx: Pick<DiagnoseContext, 'kube' | 'namespace' | 'serviceAccount' | 'signal'>): Promise<ClusterAgentPods[]> {
  const ns = encodeURIComponent(ctx.namespace);
  const deployments = await ctx.kube.list<k8s.V1Deployment>(`/apis/apps/v1/namespaces/${ns}/deployments`, ctx.signal);
  const fromDeployments = deployments
    .filter((d) => serviceAccountOf(d.spec?.template.spec) === ctx.serviceAccount)
    .map((d) => ({
      source: `Deployment ${ctx.namespace}/${d.metadata?.name ?? ''}`,
      labels: d.spec?.template.metadata?.labels ?? {},
      containers: d.spec?.template.spec?.containers ?? [],
      hostNetwork: d.spec?.template.spec?.hostNetwork === true,
    }));
  if (fromDeployments.length > 0) return fromDeployments;
  const pods = await ctx.kube.list<k8s.V1Pod>(`/api/v1/namespaces/${ns}/pods`, ctx.signal);
  return pods
    .filter((p) => serviceAccountOf(p.spec) === ctx.serviceAccount)
    .map((p) => ({ source: `Pod ${ctx.namespace}/${p.metadata?.name ?? ''}`, labels: p.metadata?.labels ?? {}, containers: p.spec?.containers ?? [], hostNetwork: p.spec?.hostNetwork === true }));
}

/** The container port serving `port` (`admission_controller.port`) in any of `containers`, with its name when it has one. */
export function webhookContainerPort(containers: readonly k8s.V1Container[], port: number): k8s.V1ContainerPort | undefined {
  for (const c of containers) {
    const found = (c.ports ?? []).find((p) => p.containerPort === port && (p.protocol ?? 'TCP') === 'TCP');
    if (found) return found;
  }
  return undefined;
}
