/**
 * STUB (helper i10-d-cli): the real platform detection is written by another helper on its own branch;
 * the lead takes that file at merge. Same signature; detects nothing.
 */
import type { KubeReader } from '../kube/reader.js';
import type { Platform } from './check.js';

export async function detectPlatform(_kube: KubeReader, _signal: AbortSignal): Promise<Platform> {
  return { gkeAutopilot: false, gke: false, eks: false, aks: false, openshift: false, rancher: false, evidence: [] };
}
