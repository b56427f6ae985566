// Cross-client trust (reference §2): a client asks for a token meant for a peer with the scope
// `audience:server:client_id:<peer>`. Validating that the peer trusts the client is a protocol rule
// (oauth/scopes.ts); what the token's `aud` then is belongs here, beside the claims that carry it.

export const CROSS_CLIENT_PREFIX = 'audience:server:client_id:';

/** The peers named by cross-client scopes, in request order, without duplicates. */
export function crossClientPeers(scopes: readonly string[]): string[] {
  return [
    ...new Set(
      scopes.filter((s) => s.startsWith(CROSS_CLIENT_PREFIX)).map((s) => s.slice(CROSS_CLIENT_PREFIX.length)),
    ),
  ];
}

/**
 * The `aud` of tokens issued for these scopes: the requested peers, plus the client itself appended when it
 * did not list itself (so usually [peer, client]); `azp` is the client whenever there is more than one.
 */
export function audiences(clientID: string, scopes: readonly string[]): string[] {
  const aud = crossClientPeers(scopes);
  if (!aud.includes(clientID)) aud.push(clientID);
  return aud;
}
