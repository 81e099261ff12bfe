/**
 * Realistic pods and AdmissionReview v1 bodies for the benchmark: what a Deployment's ReplicaSet
 * controller sends the API server, and the API server sends the webhook. Each container has what
 * production containers usually carry (ports, a dozen env vars, resources, probes, mounts, a security
 * context), so the body size and the work of reading it are those of a real rollout.
 */
import { ENABLED_LABEL } from '../src/config/index.js';
import type { WebhookKind } from '../src/config/index.js';

export const NAMESPACE = 'shop';

function container(i: number): Record<string, unknown> {
  const name = i === 0 ? 'app' : `sidecar-${i}`;
  return {
    name,
    image: `registry.example.com/shop/${name}:1.27.${i}`,
    imagePullPolicy: 'IfNotPresent',
    command: ['/bin/server'],
    args: ['--port=8080', '--metrics-port=9090', `--instance=${name}`],
    ports: [
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
    ],
    env: [
      { name: 'PORT', value: '8080' },
      { name: 'LOG_LEVEL', value: 'info' },
      { name: 'LOG_FORMAT', value: 'json' },
      { name: 'DB_HOST', value: 'postgres.shop.svc.cluster.local' },
      { name: 'DB_PORT', value: '5432' },
      { name: 'DB_USER', valueFrom: { secretKeyRef: { name: 'shop-db', key: 'username' } } },
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'shop-db', key: 'password' } } },
      { name: 'CACHE_URL', value: 'redis://redis.shop.svc.cluster.local:6379/0' },
      { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
      { name: 'MEMORY_LIMIT', valueFrom: { resourceFieldRef: { containerName: name, resource: 'limits.memory', divisor: '1Mi' } } },
      { name: 'FEATURE_FLAGS', value: 'checkout-v2,fast-search,recommendations' },
    ],
    envFrom: [{ configMapRef: { name: 'shop-config' } }],
    resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    volumeMounts: [
      { name: 'config', mountPath: '/etc/shop', readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'kube-api-access-x7k2p', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
    ],
    livenessProbe: {
      httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP' },
      initialDelaySeconds: 10,
      timeoutSeconds: 1,
      periodSeconds: 10,
      successThreshold: 1,
      failureThreshold: 3,
    },
    readinessProbe: {
      httpGet: { path: '/ready', port: 'http', scheme: 'HTTP' },
      timeoutSeconds: 1,
      periodSeconds: 5,
      successThreshold: 1,
      failureThreshold: 3,
    },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 10001,
      capabilities: { drop: ['ALL'] },
    },
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  };
}

/**
 * A pod of `containers` containers as the ReplicaSet controller creates it: opted in, with unified
 * service tag labels (so `/injecttags` needs no owner lookup) and, for `/injectlib`, a Java library
 * annotation.
 */
export function makePod(containers: number, webhook: WebhookKind): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'checkout-6d5f8b7c9d-',
      namespace: NAMESPACE,
      labels: {
        app: 'checkout',
        'app.kubernetes.io/name': 'checkout',
        'app.kubernetes.io/part-of': 'shop',
        'pod-template-hash': '6d5f8b7c9d',
        [ENABLED_LABEL]: 'true',
        'tags.datadoghq.com/env': 'prod',
        'tags.datadoghq.com/service': 'checkout',
        'tags.datadoghq.com/version': '1.27.0',
      },
      annotations: {
        'kubectl.kubernetes.io/restartedAt': '2025-01-14T09:12:44Z',
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '9090',
        ...(webhook === 'lib' ? { 'admission.datadoghq.com/java-lib.version': 'v1.40.0' } : {}),
      },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-6d5f8b7c9d', uid: '8f1e3c2a-4b7d-4e0f-9a61-2d5c8b3e7f10', controller: true, blockOwnerDeletion: true },
      ],
    },
    spec: {
      volumes: [
        { name: 'config', configMap: { name: 'shop-config', defaultMode: 420 } },
        { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
        {
          name: 'kube-api-access-x7k2p',
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
            ],
          },
        },
      ],
      containers: Array.from({ length: containers }, (_, i) => container(i)),
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'checkout',
      serviceAccount: 'checkout',
      securityContext: { fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'checkout' } } } },
          ],
        },
      },
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      schedulerName: 'default-scheduler',
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
  };
}

/** An AdmissionReview v1 as the API server sends it for a pod create. */
export function admissionReview(pod: Record<string, unknown>, uid = '3f9c2b1e-7a4d-4c8e-b5f6-0d1e2a3b4c5d'): Record<string, unknown> {
  const kind = { group: '', version: 'v1', kind: 'Pod' };
  const resource = { group: '', version: 'v1', resource: 'pods' };
  return {
    kind: 'AdmissionReview',
    apiVersion: 'admission.k8s.io/v1',
    request: {
      uid,
      kind,
      resource,
      requestKind: kind,
      requestResource: resource,
      namespace: NAMESPACE,
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        uid: '5b0c7e7e-1f2a-4d3b-8c9d-0e1f2a3b4c5d',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  };
}

export function reviewBody(containers: number, webhook: WebhookKind): Buffer {
  return Buffer.from(JSON.stringify(admissionReview(makePod(containers, webhook))));
}
