/**
 * What `tether status` reports (issue 10): the data of every section, rendered as text in the seeds'
 * format (`render.ts`) or printed as JSON (`-o json`) as it is.
 */

export interface WebhookRuleStatus {
  readonly operations: readonly string[];
  readonly apiGroups: readonly string[];
  readonly apiVersions: readonly string[];
  readonly resources: readonly string[];
}

export interface WebhookEntryStatus {
  readonly name: string;
  /** FNV-1 64 of the entry's caBundle (the PEM bytes), 16 hex digits. */
  readonly caBundleDigest: string;
  /** The selectors in Go's `LabelSelector.String()` form, as the seed prints them; namespace selector only when set. */
  readonly objectSelector: string;
  readonly namespaceSelector?: string;
  readonly rules: readonly WebhookRuleStatus[];
  readonly service?: { readonly namespace: string; readonly name: string; readonly port: number; readonly path: string };
  /** Set instead of `service` when the entry calls a URL (Tether outside the cluster). */
  readonly url?: string;
  /** Tether's single entry (webhook_entries single) runs every enabled webhook in one call; unset for the others. */
  readonly single?: true;
}

export type WebhookStatus =
  | { readonly name: string; readonly found: true; readonly createdAt: string; readonly entries: readonly WebhookEntryStatus[] }
  | { readonly name: string; readonly found: false; readonly error: string };

export type SecretStatus =
  | {
      readonly name: string;
      readonly namespace: string;
      readonly found: true;
      readonly createdAt: string;
      /** Of the trust bundle `ca.pem`, else of `cert.pem` (a Secret written before Tether had a CA). */
      readonly caBundleDigest: string;
      readonly caBundleSource: string;
      /** The serving certificate's (`cert.pem`) notAfter, RFC 3339; absent when it cannot be read. */
      readonly certificateExpiresAt?: string;
      readonly certificateExpiresInMs?: number;
      /** Go's duration form, e.g. `8643h34m2.557s`, or why it is unknown. */
      readonly durationBeforeExpiration: string;
      /** The newest CA of the trust bundle: when it expires. */
      readonly caExpiresAt?: string;
    }
  | { readonly name: string; readonly namespace: string; readonly found: false; readonly error: string };

export interface AdmissionStatus {
  readonly webhook: WebhookStatus;
  readonly secret: SecretStatus;
}

export interface LeaderElectionStatus {
  /** `namespace/name` of the Lease. */
  readonly lease: string;
  /** `Running` (held and renewed in time), `Expired` (held, not renewed in time), `Released`, `Not started`, `Failing` (unreadable). */
  readonly state: 'Running' | 'Expired' | 'Released' | 'Not started' | 'Failing';
  readonly holderIdentity?: string;
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly leaseDurationSeconds?: number;
  readonly transitions?: number;
  readonly error?: string;
}

export interface ClusterAgentApiStatus {
  /** `namespace/name`. */
  readonly service: string;
  readonly serviceFound: boolean;
  readonly ports: readonly number[];
  readonly readyEndpoints: number;
  readonly notReadyEndpoints: number;
  readonly caConfigMap: string;
  readonly caConfigMapFound: boolean;
  readonly caBundleDigest?: string;
  /** Reads that failed (forbidden, unreachable), each naming what it read. */
  readonly errors: readonly string[];
}

export interface UpstreamResult {
  /** `ok`, or the node agent's state for that upstream (`error`, `stale`...). */
  readonly state: string;
  /** The problem's code (`unauthorized`, `tls-unknown-ca`...), when there is one. */
  readonly code?: string;
  readonly summary?: string;
}

export interface NodeAgentReport {
  readonly node: string;
  readonly lastSeen?: string;
  readonly kubelet?: UpstreamResult;
  readonly clusterAgent?: UpstreamResult;
  /** Set when the report could not be read; the other fields are then absent. */
  readonly error?: string;
}

export interface NodeAgentsStatus {
  /** `namespace/name` of the ConfigMap the cluster agent keeps the reports in. */
  readonly configMap: string;
  readonly found: boolean;
  readonly nodes: readonly NodeAgentReport[];
  readonly error?: string;
}

export interface StatusReport {
  readonly namespace: string;
  /** When the report was made, RFC 3339. */
  readonly at: string;
  readonly admissionController: AdmissionStatus;
  readonly leaderElection: LeaderElectionStatus;
  readonly clusterAgentApi: ClusterAgentApiStatus;
  readonly nodeAgents: NodeAgentsStatus;
}
