import { randomBytes, randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { JwtSigner } from '../keys/signer.js';
import type { Clock } from '../util/clock.js';
import type { Authorization } from './authorization.js';
import { idTokenClaims } from './claims.js';
import { halfHash } from './hash.js';

/**
 * The claim that makes a JWT an access token, and names the grant (login) behind it: the code's or device
 * login's refresh-token family, or a one-off ID for grants without one. Only access tokens carry it, so an
 * ID token is never mistaken for an access token at /userinfo or introspection, and revoking the grant
 * (see oauth/revocations.ts) reaches every access token it produced.
 *
 * Why a claim and not RFC 9068's `typ: at+jwt` header: Dex's access tokens are ID-token-shaped JWTs with no
 * `typ`, and its users verify them offline with whatever they have. kube-apiserver and go-oidc ignore
 * `typ`, but Nimbus JOSE ≥ 8 — Spring Security's resource server — refuses any `typ` other than `JWT` by
 * default (spring-security#9900, #13185), and so does openidconnect-rs. A claim the verifiers ignore
 * breaks nobody. The name follows OAuth 2.0 Grant Management's `grant_id`.
 */
export const GRANT_ID_CLAIM = 'grant_id';

export interface MintedTokens {
  accessToken?: string;
  idToken?: string;
  /** Seconds until both expire (Dex has one lifetime for ID and access tokens). */
  expiresIn: number;
}

export interface MintOptions {
  /** The grant the access token belongs to (its `grant_id`); required unless only an ID token is minted. */
  grantID?: string;
  /** The authorization code redeemed, for the ID token's c_hash. */
  code?: string;
  /** One token alone (RFC 8693 returns a single token). */
  only?: 'access_token' | 'id_token';
}

/**
 * Mints the access token and, with `openid`, the ID token. Like Dex, the access token is a JWT with the ID
 * token's claims (Kubernetes and proxies validate it as one), made unique by an at_hash over a throw-away
 * value, plus `grant_id` (see GRANT_ID_CLAIM). Two signatures per response, each computed once.
 */
export class TokenMinter {
  constructor(
    private readonly signer: JwtSigner,
    private readonly opts: { issuer: string; idTokenLifetimeMs: number },
    private readonly clock: Clock,
  ) {}

  /** How long access tokens live: a revocation must outlive the last one it covers. */
  get accessTokenLifetimeMs(): number {
    return this.opts.idTokenLifetimeMs;
  }

  /**
   * The access token and, with `openid`, the ID token. `only` asks for one of them (RFC 8693 returns a
   * single token): an ID token alone is minted even without `openid`, as token exchange asks for it by type.
   */
  async mint(auth: Authorization, extra: MintOptions = {}): Promise<MintedTokens> {
    const issuedAt = Math.floor(this.clock.now().getTime() / 1000);
    const lifetimeSeconds = Math.floor(this.opts.idTokenLifetimeMs / 1000);
    const alg = this.signer.algorithm();
    const base = { issuer: this.opts.issuer, issuedAt, lifetimeSeconds };
    const claims = (atHash: string | undefined, cHash?: string): JWTPayload =>
      idTokenClaims(auth, {
        ...base,
        jti: randomUUID(),
        ...(atHash ? { atHash } : {}),
        ...(cHash ? { cHash } : {}),
      }) as JWTPayload;

    if (extra.only === 'id_token') {
      return { idToken: await this.signer.sign(claims(undefined)), expiresIn: lifetimeSeconds };
    }
    if (!extra.grantID) throw new TypeError('an access token needs the ID of the grant it belongs to');
    const accessToken = await this.signer.sign({
      ...claims(halfHash(randomBytes(16).toString('base64url'), alg)),
      [GRANT_ID_CLAIM]: extra.grantID,
    });
    if (extra.only === 'access_token' || !auth.scopes.includes('openid'))
      return { accessToken, expiresIn: lifetimeSeconds };
    const idToken = await this.signer.sign(
      claims(halfHash(accessToken, alg), extra.code ? halfHash(extra.code, alg) : undefined),
    );
    return { accessToken, idToken, expiresIn: lifetimeSeconds };
  }
}
