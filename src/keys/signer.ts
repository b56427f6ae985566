// JWS signing with the active signing key, and the JWKS. Signing runs on libuv's thread pool through
// node:crypto's callback API, which costs the event loop about half of what WebCrypto does for the same
// RS256 signature (measured by test/bench); each private key is imported once per process (KeyObjects
// cached by kid). Verification and JWKS stay with jose.

import { createPrivateKey, sign as cryptoSign, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { JWK, JWTPayload } from 'jose';
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

export interface SignOptions {
  /** The JWS `typ` header (RFC 7515 §4.1.9); absent = none. */
  typ?: string;
}

/** Cached imports beyond this many are pruned to the kids still in the key set. */
const CACHE_SOFT_LIMIT = 8;

export class JwtSigner {
  private readonly clock: Clock;
  private readonly imported = new Map<string, KeyObject>();
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

  /**
   * A compact JWS of `payload`; protected header = { alg, kid } only, like Dex (ID and access tokens carry no
   * `typ`: see tokens/mint.ts GRANT_ID_CLAIM for why). `typ` is for tokens of other kinds that a verifier must
   * not take for an ID token, such as logout tokens (`logout+jwt`, Back-Channel Logout 1.0 §2.4).
   */
  async sign(payload: JWTPayload, header: SignOptions = {}): Promise<string> {
    const ks = await this.keys.current();
    const key = activeKey(ks, this.clock.now());
    if (key === undefined) throw new NoSigningKeyError(`no active key in key set ${ks.name}`);
    const privateKey = this.importKey(key, ks.keys);
    const protectedHeader = {
      alg: key.alg,
      kid: key.kid,
      ...(header.typ !== undefined ? { typ: header.typ } : {}),
    };
    const signingInput = `${b64json(protectedHeader)}.${b64json(payload)}`;
    const signature = await signAsync(key.alg, signingInput, privateKey);
    return `${signingInput}.${signature.toString('base64url')}`;
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

  private importKey(key: StoredKey, inSet: StoredKey[]): KeyObject {
    let k = this.imported.get(key.kid);
    if (k === undefined) {
      if (this.imported.size >= CACHE_SOFT_LIMIT) {
        const live = new Set(inSet.map((x) => x.kid));
        for (const kid of this.imported.keys()) if (!live.has(kid)) this.imported.delete(kid);
      }
      this.importCount++;
      k = createPrivateKey({ key: key.privateJwk as JsonWebKey, format: 'jwk' });
      if (k.asymmetricKeyType !== 'rsa' && k.asymmetricKeyType !== 'ec') {
        throw new TypeError(`key ${key.kid} is not an asymmetric signing key`);
      }
      this.imported.set(key.kid, k);
    }
    return k;
  }
}

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** RS256 = RSASSA-PKCS1-v1_5 with SHA-256; ES256 = ECDSA P-256 with SHA-256, raw r||s as JWS requires. */
function signAsync(alg: string, input: string, key: KeyObject): Promise<Buffer> {
  const options = alg.startsWith('ES') ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
  return new Promise((resolve, reject) =>
    cryptoSign('sha256', Buffer.from(input, 'ascii'), options, (err, sig) =>
      err ? reject(err) : resolve(sig),
    ),
  );
}
