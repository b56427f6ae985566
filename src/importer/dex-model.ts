// Dex's stored state as the importer reads it, whichever storage it came from (Kubernetes custom resources
// or a SQLite file): one plain shape per kind, with Dex's encodings (base64 bytes, Go times, JSON-in-bytes)
// already undone. The sources fill it; the converters turn it into Latchkey's entities.

/** The identity a Dex refresh token carries (Dex's storage.Claims). */
export interface DexClaims {
  userID: string;
  username: string;
  preferredUsername: string;
  email: string;
  emailVerified: boolean;
  groups: string[];
}

export interface DexClient {
  id: string;
  /** In clear, as Dex stores it. */
  secret: string;
  redirectURIs: string[];
  trustedPeers: string[];
  public: boolean;
  name: string;
  logoURL: string;
  /** Newer Dex only; absent or empty = every connector. */
  allowedConnectors?: string[];
  /** Browser sessions (Dex main branch); absent or empty = none. */
  postLogoutRedirectURIs?: string[];
  backchannelLogoutURI?: string;
  /** Absent (Dex's nil) = sessions.ssoSharedWithDefault; [] = share with none: the two differ. */
  ssoSharedWith?: string[];
  /** Absent = standalone. */
  refreshTokenLifetime?: 'standalone' | 'session';
}

export interface DexPassword {
  email: string;
  /** The bcrypt hash as text. */
  hash: string;
  username: string;
  userID: string;
  name?: string;
  preferredUsername?: string;
  emailVerified?: boolean;
  groups: string[];
}

/** A connector created through Dex's API (connectors of Dex's config file are never stored). */
export interface DexConnector {
  id: string;
  type: string;
  name: string;
  /** The connector's JSON configuration, as stored (bytes). */
  config: Uint8Array;
  grantTypes?: string[];
}

export interface DexRefreshToken {
  id: string;
  clientID: string;
  scopes: string[];
  nonce: string;
  /** The current rotating secret, in clear; empty for tokens from before Dex rotated them. */
  token: string;
  obsoleteToken: string;
  claims: DexClaims;
  connectorID: string;
  connectorData?: Uint8Array;
  createdAt: Date;
  lastUsed: Date;
}

/** Per user and connector: the refresh token Dex honours for each client, and the upstream's latest data. */
export interface DexOfflineSession {
  userID: string;
  connectorID: string;
  /** clientID → refresh token ID. Dex refuses a refresh token that is not listed here. */
  refresh: Record<string, string>;
  connectorData?: Uint8Array;
}

export interface DexVerificationKey {
  publicKey: Record<string, unknown>;
  /** Until when Dex publishes it. */
  expiry: Date;
}

export interface DexKeys {
  /** The public half of the key Dex signs with now. */
  signingKeyPub?: Record<string, unknown>;
  /** Retired keys Dex still publishes. */
  verificationKeys: DexVerificationKey[];
  /** When Dex replaces its signing key (it signs with the current one until then). */
  nextRotation: Date;
}

/** One stored object: decoded, or why it could not be. */
export type DexRecord<T> = { value: T } | { name: string; invalid: string };

/** Objects Dex keeps for logins in progress: never imported, only counted for the report. */
export interface ShortLivedCounts {
  authRequests: number;
  authCodes: number;
  deviceRequests: number;
  deviceTokens: number;
}

/** A Dex installation's storage, read only. Lists come in pages, never all at once. */
export interface DexSource {
  /** Where the data comes from, for the report (never a credential). */
  readonly description: string;
  clients(): AsyncIterable<DexRecord<DexClient>[]>;
  passwords(): AsyncIterable<DexRecord<DexPassword>[]>;
  connectors(): AsyncIterable<DexRecord<DexConnector>[]>;
  refreshTokens(): AsyncIterable<DexRecord<DexRefreshToken>[]>;
  /** How many refresh tokens there are, when the source can tell cheaply (for progress lines). */
  refreshTokenCount(): Promise<number | undefined>;
  offlineSession(userID: string, connectorID: string): Promise<DexOfflineSession | undefined>;
  keys(): Promise<DexKeys | undefined>;
  shortLived(): Promise<ShortLivedCounts>;
  close(): Promise<void>;
}
