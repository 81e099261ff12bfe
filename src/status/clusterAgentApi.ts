/** The "Cluster Agent API" section: its Service, how many endpoints are ready, the CA node agents trust. Pure. */
import { CLUSTER_AGENT_CA_CONFIGMAP_KEY } from '../config/index.js';
import { caBundleDigest } from '../certs/index.js';
import type { ConfigMap, EndpointSlice, Read, Service } from './objects.js';
import type { ClusterAgentApiStatus } from './types.js';

export interface ClusterAgentApiInput {
  readonly namespace: string;
  readonly serviceName: string;
  readonly caConfigMapName: string;
  readonly service: Read<Service>;
  /** The Service's EndpointSlices (label `kubernetes.io/service-name`). */
  readonly endpointSlices: Read<readonly EndpointSlice[]>;
  readonly caConfigMap: Read<ConfigMap>;
}

/** Counts endpoints by address; `ready` unset means ready (EndpointSlice API: unknown is ready). */
export function countEndpoints(slices: readonly EndpointSlice[]): { ready: number; notReady: number } {
  const ready = new Set<string>();
  const notReady = new Set<string>();
  for (const s of slices) {
    for (const e of s.endpoints ?? []) {
      const key = (e.addresses ?? []).join(',');
      if (e.conditions?.ready === false) notReady.add(key);
      else ready.add(key);
    }
  }
  for (const k of ready) notReady.delete(k);
  return { ready: ready.size, notReady: notReady.size };
}

export function clusterAgentApiStatus(input: ClusterAgentApiInput): ClusterAgentApiStatus {
  const errors: string[] = [];
  for (const r of [input.service, input.endpointSlices, input.caConfigMap]) if (!r.ok) errors.push(r.error);
  const service = input.service.ok ? input.service.value : undefined;
  const counts = input.endpointSlices.ok ? countEndpoints(input.endpointSlices.value ?? []) : { ready: 0, notReady: 0 };
  const ca = input.caConfigMap.ok ? input.caConfigMap.value : undefined;
  const pem = ca?.data?.[CLUSTER_AGENT_CA_CONFIGMAP_KEY];
  return {
    service: `${input.namespace}/${input.serviceName}`,
    serviceFound: service !== undefined,
    ports: (service?.spec?.ports ?? []).map((p) => p.port),
    readyEndpoints: counts.ready,
    notReadyEndpoints: counts.notReady,
    caConfigMap: `${input.namespace}/${input.caConfigMapName}`,
    caConfigMapFound: ca !== undefined,
    ...(pem !== undefined ? { caBundleDigest: caBundleDigest(pem) } : {}),
    errors,
  };
}
