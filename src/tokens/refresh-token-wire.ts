import { decodeStringFields, encodeStringFields } from './protobuf-strings.js';

// The refresh token handed to clients: base64url (no padding) of protobuf RefreshToken { refresh_id = 1;
// token = 2 } — Dex's wire format. `token` is the rotating secret; storage keeps only its digest.

export function encodeRefreshToken(refreshID: string, secret: string): string {
  return encodeStringFields([refreshID, secret]).toString('base64url');
}

/**
 * Parses a presented refresh token. Dex also accepts a legacy bare storage ID (no secret); such a token is
 * returned with an empty secret, and the caller treats it as unusable for rotation.
 */
export function decodeRefreshToken(raw: string): { refreshID: string; secret: string } | undefined {
  if (raw.length === 0 || raw.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(raw)) return undefined;
  const fields = decodeStringFields(Buffer.from(raw, 'base64url'), 2);
  if (fields && fields[0] !== '' && fields[1] !== '') return { refreshID: fields[0]!, secret: fields[1]! };
  if (/^[a-z][a-z2-7]{24}$/.test(raw)) return { refreshID: raw, secret: '' };
  return undefined;
}
