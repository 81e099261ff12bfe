/**
 * The answers of the cluster agent API's data endpoints (SPEC §9), computed from the `ClusterView`: pure
 * functions of the view and the path parameters, so each shape is tested byte for byte without a server.
 *
 * The stack's shapes are what Go's encoding/json writes: map keys sorted, struct fields in declaration
 * order. `/api/v1/tags/pod/{node}` is built as text directly (no intermediate objects): it is what every
 * node agent asks every few seconds.
 *
 * Unknown objects, compared with the stack's cluster agent:
 * - `/api/v1/tags/pod/{node}` for a node it knows nothing about: 200 with no entry for the node and a
 *   warning, as the stack answers (its node agents read an absent node as "no services");
 * - `/api/v1/tags/pod/{node}/{ns}/{pod}` for a pod not bound to that node: 404 with the stack's 404 text
 *   (the stack itself answers 200 `null` there, which node agents cannot tell from "no Service");
 * - node and namespace labels of an unknown object: 404 with the stack's 404 texts (the stack answers 500
 *   with its cache's error, which reads as a cluster agent failure);
 * - `/api/v1/cluster/id` before namespace kube-system has been seen: 503 (the stack: 500).
 * `/api/v1/tether/pods/{node}` answers an empty list for a node without pods: the node agent compares it
 * with its kubelet's pods and says what differs.
 *
 * Before every watch has listed once, the data endpoints answer 503 (`notSyncedAnswer`), never an empty
 * answer: a node agent told `{"pods":[]}` would replace its tags with the kubelet's alone and lose
 * `kube_service`, `kube_deployment` and the owner tags on every rollout of the cluster agent; told 503, it
 * keeps the tags of its last good answer and asks again.
 */
import type { PodTagsEntry } from '../../agentapi/types.js';
import type { ClusterView, PodView } from '../../clusterview/types.js';
import type { TagsOf } from '../../clusterview/tags.js';

export interface Answer {
  readonly status: number;
  readonly body: string;
  /** Default JSON. */
  readonly text?: boolean;
}

const json = (body: string): Answer => ({ status: 200, body });
const text = (status: number, body: string): Answer => ({ status, body: body + '\n', text: true });

/** Said with a 404 while the watches have not all listed: the object may just not be known yet. */
function notSyncedNote(view: ClusterView): string {
  return view.isSynced() ? '' : " (the cluster agent's state is not synced yet: it may not know this object yet)";
}

const q = JSON.stringify;

interface Mapped {
  readonly pod: PodView;
  readonly services: readonly string[];
}

const byNamespaceThenName = (a: Mapped, b: Mapped): number =>
  a.pod.namespace < b.pod.namespace ? -1 : a.pod.namespace > b.pod.namespace ? 1 : a.pod.name < b.pod.name ? -1 : a.pod.name > b.pod.name ? 1 : 0;

/** The watches that have not listed yet, named (`pods (not listed yet)`, `nodes (failing: …)`). */
export function watchesBehind(view: ClusterView): string {
  const behind = view
    .syncStatus()
    .filter((s) => !s.synced || s.lastError !== undefined)
    .map((s) => `${s.resource} (${s.lastError ? `failing: ${s.lastError}` : 'not listed yet'})`);
  return behind.join(', ') || 'unknown';
}

/**
 * A data endpoint's answer before the cluster agent's watches have all listed once: 503, in the stack's
 * shape where it has one (its metadata map answers 503 with `{"Nodes":…,"Warnings":[],"Errors":"…"}`
 * when it cannot reach the API server), else text naming the watches behind.
 */
export function notSyncedAnswer(view: ClusterView, jsonShape: boolean): Answer {
  const why = `the cluster agent has not synced its watches with the API server yet: ${watchesBehind(view)}; ask again shortly`;
  if (jsonShape) return { status: 503, body: `{"Nodes":{},"Warnings":[],"Errors":${q(why)}}` };
  return text(503, why);
}

/** `GET /api/v1/tags/pod/{node}`: `{"Nodes":{"<node>":{"services":{"<ns>":{"<pod>":{"<svc>":{}}}}}},"Warnings":[],"Errors":""}`. */
export function podServicesAnswer(view: ClusterView, node: string): Answer {
  const mapped: Mapped[] = [];
  let known = false;
  for (const pod of view.podsOfNode(node)) {
    known = true;
    const services = view.servicesOf(pod);
    if (services.length > 0) mapped.push({ pod, services });
  }
  if (!known && view.nodeLabels(node) === undefined) {
    const warning = `Node ${node} could not be added to the metadata map bundle: the cluster agent knows no Node object and no pod bound to it${notSyncedNote(view)}`;
    return json(`{"Nodes":{},"Warnings":[${q(warning)}],"Errors":""}`);
  }
  mapped.sort(byNamespaceThenName);
  let out = `{"Nodes":{${q(node)}:{"services":{`;
  let namespace: string | undefined;
  for (const { pod, services } of mapped) {
    if (pod.namespace !== namespace) {
      out += namespace === undefined ? `${q(pod.namespace)}:{` : `},${q(pod.namespace)}:{`;
      namespace = pod.namespace;
    } else out += ',';
    out += `${q(pod.name)}:{`;
    for (let i = 0; i < services.length; i++) out += (i === 0 ? '' : ',') + q(services[i]) + ':{}';
    out += '}';
  }
  if (namespace !== undefined) out += '}';
  return json(out + '}}},"Warnings":[],"Errors":""}');
}

/** `GET /api/v1/tags/pod/{node}/{ns}/{pod}`: `["kube_service:<svc>", …]`. */
export function podTagsAnswer(view: ClusterView, node: string, namespace: string, name: string): Answer {
  const pod = view.pod(namespace, name);
  if (!pod || pod.node !== node) return text(404, `Could not find associated metadata mapped to the pod: ${namespace}/${name} on node: ${node}${notSyncedNote(view)}`);
  return json(q(view.servicesOf(pod).map((s) => `kube_service:${s}`)));
}

/** A string map with its keys sorted, as Go writes a `map[string]string`. */
function sortedMap(m: Readonly<Record<string, string>>): string {
  return q(m, Object.keys(m).sort());
}

/** `GET /api/v1/tags/node/{node}`: the node's labels. */
export function nodeLabelsAnswer(view: ClusterView, node: string): Answer {
  const labels = view.nodeLabels(node);
  if (!labels) return text(404, `Could not find labels on the node: ${node}${notSyncedNote(view)}`);
  return json(sortedMap(labels));
}

/** `GET /api/v1/tags/namespace/{ns}`: the namespace's labels. */
export function namespaceLabelsAnswer(view: ClusterView, namespace: string): Answer {
  const labels = view.namespaceLabels(namespace);
  if (!labels) return text(404, `Could not find labels of the namespace: ${namespace}${notSyncedNote(view)}`);
  return json(sortedMap(labels));
}

/** `GET /api/v1/cluster/id`: kube-system's UID, as a JSON string. */
export function clusterIdAnswer(view: ClusterView): Answer {
  const id = view.clusterId();
  if (id === undefined) return text(503, `the cluster id is not known yet: the cluster agent has not seen namespace kube-system${notSyncedNote(view)}`);
  return json(q(id));
}

/** `GET /api/v1/tether/pods/{node}`: the node's pods with all their tags, sorted by namespace and name. */
export function nodePodsAnswer(view: ClusterView, node: string, tagsOf: TagsOf): Answer {
  const pods: PodView[] = [...view.podsOfNode(node)];
  pods.sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const entries: PodTagsEntry[] = pods.map((p) => ({ namespace: p.namespace, name: p.name, uid: p.uid, tags: tagsOf(view, p) }));
  return json(q({ node, pods: entries }));
}
