import { randomBytes, randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { JwtSigner } from '../keys/signer.js';
import type { Clock } from '../util/clock.js';
import type { Authorization } from './authorization.js';
import { idTokenClaims } from './claims.js';
import { halfHash } from './hash.js';

export interface MintedTokens {
  accessToken?: string;
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

  /**
   * The access token and, with `openid`, the ID token. `only` asks for one of them (RFC 8693 returns a
   * single token): an ID token alone is minted even without `openid`, as token exchange asks for it by type.
   */
  async mint(
    auth: Authorization,
    extra: { code?: string; only?: 'access_token' | 'id_token' } = {},
  ): Promise<MintedTokens> {
    const issuedAt = Math.floor(this.clock.now().getTime() / 1000);
    const lifetimeSeconds = Math.floor(this.opts.idTokenLifetimeMs / 1000);
    const alg = this.signer.algorithm();
    const base = { issuer: this.opts.issuer, issuedAt, lifetimeSeconds };
    const sign = (atHash: string | undefined, cHash?: string) =>
      this.signer.sign(
        idTokenClaims(auth, {
          ...base,
          jti: randomUUID(),
          ...(atHash ? { atHash } : {}),
          ...(cHash ? { cHash } : {}),
        }) as JWTPayload,
      );

    if (extra.only === 'id_token') return { idToken: await sign(undefined), expiresIn: lifetimeSeconds };
    const accessToken = await sign(halfHash(randomBytes(16).toString('base64url'), alg));
    if (extra.only === 'access_token' || !auth.scopes.includes('openid'))
      return { accessToken, expiresIn: lifetimeSeconds };
    const idToken = await sign(
      halfHash(accessToken, alg),
      extra.code ? halfHash(extra.code, alg) : undefined,
    );
    return { accessToken, idToken, expiresIn: lifetimeSeconds };
  }
}
