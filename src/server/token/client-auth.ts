import type { Request } from 'express';
import type { Client } from '../../storage/storage.js';
import { constantTimeEqual, digest } from '../../oauth/digest.js';
import { OAuthError } from '../../oauth/errors.js';
import { findClient, type ServerContext } from '../context.js';

/** invalid_client after HTTP Basic: the response must carry WWW-Authenticate (RFC 6749 §5.2). */
export class BasicAuthFailedError extends OAuthError {}

type Params = Record<string, unknown>;

/**
 * Client authentication at /token, /token/introspect and /token/revoke: `client_secret_basic` or
 * `client_secret_post` (never both), secrets compared in constant time, stored either in clear (static
 * clients, as Dex) or as `sha256:<digest>`. Public clients authenticate by ID alone.
 */
export async function authenticateClient(ctx: ServerContext, req: Request, params: Params): Promise<Client> {
  const basic = parseBasic(req.headers.authorization);
  if (basic === 'malformed')
    throw new BasicAuthFailedError('invalid_client', 'Malformed HTTP Basic credentials.');
  let clientID: string;
  let secret: string;
  if (basic) {
    if (params.client_secret !== undefined) {
      throw new OAuthError(
        'invalid_request',
        'Use one client authentication method, not HTTP Basic and client_secret.',
      );
    }
    if (params.client_id !== undefined && params.client_id !== basic.id) {
      throw new OAuthError('invalid_request', 'client_id does not match the HTTP Basic credentials.');
    }
    ({ id: clientID, secret } = basic);
  } else {
    if (typeof params.client_id !== 'string' || params.client_id === '') {
      throw new OAuthError('invalid_client', 'Client authentication required.');
    }
    clientID = params.client_id;
    secret = typeof params.client_secret === 'string' ? params.client_secret : '';
  }
  const Failure = basic ? BasicAuthFailedError : OAuthError;
  const client = clientID.length <= 512 ? await findClient(ctx.storage, clientID) : undefined;
  if (!client) throw new Failure('invalid_client', 'Invalid client credentials.');
  if (client.public && (secret === '' || client.secret === '')) return client;
  if (secret === '' || !secretMatches(client.secret, secret))
    throw new Failure('invalid_client', 'Invalid client credentials.');
  return client;
}

function secretMatches(stored: string, presented: string): boolean {
  if (stored === '') return false;
  if (stored.startsWith('sha256:'))
    return constantTimeEqual(stored.slice('sha256:'.length), digest(presented));
  return constantTimeEqual(stored, presented);
}

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64 (Dex unescapes each part too). */
function parseBasic(header: string | undefined): { id: string; secret: string } | 'malformed' | undefined {
  if (!header) return undefined;
  const m = /^basic\s+([A-Za-z0-9+/=._~-]*)\s*$/i.exec(header);
  if (!m) return /^basic\b/i.test(header) ? 'malformed' : undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  try {
    const unescape = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { id: unescape(decoded.slice(0, colon)), secret: unescape(decoded.slice(colon + 1)) };
  } catch {
    return 'malformed';
  }
}
