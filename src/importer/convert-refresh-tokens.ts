import { randomBytes } from 'node:crypto';
import { digest } from '../oauth/digest.js';
import type { RefreshToken } from '../storage/storage.js';
import type { DexOfflineSession, DexRefreshToken } from './dex-model.js';
import type { Decision } from './write.js';

// Dex refresh tokens → Latchkey refresh tokens that accept the very string each client holds. The wire
// format is Dex's (base64url of protobuf {refresh_id, token}), so the storage ID stays Dex's ID and the
// stored digest is that of Dex's current secret. The first refresh at Latchkey rotates it as Latchkey does
// (a fresh rotation key: the successor of secret S is HMAC(rotationKey, S)); the login is its own family.
//
// Only tokens Dex itself would honour move: Dex refuses a token that is not the one its offline session
// lists for the client (a replaced one), and one whose user has no offline session. The upstream's data
// (an OIDC refresh token, an LDAP DN) lives in Dex's offline session when Dex has it there; that is what a
// refresh at Latchkey's connector needs.
//
// Dex's obsolete secret is not carried over: presented to Latchkey outside a reuse window it would count as
// a replay and revoke the login. Presented now it is simply invalid, as Dex answers outside its window.

export type ConvertedRefreshToken = { entity: RefreshToken } | { skip: string };

export interface RefreshConversion {
  now: Date;
  /** When Latchkey's policy (expiry.refreshTokens) lets garbage collection remove the token. */
  expiryOf(t: Pick<RefreshToken, 'createdAt' | 'lastUsed'>): Date | undefined;
}

export function refreshTokenFromDex(
  d: DexRefreshToken,
  session: DexOfflineSession | undefined,
  c: RefreshConversion,
): ConvertedRefreshToken {
  if (d.token === '') {
    return {
      skip: 'it has no rotating secret (issued before Dex rotated refresh tokens); its user logs in again',
    };
  }
  if (session === undefined) {
    return { skip: 'Dex has no offline session for its user and connector, so Dex refuses it too' };
  }
  if (session.refresh[d.clientID] !== d.id) {
    return { skip: 'it is not the current refresh token of its user for its client (Dex refuses it)' };
  }
  const connectorData = session.connectorData ?? d.connectorData;
  const token: RefreshToken = {
    id: d.id,
    token: digest(d.token),
    obsoleteToken: '',
    createdAt: d.createdAt,
    lastUsed: d.lastUsed,
    clientID: d.clientID,
    scopes: [...d.scopes],
    nonce: d.nonce,
    claims: { ...d.claims, groups: [...d.claims.groups] },
    connectorID: d.connectorID,
    ...(connectorData ? { connectorData: new Uint8Array(connectorData) } : {}),
    familyID: d.id,
    rotationKey: randomBytes(32).toString('base64url'),
  };
  const expiry = c.expiryOf(token);
  if (expiry !== undefined) {
    if (expiry.getTime() < c.now.getTime()) {
      return { skip: "it has expired under Latchkey's refresh-token policy (expiry.refreshTokens)" };
    }
    token.expiry = expiry;
  }
  return { entity: token };
}

/**
 * Latchkey's copy against Dex's current state. A token Dex used after Latchkey's copy was last used is a
 * newer state of the same login (Dex was still serving it after an earlier import): it is updated. One
 * Latchkey used since the import is Latchkey's now: a conflict.
 */
export function compareRefreshToken(existing: RefreshToken, incoming: RefreshToken): Decision {
  const identity: string[] = (['clientID', 'connectorID'] as const).filter(
    (f) => existing[f] !== incoming[f],
  );
  if (existing.claims.userID !== incoming.claims.userID) identity.push('claims.userID');
  if (identity.length > 0) {
    return { kind: 'conflict', fields: identity, reason: 'a different login holds this ID in Latchkey' };
  }
  if (incoming.lastUsed.getTime() > existing.lastUsed.getTime()) {
    return { kind: 'update', reason: 'Dex used it after the last import' };
  }
  if (existing.token === incoming.token) return { kind: 'unchanged' };
  return { kind: 'conflict', fields: ['token'], reason: 'used at Latchkey since the import' };
}
