import type { Client } from '../storage/storage.js';
import type { Authorization } from '../tokens/authorization.js';
import { validateScopes } from './scopes.js';

// client_credentials (RFC 6749 §4.4, Dex main-branch semantics): a confidential client obtains tokens about
// itself. No user, no connector (so `sub` encodes the client ID alone), no refresh token.

const REFUSED = {
  offline_access: 'The client_credentials grant does not issue refresh tokens (offline_access).',
  'federated:id': 'The client_credentials grant has no upstream identity (federated:id).',
};

export async function clientCredentialsAuthorization(
  client: Client,
  scopes: string[],
  nonce: string,
  lookupClient: (id: string) => Promise<Client | undefined>,
): Promise<Authorization> {
  await validateScopes(scopes, client.id, lookupClient, { requireOpenID: false, refused: REFUSED });
  const profile = scopes.includes('profile');
  return {
    clientID: client.id,
    scopes,
    claims: {
      userID: client.id,
      username: profile ? client.name : '',
      preferredUsername: profile ? client.name : '',
      email: '',
      emailVerified: false,
      groups: scopes.includes('groups') ? [...(client.clientCredentialsClaims?.groups ?? [])] : [],
    },
    // Dex's convention: an empty connector ID marks the client as the subject; no connector may have it.
    connectorID: '',
    nonce,
  };
}
