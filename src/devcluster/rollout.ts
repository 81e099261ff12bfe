/**
 * Waiting for an installed release's workloads the way a user reads them (`kubectl get pods`): every
 * replica of the cluster agent Deployment and every node agent DaemonSet pod updated, Running and Ready
 * (their real readiness probes). A timeout is one error that says what each pod was doing and the last
 * warning events, not "context deadline exceeded".
 */
import * as k8s from '@kubernetes/client-node';
import { CLUSTER_AGENT_DEPLOYMENT, NODE_AGENT_NAME } from '../config/index.js';

export class RolloutError extends Error {}

export interface ReleaseWorkloads {
  readonly namespace: string;
  /** Default true: the chart's agents.enabled. */
  readonly nodeAgents?: boolean;
}

/** Resolves once the cluster agent Deployment and the node agent DaemonSet are fully rolled out and Ready. */
export async function waitForRelease(kc: k8s.KubeConfig, w: ReleaseWorkloads, timeoutMs = 180_000): Promise<void> {
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      last = await notReady(apps, w);
      if (!last) return;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new RolloutError(`Tether's pods in ${w.namespace} were not all Ready after ${Math.round(timeoutMs / 1000)} s: ${last}\n${await describePods(kc, w.namespace)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** What is not rolled out yet ('' when everything is). */
async function notReady(apps: k8s.AppsV1Api, w: ReleaseWorkloads): Promise<string> {
  const problems: string[] = [];
  const d = await apps.readNamespacedDeployment({ name: CLUSTER_AGENT_DEPLOYMENT, namespace: w.namespace });
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  if ((s.observedGeneration ?? 0) < (d.metadata?.generation ?? 0) || (s.updatedReplicas ?? 0) < want || (s.readyReplicas ?? 0) < want || (s.replicas ?? 0) > want) {
    problems.push(`Deployment ${CLUSTER_AGENT_DEPLOYMENT}: ${s.readyReplicas ?? 0}/${want} ready, ${s.updatedReplicas ?? 0} updated, ${s.replicas ?? 0} in all`);
  }
  if (w.nodeAgents ?? true) {
    const ds = await apps.readNamespacedDaemonSet({ name: NODE_AGENT_NAME, namespace: w.namespace });
    const st = ds.status;
    const desired = st?.desiredNumberScheduled ?? 0;
    if (!st || (st.observedGeneration ?? 0) < (ds.metadata?.generation ?? 0) || desired === 0 || (st.updatedNumberScheduled ?? 0) < desired || st.numberReady < desired) {
      problems.push(`DaemonSet ${NODE_AGENT_NAME}: ${st?.numberReady ?? 0}/${desired} ready, ${st?.updatedNumberScheduled ?? 0} updated`);
    }
  }
  return problems.join('; ');
}

/** One line per pod (phase, each container's state) and the last warning events of the namespace. */
export async function describePods(kc: k8s.KubeConfig, namespace: string): Promise<string> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const lines: string[] = [];
  try {
    for (const p of (await core.listNamespacedPod({ namespace })).items) {
      const containers = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])].map((c) => {
        const st = c.state?.waiting ? `waiting (${c.state.waiting.reason ?? ''}${c.state.waiting.message ? `: ${c.state.waiting.message}` : ''})` : c.state?.terminated ? `terminated (${c.state.terminated.reason ?? c.state.terminated.exitCode})` : 'running';
        return `${c.name} ${st}${c.ready ? ' ready' : ''}, ${c.restartCount} restarts`;
      });
      const unscheduled = p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status !== 'True');
      lines.push(`  pod ${p.metadata?.name}: ${p.status?.phase}${unscheduled ? ` (unscheduled: ${unscheduled.message ?? unscheduled.reason})` : ''}${containers.length ? `; ${containers.join('; ')}` : ''}`);
    }
    const warnings = (await core.listNamespacedEvent({ namespace })).items.filter((e) => e.type === 'Warning').slice(-8);
    for (const e of warnings) lines.push(`  event ${e.involvedObject.kind}/${e.involvedObject.name} ${e.reason}: ${e.message}`);
  } catch (e) {
    lines.push(`  (cannot list pods or events: ${(e as Error).message})`);
  }
  return lines.join('\n');
}
