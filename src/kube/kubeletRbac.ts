/**
 * What a node agent needs in RBAC to read its kubelet (the kubelet asks the API server, with a
 * SubjectAccessReview, whether the caller may get `nodes/<subresource>`), and the commands that grant
 * it: shared by the node agent's explanation of a 403, diagnose's check and the console's hint.
 */

/** The ClusterRole (and ClusterRoleBinding) name the 403 fix tells to create. */
export const KUBELET_READER_ROLE = 'tether-kubelet-reader';
/**
 * What a node agent needs on the kubelet: `/pods`, which kubelets with fine-grained authorization
 * (KubeletFineGrainedAuthz, on by default from 1.33) authorize as `nodes/pods` (kube/apiCalls.ts
 * NODE_AGENT_CALLS). Older kubelets ask for `nodes/proxy` instead, which opens their whole API: the
 * fallback (`KUBELET_PROXY_FALLBACK`), granted only by the chart value that names it.
 */
export const KUBELET_READER_RESOURCES = ['nodes/pods'] as const;
export const KUBELET_PROXY_FALLBACK = 'nodes/proxy';
/** The chart value that adds the fallback to the node agent's ClusterRole. */
export const KUBELET_PROXY_FALLBACK_VALUE = 'agents.rbac.kubeletProxyFallback';

const SERVICE_ACCOUNT_USER = /^system:serviceaccount:([^:]+):([^:]+)$/;

/**
 * The `kubectl` commands that let `user` read the kubelet (`verb`, default `get`): `nodes/pods`; with
 * `proxyOnly` (a kubelet that asked only for nodes/proxy: before 1.33), the fallback, and the chart value.
 */
export function kubeletRbacFix(user: string | undefined, verb = 'get', proxyOnly = false): string {
  const sa = user ? SERVICE_ACCOUNT_USER.exec(user) : null;
  const subject = sa ? `--serviceaccount=${sa[1]}:${sa[2]}` : user ? `--user=${user}` : '--serviceaccount=<namespace>:<the node agent\'s service account>';
  const verbs = verb === 'get' ? 'get' : `get,${verb}`;
  const resources = proxyOnly ? KUBELET_PROXY_FALLBACK : KUBELET_READER_RESOURCES.join(',');
  const commands =
    `kubectl create clusterrole ${KUBELET_READER_ROLE} --verb=${verbs} --resource=${resources} && ` +
    `kubectl create clusterrolebinding ${KUBELET_READER_ROLE} --clusterrole=${KUBELET_READER_ROLE} ${subject}`;
  return proxyOnly
    ? `${commands} (this kubelet authorizes /pods as ${KUBELET_PROXY_FALLBACK}, as before Kubernetes 1.33; with the chart: ${KUBELET_PROXY_FALLBACK_VALUE}=true)`
    : commands;
}
