// The one storage contract every back end (memory, sqlite, kubernetes) implements and the conformance
// suite in test/storage checks. It knows nothing about OAuth: callers hand it finished entities.
//
// Conventions every back end honours:
// - Dates are absolute instants (JS Date); back ends keep millisecond precision, whatever zone they were
//   created in.
// - get* on a missing entity throws NotFoundError; create* of an existing ID throws AlreadyExistsError.
// - update*(id, updater) is optimistic: the back end reads the entity, calls the *synchronous, pure* updater,
//   and writes only if nobody changed the entity meanwhile. When somebody did, it re-reads and re-applies the
//   updater, a bounded number of times, then throws ConflictError. So the updater may run more than once and
//   must not have side effects; a concurrent update is never lost. An updater that returns its argument
//   itself (the same object) means "nothing to change": no write happens and the entity is returned as read.
// - consume*(id) removes a one-time entity and returns it; of several concurrent consumers exactly one gets
//   the entity, the others get NotFoundError (or ConflictError).
// - list* are paged: pass the previous page's `continue` to get the next page; no `continue` = last page.
// - Secrets are stored as the caller hands them: the OAuth layer stores codes and refresh secrets as SHA-256
//   digests (see oauth/digest.ts), never in clear.

/** The user identity a connector vouches for, as carried in tokens. */
export interface Claims {
  userID: string;
  username: string;
  preferredUsername: string;
  email: string;
  emailVerified: boolean;
  groups: string[];
}

export interface PKCE {
  codeChallenge: string;
  /** "S256" or "plain"; empty when no challenge was sent. */
  codeChallengeMethod: string;
}

export interface Client {
  id: string;
  /** Plain secret or, for clients managed as resources, a SHA-256 digest (`sha256:<base64url>`). Empty for public clients. */
  secret: string;
  redirectURIs: string[];
  trustedPeers: string[];
  public: boolean;
  name: string;
  logoURL: string;
  /** Dex's allowedConnectors: the connectors this client may log users in through; absent or empty = all. */
  allowedConnectors?: string[];
  /**
   * The grants this client may use; absent = every grant the server serves except client_credentials
   * (which a client opts into here, or every confidential client through oauth2.grantTypes).
   */
  grantTypes?: string[];
  /** Dex's clientCredentialsClaims: what a client_credentials token says about the client. */
  clientCredentialsClaims?: { groups: string[] };
  /** Where RP-initiated logout may send the browser afterwards (exact match); absent = nowhere. */
  postLogoutRedirectURIs?: string[];
  /** Where a signed logout token is POSTed when a browser session this client took part in ends. */
  backchannelLogoutURI?: string;
  /**
   * Which other clients may reuse the browser sessions this client's logins started (SSO, Dex main's
   * direction): client IDs, `*` = all, empty = none; absent = sessions.ssoSharedWithDefault.
   */
  ssoSharedWith?: string[];
  /** `session`: its refresh tokens stop working when the browser session they came from ends. Absent = standalone. */
  refreshTokenLifetime?: 'standalone' | 'session';
}

/** A login that a connector has authenticated and that waits for approval (never written before that). */
export interface AuthRequest {
  id: string;
  clientID: string;
  responseTypes: string[];
  scopes: string[];
  redirectURI: string;
  nonce: string;
  state: string;
  forceApprovalPrompt: boolean;
  loggedIn: boolean;
  claims: Claims;
  connectorID: string;
  /** Opaque connector state (e.g. an upstream refresh token), base64 when persisted. */
  connectorData?: Uint8Array;
  expiry: Date;
  pkce: PKCE;
  /** Key binding the approval form to the browser that started the flow. */
  hmacKey: string;
  authTime?: Date;
}

/** `id` is the SHA-256 digest of the code handed to the client. */
export interface AuthCode {
  id: string;
  clientID: string;
  scopes: string[];
  redirectURI: string;
  nonce: string;
  claims: Claims;
  connectorID: string;
  connectorData?: Uint8Array;
  expiry: Date;
  pkce: PKCE;
  authTime?: Date;
  /** The browser session the login belongs to (the ID token's `sid`); absent without sessions. */
  sessionID?: string;
}

export interface RefreshToken {
  id: string;
  /** Digest of the current secret. */
  token: string;
  /** Digest of the previous secret, honoured within the reuse window. */
  obsoleteToken: string;
  createdAt: Date;
  lastUsed: Date;
  clientID: string;
  scopes: string[];
  nonce: string;
  claims: Claims;
  connectorID: string;
  connectorData?: Uint8Array;
  /** When garbage collection may remove it (min of absolute and idle lifetime); absent = never. */
  expiry?: Date;
  /** All tokens rotated from one login share it, so a replay can revoke them together. */
  familyID?: string;
  /**
   * Key of the deterministic successor: the secret that replaces secret S is HMAC(rotationKey, S), so
   * concurrent refreshes inside the reuse window all get the same successor although only digests are
   * stored. Useless without a live secret, which storage never holds.
   */
  rotationKey?: string;
  authTime?: Date;
  /** The browser session the login belongs to (the ID token's `sid`). */
  sessionID?: string;
  /** The token stops working once that session has ended (its client's refreshTokenLifetime: session). */
  sessionBound?: boolean;
}

export interface RefreshTokenRef {
  id: string;
  clientID: string;
  createdAt: Date;
  lastUsed: Date;
}

/** Per user and connector: the refresh tokens issued to them, and the connector's latest data. */
export interface OfflineSessions {
  userID: string;
  connectorID: string;
  refresh: Record<string, RefreshTokenRef>;
  connectorData?: Uint8Array;
}

export interface Password {
  /** Lower-cased by the back end; lookups are case-insensitive. */
  email: string;
  /** A bcrypt hash. */
  hash: string;
  username: string;
  name?: string;
  preferredUsername?: string;
  emailVerified?: boolean;
  userID: string;
  groups: string[];
}

export interface Connector {
  id: string;
  type: string;
  name: string;
  /** The connector's own configuration, as parsed JSON. */
  config: Record<string, unknown>;
  /** Dex's per-connector grantTypes: the grants that may use this connector; absent or empty = all. */
  grantTypes?: string[];
  /** Changes whenever the stored connector changes, so replicas can reopen it. */
  resourceVersion?: string;
}

export interface DeviceRequest {
  /** Upper-case, canonical form (`XXXX-XXXX`). */
  userCode: string;
  deviceCode: string;
  clientID: string;
  scopes: string[];
  expiry: Date;
  pkce: PKCE;
}

export interface DeviceToken {
  deviceCode: string;
  /** The client that requested the device code: only it may redeem it. */
  clientID?: string;
  status: 'pending' | 'complete' | 'denied';
  /** The token response, serialised, once complete. */
  token: string;
  expiry: Date;
  lastRequest: Date;
  pollInterval: number;
  pkce: PKCE;
}

/** A client that took part in a browser session and must hear when it ends (back-channel logout). */
export interface SessionClient {
  /** When it first got a login from this session. */
  since: Date;
}

/**
 * A signed-in browser (one per browser and user): what lets a later login skip the connector (SSO), what
 * `sid` names and what logout ends. The browser holds only a sealed cookie naming it; deleting the record
 * (logout, `kubectl delete`, garbage collection) ends it everywhere.
 */
export interface Session {
  /** Random, unguessable; the ID tokens' `sid`. */
  id: string;
  claims: Claims;
  connectorID: string;
  /** The connector's opaque state from the last authentication (an upstream refresh token). */
  connectorData?: Uint8Array;
  /** When the user last authenticated interactively (`auth_time`; moves on a forced re-login). */
  authTime: Date;
  /** RFC 8176 authentication method references of that authentication, e.g. ["pwd"]. */
  amr: string[];
  createdAt: Date;
  /** Last login served from this session; written only when it moved by a good fraction of the idle lifetime. */
  lastActivity: Date;
  /** The session ends at this instant whatever its use (sessions.absoluteLifetime after creation). */
  absoluteExpiry: Date;
  /** The session ends at this instant unless used again (sessions.validIfNotUsedFor after lastActivity). */
  idleExpiry: Date;
  /** Clients whose logout must be told (those with a back-channel URI), by client ID. */
  clients: Record<string, SessionClient>;
  /** Scopes the user approved per client in this session, so approval is asked once per client. */
  consents: Record<string, string[]>;
  /**
   * Approval forms already answered (their IDs) until they expire: the session update that records the
   * answer is the approval's single-use step, as deleting the AuthRequest is without sessions.
   */
  answeredApprovals: Record<string, Date>;
  /** Where the browser signed in from (after web.clientRemoteIP), for an admin listing sessions. */
  ipAddress?: string;
  userAgent?: string;
}

/** A named set of keys that rotate together: the JWS signing keys, or the keys sealing pending requests. */
export type KeySetName = 'signing' | 'sealing';

export interface StoredKey {
  /** Key ID; for signing keys the RFC 7638 thumbprint of the public JWK. */
  kid: string;
  alg: string;
  /** Private (or symmetric) key material as a JWK. */
  privateJwk: Record<string, unknown>;
  /** Public JWK (absent for symmetric keys). */
  publicJwk?: Record<string, unknown>;
  createdAt: Date;
  /** The instant the key starts signing/sealing. Before it, it is only published. */
  activeFrom: Date;
  /** The instant it stops signing/sealing (set when its successor becomes active). */
  retiredAt?: Date;
  /** Until when it must stay published for verification; after it, it is dropped. */
  publishUntil?: Date;
}

export interface KeySet {
  name: KeySetName;
  keys: StoredKey[];
  /** When the next rotation step is due. */
  nextRotation: Date;
}

/**
 * A login (grant) ended before the access tokens it produced expire: /userinfo and introspection refuse
 * tokens that carry its ID. Written only when something is revoked, never per login, and small, so every
 * back end can answer from memory or one indexed read.
 */
export interface Revocation {
  /** The grant ID the access tokens carry (the refresh-token family ID for logins that have one). */
  id: string;
  /** When the last access token it covers has expired: garbage collection removes it after that. */
  expiry: Date;
}

export interface Page<T> {
  items: T[];
  /** Opaque token for the next page; absent on the last page. */
  continue?: string;
}

export interface ListOptions {
  /** Page size; back ends cap it (default 500). */
  limit?: number;
  continue?: string;
}

export interface GarbageCollectionResult {
  authRequests: number;
  authCodes: number;
  deviceRequests: number;
  deviceTokens: number;
  refreshTokens: number;
  revocations: number;
  sessions: number;
}

export type Updater<T> = (old: T) => T;

export interface Storage {
  /** A short name for logs and metrics: "memory", "sqlite3", "kubernetes". */
  readonly kind: string;

  createClient(c: Client): Promise<void>;
  getClient(id: string): Promise<Client>;
  listClients(opts?: ListOptions): Promise<Page<Client>>;
  updateClient(id: string, updater: Updater<Client>): Promise<Client>;
  deleteClient(id: string): Promise<void>;

  createAuthRequest(a: AuthRequest): Promise<void>;
  getAuthRequest(id: string): Promise<AuthRequest>;
  updateAuthRequest(id: string, updater: Updater<AuthRequest>): Promise<AuthRequest>;
  deleteAuthRequest(id: string): Promise<void>;
  /** Counted for tests and budgets; never used on a request path. */
  listAuthRequests(opts?: ListOptions): Promise<Page<AuthRequest>>;

  createAuthCode(c: AuthCode): Promise<void>;
  getAuthCode(id: string): Promise<AuthCode>;
  /** Single-use gate: returns the code and deletes it; exactly one concurrent caller wins. */
  consumeAuthCode(id: string): Promise<AuthCode>;
  deleteAuthCode(id: string): Promise<void>;

  createRefreshToken(r: RefreshToken): Promise<void>;
  /**
   * A back end may answer from a cache its watch keeps current (Kubernetes), so a read can lag a write made
   * elsewhere by the watch's delay; writes stay exact (compare-and-swap). `consistent` asks for the stored
   * state itself: for a decision that must not rest on a lagging copy (a secret that does not match).
   */
  getRefreshToken(id: string, opts?: { consistent?: boolean }): Promise<RefreshToken>;
  listRefreshTokens(opts?: ListOptions): Promise<Page<RefreshToken>>;
  updateRefreshToken(id: string, updater: Updater<RefreshToken>): Promise<RefreshToken>;
  deleteRefreshToken(id: string): Promise<void>;

  createOfflineSessions(o: OfflineSessions): Promise<void>;
  getOfflineSessions(userID: string, connectorID: string): Promise<OfflineSessions>;
  updateOfflineSessions(
    userID: string,
    connectorID: string,
    updater: Updater<OfflineSessions>,
  ): Promise<OfflineSessions>;
  deleteOfflineSessions(userID: string, connectorID: string): Promise<void>;

  createPassword(p: Password): Promise<void>;
  getPassword(email: string): Promise<Password>;
  listPasswords(opts?: ListOptions): Promise<Page<Password>>;
  updatePassword(email: string, updater: Updater<Password>): Promise<Password>;
  deletePassword(email: string): Promise<void>;

  createConnector(c: Connector): Promise<void>;
  getConnector(id: string): Promise<Connector>;
  listConnectors(opts?: ListOptions): Promise<Page<Connector>>;
  updateConnector(id: string, updater: Updater<Connector>): Promise<Connector>;
  deleteConnector(id: string): Promise<void>;

  createDeviceRequest(d: DeviceRequest): Promise<void>;
  getDeviceRequest(userCode: string): Promise<DeviceRequest>;

  createDeviceToken(t: DeviceToken): Promise<void>;
  getDeviceToken(deviceCode: string): Promise<DeviceToken>;
  updateDeviceToken(deviceCode: string, updater: Updater<DeviceToken>): Promise<DeviceToken>;
  /** Single-use gate for a completed device token. */
  consumeDeviceToken(deviceCode: string): Promise<DeviceToken>;

  createKeySet(k: KeySet): Promise<void>;
  getKeySet(name: KeySetName): Promise<KeySet>;
  updateKeySet(name: KeySetName, updater: Updater<KeySet>): Promise<KeySet>;

  /** Records a revoked grant; AlreadyExistsError when it is recorded already. */
  createRevocation(r: Revocation): Promise<void>;
  /** Asked on every /userinfo and introspection call: served without a remote request where there is one. */
  getRevocation(id: string): Promise<Revocation>;

  createSession(s: Session): Promise<void>;
  /** May be served from a watch-kept cache (Kubernetes): a deletion elsewhere is seen within the watch's delay. */
  getSession(id: string): Promise<Session>;
  listSessions(opts?: ListOptions): Promise<Page<Session>>;
  updateSession(id: string, updater: Updater<Session>): Promise<Session>;
  deleteSession(id: string): Promise<void>;

  /**
   * Deletes, in pages, every auth request, code, device request/token, refresh token, revocation and session
   * expired at `now` (a session at the earlier of its absolute and idle expiry).
   */
  garbageCollect(now: Date): Promise<GarbageCollectionResult>;

  /** A read-only liveness check of the back end (never writes). */
  ping(): Promise<void>;

  close(): Promise<void>;
}
