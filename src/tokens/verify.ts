import { createLocalJWKSet, jwtVerify, type JWTPayload, type JWK } from 'jose';
import type { JwtSigner } from '../keys/signer.js';
import type { Clock } from '../util/clock.js';

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

  private async keySet(): Promise<ReturnType<typeof createLocalJWKSet>> {
    const { keys } = await this.signer.jwks();
    const kids = keys.map((k: JWK) => k.kid).join(',');
    if (this.cached?.kids !== kids) this.cached = { kids, jwks: createLocalJWKSet({ keys }) };
    return this.cached.jwks;
  }
}
