import { randomBytes, randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { JwtSigner } from '../keys/signer.js';
import type { Clock } from '../util/clock.js';
import { idTokenClaims, type TokenSubject } from './claims.js';
import { halfHash } from './hash.js';

export interface MintedTokens {
  accessToken: string;
  idToken?: string;
  /** Seconds until both expire (Dex has one lifetime for ID and access tokens). */
  expiresIn: number;
}

/**
 * Mints the access token and, with `openid`, the ID token. Like Dex, the access token is a JWT with the ID
 * token's claims (Kubernetes and proxies validate it as one), made unique by an at_hash over a throw-away
 * value. Two signatures per response, each computed once.
 */
export class TokenMinter {
  constructor(
    private readonly signer: JwtSigner,
    private readonly opts: { issuer: string; idTokenLifetimeMs: number },
    private readonly clock: Clock,
  ) {}

  async mint(subject: TokenSubject, extra: { code?: string } = {}): Promise<MintedTokens> {
    const issuedAt = Math.floor(this.clock.now().getTime() / 1000);
    const lifetimeSeconds = Math.floor(this.opts.idTokenLifetimeMs / 1000);
    const alg = this.signer.algorithm();
    const base = { issuer: this.opts.issuer, issuedAt, lifetimeSeconds };

    const accessToken = await this.signer.sign(
      idTokenClaims(subject, {
        ...base,
        jti: randomUUID(),
        atHash: halfHash(randomBytes(16).toString('base64url'), alg),
      }) as JWTPayload,
    );
    if (!subject.scopes.includes('openid')) return { accessToken, expiresIn: lifetimeSeconds };

    const idToken = await this.signer.sign(
      idTokenClaims(subject, {
        ...base,
        jti: randomUUID(),
        atHash: halfHash(accessToken, alg),
        ...(extra.code ? { cHash: halfHash(extra.code, alg) } : {}),
      }) as JWTPayload,
    );
    return { accessToken, idToken, expiresIn: lifetimeSeconds };
  }
}
