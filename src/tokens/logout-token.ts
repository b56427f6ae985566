import { encodeSubject } from './subject.js';

// The claims of an OpenID Connect Back-Channel Logout 1.0 logout token (§2.4): what Latchkey POSTs to a
// client's backchannel_logout_uri when a browser session it took part in ends. Pure: the caller supplies the
// time and the random `jti`, so the claim set is fully determined by its inputs and tests can state it.

/** The `events` member that makes a JWT a logout token (§2.4). */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/**
 * The JWS `typ` the spec recommends (§2.4, §4.1 Cross-JWT Confusion), so a verifier that checks it never
 * takes a logout token for an ID token or the other way round.
 */
export const LOGOUT_TOKEN_TYPE = 'logout+jwt';

/**
 * How long a logout token is valid: short, as the spec recommends against replay and cross-JWT confusion
 * (§4.1). Each delivery attempt mints a token of its own, so this only has to cover one POST and clock skew.
 */
export const LOGOUT_TOKEN_LIFETIME_SECONDS = 120;

// A type, not an interface, so that it is assignable to jose's JWTPayload (which has an index signature).
export type LogoutTokenClaims = {
  iss: string;
  /** The same `sub` as the session's ID tokens (Dex's protobuf encoding of user and connector ID). */
  sub: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  events: { [BACKCHANNEL_LOGOUT_EVENT]: Record<string, never> };
  /** The session's ID, the `sid` its ID tokens carried. */
  sid: string;
};

export interface LogoutTokenInput {
  issuer: string;
  /** The client the token is for: its only audience. */
  clientID: string;
  userID: string;
  connectorID: string;
  sessionID: string;
  /** Seconds since the epoch. */
  issuedAt: number;
  /** Unique per token (§2.4 requires a `jti`; an RP may use it to refuse replays). */
  jti: string;
  lifetimeSeconds?: number;
}

/**
 * The logout token's claim set. Both `sub` and `sid` are always present: §2.4 needs at least one, and an RP
 * that registered backchannel_logout_session_required needs `sid`. Never a `nonce` (§2.4 forbids it, so that
 * a logout token cannot pass for an ID token).
 */
export function logoutTokenClaims(input: LogoutTokenInput): LogoutTokenClaims {
  requireNonEmpty('issuer', input.issuer);
  requireNonEmpty('clientID', input.clientID);
  requireNonEmpty('sessionID', input.sessionID);
  requireNonEmpty('jti', input.jti);
  const lifetime = input.lifetimeSeconds ?? LOGOUT_TOKEN_LIFETIME_SECONDS;
  if (!Number.isSafeInteger(input.issuedAt) || input.issuedAt < 0) {
    throw new RangeError('logout token: issuedAt must be whole seconds since the epoch');
  }
  if (!Number.isSafeInteger(lifetime) || lifetime <= 0) {
    throw new RangeError('logout token: lifetime must be a positive number of seconds');
  }
  return {
    iss: input.issuer,
    sub: encodeSubject(input.userID, input.connectorID),
    aud: input.clientID,
    iat: input.issuedAt,
    exp: input.issuedAt + lifetime,
    jti: input.jti,
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    sid: input.sessionID,
  };
}

/** A token naming no session, client or issuer would log out nobody, or everybody: a caller's bug. */
function requireNonEmpty(name: string, value: string): void {
  if (value === '') throw new TypeError(`logout token: ${name} must not be empty`);
}
