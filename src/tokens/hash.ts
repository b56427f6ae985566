import { createHash } from 'node:crypto';

/**
 * at_hash / c_hash (OpenID Connect Core §3.1.3.6, §3.3.2.11): the left half of the hash of the ASCII value,
 * base64url. The hash follows the signing algorithm's size (SHA-256 for RS256/ES256).
 */
export function halfHash(value: string, alg: string): string {
  const bits = /384$/.test(alg) ? 'sha384' : /512$/.test(alg) ? 'sha512' : 'sha256';
  const full = createHash(bits).update(value, 'ascii').digest();
  return full.subarray(0, full.length / 2).toString('base64url');
}
