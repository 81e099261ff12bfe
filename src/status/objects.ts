/**
 * The API objects `status` reads, as the API server's JSON has them (times are strings, Secret data is
 * base64), narrowed to the fields used (the certificate Secret: its metadata only). Structural, so tests hand in plain literals.
 */
import type { LabelSelector } from './selector.js';

export interface ObjectMeta {
  readonly name?: string;
  readonly namespace?: string;
  /** RFC 3339, e.g. `2023-09-25T22:32:07Z`. */
  readonly creationTimestamp?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface WebhookRule {
  readonly operations?: readonly string[];
  readonly apiGroups?: readonly string[];
  readonly apiVersions?: readonly string[];
  readonly resources?: readonly string[];
}

export interface MutatingWebhook {
  readonly name: string;
  readonly clientConfig?: {
    readonly caBundle?: string;
    readonly url?: string;
    readonly service?: { readonly namespace?: string; readonly name?: string; readonly port?: number; readonly path?: string };
  };
  readonly rules?: readonly WebhookRule[];
  readonly objectSelector?: LabelSelector;
  readonly namespaceSelector?: LabelSelector;
}

export interface MutatingWebhookConfiguration {
  readonly metadata?: ObjectMeta;
  readonly webhooks?: readonly MutatingWebhook[];
}

export interface ConfigMap {
  readonly metadata?: ObjectMeta;
  readonly data?: Readonly<Record<string, string>>;
}

export interface Lease {
  readonly metadata?: ObjectMeta;
  readonly spec?: {
    readonly holderIdentity?: string;
    readonly leaseDurationSeconds?: number;
    /** MicroTime: RFC 3339 with six fractional digits. */
    readonly acquireTime?: string;
    readonly renewTime?: string;
    readonly leaseTransitions?: number;
  };
}

export interface Service {
  readonly metadata?: ObjectMeta;
  readonly spec?: { readonly ports?: readonly { readonly name?: string; readonly port: number; readonly targetPort?: number | string }[] };
}

export interface EndpointSlice {
  readonly metadata?: ObjectMeta;
  readonly endpoints?: readonly { readonly addresses?: readonly string[]; readonly conditions?: { readonly ready?: boolean } }[];
}

/**
 * One read's outcome: the object (undefined: it does not exist), or why it could not be read. Sections
 * are built from these, so that one forbidden or failed read shows up in its own line and the rest of
 * the report is still printed.
 */
export type Read<T> = { readonly ok: true; readonly value: T | undefined } | { readonly ok: false; readonly error: string };
