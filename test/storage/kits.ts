import type { Page, ListOptions, Storage, Updater } from '../../src/storage/storage.js';
import * as f from './fixtures.js';

// One description per entity kind, so the generic CRUD, paging and concurrency checks run over all of them
// alike; what only one kind has (case-insensitive emails, consume, resource versions) is tested on its own.

export interface Kit<T> {
  name: string;
  make(n: number): T;
  create(s: Storage, v: T): Promise<void>;
  get(s: Storage, v: T): Promise<T>;
  update?(s: Storage, v: T, updater: Updater<T>): Promise<T>;
  delete?(s: Storage, v: T): Promise<void>;
  list?(s: Storage, opts?: ListOptions): Promise<Page<T>>;
  /** A copy with some stored field changed to reflect `tag`. */
  change(v: T, tag: string): T;
  /** What a back end is allowed to fill in itself, removed before comparing. */
  comparable(v: T): unknown;
  key(v: T): string;
  /** A numeric field that concurrent updaters increment. */
  counter?: { read(v: T): number; write(v: T, n: number): T };
}

const same = <T>(v: T): unknown => v;

export const clientKit: Kit<ReturnType<typeof f.client>> = {
  name: 'client',
  make: (n) => f.client(`client-${String(n).padStart(4, '0')}`),
  create: (s, v) => s.createClient(v),
  get: (s, v) => s.getClient(v.id),
  update: (s, v, u) => s.updateClient(v.id, u),
  delete: (s, v) => s.deleteClient(v.id),
  list: (s, o) => s.listClients(o),
  change: (v, tag) => ({
    ...v,
    secret: `secret-${tag}`,
    redirectURIs: [...v.redirectURIs, `https://${tag}.example`],
  }),
  comparable: same,
  key: (v) => v.id,
  counter: { read: (v) => Number(v.name), write: (v, n) => ({ ...v, name: String(n) }) },
};

export const authRequestKit: Kit<ReturnType<typeof f.authRequest>> = {
  name: 'auth request',
  make: (n) => f.authRequest(`authreq-${String(n).padStart(4, '0')}`),
  create: (s, v) => s.createAuthRequest(v),
  get: (s, v) => s.getAuthRequest(v.id),
  update: (s, v, u) => s.updateAuthRequest(v.id, u),
  delete: (s, v) => s.deleteAuthRequest(v.id),
  list: (s, o) => s.listAuthRequests(o),
  change: (v, tag) => ({
    ...v,
    loggedIn: !v.loggedIn,
    claims: { ...v.claims, username: tag, groups: [tag] },
    pkce: { codeChallenge: `challenge-${tag}`, codeChallengeMethod: 'plain' },
  }),
  comparable: same,
  key: (v) => v.id,
};

export const authCodeKit: Kit<ReturnType<typeof f.authCode>> = {
  name: 'auth code',
  make: (n) => f.authCode(`code-${String(n).padStart(4, '0')}`),
  create: (s, v) => s.createAuthCode(v),
  get: (s, v) => s.getAuthCode(v.id),
  delete: (s, v) => s.deleteAuthCode(v.id),
  change: (v, tag) => ({ ...v, nonce: tag }),
  comparable: same,
  key: (v) => v.id,
};

export const refreshTokenKit: Kit<ReturnType<typeof f.refreshToken>> = {
  name: 'refresh token',
  make: (n) => f.refreshToken(`refresh-${String(n).padStart(4, '0')}`, f.farFuture()),
  create: (s, v) => s.createRefreshToken(v),
  get: (s, v) => s.getRefreshToken(v.id),
  update: (s, v, u) => s.updateRefreshToken(v.id, u),
  delete: (s, v) => s.deleteRefreshToken(v.id),
  list: (s, o) => s.listRefreshTokens(o),
  change: (v, tag) => ({
    ...v,
    obsoleteToken: v.token,
    token: `sha256:${tag}`,
    lastUsed: new Date(v.lastUsed.getTime() + 1001),
  }),
  comparable: same,
  key: (v) => v.id,
  counter: { read: (v) => Number(v.nonce), write: (v, n) => ({ ...v, nonce: String(n) }) },
};

export const offlineSessionsKit: Kit<ReturnType<typeof f.offlineSessions>> = {
  name: 'offline sessions',
  make: (n) => f.offlineSessions(`user-${n}`, 'ldap'),
  create: (s, v) => s.createOfflineSessions(v),
  get: (s, v) => s.getOfflineSessions(v.userID, v.connectorID),
  update: (s, v, u) => s.updateOfflineSessions(v.userID, v.connectorID, u),
  delete: (s, v) => s.deleteOfflineSessions(v.userID, v.connectorID),
  change: (v, tag) => ({
    ...v,
    refresh: {
      ...v.refresh,
      [tag]: {
        id: `rt-${tag}`,
        clientID: tag,
        createdAt: new Date(1_700_000_000_123),
        lastUsed: new Date(1_700_000_000_456),
      },
    },
  }),
  comparable: same,
  key: (v) => `${v.userID}/${v.connectorID}`,
};

export const passwordKit: Kit<ReturnType<typeof f.password>> = {
  name: 'password',
  make: (n) => f.password(`user${String(n).padStart(4, '0')}@example.com`),
  create: (s, v) => s.createPassword(v),
  get: (s, v) => s.getPassword(v.email),
  update: (s, v, u) => s.updatePassword(v.email, u),
  delete: (s, v) => s.deletePassword(v.email),
  list: (s, o) => s.listPasswords(o),
  change: (v, tag) => ({ ...v, username: tag, groups: [...v.groups, tag] }),
  comparable: same,
  key: (v) => v.email,
};

export const connectorKit: Kit<ReturnType<typeof f.connector>> = {
  name: 'connector',
  make: (n) => f.connector(`conn-${String(n).padStart(4, '0')}`),
  create: (s, v) => s.createConnector(v),
  get: (s, v) => s.getConnector(v.id),
  update: (s, v, u) => s.updateConnector(v.id, u),
  delete: (s, v) => s.deleteConnector(v.id),
  list: (s, o) => s.listConnectors(o),
  change: (v, tag) => ({ ...v, name: tag, config: { ...v.config, tag } }),
  comparable: (v) => {
    const rest: Record<string, unknown> = { ...v };
    delete rest.resourceVersion;
    return rest;
  },
  key: (v) => v.id,
  counter: { read: (v) => Number(v.name), write: (v, n) => ({ ...v, name: String(n) }) },
};

export const deviceRequestKit: Kit<ReturnType<typeof f.deviceRequest>> = {
  name: 'device request',
  make: (n) => f.deviceRequest(`BCDF-${String(n).padStart(4, '0')}`),
  create: (s, v) => s.createDeviceRequest(v),
  get: (s, v) => s.getDeviceRequest(v.userCode),
  change: (v, tag) => ({ ...v, clientID: tag }),
  comparable: same,
  key: (v) => v.userCode,
};

export const deviceTokenKit: Kit<ReturnType<typeof f.deviceToken>> = {
  name: 'device token',
  make: (n) => f.deviceToken(`devicecode-${String(n).padStart(4, '0')}`),
  create: (s, v) => s.createDeviceToken(v),
  get: (s, v) => s.getDeviceToken(v.deviceCode),
  update: (s, v, u) => s.updateDeviceToken(v.deviceCode, u),
  change: (v, tag) => ({ ...v, status: 'complete', token: `{"access_token":"${tag}"}` }),
  comparable: same,
  key: (v) => v.deviceCode,
  counter: { read: (v) => v.pollInterval, write: (v, n) => ({ ...v, pollInterval: n }) },
};

export const keySetKit: Kit<ReturnType<typeof f.keySet>> = {
  name: 'key set',
  make: (n) => f.keySet(n % 2 === 0 ? 'signing' : 'sealing'),
  create: (s, v) => s.createKeySet(v),
  get: (s, v) => s.getKeySet(v.name),
  update: (s, v, u) => s.updateKeySet(v.name, u),
  change: (v, tag) => ({
    ...v,
    keys: [
      ...v.keys,
      {
        kid: tag,
        alg: 'RS256',
        privateJwk: { kty: 'RSA', tag },
        createdAt: v.nextRotation,
        activeFrom: v.nextRotation,
      },
    ],
    nextRotation: new Date(v.nextRotation.getTime() + 3_600_001),
  }),
  comparable: same,
  key: (v) => v.name,
};

export const sessionKit: Kit<ReturnType<typeof f.session>> = {
  name: 'session',
  make: (n) => f.session(`session-${String(n).padStart(4, '0')}`),
  create: (s, v) => s.createSession(v),
  get: (s, v) => s.getSession(v.id),
  update: (s, v, u) => s.updateSession(v.id, u),
  delete: (s, v) => s.deleteSession(v.id),
  list: (s, o) => s.listSessions(o),
  // What a login through the session changes: the activity, a new client, its consent, an answered approval.
  change: (v, tag) => ({
    ...v,
    lastActivity: new Date(v.lastActivity.getTime() + 60_001),
    idleExpiry: new Date(v.idleExpiry.getTime() + 60_001),
    clients: { ...v.clients, [tag]: { since: new Date(1_700_000_000_789) } },
    consents: { ...v.consents, [tag]: ['openid', tag] },
    answeredApprovals: { ...v.answeredApprovals, [`approval-${tag}`]: new Date(1_700_000_001_234) },
  }),
  comparable: same,
  key: (v) => v.id,
  counter: { read: (v) => Number(v.userAgent), write: (v, n) => ({ ...v, userAgent: String(n) }) },
};

// Written out so each kit keeps its own element type; the generic checks take them one by one.
export const allKits = [
  clientKit,
  authRequestKit,
  authCodeKit,
  refreshTokenKit,
  offlineSessionsKit,
  passwordKit,
  connectorKit,
  deviceRequestKit,
  deviceTokenKit,
  keySetKit,
  sessionKit,
] as Kit<unknown>[];
