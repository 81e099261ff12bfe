/**
 * What a failed TLS connection says about the peer, read off Node's error codes and OpenSSL's messages,
 * for both of the node agent's clients (kubelet, cluster agent), which word the fix each for its own
 * peer. Pure.
 */

/** Node's codes for a certificate not signed by a CA we trust. */
const UNKNOWN_CA_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
]);
const WRONG_NAME_CODES = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH']);
/** The peer answered in something that is not TLS (plain HTTP on a TLS port). */
const NOT_TLS_CODES = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST']);
const NOT_TLS = /wrong version number|packet length too long|http request|unknown protocol|record layer failure/i;
const TLS_VERSION = /unsupported protocol|protocol version|no protocols available|version too low/i;

export type TlsFailure =
  /** The certificate is not signed by a CA we trust. */
  | 'unknown-ca'
  /** The certificate does not name the address we asked for. */
  | 'wrong-name'
  | 'expired'
  | 'not-yet-valid'
  /** Not TLS at all on that port (plain HTTP, another protocol). */
  | 'not-tls'
  /** TLS, but no protocol version both sides speak. */
  | 'tls-version';

/** The TLS reason of a connection failure, or undefined when it is not one of these. */
export function tlsFailure(code: string | undefined, message: string): TlsFailure | undefined {
  const c = code ?? '';
  if (UNKNOWN_CA_CODES.has(c)) return 'unknown-ca';
  if (WRONG_NAME_CODES.has(c)) return 'wrong-name';
  if (c === 'CERT_HAS_EXPIRED') return 'expired';
  if (c === 'CERT_NOT_YET_VALID') return 'not-yet-valid';
  if (TLS_VERSION.test(message)) return 'tls-version';
  if (NOT_TLS_CODES.has(c) || NOT_TLS.test(message)) return 'not-tls';
  return undefined;
}
