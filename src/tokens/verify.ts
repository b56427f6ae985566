import { compactVerify, createLocalJWKSet, jwtVerify, type JWTPayload, type JWK } from 'jose';
import type { JwtSigner } from '../keys/signer.js';
import type { Clock } from '../util/clock.js';
import { GRANT_ID_CLAIM } from './mint.js';

/** An access token of this issuer, verified, with the grant (login) it belongs to. */
export interface VerifiedAccessToken {
  payload: JWTPayload;
  grantID: string;
  /** The client it was issued to: `azp`, present whenever there are several audiences, else the `aud`. */
  clientID: string;
}

/** What an id_token_hint says, once verified. */
export interface IdTokenHint {
  sub: string;
  /** The client it was issued to. */
  clientID: string;
  /** The browser session it came from, when it did. */
  sid?: string;
}

/**
 * Verifies tokens Latchkey itself issued (for /userinfo and introspection) against its own published keys:
 * signature, issuer and expiry. The local key set is rebuilt only when the published kids change.
 */
export class OwnTokenVerifier {
  private cached: { kids: string; jwks: ReturnType<typeof createLocalJWKSet> } | undefined;

  constructor(
    private readonly signer: JwtSigner,
    private readonly issuer: string,
    private readonly clock: Clock,
    /** Whether a grant was ended early (oauth/revocations.ts); passed in, as tokens/ sits below oauth/. */
    private readonly isGrantRevoked: (grantID: string) => Promise<boolean> = async () => false,
  ) {}

  /** The payload, or undefined for anything that is not a valid, unexpired token of this issuer. */
  async verify(token: string): Promise<JWTPayload | undefined> {
    if (token.length > 16_384 || token.split('.').length !== 3) return undefined;
    try {
      const { payload } = await jwtVerify(token, await this.keySet(), {
        issuer: this.issuer,
        currentDate: this.clock.now(),
        algorithms: this.signer.algorithms(),
      });
      return payload;
    } catch {
      return undefined;
    }
  }

  /**
   * A valid access token whose login is still alive; undefined for anything else — an ID token included
   * (it carries no grant ID), and a token of a revoked grant.
   */
  async verifyAccessToken(token: string): Promise<VerifiedAccessToken | undefined> {
    const payload = await this.verify(token);
    const grantID = payload?.[GRANT_ID_CLAIM];
    if (!payload || !isAccessToken(grantID)) return undefined;
    const clientID = issuedTo(payload);
    if (clientID === undefined || (await this.isGrantRevoked(grantID))) return undefined;
    return { payload, grantID, clientID };
  }

  /**
   * An ID token this issuer signed, expired or not: what `id_token_hint` must be at /auth (OIDC Core
   * §3.1.2.1) and at logout (RP-Initiated Logout §2, which accepts expired hints — a relying party logs out
   * users whose tokens ran out). The signing key must still be published. Undefined for anything else,
   * access tokens included.
   */
  async verifyIdTokenHint(token: string): Promise<IdTokenHint | undefined> {
    if (token.length > 16_384 || token.split('.').length !== 3) return undefined;
    let payload: JWTPayload;
    try {
      const verified = await compactVerify(token, await this.keySet(), {
        algorithms: this.signer.algorithms(),
      });
      payload = JSON.parse(new TextDecoder().decode(verified.payload)) as JWTPayload;
    } catch {
      return undefined;
    }
    if (payload.iss !== this.issuer || typeof payload.sub !== 'string') return undefined;
    if (payload[GRANT_ID_CLAIM] !== undefined) return undefined;
    const clientID = issuedTo(payload);
    if (clientID === undefined) return undefined;
    return {
      sub: payload.sub,
      clientID,
      ...(typeof payload.sid === 'string' ? { sid: payload.sid } : {}),
    };
  }

  private async keySet(): Promise<ReturnType<typeof createLocalJWKSet>> {
    const { keys } = await this.signer.jwks();
    const kids = keys.map((k: JWK) => k.kid).join(',');
    if (this.cached?.kids !== kids) this.cached = { kids, jwks: createLocalJWKSet({ keys }) };
    return this.cached.jwks;
  }
}

function issuedTo(payload: JWTPayload): string | undefined {
  if (typeof payload.azp === 'string') return payload.azp;
  if (typeof payload.aud === 'string') return payload.aud;
  return payload.aud?.length === 1 ? payload.aud[0] : undefined;
}

/** Access tokens carry a grant ID; ID tokens never do (see GRANT_ID_CLAIM). */
function isAccessToken(grantID: unknown): grantID is string {
  return typeof grantID === 'string' && grantID !== '';
}
