/**
 * What a node agent needs in RBAC to read its kubelet (the kubelet asks the API server, with a
 * SubjectAccessReview, whether the caller may get `nodes/<subresource>`), and the commands that grant
 * it: shared by the node agent's explanation of a 403, diagnose's check and the console's hint.
 */

/** The ClusterRole (and ClusterRoleBinding) name the 403 fix tells to create. */
export const KUBELET_READER_ROLE = 'tether-kubelet-reader';
/** What a node agent needs on the kubelet: `/pods` (proxy, or pods with fine-grained authz) and `/stats`. */
export const KUBELET_READER_RESOURCES = ['nodes/proxy', 'nodes/pods', 'nodes/stats'] as const;

const SERVICE_ACCOUNT_USER = /^system:serviceaccount:([^:]+):([^:]+)$/;

/** The `kubectl` commands that let `user` read the kubelet (`verb`, default `get`). */
export function kubeletRbacFix(user: string | undefined, verb = 'get'): string {
  const sa = user ? SERVICE_ACCOUNT_USER.exec(user) : null;
  const subject = sa ? `--serviceaccount=${sa[1]}:${sa[2]}` : user ? `--user=${user}` : '--serviceaccount=<namespace>:<the node agent\'s service account>';
  const verbs = verb === 'get' ? 'get' : `get,${verb}`;
  return (
    `kubectl create clusterrole ${KUBELET_READER_ROLE} --verb=${verbs} --resource=${KUBELET_READER_RESOURCES.join(',')} && ` +
    `kubectl create clusterrolebinding ${KUBELET_READER_ROLE} --clusterrole=${KUBELET_READER_ROLE} ${subject}`
  );
}
