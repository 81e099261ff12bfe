/**
 * A pod's tags for `/api/v1/tether/pods/{node}`: the one tagger (`tagging/podTags.ts`, shared with the
 * tags webhook and the node agent) over what the cluster view knows of the pod, its workload and the
 * Services that select it. Taken by the API as a dependency, so tests can fix the tags they expect.
 */
import { podTags } from '../tagging/podTags.js';
import type { ClusterView, PodView } from './types.js';

/** All the tags of `pod`, sorted. */
export type TagsOf = (view: ClusterView, pod: PodView) => string[];

export const defaultTagsOf: TagsOf = (view, pod) => {
  const workload = view.workloadOf(pod);
  return podTags({ ...pod, ...(workload ? { workload } : {}), services: view.servicesOf(pod) });
};
