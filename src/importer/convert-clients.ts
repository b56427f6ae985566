import { digest } from '../oauth/digest.js';
import type { Client } from '../storage/storage.js';
import type { DexClient } from './dex-model.js';
import { differingFields, type Decision } from './write.js';

// Dex clients → Latchkey clients. Dex keeps client secrets in clear; Latchkey stores the imported ones as
// SHA-256 digests (`sha256:…`, which client authentication accepts), so the secret every client holds keeps
// working while Latchkey's storage holds no live credential.

export function clientFromDex(d: DexClient): Client {
  return {
    id: d.id,
    secret: d.secret === '' ? '' : `sha256:${digest(d.secret)}`,
    redirectURIs: [...d.redirectURIs],
    trustedPeers: [...d.trustedPeers],
    public: d.public,
    name: d.name,
    logoURL: d.logoURL,
    ...(d.allowedConnectors && d.allowedConnectors.length > 0
      ? { allowedConnectors: [...d.allowedConnectors] }
      : {}),
    ...(d.postLogoutRedirectURIs && d.postLogoutRedirectURIs.length > 0
      ? { postLogoutRedirectURIs: [...d.postLogoutRedirectURIs] }
      : {}),
    ...(d.backchannelLogoutURI ? { backchannelLogoutURI: d.backchannelLogoutURI } : {}),
    // An empty list is kept: it shares with no client, where an absent one follows the server's default.
    ...(d.ssoSharedWith ? { ssoSharedWith: [...d.ssoSharedWith] } : {}),
    ...(d.refreshTokenLifetime ? { refreshTokenLifetime: d.refreshTokenLifetime } : {}),
  };
}

const COMPARED = [
  'redirectURIs',
  'trustedPeers',
  'public',
  'name',
  'logoURL',
  'allowedConnectors',
  'grantTypes',
  'clientCredentialsClaims',
  'postLogoutRedirectURIs',
  'backchannelLogoutURI',
  'ssoSharedWith',
  'refreshTokenLifetime',
] as const;

/** `dexSecret` is the secret in clear: a Latchkey client holding it in clear has the same secret. */
export function compareClient(existing: Client, incoming: Client, dexSecret: string): Decision {
  const norm = (c: Client): Client => ({
    ...c,
    ...(c.allowedConnectors?.length ? {} : { allowedConnectors: undefined }),
    ...(c.postLogoutRedirectURIs?.length ? {} : { postLogoutRedirectURIs: undefined }),
    // Absent and "standalone" are the same lifetime.
    ...(c.refreshTokenLifetime === 'session' ? {} : { refreshTokenLifetime: undefined }),
  });
  const fields = differingFields(norm(existing), norm(incoming), COMPARED);
  const sameSecret =
    existing.secret === incoming.secret || (dexSecret !== '' && existing.secret === dexSecret);
  if (!sameSecret) fields.unshift('secret');
  return fields.length === 0 ? { kind: 'unchanged' } : { kind: 'conflict', fields };
}
