// What an upstream login keeps for its refreshes (the Identity's opaque connectorData), as JSON in the
// field names Dex writes (`RefreshToken` as Go encodes []byte: base64; `AccessToken` as a string), so
// refresh tokens carried over from a Dex installation keep refreshing. It belongs to one login only: each
// login stores its own upstream tokens (Dex shares one per user and connector across devices).

export interface UpstreamTokens {
  refreshToken?: string | undefined;
  accessToken?: string | undefined;
  /** The upstream `sub` the tokens belong to (Latchkey's addition; a refresh must not change it). */
  subject?: string | undefined;
}

interface Stored {
  RefreshToken?: string;
  AccessToken?: string;
  Subject?: string;
}

export function encodeUpstreamTokens(t: UpstreamTokens): Uint8Array {
  const stored: Stored = {
    ...(t.refreshToken !== undefined ? { RefreshToken: Buffer.from(t.refreshToken).toString('base64') } : {}),
    ...(t.accessToken !== undefined ? { AccessToken: t.accessToken } : {}),
    ...(t.subject !== undefined ? { Subject: t.subject } : {}),
  };
  return new TextEncoder().encode(JSON.stringify(stored));
}

/** Undefined when there is nothing usable (no data, or data another connector type wrote). */
export function decodeUpstreamTokens(data: Uint8Array | undefined): UpstreamTokens | undefined {
  if (data === undefined || data.length === 0) return undefined;
  let stored: Stored;
  try {
    stored = JSON.parse(new TextDecoder().decode(data)) as Stored;
  } catch {
    return undefined;
  }
  if (typeof stored !== 'object' || stored === null) return undefined;
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const refresh = str(stored.RefreshToken);
  return {
    refreshToken: refresh === undefined ? undefined : Buffer.from(refresh, 'base64').toString('utf8'),
    accessToken: str(stored.AccessToken),
    subject: str(stored.Subject),
  };
}

/** The per-login value sealed with the pending request: the upstream PKCE verifier, and the nonce (OIDC). */
export interface LoginSecrets {
  verifier: string;
  nonce?: string | undefined;
}

export function encodeLoginSecrets(s: LoginSecrets): string {
  return JSON.stringify(s.nonce === undefined ? { v: s.verifier } : { v: s.verifier, n: s.nonce });
}

/** Undefined when the value is not one encodeLoginSecrets wrote. */
export function decodeLoginSecrets(value: string | undefined): LoginSecrets | undefined {
  if (value === undefined) return undefined;
  try {
    const o = JSON.parse(value) as { v?: unknown; n?: unknown };
    if (typeof o.v !== 'string' || (o.n !== undefined && typeof o.n !== 'string')) return undefined;
    return { verifier: o.v, nonce: o.n as string | undefined };
  } catch {
    return undefined;
  }
}
