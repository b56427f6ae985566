// JWS signing with the active signing key, and the JWKS. Signing is asynchronous (WebCrypto through jose);
// each private key is imported once per process (CryptoKeys cached by kid).

import { importJWK, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { StoredKey } from '../storage/storage.js';
import type { Clock } from '../util/clock.js';
import type { KeyManager } from './manager.js';
import { activeKey, jwksMaxAgeSeconds, publishedKeys } from './rotation.js';

export class NoSigningKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoSigningKeyError';
  }
}

/** Cached imports beyond this many are pruned to the kids still in the key set. */
const CACHE_SOFT_LIMIT = 8;

export class JwtSigner {
  private readonly clock: Clock;
  private readonly imported = new Map<string, Promise<CryptoKey>>();
  private importCount = 0;

  constructor(
    private readonly keys: KeyManager,
    clock?: Clock,
  ) {
    if (keys.kind !== 'signing') throw new TypeError('JwtSigner needs a signing KeyManager');
    this.clock = clock ?? keys.clock;
  }

  /** Private keys imported so far (each kid once). */
  get imports(): number {
    return this.importCount;
  }

  /** A compact JWS of `payload`; protected header = { alg, kid } only (no typ), like Dex. */
  async sign(payload: JWTPayload): Promise<string> {
    const ks = await this.keys.current();
    const key = activeKey(ks, this.clock.now());
    if (key === undefined) throw new NoSigningKeyError(`no active key in key set ${ks.name}`);
    const cryptoKey = await this.importKey(key, ks.keys);
    return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid }).sign(cryptoKey);
  }

  /** The algorithm tokens are signed with now (the configured one until the key set has been read). */
  algorithm(): string {
    const ks = this.keys.cachedKeySet();
    return (ks && activeKey(ks, this.clock.now())?.alg) ?? this.keys.algorithm;
  }

  /** Every algorithm a published key uses (more than one while an algorithm change rolls over). */
  algorithms(): string[] {
    const ks = this.keys.cachedKeySet();
    const algs = new Set<string>();
    if (ks) for (const k of publishedKeys(ks, this.clock.now())) algs.add(k.alg);
    if (algs.size === 0) algs.add(this.keys.algorithm);
    return [...algs].sort();
  }

  /** Public JWKs of the active, next and retired-but-retained keys. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const ks = await this.keys.current();
    const keys: JWK[] = [];
    for (const k of publishedKeys(ks, this.clock.now())) {
      if (k.publicJwk !== undefined) keys.push({ ...(k.publicJwk as JWK) });
    }
    return { keys };
  }

  /** Cache-Control max-age for the JWKS: shorter than the time a key is published before it signs. */
  jwksMaxAgeSeconds(): number {
    return jwksMaxAgeSeconds(this.keys.rotationPeriodMs);
  }

  private importKey(key: StoredKey, inSet: StoredKey[]): Promise<CryptoKey> {
    let p = this.imported.get(key.kid);
    if (p === undefined) {
      if (this.imported.size >= CACHE_SOFT_LIMIT) {
        const live = new Set(inSet.map((k) => k.kid));
        for (const kid of this.imported.keys()) if (!live.has(kid)) this.imported.delete(kid);
      }
      this.importCount++;
      p = importJWK(key.privateJwk as JWK, key.alg, { extractable: false }).then((k) => {
        if (k instanceof Uint8Array) throw new TypeError(`key ${key.kid} is not an asymmetric signing key`);
        return k;
      });
      this.imported.set(key.kid, p);
      p.catch(() => this.imported.delete(key.kid));
    }
    return p;
  }
}
