/**
 * Pods whose library init container cannot get its image (issue 18): the version annotation names a
 * `dd-lib-<lang>-init` tag that is not on the node and cannot be pulled (a typo, a version that was never
 * released, a registry the cluster cannot reach, an air-gapped cluster where nobody loaded it). The pod
 * never starts, which users see as "injection does nothing": the events say ErrImagePull,
 * ImagePullBackOff or ErrImageNeverPull on `datadog-lib-<lang>-init`.
 */
import { ENABLED_LABEL, isBuildableLibLanguage, LIB_LANGUAGES, type LibLanguage } from '../../config/index.js';
import { libInitContainerName } from '../../admission/libInjection.js';
import { ok, problem, type Check, type CheckOutcome } from '../check.js';
import { capLines } from '../evidence.js';

/** The waiting reasons of a container whose image is not there and will not come by itself. */
export const IMAGE_WAIT_REASONS: ReadonlySet<string> = new Set(['ErrImagePull', 'ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName']);

/** The parts of a listed pod this check reads. */
export interface PodWithInitStatus {
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly spec?: { readonly initContainers?: readonly { readonly name: string; readonly image?: string }[] };
  readonly status?: { readonly initContainerStatuses?: readonly { readonly name: string; readonly image?: string; readonly state?: { readonly waiting?: { readonly reason?: string; readonly message?: string } } }[] };
}

export interface StuckLibInit {
  readonly namespace: string;
  readonly pod: string;
  readonly lang: LibLanguage;
  readonly image: string;
  readonly reason: string;
}

const LANG_OF = new Map<string, LibLanguage>(LIB_LANGUAGES.map((l) => [libInitContainerName(l), l]));

/** Pure: each library init container waiting for an image it cannot get. */
export function stuckLibInits(pods: readonly PodWithInitStatus[]): StuckLibInit[] {
  const out: StuckLibInit[] = [];
  for (const p of pods) {
    for (const s of p.status?.initContainerStatuses ?? []) {
      const lang = LANG_OF.get(s.name);
      const reason = s.state?.waiting?.reason;
      if (!lang || !reason || !IMAGE_WAIT_REASONS.has(reason)) continue;
      const image = p.spec?.initContainers?.find((c) => c.name === s.name)?.image ?? s.image ?? '';
      out.push({ namespace: p.metadata?.namespace ?? '', pod: p.metadata?.name ?? '', lang, image, reason });
    }
  }
  return out;
}

/** Pure: the tag of an image reference (`…:v5.1.0` → `v5.1.0`), or '' when it has none. */
export function imageTag(image: string): string {
  const m = /:([^:/@]+)$/.exec(image.split('@')[0] ?? '');
  return m?.[1] ?? '';
}

/** Pure: what to do, per image: load the image built from the library's own package, or fix the annotation. */
export function libInitFix(stuck: readonly StuckLibInit[]): string {
  const images = [...new Map(stuck.map((s) => [s.image, s])).values()];
  const steps = images.map((s) => {
    const tag = imageTag(s.image);
    const version = tag.replace(/^v/, '');
    const registry = s.image.slice(0, s.image.lastIndexOf(`/dd-lib-${s.lang}-init`));
    const build = isBuildableLibLanguage(s.lang) && /^\d+\.\d+\.\d+$/.test(version) ? `tether image lib ${s.lang} ${version} --registry ${registry} (then --load on each node, or crane push the archive to ${registry})` : `push ${s.image} to its registry`;
    return `${s.image}: check that ${s.lang} library ${tag || '(no tag)'} exists (fix admission.datadoghq.com/${s.lang}-lib.version on the workload's pod template if not); if the nodes cannot reach ${registry || 'the registry'}, ${build}`;
  });
  return capLines(steps).join('; ');
}

export const libInitImages: Check = {
  name: 'lib-init-images',
  finds: 'Pods that never start because their library init container (datadog-lib-<lang>-init) cannot get its image: a library version that does not exist, or a registry the nodes cannot reach.',
  fixes: 'Fix admission.datadoghq.com/<lang>-lib.version to a released version, or make the image reachable: `tether image lib <lang> <version> --registry <registry>` builds it from the library\'s package, to load into the nodes or push to a registry they reach (clusterAgent.admissionController.containerRegistry).',
  async run(ctx): Promise<CheckOutcome> {
    // Every pod the webhooks may have mutated: labelled, or unlabelled under mutate_unlabelled.
    const pods = await ctx.kube.list<PodWithInitStatus>('/api/v1/pods', ctx.signal, { labelSelector: `${ENABLED_LABEL}!=false` });
    const stuck = stuckLibInits(pods);
    if (!stuck.length) return ok(`no library init container is waiting for its image (${pods.length} pods looked at)`);
    const podCount = new Set(stuck.map((s) => `${s.namespace}/${s.pod}`)).size;
    return problem(
      'error',
      `${podCount} pod${podCount === 1 ? '' : 's'} cannot start: the library init image${stuck.length === 1 ? '' : 's'} ${[...new Set(stuck.map((s) => s.image))].join(', ')} cannot be pulled`,
      capLines(stuck.map((s) => `pod ${s.pod} -n ${s.namespace}: init container ${libInitContainerName(s.lang)} waiting (${s.reason}) for ${s.image}`)),
      libInitFix(stuck),
    );
  },
};
