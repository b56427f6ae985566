// The validated, typed configuration the rest of Latchkey consumes. The loader (config/load.ts) turns a Dex
// style YAML file into this shape: defaults applied, durations in milliseconds, environment references
// resolved. Nothing outside src/config reads YAML.

export type DurationMs = number;

export interface MemoryStorageConfig {
  type: 'memory';
}
export interface SqliteStorageConfig {
  type: 'sqlite3';
  /** Path of the database file (relative paths resolve against the working directory); ":memory:" allowed. */
  file: string;
}
export interface KubernetesStorageConfig {
  type: 'kubernetes';
  inCluster: boolean;
  kubeConfigFile?: string;
  /** Empty = the pod's namespace, else the kubeconfig context's, else "default" (resolved at open). */
  namespace?: string;
  crdHandling: 'ensure' | 'check';
  /**
   * true: the Secrets clients reference are served from a watch of every Secret in the namespace (RBAC
   * list + watch on secrets). false: each is read by name and kept briefly (RBAC get, which resourceNames
   * can narrow to those Secrets). Absent = false.
   */
  watchSecrets?: boolean;
  /**
   * Refresh tokens, offline sessions and browser sessions each kept in a bounded, watch-invalidated cache of
   * at most this many entries (those this replica created, read or updated), so a refresh or a session login
   * reads nothing from the API. 0 = no cache. Absent = 10 000.
   */
  tokenCacheSize?: number;
}
export type StorageConfig = MemoryStorageConfig | SqliteStorageConfig | KubernetesStorageConfig;

export interface WebConfig {
  /** The file may set neither listener (CLI flags can): the CLI calls requireListener() after its flags. */
  http?: string;
  https?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsMinVersion: 'TLSv1.2' | 'TLSv1.3';
  tlsMaxVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** Extra static response headers, sent as given. */
  headers: Record<string, string>;
  allowedOrigins: string[];
  allowedHeaders: string[];
  /** trustedProxies are CIDRs; a bare address in the file becomes its /32 or /128. */
  clientRemoteIP: { header?: string; trustedProxies: string[] };
  /** On SIGTERM: readiness false and still serving for this long, then new connections refused. */
  drainDelay?: DurationMs;
  /** Worker processes (src/cluster/); "auto" = one per core; absent = 1, a single process. */
  workers?: number | 'auto';
}

export interface TelemetryConfig {
  http?: string;
  enableProfiling: boolean;
}

export interface RefreshTokenPolicyConfig {
  disableRotation: boolean;
  reuseInterval: DurationMs;
  /** Undefined = never expires for idleness. */
  validIfNotUsedFor?: DurationMs;
  /** Undefined = no absolute limit. */
  absoluteLifetime?: DurationMs;
}

export interface ExpiryConfig {
  /** The effective key rotation period: always equal to signer.keysRotationPeriod. */
  signingKeys: DurationMs;
  idTokens: DurationMs;
  authRequests: DurationMs;
  authCodes: DurationMs;
  deviceRequests: DurationMs;
  refreshTokens: RefreshTokenPolicyConfig;
}

export interface LoggerConfig {
  level: 'debug' | 'info' | 'warn' | 'error';
  format: 'text' | 'json';
  excludeFields: string[];
}

export type GrantType =
  | 'authorization_code'
  | 'client_credentials'
  | 'refresh_token'
  | 'password'
  | 'urn:ietf:params:oauth:grant-type:device_code'
  | 'urn:ietf:params:oauth:grant-type:token-exchange';

export interface OAuth2Config {
  /** The effective, sorted set: what was configured (or Dex's default) intersected with what is possible. */
  grantTypes: GrantType[];
  responseTypes: 'code'[];
  skipApprovalScreen: boolean;
  alwaysShowLoginScreen: boolean;
  passwordConnector?: string;
  pkce: { enforce: boolean; codeChallengeMethodsSupported: ('S256' | 'plain')[] };
}

export interface SignerConfig {
  type: 'local';
  keysRotationPeriod: DurationMs;
  algorithm: 'RS256' | 'ES256';
}

export interface StaticClientConfig {
  id: string;
  /** "" for a public client configured without a secret. */
  secret: string;
  name: string;
  redirectURIs: string[];
  trustedPeers: string[];
  public: boolean;
  logoURL: string;
  /** Absent = every connector. */
  allowedConnectors?: string[];
  /** Absent = every served grant but client_credentials (see storage Client.grantTypes). */
  grantTypes?: GrantType[];
  clientCredentialsClaims?: { groups: string[] };
  postLogoutRedirectURIs?: string[];
  backchannelLogoutURI?: string;
  /** Client IDs, `*` = all, empty = none; absent = sessions.ssoSharedWithDefault. */
  ssoSharedWith?: string[];
  refreshTokenLifetime?: 'standalone' | 'session';
}

export interface ConnectorConfig {
  type: string;
  id: string;
  name: string;
  config: Record<string, unknown>;
  /** Absent = every grant. */
  grantTypes?: GrantType[];
}

export interface StaticPasswordConfig {
  /** Lower-cased. */
  email: string;
  /** A bcrypt hash (base64-wrapped hashes are decoded by the loader). */
  hash: string;
  username: string;
  name?: string;
  preferredUsername?: string;
  emailVerified: boolean;
  userID: string;
  groups: string[];
}

export interface FrontendConfig {
  dir?: string;
  theme: string;
  issuer: string;
  logoURL: string;
  extra: Record<string, string>;
}

/** Limits on password guesses and request rates; counters live in memory per replica. */
export interface ThrottlingConfig {
  passwordFailuresPerAccount: number;
  passwordFailuresPerIP: number;
  window: DurationMs;
  /** The token bucket per client address at /token and /device (see server/rate-limit.ts). */
  requestsPerSecondPerIP: number;
  requestBurstPerIP: number;
}

/**
 * Browser sessions (Dex main branch's `sessions`): on when the file has the section. The cookie is sealed
 * with the rotating sealing keys from storage.
 */
export interface SessionsConfig {
  /** Default "latchkey_session" (Dex: dex_session — the name changes nothing for users). */
  cookieName: string;
  /** From creation; default 24h. */
  absoluteLifetime: DurationMs;
  /** From last use; default 1h. */
  validIfNotUsedFor: DurationMs;
  /** Whether the password form's "remember me" starts checked (default true): unchecked = a cookie that dies with the browser. */
  rememberMeCheckedByDefault: boolean;
  /** Which clients share sessions when a client says nothing (default none). */
  ssoSharedWithDefault: 'none' | 'all';
}

export interface Config {
  issuer: string;
  /** The issuer URL's path without a trailing slash ("" for a root issuer): every route is mounted under it. */
  issuerPath: string;
  storage: StorageConfig;
  web: WebConfig;
  telemetry: TelemetryConfig;
  expiry: ExpiryConfig;
  logger: LoggerConfig;
  oauth2: OAuth2Config;
  signer: SignerConfig;
  staticClients: StaticClientConfig[];
  /**
   * The file's connectors only. With enablePasswordDB the password database is one more connector,
   * {id: "local", type: "local", name: "Email"}: effectiveConnectors(config) in load.ts lists both.
   */
  connectors: ConnectorConfig[];
  enablePasswordDB: boolean;
  staticPasswords: StaticPasswordConfig[];
  frontend: FrontendConfig;
  throttling: ThrottlingConfig;
  /** Absent = no browser sessions (every login asks the connector; no logout endpoint). */
  sessions?: SessionsConfig;
}
