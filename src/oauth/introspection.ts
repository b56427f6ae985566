import type { Client } from '../storage/storage.js';

/**
 * Whether `asker` may learn that a token issued to `tokenClientID` is active. RFC 7662 §2.2 lets the server
 * answer `active: false` to a caller it will not tell; Latchkey tells a client about its own tokens and about
 * those of the clients it trusts (its `trustedPeers`: the clients allowed to obtain tokens meant for it), so
 * no client can probe a stranger's tokens. Trust is read now, so removed trust hides the tokens at once.
 */
export function mayIntrospect(asker: Pick<Client, 'id' | 'trustedPeers'>, tokenClientID: string): boolean {
  return tokenClientID === asker.id || asker.trustedPeers.includes(tokenClientID);
}
