/**
 * The "CA bundle digest" of SPEC §7 and of the seeds' `status` output: 64-bit FNV-1 (multiply, then
 * xor; not FNV-1a) of the PEM bytes, as 16 lower-case hex digits. Comparing the Secret's digest with each
 * webhook entry's tells whether the API server trusts the certificate the webhook serves.
 */
const FNV64_OFFSET_BASIS = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const MASK64 = (1n << 64n) - 1n;

export function caBundleDigest(pem: string | Uint8Array): string {
  const bytes = typeof pem === 'string' ? Buffer.from(pem, 'utf8') : pem;
  let hash = FNV64_OFFSET_BASIS;
  for (const byte of bytes) {
    hash = (hash * FNV64_PRIME) & MASK64;
    hash ^= BigInt(byte);
  }
  return hash.toString(16).padStart(16, '0');
}
