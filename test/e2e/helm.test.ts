/**
 * The Helm chart (deploy/helm/tether, issue 11) without installing it: `helm lint`, deploy/*.yaml still what
 * the chart renders, `helm template` for the default values and each provider preset with checks of what
 * each must get right (injection mode, sockets and hostPath, AKS selectors, host network, policies, the
 * token rule, values.schema.json), and every rendering applied with a server-side dry run to a real
 * control plane (CiliumNetworkPolicy and SecurityContextConstraints against minimal CRDs installed here).
 * The real install, upgrade and uninstall are in helmInstall.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { AGENT_STACK_ENV_VARS, AUTH_TOKEN_MIN_LENGTH, CONFIG_KEYS, envVarFor, parseConfig, type TetherConfig } from '../../src/config/index.js';
import { startControlPlane, type ControlPlane } from '../harness/controlPlane.js';
import { eventually } from '../helpers/eventually.js';
import { CHART_DIR, helm, helmBinary, helmNotes, helmTemplate, RENDER_DEPLOY_SCRIPT, valuesFile } from '../helpers/helm.js';
import type { ManifestDoc } from '../helpers/manifests.js';

const run = promisify(execFile);

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } };
}
interface Container {
  name: string;
  env: EnvVar[];
  ports: { name: string; containerPort: number; hostPort?: number; protocol: string }[];
  securityContext: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  hostNetwork?: boolean;
  dnsPolicy?: string;
  securityContext?: Record<string, unknown>;
  affinity?: { podAntiAffinity?: Record<string, unknown> };
  containers: Container[];
  volumes?: { name: string; hostPath?: { path: string; type: string } }[];
}
type Workload = ManifestDoc & { spec: { replicas?: number; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } };

/** The presets of the README, each with what it is meant to fix. */
const PRESETS: Record<string, { values: Record<string, unknown>; extra?: string[] }> = {
  default: { values: {} },
  'gke-autopilot': { values: { providers: { gke: { autopilot: true } }, datadog: { apm: { portEnabled: true, socketEnabled: true }, dogstatsd: { useSocketVolume: true } } } },
  aks: { values: { providers: { aks: { enabled: true } } } },
  openshift: { values: { datadog: { apm: { socketEnabled: true } }, agents: { podSecurity: { securityContextConstraints: { create: true } } } }, extra: ['--api-versions', 'quota.openshift.io/v1', '--api-versions', 'security.openshift.io/v1'] },
  'rancher-eks': { values: { clusterAgent: { useHostNetwork: true } } },
  sockets: { values: { datadog: { apm: { socketEnabled: true }, dogstatsd: { useSocketVolume: true } } } },
  'apm-port': { values: { datadog: { apm: { portEnabled: true } } } },
  'network-policy': { values: { datadog: { networkPolicy: { create: true, flavor: 'kubernetes' } } } },
  'cilium-policy': { values: { datadog: { networkPolicy: { create: true, flavor: 'cilium', controlPlaneCIDRs: ['10.0.0.0/8'] } }, agents: { otlp: { tracesEndpoint: 'http://jaeger-collector.tracing:4318/v1/traces' } } } },
  'kubelet-ca': { values: { datadog: { kubelet: { tlsVerify: true, hostCAPath: '/etc/kubernetes/pki/ca.crt' }, clusterName: 'prod', tags: ['team:a', 'env:prod'] } } },
  diagnose: { values: { diagnose: { rbac: { create: true } } } },
  'single-entry': { values: { clusterAgent: { admissionController: { webhookEntries: 'single' } } } },
  // configMode socket asked for without any socket value: the node agent still needs both sockets.
  'socket-mode': { values: { clusterAgent: { admissionController: { configMode: 'socket' } } } },
  'dogstatsd-host-port': { values: { datadog: { dogstatsd: { useHostPort: true } } } },
  'otlp-policy': {
    values: {
      agents: { otlp: { endpoint: 'http://otel-collector.observability:4318/', metricsEndpoint: 'https://metrics.example/api/v1/otlp/v1/metrics', retry: { maxIntervalSeconds: 10, maxElapsedSeconds: 120 } } },
      datadog: { networkPolicy: { create: true, flavor: 'kubernetes' } },
    },
  },
};

/**
 * Where each preset's injected pods send their DogStatsD and traces (the cluster agent's injection mode),
 * and so what the node agent must expose: host ports (hostip, or asked for), sockets (socket mode, or
 * asked for, where hostPath is allowed).
 */
const INTAKE: Record<keyof typeof PRESETS & string, { mode: 'hostip' | 'service' | 'socket'; hostPorts: number[]; sockets: boolean }> = {
  default: { mode: 'service', hostPorts: [], sockets: false },
  'single-entry': { mode: 'service', hostPorts: [], sockets: false },
  'gke-autopilot': { mode: 'hostip', hostPorts: [8125, 8126], sockets: false },
  aks: { mode: 'service', hostPorts: [], sockets: false },
  openshift: { mode: 'hostip', hostPorts: [8125, 8126], sockets: false },
  'rancher-eks': { mode: 'service', hostPorts: [], sockets: false },
  sockets: { mode: 'socket', hostPorts: [], sockets: true },
  'apm-port': { mode: 'hostip', hostPorts: [8125, 8126], sockets: false },
  'network-policy': { mode: 'service', hostPorts: [], sockets: false },
  'cilium-policy': { mode: 'service', hostPorts: [], sockets: false },
  'kubelet-ca': { mode: 'service', hostPorts: [], sockets: false },
  diagnose: { mode: 'service', hostPorts: [], sockets: false },
  'socket-mode': { mode: 'socket', hostPorts: [], sockets: true },
  'dogstatsd-host-port': { mode: 'service', hostPorts: [8125], sockets: false },
  'otlp-policy': { mode: 'service', hostPorts: [], sockets: false },
};

const rendered = new Map<string, ManifestDoc[]>();
const render = async (preset: string): Promise<ManifestDoc[]> => {
  let docs = rendered.get(preset);
  if (!docs) {
    const p = PRESETS[preset]!;
    docs = await helmTemplate(p.values, p.extra ?? []);
    rendered.set(preset, docs);
  }
  return docs;
};

const find = (docs: ManifestDoc[], kind: string, name?: string): ManifestDoc[] => docs.filter((d) => d.kind === kind && (name === undefined || d.metadata?.name === name));
function one<T = ManifestDoc>(docs: ManifestDoc[], kind: string, name?: string): T {
  const found = find(docs, kind, name);
  assert.equal(found.length, 1, `exactly one ${kind}${name ? ` ${name}` : ''}: ${found.length}`);
  return found[0] as T;
}
const clusterAgent = (docs: ManifestDoc[]): Workload => one<Workload>(docs, 'Deployment', 'datadog-cluster-agent');
const nodeAgent = (docs: ManifestDoc[]): Workload => one<Workload>(docs, 'DaemonSet', 'datadog-agent');
const podOf = (w: Workload): PodSpec => w.spec.template.spec;

/** The cluster agent's configuration as `tether start` would read it from the Deployment's literal env. */
function clusterAgentConfig(docs: ManifestDoc[]): TetherConfig {
  const env = Object.fromEntries(podOf(clusterAgent(docs)).containers[0]!.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
  return parseConfig({ env });
}

/**
 * The node agent's configuration as `tether node-agent` would read it from the DaemonSet's literal env (a
 * variable without value or valueFrom is set to "" in the container, as Kubernetes does).
 */
function nodeAgentConfig(docs: ManifestDoc[]): TetherConfig {
  const env = Object.fromEntries(podOf(nodeAgent(docs)).containers[0]!.env.filter((e) => !e.valueFrom).map((e) => [e.name, e.value ?? '']));
  return parseConfig({ env });
}

/** Tether's defaults: the ports tracers and DogStatsD clients use when the webhook gives them only a host. */
const DEFAULTS = parseConfig({ env: {} });

/** Every hostPath volume of every pod template. */
const hostPaths = (docs: ManifestDoc[]): string[] =>
  docs.flatMap((d) => ((d as Workload).spec?.template?.spec?.volumes ?? []).filter((v) => v.hostPath).map((v) => `${d.kind}/${d.metadata?.name}: ${v.hostPath!.path}`));

const hostPorts = (docs: ManifestDoc[]): number[] => podOf(nodeAgent(docs)).containers[0]!.ports.flatMap((p) => (p.hostPort ? [p.hostPort] : []));

let cp: ControlPlane;

before(
  async () => {
    // The control plane (for the dry runs) and helm build in parallel.
    [cp] = await Promise.all([startControlPlane({ controllerManager: false }), helmBinary()]);
    const admin = cp.kubeConfig();
    await admin.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: 'datadog' } } });
    const ext = admin.makeApiClient(k8s.ApiextensionsV1Api);
    for (const crd of [minimalCrd('cilium.io', 'CiliumNetworkPolicy', 'ciliumnetworkpolicies', 'Namespaced', 'v2'), minimalCrd('security.openshift.io', 'SecurityContextConstraints', 'securitycontextconstraints', 'Cluster', 'v1')]) {
      await ext.createCustomResourceDefinition({ body: crd });
    }
    await eventually('the CRDs to be served', async () => {
      for (const name of ['ciliumnetworkpolicies.cilium.io', 'securitycontextconstraints.security.openshift.io']) {
        const c = await ext.readCustomResourceDefinition({ name });
        assert.ok(c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True'), name);
      }
    });
  },
  { timeout: 60 * 60_000 },
);

after(async () => {
  await cp?.stop();
});

/** A CRD that accepts any object of its kind: enough to dry-run the chart's objects of that kind. */
function minimalCrd(group: string, kind: string, plural: string, scope: 'Namespaced' | 'Cluster', version: string): k8s.V1CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope,
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [{ name: version, served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } } }],
    },
  };
}

describe('the chart as a whole', () => {
  test('helm lint: no warning or error, with the defaults and with every preset', async () => {
    for (const [name, p] of Object.entries(PRESETS)) {
      // lint has no --api-versions: OpenShift forced by its value instead of detected.
      const values = p.extra ? { ...p.values, providers: { openshift: { enabled: true } } } : p.values;
      const r = await helm(['lint', CHART_DIR, '--strict', '-f', valuesFile(values)]);
      assert.equal(r.code, 0, `${name}: ${r.stdout}${r.stderr}`);
      assert.doesNotMatch(r.stdout, /\[(WARNING|ERROR)\]/, `${name}: ${r.stdout}`);
    }
  });

  test('deploy/*.yaml are what the chart renders (node scripts/render-deploy.mjs --check)', async () => {
    const env = { ...process.env, HELM: await helmBinary() };
    await run(process.execPath, [RENDER_DEPLOY_SCRIPT, '--check'], { env }).catch((e: { stderr?: string }) => assert.fail(`deploy/ drifted from the chart: ${e.stderr}`));
  });

  test('every environment variable the agents get is a Tether key (envVarFor), one the agent stack reads, or Node\'s NODE_OPTIONS', async () => {
    // NODE_OPTIONS is read by Node itself (clusterAgent.nodeOptions).
    const known = new Set([...CONFIG_KEYS.map(envVarFor), ...AGENT_STACK_ENV_VARS, 'NODE_OPTIONS']);
    for (const preset of Object.keys(PRESETS)) {
      const docs = await render(preset);
      for (const w of [clusterAgent(docs), nodeAgent(docs)]) {
        for (const e of podOf(w).containers[0]!.env) assert.ok(known.has(e.name), `${preset}: ${w.kind} sets ${e.name}, which nothing reads`);
      }
    }
  });
});

describe('helm template: the default values', () => {
  test('cluster agent: 2 replicas, a PDB, spread by hostname, probes, resources, restricted context', async () => {
    const docs = await render('default');
    const d = clusterAgent(docs);
    assert.equal(d.spec.replicas, 2);
    const pdb = one<ManifestDoc & { spec: { minAvailable: number; selector: unknown } }>(docs, 'PodDisruptionBudget');
    assert.equal(pdb.spec.minAvailable, 1);
    const pod = podOf(d);
    assert.match(JSON.stringify(pod.affinity?.podAntiAffinity), /"topologyKey":"kubernetes.io\/hostname"/);
    assert.deepEqual(pod.securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const c = pod.containers[0] as Container & { readinessProbe: { httpGet: { path: string } }; livenessProbe: { httpGet: { path: string } }; resources: { requests: unknown } };
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.ok(c.resources.requests);
    assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    assert.equal(pod.hostNetwork, undefined);
  });

  test("the cluster agent runs with the chart's Node flags (the young generation kept small: issue 22's memory), the node agent with Node's own; \"\" removes them", async () => {
    const envOf = (w: Workload) => new Map((podOf(w).containers[0]!.env ?? []).map((e) => [e.name, e.value]));
    const docs = await render('default');
    assert.equal(envOf(clusterAgent(docs)).get('NODE_OPTIONS'), '--max-semi-space-size=4');
    assert.equal(envOf(nodeAgent(docs)).has('NODE_OPTIONS'), false);
    assert.equal(envOf(clusterAgent(await helmTemplate({ clusterAgent: { nodeOptions: '' } }))).has('NODE_OPTIONS'), false);
  });

  test('the configuration the cluster agent reads is valid and what the values say: mode service, Ignore, port 8000', async () => {
    const docs = await render('default');
    const config = clusterAgentConfig(docs);
    assert.equal(config['admission_controller.inject_config.mode'], 'service');
    assert.equal(config['admission_controller.failure_policy'], 'Ignore');
    assert.equal(config['admission_controller.port'], 8000);
    assert.equal(config['admission_controller.webhook_name'], 'datadog-webhook');
    assert.equal(config['admission_controller.mutate_unlabelled'], false);
    assert.equal(config['admission_controller.add_aks_selectors'], false);
    assert.equal(config.log_level, 'info');
    // Service mode's node-local Service, keeping traffic on the node.
    const local = one<ManifestDoc & { spec: { internalTrafficPolicy: string; selector: Record<string, string> } }>(docs, 'Service', config['admission_controller.inject_config.local_service_name']);
    assert.equal(local.spec.internalTrafficPolicy, 'Local');
    assert.deepEqual(local.spec.selector, { 'app.kubernetes.io/name': 'datadog-agent' });
    assert.deepEqual(hostPaths(docs), [], 'no hostPath anywhere');
    assert.deepEqual(hostPorts(docs), [], 'no host port');
  });

  test('Services: admission 443 → 8000, cluster agent API 5005; node agent: node name and host IP from the downward API', async () => {
    const docs = await render('default');
    const adm = one<ManifestDoc & { spec: { ports: { port: number; targetPort: string }[] } }>(docs, 'Service', 'datadog-admission-controller');
    assert.deepEqual(adm.spec.ports.map((p) => [p.port, p.targetPort]), [[443, 'webhook']]);
    assert.equal(podOf(clusterAgent(docs)).containers[0]!.ports.find((p) => p.name === 'webhook')?.containerPort, 8000);
    const api = one<ManifestDoc & { spec: { ports: { port: number }[] } }>(docs, 'Service', 'datadog-cluster-agent');
    assert.deepEqual(api.spec.ports.map((p) => p.port), [5005]);
    const env = new Map(podOf(nodeAgent(docs)).containers[0]!.env.map((e) => [e.name, e]));
    assert.deepEqual(env.get('DD_KUBERNETES_KUBELET_NODENAME')?.valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
    assert.deepEqual(env.get('DD_KUBERNETES_KUBELET_HOST')?.valueFrom, { fieldRef: { fieldPath: 'status.hostIP' } });
    const kubelet = one<ManifestDoc & { rules: unknown }>(docs, 'ClusterRole', 'datadog-agent');
    assert.deepEqual(kubelet.rules, [{ apiGroups: [''], resources: ['nodes/pods'], verbs: ['get'] }]);
    const fallback = one<ManifestDoc & { rules: unknown }>(await helmTemplate({ agents: { rbac: { kubeletProxyFallback: true } } }), 'ClusterRole', 'datadog-agent');
    assert.deepEqual(fallback.rules, [{ apiGroups: [''], resources: ['nodes/pods', 'nodes/proxy'], verbs: ['get'] }]);
    assert.equal(find(docs, 'ClusterRole', 'tether-diagnose').length, 0, 'tether-diagnose is opt-in');
    assert.equal(find(docs, 'NetworkPolicy').length, 0, 'network policies are opt-in');
  });

  test('the objects Tether writes at runtime are the release\'s (so uninstall removes them); the certificate Secret is not', async () => {
    const docs = await render('default');
    one(docs, 'MutatingWebhookConfiguration', 'datadog-webhook');
    one(docs, 'ConfigMap', 'datadog-cluster-agent-ca');
    one(docs, 'ConfigMap', 'datadog-node-agents');
    one(docs, 'Lease', 'datadog-leader-election');
    assert.equal(find(docs, 'Secret', 'webhook-certificate').length, 0);
    const mwc = one<ManifestDoc & { webhooks?: unknown }>(docs, 'MutatingWebhookConfiguration');
    assert.equal(mwc.webhooks, undefined, 'the entries are the leader\'s: an upgrade leaves them alone');
  });
});

describe('helm template: provider presets', () => {
  test('GKE Autopilot: sockets off even when asked for, no hostPath anywhere, hostip (with the node agent\'s host ports)', async () => {
    const docs = await render('gke-autopilot');
    assert.equal(clusterAgentConfig(docs)['admission_controller.inject_config.mode'], 'hostip');
    assert.deepEqual(hostPaths(docs), []);
    assert.deepEqual(hostPorts(docs), [8125, 8126]);
    // Even with the APM port off: Autopilot alone means hostip.
    const bare = await helmTemplate({ providers: { gke: { autopilot: true } } });
    assert.equal(clusterAgentConfig(bare)['admission_controller.inject_config.mode'], 'hostip');
  });

  test('webhookEntries: separate by default, single when asked for (DD_ADMISSION_CONTROLLER_WEBHOOK_ENTRIES)', async () => {
    assert.equal(clusterAgentConfig(await render('default'))['admission_controller.webhook_entries'], 'separate');
    const docs = await render('single-entry');
    assert.deepEqual(podOf(clusterAgent(docs)).containers[0]!.env.find((e) => e.name === envVarFor('admission_controller.webhook_entries')), { name: 'DD_ADMISSION_CONTROLLER_WEBHOOK_ENTRIES', value: 'single' });
    assert.equal(clusterAgentConfig(docs)['admission_controller.webhook_entries'], 'single');
  });

  test('containerRegistry: the library init images\' registry (DD_ADMISSION_CONTROLLER_AUTO_INSTRUMENTATION_CONTAINER_REGISTRY), the default when empty', async () => {
    const key = 'admission_controller.auto_instrumentation.container_registry';
    assert.equal(clusterAgentConfig(await render('default'))[key], 'gcr.io/datadoghq');
    const docs = await helmTemplate({ clusterAgent: { admissionController: { containerRegistry: 'registry.internal/datadog' } } });
    assert.equal(clusterAgentConfig(docs)[key], 'registry.internal/datadog');
  });

  test('AKS: DD_ADMISSION_CONTROLLER_ADD_AKS_SELECTORS=true', async () => {
    const docs = await render('aks');
    const env = podOf(clusterAgent(docs)).containers[0]!.env;
    assert.deepEqual(env.find((e) => e.name === envVarFor('admission_controller.add_aks_selectors')), { name: 'DD_ADMISSION_CONTROLLER_ADD_AKS_SELECTORS', value: 'true' });
    assert.equal(clusterAgentConfig(docs)['admission_controller.add_aks_selectors'], true);
  });

  test('OpenShift (detected from quota.openshift.io/v1): hostip, sockets off, no fixed UID, the SCC only when asked for', async () => {
    const docs = await render('openshift');
    assert.equal(clusterAgentConfig(docs)['admission_controller.inject_config.mode'], 'hostip');
    assert.deepEqual(hostPaths(docs), []);
    assert.equal(podOf(nodeAgent(docs)).containers[0]!.securityContext['runAsUser'], undefined);
    const scc = one<ManifestDoc & { users: string[]; allowHostPorts: boolean; allowHostDirVolumePlugin: boolean }>(docs, 'SecurityContextConstraints');
    assert.deepEqual(scc.users, ['system:serviceaccount:datadog:datadog-agent']);
    assert.equal(scc.allowHostPorts, true);
    assert.equal(scc.allowHostDirVolumePlugin, false);
    const withoutScc = await helmTemplate({}, ['--api-versions', 'quota.openshift.io/v1']);
    assert.equal(find(withoutScc, 'SecurityContextConstraints').length, 0, 'SCCs are opt-in');
    assert.equal(clusterAgentConfig(withoutScc)['admission_controller.inject_config.mode'], 'hostip');
    // Not OpenShift: the same values keep the UID and create no SCC.
    const plain = await helmTemplate(PRESETS['openshift']!.values);
    assert.equal(find(plain, 'SecurityContextConstraints').length, 0);
    assert.equal(clusterAgentConfig(plain)['admission_controller.inject_config.mode'], 'socket');
  });

  test('Rancher on EKS (useHostNetwork): host network, ClusterFirstWithHostNet, replicas never on one node', async () => {
    const pod = podOf(clusterAgent(await render('rancher-eks')));
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    assert.ok(pod.affinity?.podAntiAffinity?.['requiredDuringSchedulingIgnoredDuringExecution'], 'required anti-affinity: the ports are the node\'s');
  });

  test('sockets on: socket mode, the socket paths the config reads, the host directory on the node agent', async () => {
    const docs = await render('sockets');
    const config = clusterAgentConfig(docs);
    assert.equal(config['admission_controller.inject_config.mode'], 'socket');
    assert.equal(config['admission_controller.inject_config.socket_path'], '/var/run/datadog');
    assert.equal(config['admission_controller.inject_config.trace_agent_socket'], 'unix:///var/run/datadog/apm.socket');
    assert.equal(config['admission_controller.inject_config.dogstatsd_socket'], 'unix:///var/run/datadog/dsd.socket');
    assert.deepEqual(hostPaths(docs), ['DaemonSet/datadog-agent: /var/run/datadog']);
    assert.equal(find(docs, 'Service', 'datadog').length, 0, 'no node-local Service outside service mode');
  });

  test('the APM port on: hostip; an explicit configMode wins', async () => {
    assert.equal(clusterAgentConfig(await render('apm-port'))['admission_controller.inject_config.mode'], 'hostip');
    const explicit = await helmTemplate({ datadog: { apm: { portEnabled: true } }, clusterAgent: { admissionController: { configMode: 'service', failurePolicy: 'Fail', mutateUnlabelled: true } } });
    const config = clusterAgentConfig(explicit);
    assert.equal(config['admission_controller.inject_config.mode'], 'service');
    assert.equal(config['admission_controller.failure_policy'], 'Fail');
    assert.equal(config['admission_controller.mutate_unlabelled'], true);
  });

  test('kubelet values: DD_KUBELET_TLS_VERIFY, the host CA mounted where DD_KUBELET_CLIENT_CA points; cluster name and tags', async () => {
    const docs = await render('kubelet-ca');
    const c = podOf(nodeAgent(docs)).containers[0]!;
    const env = Object.fromEntries(c.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    assert.equal(env['DD_KUBELET_TLS_VERIFY'], 'true');
    assert.equal(env['DD_KUBELET_CLIENT_CA'], '/var/run/host-kubelet-ca.crt');
    assert.equal(env['DD_CLUSTER_NAME'], 'prod');
    assert.equal(env['DD_TAGS'], 'team:a env:prod');
    assert.ok(c.volumeMounts?.some((m) => m.mountPath === '/var/run/host-kubelet-ca.crt'));
    assert.deepEqual(hostPaths(docs), ['DaemonSet/datadog-agent: /etc/kubernetes/pki/ca.crt']);
  });
});

describe('helm template: the node agent receives what injected pods send, in every mode', () => {
  const containerPort = (c: Container, name: string) => {
    const p = c.ports.find((x) => x.name === name);
    assert.ok(p, `a container port named ${name}`);
    return p;
  };

  for (const preset of Object.keys(PRESETS)) {
    test(`${preset}: mode ${INTAKE[preset]!.mode}; non-local listeners on the ports tracers use, host ports ${JSON.stringify(INTAKE[preset]!.hostPorts)}, sockets ${INTAKE[preset]!.sockets ? 'on' : 'off'}`, async () => {
      const want = INTAKE[preset]!;
      const docs = await render(preset);
      const ca = clusterAgentConfig(docs);
      const na = nodeAgentConfig(docs);
      const pod = podOf(nodeAgent(docs));
      const c = pod.containers[0]!;
      assert.equal(ca['admission_controller.inject_config.mode'], want.mode);

      // Listening beyond loopback (pods come through the Service, the node's IP or the pod IP), on the
      // default ports, as named container ports of the right protocol.
      assert.equal(na.dogstatsd_non_local_traffic, true);
      assert.equal(na['apm_config.apm_non_local_traffic'], true);
      assert.equal(na.dogstatsd_port, DEFAULTS.dogstatsd_port);
      assert.equal(na['apm_config.receiver_port'], DEFAULTS['apm_config.receiver_port']);
      const dsd = containerPort(c, 'dogstatsdport');
      const trace = containerPort(c, 'traceport');
      assert.deepEqual([dsd.containerPort, dsd.protocol], [na.dogstatsd_port, 'UDP']);
      assert.deepEqual([trace.containerPort, trace.protocol], [na['apm_config.receiver_port'], 'TCP']);

      // Host ports: the same numbers as the container's, only where wanted; hostip needs both.
      for (const p of c.ports) if (p.hostPort !== undefined) assert.equal(p.hostPort, p.containerPort, p.name);
      assert.deepEqual(hostPorts(docs), want.hostPorts);
      if (want.mode === 'hostip') assert.deepEqual(hostPorts(docs), [na.dogstatsd_port, na['apm_config.receiver_port']]);

      // Service mode: the node-local Service's ports land on the intake's named ports, same protocol.
      const local = find(docs, 'Service', ca['admission_controller.inject_config.local_service_name']) as (ManifestDoc & { spec: { selector: Record<string, string>; ports: { port: number; targetPort: string; protocol: string }[] } })[];
      assert.equal(local.length, want.mode === 'service' ? 1 : 0, 'the node-local Service exactly in service mode');
      if (local[0]) {
        const labels = nodeAgent(docs).spec.template.metadata.labels;
        for (const [k, v] of Object.entries(local[0].spec.selector)) assert.equal(labels[k], v, `node agent pods carry ${k}=${v}`);
        assert.deepEqual(
          local[0].spec.ports.map((p) => [p.port, p.protocol, containerPort(c, p.targetPort).containerPort, containerPort(c, p.targetPort).protocol]),
          [
            [DEFAULTS.dogstatsd_port, 'UDP', DEFAULTS.dogstatsd_port, 'UDP'],
            [DEFAULTS['apm_config.receiver_port'], 'TCP', DEFAULTS['apm_config.receiver_port'], 'TCP'],
          ],
        );
      }

      const sockets = (pod.volumes ?? []).filter((v) => v.hostPath && v.name === 'sockets');
      if (!want.sockets) {
        // Off: "" (not the defaults under /var/run/datadog, which the read-only root filesystem refuses).
        assert.equal(na.dogstatsd_socket, '');
        assert.equal(na['apm_config.receiver_socket'], '');
        assert.deepEqual(sockets, []);
        assert.equal(c.securityContext['runAsNonRoot'], true);
        assert.equal(c.securityContext['runAsUser'], preset === 'openshift' ? undefined : 65532);
      } else {
        // The sockets the webhook points pods at, in the host directory mounted at its own path.
        assert.equal(na.dogstatsd_socket, ca['admission_controller.inject_config.dogstatsd_socket'].replace(/^unix:\/\//, ''));
        assert.equal(na['apm_config.receiver_socket'], ca['admission_controller.inject_config.trace_agent_socket'].replace(/^unix:\/\//, ''));
        assert.deepEqual(sockets.map((v) => v.hostPath), [{ path: ca['admission_controller.inject_config.socket_path'], type: 'DirectoryOrCreate' }]);
        for (const path of [na.dogstatsd_socket, na['apm_config.receiver_socket']]) {
          assert.ok(c.volumeMounts?.some((m) => m.name === 'sockets' && m.mountPath === dirname(path)), `${dirname(path)} mounted from the host`);
        }
        // Root, to create sockets in the kubelet's root-owned 0755 directory; nothing else.
        assert.deepEqual(c.securityContext, {
          runAsNonRoot: false,
          runAsUser: 0,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          seccompProfile: { type: 'RuntimeDefault' },
          capabilities: { drop: ['ALL'] },
        });
      }
    });
  }

  test('per-port host ports outside hostip mode; one socket asked for outside socket mode', async () => {
    const apmOnly = await helmTemplate({ datadog: { apm: { portEnabled: true } }, clusterAgent: { admissionController: { configMode: 'service' } } });
    assert.deepEqual(hostPorts(apmOnly), [8126]);
    const apmSocket = await helmTemplate({ datadog: { apm: { socketEnabled: true } }, clusterAgent: { admissionController: { configMode: 'hostip' } } });
    const na = nodeAgentConfig(apmSocket);
    assert.equal(na['apm_config.receiver_socket'], '/var/run/datadog/apm.socket');
    assert.equal(na.dogstatsd_socket, '');
    assert.deepEqual(hostPorts(apmSocket), [8125, 8126]);
    assert.deepEqual(hostPaths(apmSocket), ['DaemonSet/datadog-agent: /var/run/datadog']);
    assert.equal(podOf(nodeAgent(apmSocket)).containers[0]!.securityContext['runAsUser'], 0);
    // With sockets, the node's pid namespace: the sockets' peer pids name the sender's container (attested origins).
    assert.equal((podOf(nodeAgent(apmSocket)) as { hostPID?: boolean }).hostPID, true);
    assert.equal((podOf(nodeAgent(await helmTemplate({}))) as { hostPID?: boolean }).hostPID, undefined);
    // Autopilot: an explicit socket mode gets the warning of NOTES.txt, and still no hostPath.
    const autopilotSocket = await helmTemplate({ providers: { gke: { autopilot: true } }, clusterAgent: { admissionController: { configMode: 'socket' } } });
    assert.deepEqual(hostPaths(autopilotSocket), []);
    assert.equal(nodeAgentConfig(autopilotSocket).dogstatsd_socket, '');
  });

  test('agents.otlp: the export URLs and retry bounds the node agent reads; none by default', async () => {
    const na = nodeAgentConfig(await render('otlp-policy'));
    assert.equal(na.otlp_endpoint, 'http://otel-collector.observability:4318/');
    assert.equal(na.otlp_traces_endpoint, undefined);
    assert.equal(na.otlp_metrics_endpoint, 'https://metrics.example/api/v1/otlp/v1/metrics');
    assert.equal(na.otlp_retry_max_interval_seconds, 10);
    assert.equal(na.otlp_retry_max_elapsed_seconds, 120);
    assert.equal(nodeAgentConfig(await render('cilium-policy')).otlp_traces_endpoint, 'http://jaeger-collector.tracing:4318/v1/traces');
    const logs = nodeAgentConfig(await helmTemplate({ agents: { otlp: { logsEndpoint: 'http://loki.logging:3100/otlp/v1/logs' } } }));
    assert.equal(logs.otlp_logs_endpoint, 'http://loki.logging:3100/otlp/v1/logs');
    const none = nodeAgentConfig(await render('default'));
    assert.deepEqual([none.otlp_endpoint, none.otlp_traces_endpoint, none.otlp_metrics_endpoint, none.otlp_logs_endpoint], [undefined, undefined, undefined, undefined]);
    assert.equal(none.otlp_retry_max_interval_seconds, DEFAULTS.otlp_retry_max_interval_seconds);
  });
});

describe('helm template: network policies', () => {
  test('kubernetes: the admission port open, 5005 from the node agents, egress to the API server and DNS only', async () => {
    const np = one<ManifestDoc & { spec: { podSelector: unknown; policyTypes: string[]; ingress: { from?: unknown[]; ports: { port: number }[] }[]; egress: { ports: { port: number; protocol: string }[] }[] } }>(
      await render('network-policy'),
      'NetworkPolicy',
      'datadog-cluster-agent',
    );
    assert.deepEqual(np.spec.podSelector, { matchLabels: { app: 'datadog-cluster-agent' } });
    assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
    assert.deepEqual(np.spec.ingress[0]?.ports.map((p) => p.port), [8000]);
    assert.equal(np.spec.ingress[0]?.from, undefined, 'any source: the control plane is not a pod');
    assert.deepEqual(np.spec.ingress[1], { from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'datadog-agent' } } }], ports: [{ port: 5005, protocol: 'TCP' }] });
    assert.deepEqual(np.spec.egress.flatMap((e) => e.ports.map((p) => `${p.port}/${p.protocol}`)), ['443/TCP', '6443/TCP', '53/UDP', '53/TCP']);
  });

  test('cilium: a CiliumNetworkPolicy, the API server entity and the control plane CIDRs', async () => {
    const docs = await render('cilium-policy');
    assert.equal(find(docs, 'NetworkPolicy').length, 0);
    const cnp = one<ManifestDoc & { apiVersion: string; spec: { ingress: Record<string, unknown>[]; egress: Record<string, unknown>[] } }>(docs, 'CiliumNetworkPolicy', 'datadog-cluster-agent');
    assert.equal(cnp.apiVersion, 'cilium.io/v2');
    assert.deepEqual(cnp.spec.ingress[0]?.['fromEntities'], ['kube-apiserver', 'host', 'remote-node']);
    assert.deepEqual(cnp.spec.ingress[1]?.['fromCIDR'], ['10.0.0.0/8']);
    assert.deepEqual(cnp.spec.egress[0], { toEntities: ['kube-apiserver'] });
  });

  type PortRule = { port: number | string; protocol: string };
  const portsOf = (rules: { ports?: PortRule[]; toPorts?: { ports: PortRule[] }[] }[]): string[] =>
    rules.flatMap((r) => [...(r.ports ?? []), ...(r.toPorts ?? []).flatMap((t) => t.ports)]).map((p) => `${p.port}/${p.protocol}`);
  /** The node agent's ports the policies open, from Tether's configuration defaults. */
  const INGRESS = [`${DEFAULTS.dogstatsd_port}/UDP`, `${DEFAULTS['apm_config.receiver_port']}/TCP`, `${DEFAULTS['node_agent.port']}/TCP`];
  const EGRESS = ['53/UDP', '53/TCP', `${DEFAULTS.kubernetes_https_kubelet_port}/TCP`, `${DEFAULTS['cluster_agent.cmd_port']}/TCP`];
  const podLabels = (w: Workload): Record<string, string> => w.spec.template.metadata.labels;
  const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v);

  test('kubernetes: around the node agents, the intake and status ports open to any source; egress to DNS, the kubelet, the cluster agent and the OTLP ports', async () => {
    type Np = ManifestDoc & { spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: { from?: unknown[]; ports: PortRule[] }[]; egress: { to?: { podSelector: { matchLabels: Record<string, string> } }[]; ports: PortRule[] }[] } };
    for (const [preset, otlp] of [['network-policy', []], ['otlp-policy', ['4318/TCP', '443/TCP']]] as const) {
      const docs = await render(preset);
      const np = one<Np>(docs, 'NetworkPolicy', 'datadog-agent');
      assert.ok(selects(np.spec.podSelector.matchLabels, podLabels(nodeAgent(docs))), `${preset}: selects the node agent's pods`);
      assert.ok(!selects(np.spec.podSelector.matchLabels, podLabels(clusterAgent(docs))), `${preset}: not the cluster agent's`);
      assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
      assert.deepEqual(portsOf(np.spec.ingress), INGRESS, preset);
      assert.ok(np.spec.ingress.every((r) => r.from === undefined), 'any source: pods of every namespace, the node behind a host port, the kubelet');
      assert.deepEqual(portsOf(np.spec.egress), [...EGRESS, ...otlp], preset);
      const toClusterAgent = np.spec.egress.find((r) => r.to)!;
      assert.ok(selects(toClusterAgent.to![0]!.podSelector.matchLabels, podLabels(clusterAgent(docs))), 'the cluster agent API: its pods');
      assert.deepEqual(portsOf([toClusterAgent]), [`${DEFAULTS['cluster_agent.cmd_port']}/TCP`]);
    }
  });

  test('cilium: the same around the node agents, the OTLP port of the traces URL included', async () => {
    type Cnp = ManifestDoc & { spec: { endpointSelector: { matchLabels: Record<string, string> }; ingress: { fromEntities?: string[]; toPorts: { ports: PortRule[] }[] }[]; egress: { toEntities?: string[]; toPorts: { ports: PortRule[] }[] }[] } };
    const docs = await render('cilium-policy');
    const cnp = one<Cnp>(docs, 'CiliumNetworkPolicy', 'datadog-agent');
    assert.ok(selects(cnp.spec.endpointSelector.matchLabels, podLabels(nodeAgent(docs))));
    assert.deepEqual(portsOf(cnp.spec.ingress), INGRESS);
    assert.ok(cnp.spec.ingress.every((r) => r.fromEntities?.includes('cluster')), 'from every pod of the cluster and the host');
    assert.deepEqual(portsOf(cnp.spec.egress), ['53/ANY', `${DEFAULTS.kubernetes_https_kubelet_port}/TCP`, `${DEFAULTS['cluster_agent.cmd_port']}/TCP`, '4318/TCP']);
    assert.ok(cnp.spec.egress.find((r) => portsOf([r]).includes(`${DEFAULTS.kubernetes_https_kubelet_port}/TCP`))?.toEntities?.includes('host'), 'the kubelet: the host entity');
    assert.deepEqual(cnp.spec.egress.at(-1)?.toEntities, ['all'], 'the OTLP backend may be anywhere');
  });
});

const randomToken = (): string => randomBytes(24).toString('hex');

describe('the token', () => {
  const tokenOf = (docs: ManifestDoc[]): string => Buffer.from((one<ManifestDoc & { data: { token: string } }>(docs, 'Secret', 'datadog-cluster-agent').data.token), 'base64').toString();

  test(`a token under ${AUTH_TOKEN_MIN_LENGTH} characters fails the install, saying why`, async () => {
    const short = 'x'.repeat(AUTH_TOKEN_MIN_LENGTH - 2);
    const r = await helm(['template', 'tether', CHART_DIR, '-f', valuesFile({ clusterAgent: { token: short } })]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`clusterAgent.token is ${AUTH_TOKEN_MIN_LENGTH - 2} characters long; the cluster agent authentication token length must be at least ${AUTH_TOKEN_MIN_LENGTH}`));
    assert.ok(!r.stderr.includes(short), 'never the token itself');
  });

  test('a long enough token is used as given; none given and no cluster (helm template): rendering fails, saying how to give one', async () => {
    const token = 'y'.repeat(AUTH_TOKEN_MIN_LENGTH);
    assert.equal(tokenOf(await helmTemplate({ clusterAgent: { token } })), token);
    const r = await helm(['template', 'tether', CHART_DIR, '--namespace', 'datadog']);
    assert.notEqual(r.code, 0, 'never a new random token per render');
    assert.match(r.stderr, /no cluster agent token: rendering without a cluster \(helm template, Argo CD, Flux\) cannot generate one/);
    assert.match(r.stderr, /clusterAgent\.tokenExistingSecret/);
  });

  test('pods roll when the token changes: a checksum of it on both pod templates, none when the chart cannot know it', async () => {
    const checksum = (w: Workload) => (w.spec.template.metadata as { annotations?: Record<string, string> } | undefined)?.annotations?.['checksum/token'];
    const a = await helmTemplate({ clusterAgent: { token: 'a'.repeat(40) } });
    const b = await helmTemplate({ clusterAgent: { token: 'b'.repeat(40) } });
    assert.match(checksum(clusterAgent(a)) ?? '', /^[0-9a-f]{64}$/);
    assert.equal(checksum(nodeAgent(a)), checksum(clusterAgent(a)));
    assert.notEqual(checksum(clusterAgent(b)), checksum(clusterAgent(a)));
    assert.equal(checksum(clusterAgent(await helmTemplate({ clusterAgent: { tokenExistingSecret: 'mine' } }))), undefined);
  });

  test('GitOps: helm template | kubectl apply, twice: the same token, the agents not rolled, both reading it', async () => {
    const ns = 'gitops';
    await cp.kubeConfig().makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
    const token = randomToken();
    const kubectl = (args: string[], input: string) =>
      new Promise<string>((resolve, reject) => {
        const child = execFile('/usr/bin/kubectl', ['--kubeconfig', cp.kubeconfigPath, ...args], { maxBuffer: 16 << 20 }, (e, out, err) => (e ? reject(new Error(`kubectl ${args.join(' ')}: ${err}`)) : resolve(out)));
        child.stdin?.end(input);
      });
    const renderAndApply = async () => {
      const r = await helm(['template', 'tether', CHART_DIR, '--namespace', ns, '-f', valuesFile({ clusterAgent: { token } })]);
      assert.equal(r.code, 0, r.stderr);
      await kubectl(['apply', '-n', ns, '-f', '-'], r.stdout);
      return r.stdout;
    };
    const first = await renderAndApply();
    try {
      const apps = cp.kubeConfig().makeApiClient(k8s.AppsV1Api);
      const generations = async () => [(await apps.readNamespacedDeployment({ name: 'datadog-cluster-agent', namespace: ns })).metadata?.generation, (await apps.readNamespacedDaemonSet({ name: 'datadog-agent', namespace: ns })).metadata?.generation];
      const before = await generations();
      const second = await renderAndApply();
      assert.equal(second, first, 'two renders of the same values are the same bytes');
      assert.deepEqual(await generations(), before, 'the second apply rolls no pod');
      const secret = await cp.kubeConfig().makeApiClient(k8s.CoreV1Api).readNamespacedSecret({ name: 'datadog-cluster-agent', namespace: ns });
      assert.equal(Buffer.from(secret.data?.['token'] ?? '', 'base64').toString(), token, 'the token both agents read is the one given: no 403 between them');
      for (const w of [await apps.readNamespacedDeployment({ name: 'datadog-cluster-agent', namespace: ns }), await apps.readNamespacedDaemonSet({ name: 'datadog-agent', namespace: ns })]) {
        const ref = w.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'DD_CLUSTER_AGENT_AUTH_TOKEN')?.valueFrom?.secretKeyRef;
        assert.deepEqual([ref?.name, ref?.key], ['datadog-cluster-agent', 'token'], w.kind);
      }
    } finally {
      // The rendering holds cluster-wide objects (ClusterRoles...) the other tests of this file create.
      await kubectl(['delete', '-n', ns, '--wait=false', '--ignore-not-found', '-f', '-'], first);
    }
  });

  test("the console's logins: their own Secret (the admin token never the agents'), read by the cluster agent only; none invented without a cluster", async () => {
    const admin = 'c'.repeat(40);
    const docs = await helmTemplate({ clusterAgent: { console: { adminToken: admin, viewerToken: 'v'.repeat(40) } } });
    const secret = one<ManifestDoc & { data: Record<string, string> }>(docs, 'Secret', 'datadog-cluster-agent-console');
    assert.deepEqual(Object.keys(secret.data).sort(), ['admin-token', 'viewer-token']);
    assert.equal(Buffer.from(secret.data['admin-token']!, 'base64').toString(), admin);
    const env = (w: Workload) => new Map(podOf(w).containers[0]!.env.map((e) => [e.name, e]));
    assert.deepEqual(env(clusterAgent(docs)).get('DD_CLUSTER_AGENT_CONSOLE_ADMIN_TOKEN')?.valueFrom, { secretKeyRef: { name: 'datadog-cluster-agent-console', key: 'admin-token', optional: true } });
    assert.equal(env(nodeAgent(docs)).has('DD_CLUSTER_AGENT_CONSOLE_ADMIN_TOKEN'), false, 'node agents never see it');
    const none = one<ManifestDoc & { data: Record<string, string> | null }>(await helmTemplate({}), 'Secret', 'datadog-cluster-agent-console');
    assert.equal(none.data?.['admin-token'], undefined, 'helm template invents no admin token');
    const r = await helm(['template', 'tether', CHART_DIR, '-f', valuesFile({ clusterAgent: { token: 'x'.repeat(40), console: { adminToken: 'short' } } })]);
    assert.match(r.stderr, /clusterAgent\.console\.adminToken is 5 characters long; it must be at least 32/);
  });

  test('tokenExistingSecret: no Secret of the chart, both agents read that one (and diagnose may read it)', async () => {
    const docs = await helmTemplate({ clusterAgent: { tokenExistingSecret: 'my-token' }, diagnose: { rbac: { create: true } } });
    assert.deepEqual(find(docs, 'Secret').map((d) => d.metadata?.name), ['datadog-cluster-agent-console'], 'only the console\'s');
    for (const w of [clusterAgent(docs), nodeAgent(docs)]) {
      const e = podOf(w).containers[0]!.env.find((x) => x.name === 'DD_CLUSTER_AGENT_AUTH_TOKEN');
      assert.deepEqual(e?.valueFrom, { secretKeyRef: { name: 'my-token', key: 'token' } }, w.kind);
    }
    const role = one<ManifestDoc & { rules: { resources: string[]; resourceNames?: string[] }[] }>(docs, 'Role', 'tether-diagnose');
    assert.deepEqual(role.rules.find((r) => r.resources.includes('secrets'))?.resourceNames, ['webhook-certificate', 'my-token']);
    assert.ok(!one<ManifestDoc & { rules: { resources: string[] }[] }>(docs, 'ClusterRole', 'tether-diagnose').rules.some((r) => r.resources.includes('secrets')), 'no Secret cluster-wide');
  });
});

describe('values.schema.json', () => {
  for (const [path, values, message] of [
    ['configMode', { clusterAgent: { admissionController: { configMode: 'sockets' } } }, /configMode': value must be one of '', 'hostip', 'service', 'socket'/],
    ['flavor', { datadog: { networkPolicy: { flavor: 'calico' } } }, /flavor': value must be one of 'kubernetes', 'cilium'/],
    ['failurePolicy', { clusterAgent: { admissionController: { failurePolicy: 'Failed' } } }, /failurePolicy': value must be one of 'Ignore', 'Fail'/],
    ['replicas', { clusterAgent: { replicas: 'two' } }, /replicas': got string, want integer/],
    ['logLevel', { datadog: { logLevel: 'verbose' } }, /logLevel': value must be one of/],
    ['agents.otlp.endpoint', { agents: { otlp: { endpoint: 'otel-collector:4318' } } }, /\/agents\/otlp\/endpoint': 'otel-collector:4318' does not match pattern/],
    ['agents.otlp.tracesEndpoint', { agents: { otlp: { tracesEndpoint: 'grpc://jaeger:4317' } } }, /\/agents\/otlp\/tracesEndpoint': 'grpc:\/\/jaeger:4317' does not match pattern/],
    ['agents.otlp.retry', { agents: { otlp: { retry: { maxIntervalSeconds: 0 } } } }, /maxIntervalSeconds': minimum: got 0, want 1/],
  ] as const) {
    test(`a typo in ${path} fails before anything is rendered`, async () => {
      const r = await helm(['template', 'tether', CHART_DIR, '-f', valuesFile(values)]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, message);
    });
  }

  test('keys of the rest of an agent stack\'s values file are accepted', async () => {
    await helmTemplate({ datadog: { apiKey: 'x', site: 'datadoghq.eu', apm: { portEnabled: true } }, targetSystem: 'linux' });
  });
});

describe('NOTES.txt', () => {
  test('how to check the install; warnings for one replica and for socket mode where hostPath is refused', async () => {
    const kubeconfig = cp.kubeconfigPath;
    const plain = await helmNotes(kubeconfig);
    assert.match(plain, /tether status -n datadog/);
    assert.match(plain, /tether diagnose -n datadog/);
    assert.match(plain, /kubectl -n datadog delete secret webhook-certificate/);
    assert.doesNotMatch(plain, /WARNING/);
    assert.match(await helmNotes(kubeconfig, { clusterAgent: { replicas: 1 } }), /WARNING: one cluster agent replica and no PodDisruptionBudget/);
    assert.equal(find(await helmTemplate({ clusterAgent: { replicas: 1 } }), 'PodDisruptionBudget').length, 0, 'minAvailable 1 of 1 would block every drain');
    assert.match(await helmNotes(kubeconfig, { providers: { gke: { autopilot: true } }, clusterAgent: { admissionController: { configMode: 'socket' } } }), /WARNING: configMode is socket on GKE Autopilot/);
    assert.match(await helmNotes(kubeconfig, { providers: { gke: { autopilot: true } }, datadog: { apm: { socketEnabled: true } } }), /sockets were turned off \(GKE Autopilot refuses hostPath volumes\); pods use hostip/);
  });

  test('where the node agents receive and where they send: nothing exported until agents.otlp is set', async () => {
    const kubeconfig = cp.kubeconfigPath;
    const plain = await helmNotes(kubeconfig);
    assert.match(plain, /Node agents receive what injected pods send: DogStatsD on 8125\/UDP and traces on 8126\/TCP \(through the node-local Service datadog\)\./);
    assert.match(plain, /Nothing is exported until agents\.otlp\.endpoint is set/);
    const exported = await helmNotes(kubeconfig, PRESETS['otlp-policy']!.values);
    assert.match(exported, /traces to http:\/\/otel-collector\.observability:4318\/v1\/traces,\nDogStatsD metrics to https:\/\/metrics\.example\/api\/v1\/otlp\/v1\/metrics,\nDogStatsD service checks and events \(as logs\) to http:\/\/otel-collector\.observability:4318\/v1\/logs\./);
    assert.doesNotMatch(exported, /Nothing is exported/);
    const tracesOnly = await helmNotes(kubeconfig, { agents: { otlp: { tracesEndpoint: 'http://jaeger:4318/v1/traces' } }, datadog: { apm: { portEnabled: true } } });
    assert.match(tracesOnly, /on each node's IP: host ports/);
    assert.match(tracesOnly, /DogStatsD metrics nowhere \(set agents\.otlp\.metricsEndpoint\)/);
    assert.match(tracesOnly, /DogStatsD service checks and events \(as logs\) nowhere \(set agents\.otlp\.logsEndpoint\)/);
    const sockets = await helmNotes(kubeconfig, { datadog: { apm: { socketEnabled: true }, dogstatsd: { socketPath: '/run/dsd.socket' } } });
    assert.match(sockets, /and on \/var\/run\/datadog\/apm\.socket and \/run\/dsd\.socket\./);
    assert.match(sockets, /WARNING: datadog\.apm\.hostSocketPath \(\/var\/run\/datadog\/, the one host directory of both sockets\) is not the directory of\ndatadog\.dogstatsd\.socketPath/);
    const openshiftPorts = await helmNotes(kubeconfig, { providers: { openshift: { enabled: true } }, datadog: { dogstatsd: { useHostPort: true } }, clusterAgent: { admissionController: { configMode: 'service' } } });
    assert.match(openshiftPorts, /host ports \(datadog\.apm\.portEnabled, datadog\.dogstatsd\.useHostPort\) need an SCC/);
  });
});

describe('server-side dry run of every rendering', () => {
  test('the API server accepts every object of every preset', async () => {
    const objects = k8s.KubernetesObjectApi.makeApiClient(cp.kubeConfig());
    const kinds = new Set<string>();
    for (const preset of Object.keys(PRESETS)) {
      for (const doc of await render(preset)) {
        kinds.add(doc.kind);
        kinds.add(`${doc.kind}/${doc.metadata?.name}`);
        await objects.create(doc as k8s.KubernetesObject, undefined, 'All').catch((e: unknown) => {
          assert.fail(`${preset}: ${doc.kind} ${doc.metadata?.name} refused: ${e instanceof k8s.ApiException ? e.body : String(e)}`);
        });
      }
    }
    for (const kind of [
      'Deployment',
      'DaemonSet',
      'PodDisruptionBudget',
      'NetworkPolicy',
      'CiliumNetworkPolicy',
      'NetworkPolicy/datadog-agent',
      'CiliumNetworkPolicy/datadog-agent',
      'SecurityContextConstraints',
      'MutatingWebhookConfiguration',
      'Lease',
      'Secret',
    ]) {
      assert.ok(kinds.has(kind), `some preset renders a ${kind}`);
    }
  });
});
