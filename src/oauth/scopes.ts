import { OAuthError } from './errors.js';
import type { Client } from '../storage/storage.js';
import type { ConnectorScopes } from '../connectors/connector.js';
import { CROSS_CLIENT_PREFIX } from '../tokens/audience.js';

export { CROSS_CLIENT_PREFIX };
const KNOWN = new Set(['openid', 'email', 'profile', 'groups', 'offline_access', 'federated:id']);

/** Splits a `scope` parameter (RFC 6749 §3.3: space-delimited) without duplicates, in request order. */
export function splitScopes(raw: string | undefined): string[] {
  return [...new Set((raw ?? '').split(' ').filter((s) => s !== ''))];
}

export interface ScopeRules {
  /** `openid` must be among them (every grant but client_credentials and token exchange). */
  requireOpenID?: boolean;
  /** Scopes this grant refuses, with the reason (client_credentials: no offline_access, no federated:id). */
  refused?: Readonly<Record<string, string>>;
}

/**
 * Validates requested scopes for `clientID` (reference §2 "Scopes & cross-client trust"): only known scopes;
 * `openid` required unless the grant says otherwise; `audience:server:client_id:<peer>` needs the peer to
 * exist and trust the client (or be it).
 */
export async function validateScopes(
  scopes: string[],
  clientID: string,
  lookupClient: (id: string) => Promise<Pick<Client, 'id' | 'trustedPeers'> | undefined>,
  rules: ScopeRules = { requireOpenID: true },
): Promise<void> {
  for (const scope of scopes) {
    const reason = rules.refused && Object.hasOwn(rules.refused, scope) ? rules.refused[scope] : undefined;
    if (reason !== undefined) throw new OAuthError('invalid_scope', reason);
  }
  const unknown = scopes.filter((s) => !KNOWN.has(s) && !s.startsWith(CROSS_CLIENT_PREFIX));
  if (unknown.length > 0)
    throw new OAuthError('invalid_scope', `Unrecognized scope(s) ${JSON.stringify(unknown)}`);
  if (rules.requireOpenID && !scopes.includes('openid'))
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

/** What a connector may act on of the scopes a login asked for. */
export function connectorScopes(scopes: readonly string[]): ConnectorScopes {
  return { offlineAccess: scopes.includes('offline_access'), groups: scopes.includes('groups') };
}
