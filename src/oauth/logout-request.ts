import type { Client } from '../storage/storage.js';

/**
 * RP-Initiated Logout 1.0 §3: the browser goes only to a post-logout redirect URI registered for the client,
 * compared as strings exactly (no loopback port leeway, no prefix match: a near-miss is a page), and only an
 * http(s) URL — a registration holding something else is never followed.
 */
export function isExactPostLogoutRedirectURI(
  client: Pick<Client, 'postLogoutRedirectURIs'>,
  uri: string,
): boolean {
  if (!(client.postLogoutRedirectURIs ?? []).includes(uri)) return false;
  try {
    const url = new URL(uri);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.hash === '';
  } catch {
    return false;
  }
}
