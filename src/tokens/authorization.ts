import type { Claims } from '../storage/storage.js';

/**
 * An authorised subject bound to a client and scopes: what every grant ends in and every token is minted
 * from. A code, a pending approval, a completed device login and a refresh token each hold one (plus what
 * their own step needs); the token endpoint turns one into a response through oauth/issuance.ts.
 */
export interface Authorization {
  clientID: string;
  scopes: string[];
  claims: Claims;
  /** The connector that vouched for the claims; "" for client_credentials, where the client is the subject. */
  connectorID: string;
  /** Echoed into the ID token ("" = none). */
  nonce: string;
  /** When the user last logged in interactively (the `auth_time` claim). */
  authTime?: Date;
  /** The connector's opaque state for later refreshes (an upstream refresh token); never in a token. */
  connectorData?: Uint8Array;
  /** The browser session the login came from: the ID token's `sid`. */
  sessionID?: string;
}

/** The JSON form of an Authorization, for entities that store one as a string (a completed device login). */
interface StoredAuthorization extends Omit<Authorization, 'authTime' | 'connectorData'> {
  authTime?: string;
  /** base64 */
  connectorData?: string;
}

export function serializeAuthorization(a: Authorization): string {
  const stored: StoredAuthorization = {
    clientID: a.clientID,
    scopes: a.scopes,
    claims: a.claims,
    connectorID: a.connectorID,
    nonce: a.nonce,
    ...(a.authTime ? { authTime: a.authTime.toISOString() } : {}),
    ...(a.connectorData ? { connectorData: Buffer.from(a.connectorData).toString('base64') } : {}),
    ...(a.sessionID ? { sessionID: a.sessionID } : {}),
  };
  return JSON.stringify(stored);
}

export function parseAuthorization(json: string): Authorization {
  const s = JSON.parse(json) as StoredAuthorization;
  return {
    clientID: s.clientID,
    scopes: s.scopes,
    claims: s.claims,
    connectorID: s.connectorID,
    // Written before nonces were kept for device logins: none.
    nonce: s.nonce ?? '',
    ...(s.authTime ? { authTime: new Date(s.authTime) } : {}),
    ...(s.connectorData ? { connectorData: new Uint8Array(Buffer.from(s.connectorData, 'base64')) } : {}),
    ...(s.sessionID ? { sessionID: s.sessionID } : {}),
  };
}

/** The Authorization an entity holds among its other fields (an AuthRequest, AuthCode or RefreshToken). */
export function authorizationOf(e: Authorization): Authorization {
  return {
    clientID: e.clientID,
    scopes: [...e.scopes],
    claims: e.claims,
    connectorID: e.connectorID,
    nonce: e.nonce,
    ...(e.authTime ? { authTime: e.authTime } : {}),
    ...(e.connectorData ? { connectorData: e.connectorData } : {}),
    ...(e.sessionID ? { sessionID: e.sessionID } : {}),
  };
}
