import type { Client } from '../storage/storage.js';

export const OOB_REDIRECT_URI = 'urn:ietf:wg:oauth:2.0:oob';

// Native-app loopback redirects (RFC 8252 §7.3): plain http, a loopback host, an optional port. Parsed by
// hand, not with URL, because matching is on the string as sent: no normalisation may make a near-miss match.
const LOOPBACK = /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(?::(\d{1,5}))?([/?][^#]*)?$/;

function loopbackPathAndQuery(uri: string): string | undefined {
  const m = LOOPBACK.exec(uri);
  if (!m) return undefined;
  if (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535)) return undefined;
  return m[3] ?? '';
}

/**
 * Whether `requested` is a redirect URI this client may use:
 * - exact string match against a registered URI, for every client;
 * - public clients only: a loopback URI (any port) whose path and query equal a registered loopback URI's
 *   — or the bare root when the client registered none — and the out-of-band URI.
 * Dex lets public clients use any loopback path; Latchkey keeps the registered path (DESIGN.md).
 */
export function isAllowedRedirectURI(
  client: Pick<Client, 'redirectURIs' | 'public'>,
  requested: string,
): boolean {
  if (client.redirectURIs.includes(requested)) return true;
  if (!client.public) return false;
  if (requested === OOB_REDIRECT_URI) return true;
  const path = loopbackPathAndQuery(requested);
  if (path === undefined) return false;
  const registered = client.redirectURIs
    .map(loopbackPathAndQuery)
    .filter((p): p is string => p !== undefined);
  if (registered.length === 0 && client.redirectURIs.length === 0) return path === '' || path === '/';
  return registered.includes(path);
}
