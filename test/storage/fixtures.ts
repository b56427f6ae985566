import type {
  AuthCode,
  AuthRequest,
  Claims,
  Client,
  Connector,
  DeviceRequest,
  DeviceToken,
  KeySet,
  KeySetName,
  OfflineSessions,
  PKCE,
  Password,
  RefreshToken,
  Session,
} from '../../src/storage/storage.js';

// Entities with every optional field filled and dates written in non-UTC zones with milliseconds, so a
// back end that drops a field, a zone or precision shows up as an inequality.

export const claims = (userID = 'user-1'): Claims => ({
  userID,
  username: 'Jane Doe',
  preferredUsername: 'jane',
  email: 'jane@example.com',
  emailVerified: true,
  groups: ['admins', 'devs'],
});

const pkce = (): PKCE => ({
  codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  codeChallengeMethod: 'S256',
});
const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

/** Far enough ahead that no garbage collection in a test reaches it; fixed, so fixtures compare equal. */
export const farFuture = (): Date => new Date('2099-06-15T12:34:56.789+02:00');

export const client = (id: string): Client => ({
  id,
  secret: `secret-${id}`,
  redirectURIs: ['https://app.example.com/callback', 'http://127.0.0.1/cb'],
  trustedPeers: ['peer-a'],
  public: false,
  name: `Client ${id}`,
  logoURL: 'https://app.example.com/logo.png',
  postLogoutRedirectURIs: ['https://app.example.com/logged-out', 'http://127.0.0.1/bye?x=1'],
  backchannelLogoutURI: 'https://app.example.com/backchannel-logout',
  ssoSharedWith: ['peer-a', '*'],
  refreshTokenLifetime: 'session',
});

export const authRequest = (id: string, expiry: Date = farFuture()): AuthRequest => ({
  id,
  clientID: 'app',
  responseTypes: ['code'],
  scopes: ['openid', 'email', 'offline_access'],
  redirectURI: 'https://app.example.com/callback',
  nonce: 'n-0S6_WzA2Mj',
  state: 'af0ifjsldkj',
  forceApprovalPrompt: true,
  loggedIn: true,
  claims: claims(),
  connectorID: 'ldap',
  connectorData: bytes(0, 1, 2, 253, 254, 255),
  expiry,
  pkce: pkce(),
  hmacKey: 'hmac-key-0123456789',
  authTime: new Date('2026-03-04T05:06:07.891+05:30'),
});

export const authCode = (id: string, expiry: Date = farFuture()): AuthCode => ({
  id,
  clientID: 'app',
  scopes: ['openid', 'groups'],
  redirectURI: 'https://app.example.com/callback',
  nonce: 'nonce',
  claims: claims(),
  connectorID: 'github',
  connectorData: bytes(9, 8, 7),
  expiry,
  pkce: pkce(),
  authTime: new Date('2026-03-04T05:06:07.123-08:00'),
  sessionID: 'session-of-the-code',
});

export const refreshToken = (id: string, expiry?: Date): RefreshToken => ({
  id,
  token: `sha256:${id}-current`,
  obsoleteToken: `sha256:${id}-previous`,
  createdAt: new Date('2026-02-01T08:00:00.001+01:00'),
  lastUsed: new Date('2026-02-02T09:30:00.999-03:00'),
  clientID: 'app',
  scopes: ['openid', 'offline_access'],
  nonce: '0',
  claims: claims(),
  connectorID: 'oidc',
  connectorData: bytes(42),
  ...(expiry ? { expiry } : {}),
  familyID: `family-${id}`,
  authTime: new Date('2026-02-01T07:59:59.500Z'),
  sessionID: `session-of-${id}`,
  sessionBound: true,
});

export const offlineSessions = (userID: string, connectorID: string): OfflineSessions => ({
  userID,
  connectorID,
  refresh: {
    app: {
      id: `rt-${userID}`,
      clientID: 'app',
      createdAt: new Date('2026-01-05T10:00:00.250+02:00'),
      lastUsed: new Date('2026-01-06T11:00:00.750-07:00'),
    },
  },
  connectorData: bytes(1, 2, 3),
});

export const password = (email: string): Password => ({
  email,
  hash: '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W',
  username: 'admin',
  name: 'Admin',
  preferredUsername: 'admin',
  emailVerified: true,
  userID: '08a8684b-db88-4b73-90a9-3cd1661f5466',
  groups: ['ops'],
});

export const connector = (id: string): Connector => ({
  id,
  type: 'ldap',
  name: `Connector ${id}`,
  // Free-form JSON, including keys a back end might use as its own markers.
  config: {
    host: 'ldap.example.com:636',
    insecureNoSSL: false,
    userSearch: { baseDN: 'ou=People', nested: [1, 2, null] },
    $schema: 'x',
    looksTagged: { $date: 1 },
    alsoTagged: { $bytes: 'AA==' },
    wrapped: { $obj: { a: 1 } },
  },
});

export const deviceRequest = (userCode: string, expiry: Date = farFuture()): DeviceRequest => ({
  userCode,
  deviceCode: `device-${userCode}`,
  clientID: 'cli',
  scopes: ['openid', 'groups'],
  expiry,
  pkce: pkce(),
});

export const deviceToken = (deviceCode: string, expiry: Date = farFuture()): DeviceToken => ({
  deviceCode,
  status: 'pending',
  token: '',
  expiry,
  lastRequest: new Date('2026-01-01T00:00:01.001+14:00'),
  pollInterval: 5,
  pkce: pkce(),
});

export const keySet = (name: KeySetName): KeySet => ({
  name,
  keys: [
    {
      kid: `${name}-kid-1`,
      alg: 'RS256',
      privateJwk: { kty: 'RSA', n: 'sXch', e: 'AQAB', d: 'secret', p: 'p', q: 'q' },
      publicJwk: { kty: 'RSA', n: 'sXch', e: 'AQAB' },
      createdAt: new Date('2026-01-01T00:00:00.001-05:00'),
      activeFrom: new Date('2026-01-01T06:00:00.002+09:00'),
      retiredAt: new Date('2026-01-02T00:00:00.003Z'),
      publishUntil: new Date('2026-01-03T00:00:00.004+01:00'),
    },
    {
      kid: `${name}-kid-2`,
      alg: 'ES256',
      privateJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' },
      createdAt: new Date('2026-01-02T00:00:00.005Z'),
      activeFrom: new Date('2026-01-02T00:00:00.006Z'),
    },
  ],
  nextRotation: new Date('2026-01-02T06:00:00.007-06:00'),
});

/** A browser session with every optional field and every map filled; expiries far ahead unless given. */
export const session = (
  id: string,
  expiries: { absoluteExpiry?: Date; idleExpiry?: Date } = {},
): Session => ({
  id,
  claims: claims(),
  connectorID: 'ldap',
  connectorData: bytes(5, 0, 255),
  authTime: new Date('2026-04-01T09:00:00.111+02:00'),
  amr: ['pwd', 'otp'],
  createdAt: new Date('2026-04-01T09:00:00.222+02:00'),
  lastActivity: new Date('2026-04-01T10:30:00.333-04:00'),
  absoluteExpiry: expiries.absoluteExpiry ?? farFuture(),
  idleExpiry: expiries.idleExpiry ?? new Date('2099-01-01T00:00:00.444+09:00'),
  clients: {
    app: { since: new Date('2026-04-01T09:00:01.555+02:00') },
    'https://other.example.com/client': { since: new Date('2026-04-01T17:00:02.666Z') },
  },
  consents: { app: ['openid', 'email', 'groups'], cli: [] },
  answeredApprovals: { 'approval-1': new Date('2026-04-01T09:05:00.777+05:30') },
  ipAddress: '2001:db8::17',
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0',
});

/** The IDs of a numbered series, zero-padded so that every back end's key order is the numeric order. */
export const ids = (prefix: string, n: number): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`);
