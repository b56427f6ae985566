import { generateSigningKey, type SigningAlgorithm } from '../keys/generate.js';
import { initialKeySet } from '../keys/rotation.js';
import type { KeySet, StoredKey } from '../storage/storage.js';
import { publicJwk } from './dex-encoding.js';
import type { DexKeys } from './dex-model.js';

// Dex's signing keys → keys Latchkey publishes at /keys but never signs with, so ID tokens Dex issued keep
// verifying through the switch. Dex's kid is kept (its tokens name it). Only public halves are imported:
// Dex's private key stays with Dex.
//
// How long each stays published: a verification key until Dex's own expiry for it; Dex's current key for as
// long as a token it signs may live — Dex signs with it until its next rotation (the import may run while Dex
// still serves), and a token lives expiry.idTokens.
//
// In the rotation model (keys/rotation.ts) an imported key is retired from the start (activeFrom =
// retiredAt = the import), so it is never the active or the next key, and rotation keeps it untouched until
// publishUntil, then drops it.

export interface DexKeyImport {
  keys: StoredKey[];
  /** Keys not imported, with why (no kid, already expired). */
  skipped: { kid: string; reason: string }[];
}

export function keysFromDex(d: DexKeys, now: Date, idTokenLifetimeMs: number): DexKeyImport {
  const out: DexKeyImport = { keys: [], skipped: [] };
  const add = (jwk: Record<string, unknown>, publishUntil: Date, what: string): void => {
    const kid = typeof jwk.kid === 'string' ? jwk.kid : '';
    if (kid === '') {
      out.skipped.push({ kid: '(none)', reason: `${what} has no kid` });
      return;
    }
    if (publishUntil.getTime() <= now.getTime()) {
      out.skipped.push({ kid, reason: `${what} expired at ${publishUntil.toISOString()}` });
      return;
    }
    if (out.keys.some((k) => k.kid === kid)) return;
    const pub = publicJwk(jwk);
    out.keys.push({
      kid,
      alg: typeof jwk.alg === 'string' && jwk.alg !== '' ? jwk.alg : jwk.kty === 'EC' ? 'ES256' : 'RS256',
      // Required by the stored shape; empty: these keys never sign.
      privateJwk: {},
      publicJwk: pub,
      createdAt: new Date(now.getTime()),
      activeFrom: new Date(now.getTime()),
      retiredAt: new Date(now.getTime()),
      publishUntil,
    });
  };
  if (d.signingKeyPub) {
    const signsUntil = Math.max(now.getTime(), d.nextRotation.getTime());
    add(d.signingKeyPub, new Date(signsUntil + idTokenLifetimeMs), "Dex's signing key");
  }
  for (const v of d.verificationKeys) add(v.publicKey, v.expiry, 'a Dex verification key');
  return out;
}

/** The key set with the imported keys it lacks added; the same object when it has them all. */
export function withDexKeys(ks: KeySet, imported: StoredKey[]): KeySet {
  const have = new Set(ks.keys.map((k) => k.kid));
  const missing = imported.filter((k) => !have.has(k.kid));
  return missing.length === 0 ? ks : { ...ks, keys: [...ks.keys, ...missing] };
}

/**
 * The signing key set as Latchkey's first start would write it (a key that signs now, the next one
 * published ahead), plus the imported keys: for an import that runs before Latchkey ever started.
 */
export async function newSigningKeySet(
  now: Date,
  periodMs: number,
  algorithm: SigningAlgorithm,
  imported: StoredKey[],
): Promise<KeySet> {
  const next = new Date(now.getTime() + periodMs);
  const [active, upcoming] = await Promise.all([
    generateSigningKey(algorithm, now, now),
    generateSigningKey(algorithm, next, now),
  ]);
  return withDexKeys(initialKeySet('signing', now, periodMs, active, upcoming), imported);
}
