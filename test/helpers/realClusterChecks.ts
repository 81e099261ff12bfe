/**
 * What the real-node e2e files ask of their cluster the same way: its pods and their readiness, and
 * `tether diagnose -o json` run from outside as the chart's tether-diagnose identity.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type * as k8s from '@kubernetes/client-node';
import type { RealCluster } from '../../src/devcluster/realCluster.js';
import { impersonatingKubeConfig } from '../harness/controlPlane.js';
import { cleanEnv, TETHER_MAIN } from './tether.js';

const run = promisify(execFile);

export const podsOf = async (core: k8s.CoreV1Api, namespace: string, labelSelector: string): Promise<k8s.V1Pod[]> => (await core.listNamespacedPod({ namespace, labelSelector })).items;
export const isReady = (p: k8s.V1Pod): boolean => p.metadata?.deletionTimestamp === undefined && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/** A kubeconfig file that impersonates `user` on the cluster's API server. */
export async function kubeconfigFor(cluster: RealCluster, name: string, user: string): Promise<string> {
  const file = join(cluster.cp.dir, `${name}.kubeconfig`);
  await writeFile(file, impersonatingKubeConfig(cluster.cp, user).exportConfig(), { mode: 0o600 });
  return file;
}

export interface CheckResult {
  name: string;
  status: string;
  summary: string;
  evidence?: string[];
  fix?: string;
}

/** `tether diagnose -o json` as the chart's tether-diagnose identity (exit code aside: findings exit non-zero). */
export async function diagnoseAs(cluster: RealCluster, namespace: string): Promise<CheckResult[]> {
  const kubeconfig = await kubeconfigFor(cluster, 'diagnose', `system:serviceaccount:${namespace}:tether-diagnose`);
  const r = await run(process.execPath, [TETHER_MAIN, 'diagnose', '--kubeconfig', kubeconfig, '-n', namespace, '-o', 'json'], { env: cleanEnv(), timeout: 120_000 }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));
  try {
    return JSON.parse(r.stdout) as CheckResult[];
  } catch {
    throw new Error(`tether diagnose printed no JSON: ${r.stdout.slice(0, 2000)} ${r.stderr.slice(-2000)}`);
  }
}

export const problemsOf = (results: readonly CheckResult[]): CheckResult[] => results.filter((x) => x.status === 'error' || x.status === 'warning');

/** A one-replica Deployment whose pods are `app=<name>` with these labels, annotations and spec. */
export function appDeploymentOf(name: string, namespace: string, pod: { labels: Record<string, string>; annotations?: Record<string, string>; spec: k8s.V1PodSpec }): k8s.V1Deployment {
  return {
    metadata: { name, namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name, ...pod.labels }, ...(pod.annotations ? { annotations: pod.annotations } : {}) }, spec: pod.spec },
    },
  };
}
