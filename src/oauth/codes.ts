import type { AuthCode, PKCE, Storage } from '../storage/storage.js';
import type { Authorization } from '../tokens/authorization.js';
import { isConflict, isNotFound } from '../storage/errors.js';
import type { Clock } from '../util/clock.js';
import { isID, type IdGenerator } from '../util/ids.js';
import { digest } from './digest.js';
import { OAuthError } from './errors.js';

/** What a code stands for: the authorization, and the redirect URI and PKCE challenge it must be redeemed with. */
export interface CodeGrant extends Authorization {
  redirectURI: string;
  pkce: PKCE;
}

/** Authorization codes: stored under their SHA-256 digest, single-use, short-lived (`expiry.authCodes`). */
export class AuthCodes {
  constructor(
    private readonly storage: Storage,
    private readonly lifetimeMs: number,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
  ) {}

  /** Stores a code for `grant` and returns the code itself (only the client ever sees it). */
  async issue(grant: CodeGrant): Promise<string> {
    const code = this.ids.newID();
    const entity: AuthCode = {
      id: digest(code),
      clientID: grant.clientID,
      scopes: [...grant.scopes],
      redirectURI: grant.redirectURI,
      nonce: grant.nonce,
      claims: grant.claims,
      connectorID: grant.connectorID,
      ...(grant.connectorData ? { connectorData: grant.connectorData } : {}),
      expiry: new Date(this.clock.now().getTime() + this.lifetimeMs),
      pkce: grant.pkce,
      ...(grant.authTime ? { authTime: grant.authTime } : {}),
      ...(grant.sessionID ? { sessionID: grant.sessionID } : {}),
    };
    await this.storage.createAuthCode(entity);
    return code;
  }

  /**
   * Redeems a code exactly once: read, delete with a precondition, and only then return it to mint from.
   * A code that is unknown, already used or expired is `invalid_grant`; `replayed` says which.
   */
  async redeem(code: string): Promise<AuthCode> {
    // Not a code we could have issued: refused without a storage read, and never a replay to act on.
    if (!isID(code)) throw new OAuthError('invalid_grant', 'Invalid or expired code parameter.');
    let entity: AuthCode;
    try {
      entity = await this.storage.consumeAuthCode(digest(code));
    } catch (e) {
      if (isNotFound(e) || isConflict(e)) throw new CodeNotFoundError(digest(code));
      throw e;
    }
    if (entity.expiry.getTime() < this.clock.now().getTime()) {
      throw new OAuthError('invalid_grant', 'Invalid or expired code parameter.');
    }
    return entity;
  }
}

/** The code is unknown: never issued, expired and collected, or redeemed already (a replay). */
export class CodeNotFoundError extends OAuthError {
  constructor(readonly codeDigest: string) {
    super('invalid_grant', 'Invalid or expired code parameter.');
  }
}

/** The client redirect carrying the code (RFC 6749 §4.1.2 + RFC 9207 `iss`). */
export function codeRedirect(
  redirectURI: string,
  params: { code: string; state: string; issuer: string },
): string {
  return appendQuery(redirectURI, {
    code: params.code,
    ...(params.state ? { state: params.state } : {}),
    iss: params.issuer,
  });
}

/** The client redirect carrying an error (RFC 6749 §4.1.2.1 + RFC 9207 `iss`). */
export function errorRedirect(
  redirectURI: string,
  params: { error: string; description: string; state: string; issuer: string },
): string {
  return appendQuery(redirectURI, {
    error: params.error,
    error_description: params.description,
    ...(params.state ? { state: params.state } : {}),
    iss: params.issuer,
  });
}

function appendQuery(uri: string, params: Record<string, string>): string {
  const q = new URLSearchParams(params).toString();
  const hash = uri.indexOf('#');
  const base = hash === -1 ? uri : uri.slice(0, hash);
  return `${base}${base.includes('?') ? '&' : '?'}${q}`;
}
