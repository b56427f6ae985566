import { decodeStringFields, encodeStringFields } from './protobuf-strings.js';

// `sub` = base64url (no padding) of protobuf IDTokenSubject { user_id = 1; conn_id = 2 } — Dex's encoding,
// kept byte for byte so RBAC bindings and stored subjects survive a switch from Dex.

export function encodeSubject(userID: string, connectorID: string): string {
  return encodeStringFields([userID, connectorID]).toString('base64url');
}

export function decodeSubject(sub: string): { userID: string; connectorID: string } | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(sub)) return undefined;
  const fields = decodeStringFields(Buffer.from(sub, 'base64url'), 2);
  return fields ? { userID: fields[0]!, connectorID: fields[1]! } : undefined;
}
