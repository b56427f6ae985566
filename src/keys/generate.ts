// Key generation through jose (WebCrypto: asynchronous, off the main thread). Keys are generated extractable
// only to be exported as JWKs into storage; whoever uses them imports them again, non-extractable.

import { base64url, calculateJwkThumbprint, exportJWK, generateKeyPair, generateSecret } from 'jose';
import { randomBytes } from 'node:crypto';
import type { StoredKey } from '../storage/storage.js';

export type SigningAlgorithm = 'RS256' | 'ES256';
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['RS256', 'ES256'];

/** The content encryption of sealed requests (`dir` key management: the stored key is the CEK). */
export const SEALING_ENC = 'A256GCM';

/**
 * A fresh signing key pair. RS256 = RSA 2048, ES256 = P-256. kid = RFC 7638 SHA-256 thumbprint of the public
 * key; both JWKs carry kid, `alg` and `use: sig`.
 */
export async function generateSigningKey(
  alg: SigningAlgorithm,
  activeFrom: Date,
  now: Date,
): Promise<StoredKey> {
  if (!SIGNING_ALGORITHMS.includes(alg)) throw new RangeError(`unsupported signing algorithm ${String(alg)}`);
  const { privateKey, publicKey } = await generateKeyPair(
    alg,
    alg === 'RS256' ? { modulusLength: 2048, extractable: true } : { extractable: true },
  );
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub, 'sha256');
  const priv = await exportJWK(privateKey);
  return {
    kid,
    alg,
    privateJwk: { ...priv, kid, alg, use: 'sig' },
    publicJwk: { ...pub, kid, alg, use: 'sig' },
    createdAt: new Date(now.getTime()),
    activeFrom: new Date(activeFrom.getTime()),
  };
}

/**
 * A fresh symmetric A256GCM key for sealing. Its kid is random (a thumbprint of a secret key would be a hash
 * of the secret, and it appears in every sealed value's header).
 */
export async function generateSealingKey(activeFrom: Date, now: Date): Promise<StoredKey> {
  const secret = await generateSecret(SEALING_ENC, { extractable: true });
  const jwk = await exportJWK(secret);
  const kid = base64url.encode(randomBytes(16));
  return {
    kid,
    alg: SEALING_ENC,
    privateJwk: { ...jwk, kid, alg: SEALING_ENC },
    createdAt: new Date(now.getTime()),
    activeFrom: new Date(activeFrom.getTime()),
  };
}
