import type { DexClaims } from './dex-model.js';

// Dex's value encodings (reference §5), undone. Dex is written in Go, so:
// - []byte fields are standard base64 (with padding) in JSON (Kubernetes objects), raw bytes in SQLite;
// - time.Time is RFC 3339 with up to nanoseconds in JSON ("2024-05-01T12:00:00.123456789Z"); the SQLite
//   driver writes "2006-01-02 15:04:05.999999999-07:00" (UTC, since Dex's SQLite flavour converts every
//   time to UTC), and old rows may hold the migration default "0001-01-01 00:00:00 UTC";
// - slices may be `null`; booleans are integers in SQLite.

type Obj = Record<string, unknown>;

export const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export const str = (o: Obj, k: string): string => (typeof o[k] === 'string' ? o[k] : '');

export const strs = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/** A list Dex tells apart from its absence (nil ≠ empty): undefined for absent or null, else its strings. */
export const optionalStrs = (v: unknown): string[] | undefined => (Array.isArray(v) ? strs(v) : undefined);

/** The client's refresh token lifetime, when it is one Dex knows (anything else is Dex's default). */
export const refreshTokenLifetimeOf = (v: unknown): 'standalone' | 'session' | undefined =>
  v === 'standalone' || v === 'session' ? v : undefined;

export const bool = (v: unknown): boolean => v === true || v === 1 || v === 1n || v === '1' || v === 'true';

/** A Go time as JSON or SQLite hold it; undefined when it is none of Dex's forms. */
export function parseGoTime(v: unknown): Date | undefined {
  if (v instanceof Date) return v;
  if (typeof v === 'number' || typeof v === 'bigint') return new Date(Number(v) * 1000);
  if (typeof v !== 'string') return undefined;
  const m =
    /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*(Z|UTC|[+-]\d{2}:?\d{2})?$/.exec(
      v.trim(),
    );
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  let offsetMin = 0;
  if (zone !== 'Z' && zone !== 'UTC') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    offsetMin = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2)));
  }
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: years 0..99 (Go's zero time is year 1) must not become 19xx.
  date.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  date.setUTCHours(Number(h), Number(mi), Number(s), ms);
  return new Date(date.getTime() - offsetMin * 60_000);
}

/** A []byte field of a Dex Kubernetes object: standard base64, or absent. */
export function base64Bytes(v: unknown): Uint8Array | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  return new Uint8Array(Buffer.from(v, 'base64'));
}

/** A blob column: bytes (or, for defaults written as literals, text). */
export function blobBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v.length > 0 ? new Uint8Array(v) : undefined;
  if (typeof v === 'string' && v !== '') return new Uint8Array(Buffer.from(v, 'utf8'));
  return undefined;
}

export const bytesText = (b: Uint8Array | undefined): string =>
  b === undefined ? '' : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

/** JSON stored as bytes (SQLite blobs); `null` and empty blobs are undefined. */
export function jsonOfBytes(v: unknown): unknown {
  const text = bytesText(blobBytes(v));
  if (text === '') return undefined;
  return JSON.parse(text) as unknown;
}

export function claimsOf(o: Obj): DexClaims {
  return {
    userID: str(o, 'userID'),
    username: str(o, 'username'),
    preferredUsername: str(o, 'preferredUsername'),
    email: str(o, 'email'),
    emailVerified: bool(o.emailVerified),
    groups: strs(o.groups),
  };
}

/** The members of a JWK that are public (never d, p, q, dp, dq, qi or k). */
export function publicJwk(jwk: Obj): Obj {
  const PRIVATE = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']);
  return Object.fromEntries(Object.entries(jwk).filter(([k]) => !PRIVATE.has(k)));
}

/** The refresh map of an OfflineSessions value (Go struct without JSON tags: ID, ClientID, …). */
export function refreshMapOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(v)) return out;
  for (const [clientID, ref] of Object.entries(v)) {
    if (isObject(ref) && typeof ref.ID === 'string') out[clientID] = ref.ID;
  }
  return out;
}
