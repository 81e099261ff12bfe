/** The "Leader Election" section: who holds the Lease, since when, last renewal, hand-overs. Pure. */
import type { Lease, Read } from './objects.js';
import type { LeaderElectionStatus } from './types.js';

export function leaderElectionStatus(namespace: string, name: string, read: Read<Lease>, now: Date): LeaderElectionStatus {
  const lease = `${namespace}/${name}`;
  if (!read.ok) return { lease, state: 'Failing', error: read.error };
  if (!read.value) return { lease, state: 'Not started', error: `Lease ${lease} not found: no cluster agent replica has run leader election in this namespace` };
  const spec = read.value.spec ?? {};
  const holder = spec.holderIdentity ?? '';
  const renewed = spec.renewTime ? Date.parse(spec.renewTime) : NaN;
  const duration = spec.leaseDurationSeconds;
  // Held means renewed within its duration: a leader that died keeps its name in the Lease until then.
  const fresh = !Number.isNaN(renewed) && duration !== undefined && renewed + duration * 1000 >= now.getTime();
  const state = holder === '' ? 'Released' : fresh ? 'Running' : 'Expired';
  return {
    lease,
    state,
    ...(holder !== '' ? { holderIdentity: holder } : {}),
    ...(spec.acquireTime ? { acquireTime: spec.acquireTime } : {}),
    ...(spec.renewTime ? { renewTime: spec.renewTime } : {}),
    ...(duration !== undefined ? { leaseDurationSeconds: duration } : {}),
    transitions: spec.leaseTransitions ?? 0,
  };
}
