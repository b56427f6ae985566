import type { Config } from '../config/types.js';
import { issuerURL } from '../config/issuer.js';

/** The OpenID Provider metadata (OpenID Connect Discovery 1.0 §3), with Dex's field set (reference §1). */
export type DiscoveryDocument = Record<string, unknown>;

/**
 * Discovery is composed from what is actually served: each endpoint family mounted in app.ts contributes
 * its fields, so the document never advertises an endpoint or a grant that does not work.
 */
export class Discovery {
  private readonly fields: DiscoveryDocument;

  constructor(
    private readonly config: Config,
    signingAlgorithms: string[],
  ) {
    this.fields = {
      issuer: config.issuer,
      jwks_uri: this.url('/keys'),
      response_types_supported: [...config.oauth2.responseTypes].sort(),
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: signingAlgorithms,
      scopes_supported: ['openid', 'email', 'groups', 'profile', 'offline_access'],
      claims_supported: [
        'iss',
        'sub',
        'aud',
        'iat',
        'exp',
        'email',
        'email_verified',
        'locale',
        'name',
        'preferred_username',
        'at_hash',
        'groups',
        'federated_claims',
      ],
    };
  }

  /** An absolute URL of a route under the issuer. */
  url(path: string): string {
    return issuerURL(this.config.issuer, path);
  }

  /** Called by an endpoint family when it is mounted. */
  contribute(fields: DiscoveryDocument): void {
    Object.assign(this.fields, fields);
  }

  /** Claims an endpoint family makes possible (e.g. `sid` with sessions). */
  addClaims(claims: string[]): void {
    const list = this.fields.claims_supported as string[];
    for (const c of claims) if (!list.includes(c)) list.push(c);
  }

  document(): DiscoveryDocument {
    return this.fields;
  }
}
