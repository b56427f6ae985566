import { audiences } from './audience.js';
import type { Authorization } from './authorization.js';
import { encodeSubject } from './subject.js';

export interface IdTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  azp?: string;
  nonce?: string;
  auth_time?: number;
  at_hash?: string;
  c_hash?: string;
  email?: string;
  email_verified?: boolean;
  groups?: string[];
  name?: string;
  preferred_username?: string;
  federated_claims?: { connector_id: string; user_id: string };
  /** The browser session (OIDC Front-/Back-Channel Logout `sid`), when the login came from one. */
  sid?: string;
}

/**
 * The claim set Dex emits (reference §3), in Dex's order, plus `jti` and `auth_time`. `aud` is a plain string
 * when there is one audience; `azp` appears only with several.
 */
export function idTokenClaims(
  s: Authorization,
  opts: {
    issuer: string;
    issuedAt: number;
    lifetimeSeconds: number;
    jti: string;
    atHash?: string;
    cHash?: string;
  },
): IdTokenClaims {
  const aud = audiences(s.clientID, s.scopes);
  const out: IdTokenClaims = {
    iss: opts.issuer,
    sub: encodeSubject(s.claims.userID, s.connectorID),
    aud: aud.length === 1 ? aud[0]! : aud,
    exp: opts.issuedAt + opts.lifetimeSeconds,
    iat: opts.issuedAt,
    jti: opts.jti,
  };
  if (aud.length > 1) out.azp = s.clientID;
  if (s.nonce) out.nonce = s.nonce;
  if (s.authTime) out.auth_time = Math.floor(s.authTime.getTime() / 1000);
  if (opts.atHash) out.at_hash = opts.atHash;
  if (opts.cHash) out.c_hash = opts.cHash;
  if (s.sessionID) out.sid = s.sessionID;
  for (const scope of s.scopes) {
    switch (scope) {
      case 'email':
        // Dex omits an empty email (Go's omitempty) but always says whether it is verified.
        if (s.claims.email !== '') out.email = s.claims.email;
        out.email_verified = s.claims.emailVerified;
        break;
      case 'groups':
        if (s.claims.groups.length > 0) out.groups = [...s.claims.groups];
        break;
      case 'profile':
        out.name = s.claims.username;
        out.preferred_username = s.claims.preferredUsername;
        break;
      case 'federated:id':
        out.federated_claims = { connector_id: s.connectorID, user_id: s.claims.userID };
        break;
    }
  }
  return out;
}
