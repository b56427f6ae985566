import { OAuthError } from './errors.js';
import type { Client } from '../storage/storage.js';

export const CROSS_CLIENT_PREFIX = 'audience:server:client_id:';
const KNOWN = new Set(['openid', 'email', 'profile', 'groups', 'offline_access', 'federated:id']);

/** Splits a `scope` parameter (RFC 6749 §3.3: space-delimited) without duplicates, in request order. */
export function splitScopes(raw: string | undefined): string[] {
  return [...new Set((raw ?? '').split(' ').filter((s) => s !== ''))];
}

/**
 * Validates requested scopes for `clientID` (reference §2 "Scopes & cross-client trust"): `openid` is
 * required; `audience:server:client_id:<peer>` needs the peer to exist and trust the client (or be it).
 */
export async function validateScopes(
  scopes: string[],
  clientID: string,
  lookupClient: (id: string) => Promise<Pick<Client, 'id' | 'trustedPeers'> | undefined>,
): Promise<void> {
  const unknown = scopes.filter((s) => !KNOWN.has(s) && !s.startsWith(CROSS_CLIENT_PREFIX));
  if (unknown.length > 0)
    throw new OAuthError('invalid_scope', `Unrecognized scope(s) ${JSON.stringify(unknown)}`);
  if (!scopes.includes('openid'))
    throw new OAuthError('invalid_scope', 'Missing required scope(s) ["openid"].');
  for (const scope of scopes) {
    if (!scope.startsWith(CROSS_CLIENT_PREFIX)) continue;
    const peerID = scope.slice(CROSS_CLIENT_PREFIX.length);
    if (peerID === clientID) continue;
    const peer = peerID === '' ? undefined : await lookupClient(peerID);
    if (!peer)
      throw new OAuthError(
        'invalid_scope',
        `Unknown client ${JSON.stringify(peerID)} in scope ${JSON.stringify(scope)}`,
      );
    if (!peer.trustedPeers.includes(clientID)) {
      throw new OAuthError(
        'invalid_scope',
        `Client ${JSON.stringify(peerID)} does not trust ${JSON.stringify(clientID)}`,
      );
    }
  }
}

/**
 * The `aud` of tokens issued for these scopes: the requested peers, plus the client itself appended when it
 * did not list itself (so usually [peer, client]); `azp` is the client whenever there is more than one.
 */
export function audiences(clientID: string, scopes: string[]): string[] {
  const peers = scopes
    .filter((s) => s.startsWith(CROSS_CLIENT_PREFIX))
    .map((s) => s.slice(CROSS_CLIENT_PREFIX.length));
  const aud = [...new Set(peers)];
  if (!aud.includes(clientID)) aud.push(clientID);
  return aud;
}
