/**
 * A process's container and pod, read off its `/proc/<pid>/cgroup` (pure). What the node agent does
 * with a Unix socket peer's pid (`SO_PEERCRED`, `SCM_CREDENTIALS`), as the stack's agent does: the
 * kernel says who sent, the cgroup path says which container that is.
 *
 * The paths Kubernetes runtimes make, cgroup v1 (one line per hierarchy) and v2 (`0::<path>`):
 * - cgroupfs driver:  `/kubepods/burstable/pod<uid>/<64 hex>` (containerd, docker), `/kubepods/pod<uid>/crio-<64 hex>`;
 * - systemd driver:   `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid with _>.slice/cri-containerd-<64 hex>.scope`
 *                     (`crio-<id>.scope` for cri-o, `docker-<id>.scope` for docker);
 * - in the agent's own cgroup namespace (v2, the default with containerd), the same path relative to its
 *   own cgroup: `/../../kubepods-…-pod<uid>.slice/cri-containerd-<id>.scope`.
 * cri-o's `crio-conmon-<id>.scope` is its monitor process, not the container: no id from it. A process in
 * no container (the node's own, or a test) has no id and no pod.
 */

export interface CgroupFacts {
  /** The container's 64-hex id, as the kubelet's `containerID` has it after `containerd://`. */
  readonly containerId?: string;
  /** The pod's UID, from the `pod<uid>` part of the path (with `-`, whatever the driver wrote). */
  readonly podUid?: string;
}

const CONTAINER_SEGMENT = /^(?:(?:cri-containerd|crio|docker|containerd)-)?([0-9a-f]{64})(?:\.scope)?$/;
const POD_UID = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;

/** The container and pod of the first line that names them; `{}` for a process in no container. */
export function parseCgroup(text: string): CgroupFacts {
  let containerId: string | undefined;
  let podUid: string | undefined;
  for (const line of text.split('\n')) {
    // `hierarchy-id:controllers:path`; the path may itself hold colons (never in these names).
    const second = line.indexOf(':', line.indexOf(':') + 1);
    if (second < 0) continue;
    const segments = line.slice(second + 1).split('/');
    for (let i = segments.length - 1; i >= 0; i--) {
      const seg = segments[i]!;
      if (containerId === undefined && !seg.startsWith('crio-conmon-')) {
        const m = CONTAINER_SEGMENT.exec(seg);
        if (m) containerId = m[1];
      }
      if (podUid === undefined) {
        const m = POD_UID.exec(seg);
        if (m) podUid = m[1]!.replace(/_/g, '-');
      }
    }
    if (containerId !== undefined && podUid !== undefined) break;
  }
  return { ...(containerId !== undefined ? { containerId } : {}), ...(podUid !== undefined ? { podUid } : {}) };
}
