import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCgroup } from '../../../../src/nodeagent/intake/attest/cgroup.js';

const ID = 'a'.repeat(8) + '0123456789abcdef'.repeat(3) + 'b'.repeat(8);
const UID = '3f1c2a90-1b2c-4d5e-8f90-0123456789ab';
const UID_ = UID.replace(/-/g, '_');

describe('a process\'s container and pod from /proc/<pid>/cgroup', () => {
  const cases: [string, string, { containerId?: string; podUid?: string }][] = [
    ['cgroup v1, cgroupfs driver, containerd', `12:memory:/kubepods/burstable/pod${UID}/${ID}\n11:pids:/kubepods/burstable/pod${UID}/${ID}\n`, { containerId: ID, podUid: UID }],
    ['cgroup v1, systemd driver, containerd', `5:cpu,cpuacct:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope\n`, { containerId: ID, podUid: UID }],
    ['cgroup v1, systemd driver, cri-o', `3:devices:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-${ID}.scope`, { containerId: ID, podUid: UID }],
    ['cgroup v1, cgroupfs driver, cri-o', `8:pids:/kubepods/pod${UID}/crio-${ID}`, { containerId: ID, podUid: UID }],
    ['docker (no Kubernetes)', `4:memory:/docker/${ID}\n`, { containerId: ID }],
    ['docker, systemd driver', `0::/system.slice/docker-${ID}.scope\n`, { containerId: ID }],
    ['cgroup v2, systemd driver, containerd', `0::/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope\n`, { containerId: ID, podUid: UID }],
    ['cgroup v2 seen from the agent\'s own cgroup namespace', `0::/../../kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope\n`, { containerId: ID, podUid: UID }],
    ['cri-o\'s conmon is not the container (the pod still is)', `0::/kubepods.slice/kubepods-pod${UID_}.slice/crio-conmon-${ID}.scope\n`, { podUid: UID }],
    ['a pod-level cgroup (the pause process)', `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice\n`, { podUid: UID }],
    ['a process of the node (systemd service)', '0::/system.slice/kubelet.service\n', {}],
    ['a process of the node (cgroup v1 with a 32-hex name, as here)', '4:memory:/process_api/51d1c793e074e114c7bfefd3178bc6b0\n0::/\n', {}],
    ['empty or garbage', 'no colons here\n\n::\n', {}],
  ];
  for (const [name, text, expected] of cases) {
    test(name, () => assert.deepEqual(parseCgroup(text), expected));
  }
});
