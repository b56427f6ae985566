import { TOKEN_TYPE_ID, type TOKEN_TYPE_ACCESS } from '../connectors/connector.js';
import type { Authorization } from '../tokens/authorization.js';
import type { TokenMinter } from '../tokens/mint.js';
import { decodeRefreshToken } from '../tokens/refresh-token-wire.js';
import type { IdGenerator } from '../util/ids.js';
import type { RefreshTokens } from './refresh.js';

// The one way tokens leave Latchkey: every grant ends in an Authorization and hands it here. Minting, the
// refresh-token decision and the response body are decided once, so no grant can forget a rule (a refresh
// token only where it can be used, `no-store` bodies of one shape).

export type IssuedTokenType = typeof TOKEN_TYPE_ACCESS | typeof TOKEN_TYPE_ID;

/** A token response body (reference §2: Dex's fields; token_type lower-case "bearer"; RFC 8693 §2.2.1). */
export interface TokenResponse {
  access_token: string;
  /** RFC 8693: the type of what `access_token` holds (an ID token, when one was asked for). */
  issued_token_type?: IssuedTokenType;
  token_type: 'bearer';
  expires_in: number;
  refresh_token?: string;
  id_token?: string;
}

/** What a grant produced: the body to send, and whom it was issued for (the audit line and metric). */
export interface Issued {
  response: TokenResponse;
  authorization: Authorization;
}

/** What happens to refresh tokens in this response. */
export type RefreshTokenChoice =
  /** A new login: a refresh token when it can be used (see TokenIssuer.refreshable); `id` when derived. */
  | { kind: 'new'; id?: string }
  /** A refresh: hand back the rotated (or, without rotation, the same) token. */
  | { kind: 'rotated'; wire: string }
  /** Never one (client_credentials, token exchange). */
  | { kind: 'none' };

export interface IssuanceDeps {
  minter: TokenMinter;
  refreshTokens: RefreshTokens;
  /**
   * Whether a refresh token for a login through this connector could ever be redeemed: the refresh_token
   * grant is served, and the connector exists, can refresh identities and allows that grant (Dex's rule).
   */
  refreshable(connectorID: string): Promise<boolean>;
  /** IDs for grants that have no refresh-token family to name them. */
  ids: IdGenerator;
  /** Whether this client's refresh tokens die with the browser session (refreshTokenLifetime: session). */
  sessionBound?(clientID: string): Promise<boolean>;
}

export class TokenIssuer {
  constructor(private readonly deps: IssuanceDeps) {}

  /** The standard response: access token, ID token with `openid`, refresh token as `refresh` says. */
  async issue(
    authorization: Authorization,
    opts: { refresh: RefreshTokenChoice; code?: string },
  ): Promise<Issued> {
    const grantID = this.grantIDFor(opts.refresh);
    const minted = await this.deps.minter.mint(authorization, {
      grantID,
      ...(opts.code ? { code: opts.code } : {}),
    });
    const refreshToken = await this.refreshTokenFor(authorization, opts.refresh, grantID);
    return {
      authorization,
      response: {
        access_token: minted.accessToken!,
        token_type: 'bearer',
        expires_in: minted.expiresIn,
        ...(refreshToken ? { refresh_token: refreshToken } : {}),
        ...(minted.idToken ? { id_token: minted.idToken } : {}),
      },
    };
  }

  /**
   * RFC 8693 §2.2.1: one token of the requested type, always in `access_token`, its type in
   * `issued_token_type`; never a refresh token.
   */
  async issueSingle(authorization: Authorization, type: IssuedTokenType): Promise<Issued> {
    const only = type === TOKEN_TYPE_ID ? 'id_token' : 'access_token';
    const minted = await this.deps.minter.mint(authorization, { only, grantID: this.deps.ids.newID() });
    return {
      authorization,
      response: {
        access_token: (only === 'id_token' ? minted.idToken : minted.accessToken)!,
        issued_token_type: type,
        token_type: 'bearer',
        expires_in: minted.expiresIn,
      },
    };
  }

  /**
   * The grant the access token belongs to (oauth/revocations.ts): the refresh-token family a login has or
   * will have — so revoking the family reaches the access tokens —, a fresh ID where there is none.
   */
  private grantIDFor(choice: RefreshTokenChoice): string {
    switch (choice.kind) {
      case 'new':
        return choice.id ?? this.deps.ids.newID();
      case 'rotated': {
        const family = decodeRefreshToken(choice.wire)?.refreshID;
        if (!family) throw new TypeError('a rotated refresh token that does not decode');
        return family;
      }
      case 'none':
        return this.deps.ids.newID();
    }
  }

  private async refreshTokenFor(
    authorization: Authorization,
    choice: RefreshTokenChoice,
    grantID: string,
  ): Promise<string | undefined> {
    switch (choice.kind) {
      case 'none':
        return undefined;
      case 'rotated':
        return choice.wire;
      case 'new':
        if (!authorization.scopes.includes('offline_access')) return undefined;
        if (!(await this.deps.refreshable(authorization.connectorID))) return undefined;
        return this.deps.refreshTokens.create({
          ...authorization,
          id: grantID,
          sessionBound:
            authorization.sessionID !== undefined &&
            (await this.deps.sessionBound?.(authorization.clientID)) === true,
        });
    }
  }
}
