import { createRemoteJWKSet, customFetch, errors, jwtVerify, type FetchImplementation } from 'jose';
import * as oidc from 'openid-client';

// The receiving side of OpenID Connect Back-Channel Logout 1.0, as a relying party does it: a logout token
// POSTed by the issuer is validated (§2.6) against the issuer's published keys, and what it names is
// remembered so the app's home page can show it. The spec's names are spelled out here rather than imported
// from Latchkey's own token module: the app checks Latchkey against the specification, not against itself.

/** The `events` member that makes a JWT a logout token (§2.4). */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** The JWS `typ` of a logout token (§2.4), so that no other JWT of the issuer passes for one. */
export const LOGOUT_TOKEN_TYPE = 'logout+jwt';
/** How old a logout token's `iat` may be: "recent" (§2.6 step 2), with room for one retry and some skew. */
export const LOGOUT_TOKEN_MAX_AGE_SECONDS = 300;
const CLOCK_TOLERANCE_SECONDS = 30;

/** What an accepted logout token names: the session, the user, or both (§2.4: at least one). */
export interface ReceivedLogout {
  sid?: string;
  sub?: string;
  receivedAt: Date;
}

/** The token is not a valid logout token for this client: answer 400 (§2.8). */
export class InvalidLogoutToken extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidLogoutToken';
  }
}

export type LogoutTokenVerifier = (token: string) => Promise<ReceivedLogout>;

/**
 * A verifier for the client of `config`: signature by a key of the issuer's JWKS (fetched as openid-client
 * fetches, so with the same `--issuer-root-ca`), `iss`, `aud` naming the client, `iat` present and recent,
 * `exp` and `jti` present, `typ` logout+jwt, the back-channel event, `sid` or `sub`, and no `nonce`.
 * Throws InvalidLogoutToken when the token is at fault; any other error means the issuer's keys could not be
 * had, which is not the token's fault (the issuer may retry).
 */
export function logoutTokenVerifier(config: oidc.Configuration): LogoutTokenVerifier {
  const metadata = config.serverMetadata();
  const clientID = config.clientMetadata().client_id;
  if (!metadata.jwks_uri) {
    // Not the token's fault: nothing here can check any token.
    return () => Promise.reject(new Error('the issuer publishes no jwks_uri'));
  }
  const fetch = config[oidc.customFetch];
  const keys = createRemoteJWKSet(new URL(metadata.jwks_uri), {
    ...(fetch ? { [customFetch]: fetch as unknown as FetchImplementation } : {}),
  });
  // The algorithms the issuer says it signs ID tokens with; jose never accepts "none" from a key set.
  const algorithms = metadata.id_token_signing_alg_values_supported?.filter((a) => a !== 'none');

  return async (token) => {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: metadata.issuer,
        audience: clientID,
        typ: LOGOUT_TOKEN_TYPE,
        requiredClaims: ['iat', 'exp', 'jti'],
        maxTokenAge: LOGOUT_TOKEN_MAX_AGE_SECONDS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        ...(algorithms && algorithms.length > 0 ? { algorithms } : {}),
      }));
    } catch (e) {
      if (isTokenError(e)) throw new InvalidLogoutToken((e as Error).message);
      throw e;
    }
    const events = payload.events;
    const event =
      typeof events === 'object' && events !== null && !Array.isArray(events)
        ? (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT]
        : undefined;
    if (typeof event !== 'object' || event === null || Array.isArray(event)) {
      throw new InvalidLogoutToken(`no ${BACKCHANNEL_LOGOUT_EVENT} event`);
    }
    // §2.4 forbids it, so that an ID token (which may carry one) can never be replayed as a logout token.
    if (payload.nonce !== undefined) throw new InvalidLogoutToken('a logout token must not carry a nonce');
    const sid = nonEmptyString(payload.sid, 'sid');
    const sub = nonEmptyString(payload.sub, 'sub');
    if (sid === undefined && sub === undefined) throw new InvalidLogoutToken('neither sid nor sub');
    return {
      ...(sid !== undefined ? { sid } : {}),
      ...(sub !== undefined ? { sub } : {}),
      receivedAt: new Date(),
    };
  };
}

/** jose's verdicts on the token itself (as opposed to its key set being out of reach). */
function isTokenError(e: unknown): boolean {
  return [
    errors.JWTClaimValidationFailed,
    errors.JWTExpired,
    errors.JWTInvalid,
    errors.JWSInvalid,
    errors.JWSSignatureVerificationFailed,
    errors.JOSEAlgNotAllowed,
    errors.JOSENotSupported,
    errors.JWKSNoMatchingKey,
    errors.JWKSMultipleMatchingKeys,
  ].some((kind) => e instanceof kind);
}

function nonEmptyString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new InvalidLogoutToken(`${name} must be a string`);
  return value;
}

/**
 * The last few logouts received, newest first: for the home page only, so a bounded list (anyone who can
 * reach the app can post, and only valid tokens get here, but the issuer can send as many as it likes).
 */
export class RecentLogouts {
  private readonly items: ReceivedLogout[] = [];

  constructor(private readonly max = 10) {}

  add(logout: ReceivedLogout): void {
    this.items.unshift(logout);
    this.items.length = Math.min(this.items.length, this.max);
  }

  list(): readonly ReceivedLogout[] {
    return this.items;
  }
}
