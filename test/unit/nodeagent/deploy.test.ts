import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import {
  CLUSTER_AGENT_CA_CONFIGMAP,
  CLUSTER_AGENT_TOKEN_SECRET,
  CLUSTER_AGENT_TOKEN_SECRET_KEY,
  CONFIG_KEYS,
  envVarFor,
  NODE_AGENT_NAME,
  parseConfig,
} from '../../../src/config/index.js';
import { serviceEnvPrefix } from '../../../src/nodeagent/discovery.js';

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}

const load = (name: string): Obj[] =>
  parseAllDocuments(readFileSync(fileURLToPath(new URL(`../../../../deploy/${name}`, import.meta.url)), 'utf8'))
    .map((d) => d.toJSON() as Obj | null)
    .filter((o): o is Obj => o !== null);

const one = (objs: Obj[], kind: string): Obj => {
  const found = objs.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `exactly one ${kind}`);
  return found[0]!;
};

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } };
}
interface Container {
  name: string;
  args: string[];
  env: EnvVar[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  volumeMounts: { name: string; mountPath: string }[];
}

const config = parseConfig({ env: {} });

describe('deploy/node-agent.yaml', () => {
  const objs = load('node-agent.yaml');

  test('the service account may only get nodes/pods (no nodes/proxy by default, no nodes/stats)', () => {
    const sa = one(objs, 'ServiceAccount');
    assert.equal(sa.metadata.name, NODE_AGENT_NAME);
    const role = one(objs, 'ClusterRole') as Obj & { rules: unknown };
    assert.deepEqual(role.rules, [{ apiGroups: [''], resources: ['nodes/pods'], verbs: ['get'] }]);
    const binding = one(objs, 'ClusterRoleBinding') as Obj & { roleRef: { kind: string; name: string }; subjects: { kind: string; name: string; namespace: string }[] };
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
    assert.ok(!objs.some((o) => o.kind === 'Role' || o.kind === 'RoleBinding'), 'no other grant');
  });

  test('the DaemonSet runs `tether node-agent` with its node name, kubelet host, token and CA as the configuration reads them', () => {
    const ds = one(objs, 'DaemonSet') as Obj & { spec: { template: { spec: { serviceAccountName: string; containers: Container[]; volumes: { name: string; configMap?: { name: string } }[] } } } };
    assert.equal(ds.metadata.name, NODE_AGENT_NAME);
    assert.equal(ds.metadata.namespace, one(objs, 'ServiceAccount').metadata.namespace);
    const pod = ds.spec.template.spec;
    assert.equal(pod.serviceAccountName, NODE_AGENT_NAME);
    assert.equal(pod.containers.length, 1);
    const c = pod.containers[0]!;
    assert.deepEqual(c.args, ['node-agent']);

    const env = new Map(c.env.map((e) => [e.name, e]));
    assert.deepEqual(env.get(envVarFor('kubernetes_kubelet_nodename'))?.valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
    assert.deepEqual(env.get(envVarFor('kubernetes_kubelet_host'))?.valueFrom, { fieldRef: { fieldPath: 'status.hostIP' } });
    assert.deepEqual(env.get(envVarFor('cluster_agent.auth_token'))?.valueFrom, { secretKeyRef: { name: CLUSTER_AGENT_TOKEN_SECRET, key: CLUSTER_AGENT_TOKEN_SECRET_KEY } });
    const known = new Set(CONFIG_KEYS.map(envVarFor));
    for (const e of c.env) assert.ok(known.has(e.name), `${e.name} is a Tether configuration key`);
    assert.ok(!c.env.some((e) => e.value !== undefined && e.name === envVarFor('cluster_agent.auth_token')), 'the token only from the Secret');

    const port = c.ports.find((p) => p.name === c.livenessProbe.httpGet.port);
    assert.equal(port?.containerPort, config['node_agent.port']);
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.readinessProbe.httpGet.port, port?.name);

    const caFile = config['cluster_agent.ca_file'];
    assert.equal(basename(caFile), 'ca.pem', 'the ConfigMap key the cluster agent publishes');
    const mount = c.volumeMounts.find((m) => m.mountPath === dirname(caFile));
    assert.ok(mount, `a volume is mounted at ${dirname(caFile)}`);
    assert.equal(pod.volumes.find((v) => v.name === mount.name)?.configMap?.name, CLUSTER_AGENT_CA_CONFIGMAP);
  });
});

describe('deploy/cluster-agent-api.yaml', () => {
  test('the Service node agents find by its variables, on the API port', () => {
    const svc = one(load('cluster-agent-api.yaml'), 'Service') as Obj & { spec: { ports: { port: number; targetPort: number }[] } };
    assert.equal(svc.metadata.name, config['cluster_agent.kubernetes_service_name']);
    assert.equal(serviceEnvPrefix(svc.metadata.name), 'DATADOG_CLUSTER_AGENT');
    assert.equal(svc.metadata.namespace, one(load('node-agent.yaml'), 'DaemonSet').metadata.namespace, 'service links only cover the same namespace');
    assert.deepEqual(
      svc.spec.ports.map((p) => [p.port, p.targetPort]),
      [[config['cluster_agent.cmd_port'], 'api']],
    );
    // It selects the cluster agent's pods, whose container names that port cmd_port.
    const deployment = one(load('cluster-agent.yaml'), 'Deployment') as Obj & {
      spec: { template: { metadata: { labels: Record<string, string> }; spec: { containers: { ports: { name: string; containerPort: number }[]; env: { name: string }[] }[] } } };
    };
    const selector = (svc as unknown as { spec: { selector: Record<string, string> } }).spec.selector;
    for (const [k, v] of Object.entries(selector)) assert.equal(deployment.spec.template.metadata.labels[k], v, `pods carry ${k}=${v}`);
    const container = deployment.spec.template.spec.containers[0]!;
    assert.equal(container.ports.find((p) => p.name === 'api')?.containerPort, config['cluster_agent.cmd_port']);
    assert.ok(container.env.some((e) => e.name === envVarFor('cluster_agent.auth_token')), 'the cluster agent reads the shared token');
  });
});
