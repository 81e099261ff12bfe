/**
 * A whole cluster on this machine with Tether installed as users install it: the control plane in node
 * mode, a real node (containerd, kubelet, kube-proxy, scheduler, CoreDNS), the Tether image and the
 * test app image built here and loaded into the node (no registry is reachable), and the chart installed
 * by `helm install` with those images. The webhook is called through its Service, the node agents run
 * as the DaemonSet's pods: what `tether dev --node real` and the real-node e2e tests share.
 */
import { performance } from 'node:perf_hooks';
import type { BuiltImage } from './images/build.js';
import { buildImage } from './images/build.js';
import { startControlPlane, type ControlPlane } from './controlPlane.js';
import { chartDir, helm, valuesFile } from './helm.js';
import { checkNodePrerequisites } from './node/prerequisites.js';
import { startRealNode, type RealNode } from './node/realNode.js';
import { waitForRelease } from './rollout.js';
import { StartError } from './processes.js';

export interface RealClusterOptions {
  /** Tether's namespace (the chart's release namespace). */
  readonly namespace: string;
  /** The Helm release name (default `tether`). */
  readonly release?: string;
  /** Chart values for `helm install` (the image is always the one built here). */
  readonly values?: Record<string, unknown>;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
  readonly readyTimeoutMs?: number;
}

export interface RealCluster {
  readonly cp: ControlPlane;
  readonly node: RealNode;
  readonly namespace: string;
  readonly release: string;
  readonly images: { readonly tether: BuiltImage; readonly intakeApp: BuiltImage };
  /**
   * Figures of the start, in seconds: the images built while the control plane starts (the longer of the
   * two), the node's start, `helm install` to every Tether pod Ready.
   */
  readonly timings: { readonly imagesSeconds: number; readonly nodeSeconds: number; readonly installSeconds: number };
  /** `helm upgrade` of the release with these values (merged over the install's), then waits for the rollout. */
  upgrade(values: Record<string, unknown>): Promise<number>;
  stop(): Promise<void>;
}

export async function startRealCluster(o: RealClusterOptions): Promise<RealCluster> {
  const log = o.log ?? (() => undefined);
  const release = o.release ?? 'tether';
  const readyTimeoutMs = o.readyTimeoutMs ?? 240_000;
  await checkNodePrerequisites();
  const t0 = performance.now();
  log('building the images (tether, pause, intake-app) and starting the control plane');
  const imagesP = Promise.all([buildImage('pause', { log }), buildImage('tether', { log }), buildImage('intake-app', { log })]);
  const cpP = startControlPlane({ node: true });
  const [images, cp] = await Promise.allSettled([imagesP, cpP]).then(async ([i, c]) => {
    if (i.status === 'fulfilled' && c.status === 'fulfilled') return [i.value, c.value] as const;
    if (c.status === 'fulfilled') await c.value.stop();
    throw i.status === 'rejected' ? i.reason : (c as PromiseRejectedResult).reason;
  });
  const [pause, tether, intakeApp] = images;
  const imagesSeconds = (performance.now() - t0) / 1000;
  let node: RealNode | undefined;
  try {
    log('starting the node (containerd, kubelet, kube-proxy, kube-scheduler, CoreDNS)');
    const tNode = performance.now();
    node = await startRealNode(cp, { sandboxImage: pause.archivePath, images: [tether.archivePath, intakeApp.archivePath] });
    const nodeSeconds = (performance.now() - tNode) / 1000;
    const n = node;
    const base = ['--kubeconfig', cp.kubeconfigPath, '--namespace', o.namespace];
    const imageValues = imageValuesFor(tether);
    const install = async (verb: 'install' | 'upgrade', values: Record<string, unknown>): Promise<number> => {
      const t = performance.now();
      const r = await helm([verb, release, chartDir(), ...base, ...(verb === 'install' ? ['--create-namespace'] : ['--reuse-values']), '-f', valuesFile(values), '-f', valuesFile(imageValues)], { timeoutMs: readyTimeoutMs });
      if (r.code !== 0) throw new StartError(`helm ${verb} ${release} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
      await waitForRelease(cp.kubeConfig(), { namespace: o.namespace, nodeAgents: (values['agents'] as { enabled?: boolean } | undefined)?.enabled ?? true }, readyTimeoutMs);
      return (performance.now() - t) / 1000;
    };
    log(`helm install ${release} (namespace ${o.namespace}, image ${tether.ref})`);
    const installSeconds = await install('install', o.values ?? {});
    let stopped: Promise<void> | undefined;
    return {
      cp,
      node: n,
      namespace: o.namespace,
      release,
      images: { tether, intakeApp },
      timings: { imagesSeconds, nodeSeconds, installSeconds },
      upgrade: (values) => install('upgrade', values),
      stop: () =>
        (stopped ??= (async () => {
          await n.stop();
          await cp.stop();
        })()),
    };
  } catch (e) {
    await node?.stop().catch(() => undefined);
    await cp.stop();
    throw e;
  }
}

/** The chart values that point both agents at the image built here (the tag is its reference's). */
export function imageValuesFor(image: BuiltImage): Record<string, unknown> {
  const at = image.ref.lastIndexOf(':');
  const imageValue = { repository: image.ref.slice(0, at), tag: image.ref.slice(at + 1), pullPolicy: 'IfNotPresent' };
  return { clusterAgent: { image: imageValue }, agents: { image: imageValue } };
}
