/**
 * The node's host networking, set up before its kubelet starts and removed after it stops (and swept
 * before a start, after a run that was killed):
 * - the bridge NODE_BRIDGE with NODE_IP, the node's InternalIP and the pods' gateway;
 * - the Service range routed to the bridge: a ClusterIP that kube-proxy has not rewritten (yet) goes
 *   nowhere on the machine instead of following the default route off it (a route to the bridge, not to
 *   a dummy interface: these machines' kernels have no dummy module);
 * - an iptables chain that drops forwarded pod traffic leaving by any interface but the bridge: pods
 *   reach each other, the node, and Services whose endpoints are pods or the node, and nothing else;
 * - the sysctls a node needs (forwarding, bridged traffic through iptables for Services and host
 *   ports), restored afterwards;
 * - kube-proxy's and the CNI plugins' iptables chains, removed on the way out.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { EGRESS_CHAIN, NODE_BRIDGE, NODE_IP, POD_CIDR, POD_PREFIX_LENGTH } from './layout.js';
import { sh, shQuiet } from './hostCommands.js';

const SYSCTLS: Readonly<Record<string, string>> = {
  'net/ipv4/ip_forward': '1',
  'net/bridge/bridge-nf-call-iptables': '1',
  'net/bridge/bridge-nf-call-ip6tables': '1',
};

export interface NodeNetwork {
  /** Removes what up() added and restores the sysctls it changed. */
  down(): Promise<void>;
}

export async function setUpNodeNetwork(serviceCidr: string): Promise<NodeNetwork> {
  await sweepNodeNetwork();
  const previous: Record<string, string> = {};
  for (const [key, value] of Object.entries(SYSCTLS)) {
    const file = `/proc/sys/${key}`;
    previous[key] = (await readFile(file, 'utf8')).trim();
    await writeFile(file, value);
  }
  await sh('ip', ['link', 'add', NODE_BRIDGE, 'type', 'bridge']);
  await sh('ip', ['addr', 'add', `${NODE_IP}/${POD_PREFIX_LENGTH}`, 'dev', NODE_BRIDGE]);
  await sh('ip', ['link', 'set', NODE_BRIDGE, 'up']);
  await sh('ip', ['route', 'add', serviceCidr, 'dev', NODE_BRIDGE]);
  await sh('iptables', ['-w', '-N', EGRESS_CHAIN]);
  await sh('iptables', ['-w', '-A', EGRESS_CHAIN, '-o', NODE_BRIDGE, '-j', 'RETURN']);
  await sh('iptables', ['-w', '-A', EGRESS_CHAIN, '-j', 'DROP']);
  await sh('iptables', ['-w', '-I', 'FORWARD', '1', '-s', POD_CIDR, '-j', EGRESS_CHAIN]);
  return {
    async down() {
      await sweepNodeNetwork();
      for (const [key, value] of Object.entries(previous)) await writeFile(`/proc/sys/${key}`, value).catch(() => undefined);
    },
  };
}

/** Removes everything a node (this run's or a killed one's) left in the host's network. */
export async function sweepNodeNetwork(): Promise<void> {
  // The Service route goes with the bridge.
  await shQuiet('ip', ['link', 'del', NODE_BRIDGE]);
  while (await shQuiet('iptables', ['-w', '-D', 'FORWARD', '-s', POD_CIDR, '-j', EGRESS_CHAIN]));
  await shQuiet('iptables', ['-w', '-F', EGRESS_CHAIN]);
  await shQuiet('iptables', ['-w', '-X', EGRESS_CHAIN]);
  await removeChains(/^(KUBE-|CNI-)/);
}

/**
 * Deletes every chain whose name matches, in the filter and nat tables, with the rules that jump to
 * them: kube-proxy's KUBE-* and the portmap plugin's CNI-* (the node's only; nothing else here uses them).
 */
async function removeChains(name: RegExp): Promise<void> {
  for (const table of ['nat', 'filter', 'mangle']) {
    const rules = await sh('iptables-save', ['-t', table]).catch(() => '');
    const chains = new Set<string>();
    for (const line of rules.split('\n')) {
      const m = /^:(\S+)/.exec(line);
      if (m && name.test(m[1]!)) chains.add(m[1]!);
    }
    if (chains.size === 0) continue;
    // Jumps from the built-in chains first, then flush all, then delete all (chains reference each other).
    for (const line of rules.split('\n')) {
      const m = /^-A (\S+) (.*-j (\S+).*)$/.exec(line);
      if (m && !chains.has(m[1]!) && chains.has(m[3]!)) await shQuiet('iptables', ['-w', '-t', table, '-D', m[1]!, ...splitRule(m[2]!)]);
    }
    for (const c of chains) await shQuiet('iptables', ['-w', '-t', table, '-F', c]);
    for (const c of chains) await shQuiet('iptables', ['-w', '-t', table, '-X', c]);
  }
}

/** An iptables-save rule's arguments, quoted comments kept whole. */
export function splitRule(rule: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(rule); m; m = re.exec(rule)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}
