/**
 * Check 6 (issue 10): can the control plane reach the webhook? With failurePolicy Ignore a webhook the
 * API server cannot call fails open: pods are created, uninjected, and nothing says why except the API
 * server's own log. So the check asks the API server itself: a server-side dry-run create of a labelled
 * probe pod (nothing is stored) goes through every webhook entry exactly as a real pod would, and each
 * entry's mark on the returned pod says whether the API server reached it. When none did, the fix is the
 * platform's network step (GKE private cluster firewall, EKS security group, host network with a custom
 * CNI or Rancher on EKS), since that is where the seeds found the cause.
 *
 * Failing open leaves no trace in the answer: the API server (1.35, tried) returns the unmutated pod with
 * no Warning header and no message; only its log ("Failed calling webhook, failing open …") and the audit
 * annotation `failed-open.mutation.webhook.admission.k8s.io/…` record it. Hence the marks, and, with
 * failurePolicy Fail, the refusal's own message as evidence.
 */
import { entryName, knownEntries, type EntryId } from '../../admission/webhooks.js';
import {
  ANNOTATION_PREFIX,
  DEFAULT_PORT,
  ENABLED_LABEL,
  ENV_ENTITY_ID,
  NEVER_MUTATED_NAMESPACES,
  UNIFIED_SERVICE_TAGS,
  type TetherConfig,
  type WebhookKind,
  CLUSTER_AGENT_DEPLOYMENT,
} from '../../config/index.js';
import { ApiError } from '../../kube/reader.js';
import { ok, problem, skipped, type Check, type CheckOutcome, type DiagnoseContext, type Platform } from '../check.js';
import { platformName } from '../platform.js';
import { CHECK_TIMEOUT_MS } from '../run.js';
import type { ListedPod } from '../pods.js';
import { describeSelector, selectorMatches, type LabelSelector } from '../labelSelector.js';

/** The cluster agent's Deployment as deploy/cluster-agent.yaml and the chart name it (for the host-network fix). */
/** The namespace the probe goes to unless told otherwise: where most applications are, and sent to the webhook by default. */
export const DEFAULT_PROBE_NAMESPACE = 'default';
export const PROBE_NAME_PREFIX = 'tether-diagnose-probe-';
/** The probe's service tag: the tags webhook turns it into DD_SERVICE, which is that entry's mark. */
export const PROBE_SERVICE = 'tether-diagnose-probe';
/** The probe asks for a library so that the library webhook's init container is its mark; the image is never pulled (dry run). */
const PROBE_LIB_LANGUAGE = 'java';
const PROBE_LIB_VERSION = 'latest';
/**
 * How long the probe may take. A reachable webhook answers in milliseconds; past this the API server is
 * waiting out timeouts, which is itself the finding. Below the runner's bound so the check can say so.
 */
export const PROBE_WAIT_MS = (CHECK_TIMEOUT_MS * 3) / 4;
const SERVICE_TAG_LABEL = UNIFIED_SERVICE_TAGS.find((t) => t.tag === 'service')!;

export interface WebhookEntry {
  readonly name: string;
  readonly clientConfig?: { readonly url?: string; readonly service?: { readonly namespace?: string; readonly name?: string; readonly port?: number; readonly path?: string } };
  readonly failurePolicy?: string;
  readonly timeoutSeconds?: number;
  readonly namespaceSelector?: LabelSelector;
  readonly objectSelector?: LabelSelector;
}

export interface MutatingWebhookConfiguration {
  readonly metadata?: { readonly name?: string };
  readonly webhooks?: readonly WebhookEntry[];
}

interface NamespaceObject {
  readonly metadata?: { readonly name?: string; readonly labels?: Record<string, string> };
}

/** Pure: the probe pod, mutatable by all three webhooks and acceptable under the `restricted` Pod Security level. */
export function probePod(): ListedPod & { metadata: { generateName: string } } {
  return {
    metadata: {
      generateName: PROBE_NAME_PREFIX,
      labels: { [ENABLED_LABEL]: 'true', [SERVICE_TAG_LABEL.label]: PROBE_SERVICE },
      annotations: { [`${ANNOTATION_PREFIX}${PROBE_LIB_LANGUAGE}-lib.version`]: PROBE_LIB_VERSION },
    },
    spec: {
      containers: [
        {
          name: 'probe',
          image: 'registry.k8s.io/pause:3.10',
          securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, runAsUser: 65535, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
        },
      ],
    },
  } as ListedPod & { metadata: { generateName: string } };
}

/** Pure: whether the returned probe carries `kind`'s mark, i.e. the API server called that entry and applied its patch. */
export function probeCarries(kind: WebhookKind, pod: ListedPod): boolean {
  const containers = pod.spec?.containers ?? [];
  const env = containers.flatMap((c) => c.env ?? []);
  switch (kind) {
    case 'config':
      return env.some((e) => e.name === ENV_ENTITY_ID);
    case 'tags':
      return env.some((e) => e.name === SERVICE_TAG_LABEL.env && e.value === PROBE_SERVICE);
    case 'lib':
      return (pod.spec?.initContainers ?? []).some((c) => c.name === `datadog-lib-${PROBE_LIB_LANGUAGE}-init`);
  }
}

/** An entry of Tether's found in the configuration, with the webhooks it runs. */
export interface FoundEntry {
  readonly id: EntryId;
  readonly kinds: readonly WebhookKind[];
  readonly entry: WebhookEntry;
}

/** Pure: Tether's entries among `webhooks`, in either shape (the three entries, or the single one). */
export function tetherEntriesIn(webhooks: readonly WebhookEntry[], config: TetherConfig): FoundEntry[] {
  return knownEntries(config).flatMap(({ id, kinds }) => {
    const entry = webhooks.find((w) => w.name === entryName({ id, kinds }, config));
    return entry ? [{ id, kinds, entry }] : [];
  });
}

/** Pure: the entries whose marks the returned probe lacks; the single entry's mark is that of every webhook it runs. */
export function entriesWithoutMark(entries: readonly FoundEntry[], pod: ListedPod): FoundEntry[] {
  return entries.filter(({ kinds }) => !kinds.every((kind) => probeCarries(kind, pod)));
}

/**
 * Pure: where to send the probe. The given namespace, else `default`, else the first other one; it must
 * be one every entry is sent to (namespaceSelector), and not one Tether never mutates (its own, kube-system).
 */
export function chooseProbeNamespace(
  namespaces: readonly NamespaceObject[],
  entries: readonly WebhookEntry[],
  tetherNamespace: string,
  wanted: string | undefined,
): { namespace: string } | { why: string } {
  const never = new Set<string>([tetherNamespace, ...NEVER_MUTATED_NAMESPACES]);
  const labelsOf = (ns: string) => namespaces.find((n) => n.metadata?.name === ns)?.metadata?.labels;
  const sentTo = (ns: string) => {
    const labels = labelsOf(ns);
    return labels !== undefined && entries.every((e) => selectorMatches(e.namespaceSelector ?? {}, labels)) // absent: the API server's default, every namespace;
  };
  if (wanted !== undefined) {
    if (never.has(wanted)) return { why: `namespace ${wanted} is never mutated (${wanted === tetherNamespace ? "Tether's own" : 'kube-system'}): give a namespace applications run in` };
    if (!labelsOf(wanted)) return { why: `namespace ${wanted} does not exist` };
    if (!sentTo(wanted)) return { why: `the webhook is not sent pods of namespace ${wanted} (namespaceSelector ${describeSelector(entries[0]?.namespaceSelector)})` };
    return { namespace: wanted };
  }
  const names = namespaces.flatMap((n) => (n.metadata?.name ? [n.metadata.name] : [])).sort();
  const ordered = [DEFAULT_PROBE_NAMESPACE, ...names.filter((n) => n !== DEFAULT_PROBE_NAMESPACE)];
  const found = ordered.find((ns) => !never.has(ns) && sentTo(ns));
  return found ? { namespace: found } : { why: `no namespace is sent to every webhook entry (namespaceSelector ${describeSelector(entries[0]?.namespaceSelector)})` };
}

/** Pure: where an entry sends reviews, as the seeds' status shows it. */
export function describeTarget(e: WebhookEntry): string {
  const s = e.clientConfig?.service;
  if (s) return `Service ${s.namespace}/${s.name} port ${s.port ?? 443} path ${s.path ?? '/'}`;
  return `URL ${e.clientConfig?.url ?? '(none)'}`;
}

/** Pure: the network step the platform needs so its control plane reaches port `port` on the cluster agent's pods. */
export function reachabilityFix(platform: Platform | undefined, config: TetherConfig, namespace: string, entries: readonly WebhookEntry[]): string {
  const port = config['admission_controller.port'];
  const steps: string[] = [];
  const hostNetwork = `run the cluster agent on the host network so the control plane reaches it at the node's address: kubectl patch deployment/${CLUSTER_AGENT_DEPLOYMENT} -n ${namespace} -p '{"spec":{"template":{"spec":{"hostNetwork":true,"dnsPolicy":"ClusterFirstWithHostNet"}}}}'`;
  const gkeFirewall =
    `GKE private cluster: the control plane may reach the nodes only on 443 and 10250; allow TCP ${port} from the control-plane range: ` +
    `gcloud compute firewall-rules create allow-datadog-webhook --network <NETWORK> --direction INGRESS --allow tcp:${port} --source-ranges <CONTROL_PLANE_CIDR> --target-tags <NODE_TAG> ` +
    `(the range: gcloud container clusters describe <CLUSTER> --format 'value(privateClusterConfig.masterIpv4CidrBlock)'), or add tcp:${port} to the existing rule gke-<CLUSTER>-master.`;
  const eksGroup =
    `EKS: the nodes' security group needs an inbound rule for TCP ${port} from the cluster security group: ` +
    `aws ec2 authorize-security-group-ingress --group-id <NODE_SECURITY_GROUP> --protocol tcp --port ${port} --source-group <CLUSTER_SECURITY_GROUP> ` +
    `(the cluster's: aws eks describe-cluster --name <CLUSTER> --query cluster.resourcesVpcConfig.clusterSecurityGroupId; add it to every node group's security group).`;
  if (platform?.rancher && platform.eks) {
    steps.push(`Rancher on EKS: ${hostNetwork}.`, eksGroup);
  } else if (platform?.gke) {
    steps.push(platform.rancher ? `Rancher on GKE: ${gkeFirewall}` : gkeFirewall);
  } else if (platform?.eks) {
    steps.push(eksGroup, `With a custom CNI (Calico, Cilium) the EKS control plane cannot reach pod IPs at all: ${hostNetwork}.`);
  } else {
    steps.push(
      `Check what stands between the API server and the webhook: the Service's ready endpoints, a NetworkPolicy on port ${port}, a firewall between the control plane's network and the nodes on TCP ${port}.`,
    );
  }
  const urls = entries.filter((e) => !e.clientConfig?.service && e.clientConfig?.url);
  if (urls.length) steps.unshift(`The entries call ${urls[0]!.clientConfig!.url!.replace(/\/[^/]*$/, '')}: the API server must reach that address, and Tether must be listening there.`);
  steps.push(`The API server logs each failure as "Failed calling webhook, failing open <entry>: …" with the reason (on EKS, in the control-plane logs in CloudWatch).`);
  return steps.join(' ');
}

async function platformOf(ctx: DiagnoseContext): Promise<Platform | undefined> {
  try {
    return await ctx.platform();
  } catch {
    return undefined; // The generic step is still right; only less specific.
  }
}

export const webhookReachable: Check = {
  name: 'webhook-reachable',
  finds: "The control plane cannot reach the webhook: a server-side dry-run create of a labelled probe pod comes back without injection (failing open hides it).",
  fixes: `Open TCP ${DEFAULT_PORT} (admission_controller.port) from the control plane to the cluster agent pods: a GKE private cluster firewall rule, an EKS security-group inbound rule, or host networking with a custom CNI or Rancher on EKS.`,
  async run(ctx): Promise<CheckOutcome> {
    const name = ctx.config['admission_controller.webhook_name'];
    const mwc = await ctx.kube.get<MutatingWebhookConfiguration>(`/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${name}`, ctx.signal);
    if (!mwc) return skipped(`no MutatingWebhookConfiguration ${name}, so there is nothing to probe (see the webhook configuration check)`);
    const entries = tetherEntriesIn(mwc.webhooks ?? [], ctx.config);
    if (!entries.length) return skipped(`MutatingWebhookConfiguration ${name} has none of Tether's entries (see the webhook configuration check)`);

    const namespaces = await ctx.kube.list<NamespaceObject>('/api/v1/namespaces', ctx.signal);
    const where = chooseProbeNamespace(
      namespaces,
      entries.map((e) => e.entry),
      ctx.namespace,
      ctx.probeNamespace,
    );
    if ('why' in where) return skipped(`no namespace to probe: ${where.why}`);

    const evidence = entries.map(({ entry }) => `entry ${entry.name}: ${describeTarget(entry)}, failurePolicy ${entry.failurePolicy ?? 'Fail'}`);
    let returned: ListedPod;
    const waited = AbortSignal.timeout(PROBE_WAIT_MS);
    try {
      returned = await ctx.kube.create<ListedPod>(`/api/v1/namespaces/${where.namespace}/pods`, probePod(), AbortSignal.any([ctx.signal, waited]), { dryRun: 'All' });
    } catch (e) {
      if (waited.aborted && !ctx.signal.aborted) {
        // A webhook that answers at all answers in milliseconds: this long, the API server is waiting out
        // each entry's timeoutSeconds on an address that drops the packets (a firewall, a security group).
        const platform = await platformOf(ctx);
        return problem(
          'error',
          `the control plane cannot reach the webhook: a dry-run pod create in namespace ${where.namespace} got no answer within ${PROBE_WAIT_MS / 1000} s, the API server waiting on the webhook`,
          [...evidence, ...entries.map(({ entry }) => `entry ${entry.name}: timeoutSeconds ${entry.timeoutSeconds ?? 10}`), ...(platform ? [`platform: ${platformName(platform)}`, ...platform.evidence] : [])],
          reachabilityFix(platform, ctx.config, ctx.namespace, entries.map((x) => x.entry)),
        );
      }
      if (!(e instanceof ApiError) || e.status === 403 || e.status === 0) throw e;
      // failurePolicy Fail: the API server refuses the pod and says why, which is the best evidence there is.
      if (/failed calling webhook/i.test(e.message)) {
        const platform = await platformOf(ctx);
        return problem(
          'error',
          `the API server could not call the webhook: a dry-run pod in namespace ${where.namespace} was refused (failurePolicy Fail)`,
          [...evidence, `dry-run create refused: ${e.message}`, ...(platform ? [`platform: ${platformName(platform)}`] : [])],
          reachabilityFix(platform, ctx.config, ctx.namespace, entries.map((x) => x.entry)),
        );
      }
      return problem(
        'warning',
        `the probe pod was refused in namespace ${where.namespace}, so reaching the webhook could not be tested`,
        [...evidence, `dry-run create refused: ${e.message}`],
        `Probe another namespace (--probe-namespace) whose policies admit a plain pod, or read the refusal above: something other than Tether rejected the pod.`,
      );
    }

    const missing = entriesWithoutMark(entries, returned);
    evidence.push(`probe pod dry-run in namespace ${where.namespace}: ${entries.map(({ id, entry }) => `${entry.name} ${missing.some((m) => m.id === id) ? 'did not mutate it' : 'mutated it'}`).join('; ')}`);
    if (!missing.length) return ok(`the API server called every webhook entry for a dry-run probe pod in namespace ${where.namespace}`, evidence);

    const platform = await platformOf(ctx);
    if (platform) evidence.push(`platform: ${platformName(platform)}`, ...platform.evidence);
    if (missing.length === entries.length) {
      return problem(
        'error',
        `the control plane cannot reach the webhook: a dry-run pod in namespace ${where.namespace} came back without injection (failurePolicy Ignore hides the failure)`,
        evidence,
        reachabilityFix(platform, ctx.config, ctx.namespace, entries.map((x) => x.entry)),
      );
    }
    return problem(
      'error',
      `${missing.map((m) => m.entry.name).join(', ')} did not mutate a dry-run pod in namespace ${where.namespace} while ${entries.length - missing.length} other entr${entries.length - missing.length === 1 ? 'y' : 'ies'} did`,
      evidence,
      `The API server reaches Tether, so the failing entries' own path or answer is wrong: compare their path with admission_controller.<webhook>.endpoint and read Tether's log for those requests. ${missing
        .map((m) => `${m.entry.name}: ${describeTarget(m.entry)}`)
        .join('; ')}.`,
    );
  },
};
