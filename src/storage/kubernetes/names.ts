import { createHash } from 'node:crypto';

// Object names and label values. An ID is used as the object name when Kubernetes accepts it as one;
// anything else (long client IDs, IDs with "/" or upper case, emails) gets a fixed-length hash name, so no
// ID is ever refused for its shape (unlike Dex: dexidp/dex#2904). The real ID is always in the spec, and
// reads check it.

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAX_NAME = 253;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const MAX_LABEL_VALUE = 63;

export const LABEL_CLIENT = 'latchkey.dev/client';
export const LABEL_USER = 'latchkey.dev/user';
export const LABEL_CONNECTOR = 'latchkey.dev/connector';
/** Unix seconds of the entity's expiry: garbage collection selects `latchkey.dev/expires<now`. */
export const LABEL_EXPIRES = 'latchkey.dev/expires';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** Lower-case RFC 4648 base32 without padding. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const b of bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

/** "h" + base32(SHA-256(s)): 53 characters, a valid object name and label value. */
export function hashName(s: string): string {
  return `h${base32(createHash('sha256').update(s, 'utf8').digest())}`;
}

export function isValidObjectName(s: string): boolean {
  return s.length > 0 && s.length <= MAX_NAME && DNS_SUBDOMAIN.test(s);
}

/** The ID itself when it is a valid object name, else its hash name. */
export function objectName(id: string): string {
  return isValidObjectName(id) ? id : hashName(id);
}

/** (user, connector) as one name; JSON keeps the two parts apart, so ("a","b2") and ("ab","2") differ. */
export function offlineSessionsName(userID: string, connectorID: string): string {
  return hashName(JSON.stringify([userID, connectorID]));
}

/** The value itself when it is a valid label value, else its hash name. */
export function labelValue(v: string): string {
  return v.length <= MAX_LABEL_VALUE && LABEL_VALUE.test(v) ? v : hashName(v);
}

/** User IDs are always hashed: they are opaque and may be personal data. */
export function userLabel(userID: string): string {
  return hashName(userID);
}

export function expiresLabel(expiry: Date): string {
  return String(Math.max(0, Math.floor(expiry.getTime() / 1000)));
}
