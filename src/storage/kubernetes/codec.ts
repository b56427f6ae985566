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
  RefreshTokenRef,
  Revocation,
  Session,
  SessionClient,
  StoredKey,
} from '../storage.js';
import { sessionExpiry } from '../expiry.js';
import type { KubeObject, ResourceRef } from './api.js';
import {
  LABEL_CLIENT,
  LABEL_CONNECTOR,
  LABEL_EXPIRES,
  LABEL_MANAGED_BY,
  LABEL_USER,
  expiresLabel,
  hashName,
  labelValue,
  objectName,
  userLabel,
} from './names.js';

// Entities ⇄ the `spec` of their custom resources (manifests/crds/*.yaml, the one schema): dates as RFC 3339
// strings with milliseconds, bytes as base64, every field typed. Decoding builds fresh objects, so nothing a
// caller gets aliases the watch cache; it tolerates fields an operator left out of a kubectl-managed object.

export const GROUP = 'latchkey.dev';
export const VERSION = 'v1';
export const API_VERSION = `${GROUP}/${VERSION}`;

type Spec = Record<string, unknown>;

export interface Kind<T> {
  kind: string;
  plural: string;
  /** For messages: "auth request". */
  what: string;
  ref: ResourceRef;
  /** The storage key of an entity (its ID; the lower-cased email for passwords). */
  key(v: T): string;
  /** The storage key a stored spec claims, whoever wrote it. */
  specKey(spec: Spec): string;
  /** The object name Latchkey gives the entity with this key. */
  name(key: string): string;
  encode(v: T): Spec;
  labels(v: T): Record<string, string>;
  decode(obj: KubeObject): T;
}

function kind<T>(
  k: string,
  plural: string,
  what: string,
  rest: Omit<Kind<T>, 'kind' | 'plural' | 'what' | 'ref' | 'name'> & { name?: (key: string) => string },
): Kind<T> {
  return {
    kind: k,
    plural,
    what,
    ref: { group: GROUP, version: VERSION, plural },
    name: objectName,
    ...rest,
  };
}

// ---- field helpers -------------------------------------------------------------------------------------

const str = (s: Spec, k: string): string => (typeof s[k] === 'string' ? s[k] : '');
const strs = (s: Spec, k: string): string[] =>
  Array.isArray(s[k]) ? (s[k] as unknown[]).filter((x): x is string => typeof x === 'string') : [];
const bool = (s: Spec, k: string): boolean => s[k] === true;
const obj = (s: Spec, k: string): Spec =>
  typeof s[k] === 'object' && s[k] !== null && !Array.isArray(s[k]) ? (s[k] as Spec) : {};
const date = (s: Spec, k: string): Date => new Date(typeof s[k] === 'string' ? s[k] : Number.NaN);
const optDate = <K extends string>(s: Spec, k: K): { [P in K]?: Date } =>
  (typeof s[k] === 'string' ? { [k]: new Date(s[k]) } : {}) as { [P in K]?: Date };
const optStr = <K extends string>(s: Spec, k: K): { [P in K]?: string } =>
  (typeof s[k] === 'string' ? { [k]: s[k] } : {}) as { [P in K]?: string };
const optBytes = (s: Spec, k: string): { connectorData?: Uint8Array } =>
  typeof s[k] === 'string' ? { connectorData: new Uint8Array(Buffer.from(s[k], 'base64')) } : {};
/** A map of instants (RFC 3339 strings) by key; entries of another type are left out. */
const dates = (s: Spec, k: string): Record<string, Date> =>
  Object.fromEntries(
    Object.entries(obj(s, k)).flatMap(([key, v]) => (typeof v === 'string' ? [[key, new Date(v)]] : [])),
  );

const iso = (d: Date): string => d.toISOString();
const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
const maybe = <V>(k: string, v: V | undefined, f: (v: V) => unknown): Spec =>
  v === undefined ? {} : { [k]: f(v) };

const encodeClaims = (c: Claims): Spec => ({
  userID: c.userID,
  username: c.username,
  preferredUsername: c.preferredUsername,
  email: c.email,
  emailVerified: c.emailVerified,
  groups: [...c.groups],
});
const decodeClaims = (s: Spec): Claims => ({
  userID: str(s, 'userID'),
  username: str(s, 'username'),
  preferredUsername: str(s, 'preferredUsername'),
  email: str(s, 'email'),
  emailVerified: bool(s, 'emailVerified'),
  groups: strs(s, 'groups'),
});
/** What `kubectl get` shows in the User column. */
const displayUser = (c: Claims): string => c.preferredUsername || c.email || c.userID;

const encodePkce = (p: PKCE): Spec => ({
  codeChallenge: p.codeChallenge,
  codeChallengeMethod: p.codeChallengeMethod,
});
const decodePkce = (s: Spec): PKCE => ({
  codeChallenge: str(s, 'codeChallenge'),
  codeChallengeMethod: str(s, 'codeChallengeMethod'),
});

const MANAGED = { [LABEL_MANAGED_BY]: 'latchkey' };

/** Labels that make a user's, client's or connector's objects one selector away. */
const loginLabels = (clientID: string, claims: Claims, connectorID: string): Record<string, string> => ({
  [LABEL_CLIENT]: labelValue(clientID),
  [LABEL_USER]: userLabel(claims.userID),
  [LABEL_CONNECTOR]: labelValue(connectorID),
});

const expiresLabels = (expiry: Date | undefined): Record<string, string> =>
  expiry === undefined || Number.isNaN(expiry.getTime()) ? {} : { [LABEL_EXPIRES]: expiresLabel(expiry) };

// ---- kinds ---------------------------------------------------------------------------------------------

export const authRequests = kind<AuthRequest>('AuthRequest', 'authrequests', 'auth request', {
  key: (a) => a.id,
  specKey: (s) => str(s, 'id'),
  encode: (a) => ({
    id: a.id,
    clientID: a.clientID,
    responseTypes: [...a.responseTypes],
    scopes: [...a.scopes],
    redirectURI: a.redirectURI,
    nonce: a.nonce,
    state: a.state,
    forceApprovalPrompt: a.forceApprovalPrompt,
    loggedIn: a.loggedIn,
    claims: encodeClaims(a.claims),
    user: displayUser(a.claims),
    connectorID: a.connectorID,
    ...maybe('connectorData', a.connectorData, b64),
    expiry: iso(a.expiry),
    pkce: encodePkce(a.pkce),
    hmacKey: a.hmacKey,
    ...maybe('authTime', a.authTime, iso),
  }),
  labels: (a) => ({ ...loginLabels(a.clientID, a.claims, a.connectorID), ...expiresLabels(a.expiry) }),
  decode: ({ spec = {} }) => ({
    id: str(spec, 'id'),
    clientID: str(spec, 'clientID'),
    responseTypes: strs(spec, 'responseTypes'),
    scopes: strs(spec, 'scopes'),
    redirectURI: str(spec, 'redirectURI'),
    nonce: str(spec, 'nonce'),
    state: str(spec, 'state'),
    forceApprovalPrompt: bool(spec, 'forceApprovalPrompt'),
    loggedIn: bool(spec, 'loggedIn'),
    claims: decodeClaims(obj(spec, 'claims')),
    connectorID: str(spec, 'connectorID'),
    ...optBytes(spec, 'connectorData'),
    expiry: date(spec, 'expiry'),
    pkce: decodePkce(obj(spec, 'pkce')),
    hmacKey: str(spec, 'hmacKey'),
    ...optDate(spec, 'authTime'),
  }),
});

export const authCodes = kind<AuthCode>('AuthCode', 'authcodes', 'auth code', {
  key: (c) => c.id,
  specKey: (s) => str(s, 'id'),
  encode: (c) => ({
    id: c.id,
    clientID: c.clientID,
    scopes: [...c.scopes],
    redirectURI: c.redirectURI,
    nonce: c.nonce,
    claims: encodeClaims(c.claims),
    user: displayUser(c.claims),
    connectorID: c.connectorID,
    ...maybe('connectorData', c.connectorData, b64),
    expiry: iso(c.expiry),
    pkce: encodePkce(c.pkce),
    ...maybe('authTime', c.authTime, iso),
    ...maybe('sessionID', c.sessionID, String),
  }),
  labels: (c) => ({ ...loginLabels(c.clientID, c.claims, c.connectorID), ...expiresLabels(c.expiry) }),
  decode: ({ spec = {} }) => ({
    id: str(spec, 'id'),
    clientID: str(spec, 'clientID'),
    scopes: strs(spec, 'scopes'),
    redirectURI: str(spec, 'redirectURI'),
    nonce: str(spec, 'nonce'),
    claims: decodeClaims(obj(spec, 'claims')),
    connectorID: str(spec, 'connectorID'),
    ...optBytes(spec, 'connectorData'),
    expiry: date(spec, 'expiry'),
    pkce: decodePkce(obj(spec, 'pkce')),
    ...optDate(spec, 'authTime'),
    ...optStr(spec, 'sessionID'),
  }),
});

export const refreshTokens = kind<RefreshToken>('RefreshToken', 'refreshtokens', 'refresh token', {
  key: (r) => r.id,
  specKey: (s) => str(s, 'id'),
  encode: (r) => ({
    id: r.id,
    token: r.token,
    obsoleteToken: r.obsoleteToken,
    createdAt: iso(r.createdAt),
    lastUsed: iso(r.lastUsed),
    clientID: r.clientID,
    scopes: [...r.scopes],
    nonce: r.nonce,
    claims: encodeClaims(r.claims),
    user: displayUser(r.claims),
    connectorID: r.connectorID,
    ...maybe('connectorData', r.connectorData, b64),
    ...maybe('expiry', r.expiry, iso),
    ...maybe('familyID', r.familyID, String),
    ...maybe('rotationKey', r.rotationKey, String),
    ...maybe('authTime', r.authTime, iso),
    ...maybe('sessionID', r.sessionID, String),
    ...maybe('sessionBound', r.sessionBound, Boolean),
  }),
  labels: (r) => ({ ...loginLabels(r.clientID, r.claims, r.connectorID), ...expiresLabels(r.expiry) }),
  decode: ({ spec = {} }) => ({
    id: str(spec, 'id'),
    token: str(spec, 'token'),
    obsoleteToken: str(spec, 'obsoleteToken'),
    createdAt: date(spec, 'createdAt'),
    lastUsed: date(spec, 'lastUsed'),
    clientID: str(spec, 'clientID'),
    scopes: strs(spec, 'scopes'),
    nonce: str(spec, 'nonce'),
    claims: decodeClaims(obj(spec, 'claims')),
    connectorID: str(spec, 'connectorID'),
    ...optBytes(spec, 'connectorData'),
    ...optDate(spec, 'expiry'),
    ...optStr(spec, 'familyID'),
    ...optStr(spec, 'rotationKey'),
    ...optDate(spec, 'authTime'),
    ...optStr(spec, 'sessionID'),
    ...(typeof spec.sessionBound === 'boolean' ? { sessionBound: spec.sessionBound } : {}),
  }),
});

export const offlineSessionsKey = (userID: string, connectorID: string): string =>
  JSON.stringify([userID, connectorID]);

export const offlineSessions = kind<OfflineSessions>(
  'OfflineSessions',
  'offlinesessions',
  'offline sessions',
  {
    key: (o) => offlineSessionsKey(o.userID, o.connectorID),
    specKey: (s) => offlineSessionsKey(str(s, 'userID'), str(s, 'connectorID')),
    // Always hashed: the key is a pair.
    name: hashName,
    encode: (o) => ({
      userID: o.userID,
      connectorID: o.connectorID,
      refresh: Object.fromEntries(
        Object.entries(o.refresh).map(([clientID, r]) => [
          clientID,
          { id: r.id, clientID: r.clientID, createdAt: iso(r.createdAt), lastUsed: iso(r.lastUsed) },
        ]),
      ),
      ...maybe('connectorData', o.connectorData, b64),
    }),
    labels: (o) => ({
      [LABEL_USER]: userLabel(o.userID),
      [LABEL_CONNECTOR]: labelValue(o.connectorID),
    }),
    decode: ({ spec = {} }) => ({
      userID: str(spec, 'userID'),
      connectorID: str(spec, 'connectorID'),
      refresh: Object.fromEntries(
        Object.entries(obj(spec, 'refresh')).map(([clientID, raw]): [string, RefreshTokenRef] => {
          const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Spec;
          return [
            clientID,
            {
              id: str(r, 'id'),
              clientID: str(r, 'clientID'),
              createdAt: date(r, 'createdAt'),
              lastUsed: date(r, 'lastUsed'),
            },
          ];
        }),
      ),
      ...optBytes(spec, 'connectorData'),
    }),
  },
);

export interface SecretRef {
  name: string;
  key: string;
}

/** A client's secret may live in a Kubernetes Secret instead of the spec. */
export function secretRefOf(o: KubeObject): SecretRef | undefined {
  const ref = obj(o.spec ?? {}, 'secretRef');
  const name = str(ref, 'name');
  const key = str(ref, 'key');
  return name && key ? { name, key } : undefined;
}

type RefreshTokenLifetime = NonNullable<Client['refreshTokenLifetime']>;
const REFRESH_TOKEN_LIFETIMES: readonly RefreshTokenLifetime[] = ['standalone', 'session'];

export const clients = kind<Client>('OAuth2Client', 'oauth2clients', 'client', {
  key: (c) => c.id,
  specKey: (s) => str(s, 'id'),
  encode: (c) => ({
    id: c.id,
    secret: c.secret,
    redirectURIs: [...c.redirectURIs],
    trustedPeers: [...c.trustedPeers],
    public: c.public,
    name: c.name,
    logoURL: c.logoURL,
    ...(c.allowedConnectors ? { allowedConnectors: [...c.allowedConnectors] } : {}),
    ...(c.grantTypes ? { grantTypes: [...c.grantTypes] } : {}),
    ...(c.clientCredentialsClaims
      ? { clientCredentialsClaims: { groups: [...c.clientCredentialsClaims.groups] } }
      : {}),
    ...(c.postLogoutRedirectURIs ? { postLogoutRedirectURIs: [...c.postLogoutRedirectURIs] } : {}),
    ...maybe('backchannelLogoutURI', c.backchannelLogoutURI, String),
    ...(c.ssoSharedWith ? { ssoSharedWith: [...c.ssoSharedWith] } : {}),
    ...maybe('refreshTokenLifetime', c.refreshTokenLifetime, String),
  }),
  labels: () => ({}),
  // A client with secretRef decodes with an empty secret; the storage fills it in from the Secret.
  decode: ({ spec = {} }) => ({
    id: str(spec, 'id'),
    secret: str(spec, 'secret'),
    redirectURIs: strs(spec, 'redirectURIs'),
    trustedPeers: strs(spec, 'trustedPeers'),
    public: bool(spec, 'public'),
    name: str(spec, 'name'),
    logoURL: str(spec, 'logoURL'),
    ...(spec.allowedConnectors !== undefined ? { allowedConnectors: strs(spec, 'allowedConnectors') } : {}),
    ...(spec.grantTypes !== undefined ? { grantTypes: strs(spec, 'grantTypes') } : {}),
    ...(spec.clientCredentialsClaims !== undefined
      ? { clientCredentialsClaims: { groups: strs(obj(spec, 'clientCredentialsClaims'), 'groups') } }
      : {}),
    ...(spec.postLogoutRedirectURIs !== undefined
      ? { postLogoutRedirectURIs: strs(spec, 'postLogoutRedirectURIs') }
      : {}),
    ...optStr(spec, 'backchannelLogoutURI'),
    ...(spec.ssoSharedWith !== undefined ? { ssoSharedWith: strs(spec, 'ssoSharedWith') } : {}),
    // The CRD admits only these two; anything else (an object written around the schema) reads as absent.
    ...(REFRESH_TOKEN_LIFETIMES.find((l) => l === spec.refreshTokenLifetime)
      ? { refreshTokenLifetime: spec.refreshTokenLifetime as RefreshTokenLifetime }
      : {}),
  }),
});

export const passwords = kind<Password>('Password', 'passwords', 'password', {
  key: (p) => p.email.toLowerCase(),
  specKey: (s) => str(s, 'email').toLowerCase(),
  encode: (p) => ({
    email: p.email.toLowerCase(),
    hash: p.hash,
    username: p.username,
    ...maybe('name', p.name, String),
    ...maybe('preferredUsername', p.preferredUsername, String),
    ...maybe('emailVerified', p.emailVerified, Boolean),
    userID: p.userID,
    groups: [...p.groups],
  }),
  labels: () => ({}),
  decode: ({ spec = {} }) => ({
    email: str(spec, 'email').toLowerCase(),
    hash: str(spec, 'hash'),
    username: str(spec, 'username'),
    ...optStr(spec, 'name'),
    ...optStr(spec, 'preferredUsername'),
    ...(typeof spec.emailVerified === 'boolean' ? { emailVerified: spec.emailVerified } : {}),
    userID: str(spec, 'userID'),
    groups: strs(spec, 'groups'),
  }),
});

export const connectors = kind<Connector>('Connector', 'connectors', 'connector', {
  key: (c) => c.id,
  specKey: (s) => str(s, 'id'),
  encode: (c) => ({
    id: c.id,
    type: c.type,
    name: c.name,
    config: JSON.parse(JSON.stringify(c.config ?? {})) as unknown,
    ...(c.grantTypes ? { grantTypes: [...c.grantTypes] } : {}),
  }),
  labels: () => ({}),
  decode: ({ spec = {}, metadata }) => ({
    id: str(spec, 'id'),
    type: str(spec, 'type'),
    name: str(spec, 'name'),
    config: JSON.parse(JSON.stringify(obj(spec, 'config'))) as Record<string, unknown>,
    ...(spec.grantTypes !== undefined ? { grantTypes: strs(spec, 'grantTypes') } : {}),
    ...(metadata.resourceVersion ? { resourceVersion: metadata.resourceVersion } : {}),
  }),
});

export const deviceRequests = kind<DeviceRequest>('DeviceRequest', 'devicerequests', 'device request', {
  key: (d) => d.userCode,
  specKey: (s) => str(s, 'userCode'),
  encode: (d) => ({
    userCode: d.userCode,
    deviceCode: d.deviceCode,
    clientID: d.clientID,
    scopes: [...d.scopes],
    expiry: iso(d.expiry),
    pkce: encodePkce(d.pkce),
  }),
  labels: (d) => ({ [LABEL_CLIENT]: labelValue(d.clientID), ...expiresLabels(d.expiry) }),
  decode: ({ spec = {} }) => ({
    userCode: str(spec, 'userCode'),
    deviceCode: str(spec, 'deviceCode'),
    clientID: str(spec, 'clientID'),
    scopes: strs(spec, 'scopes'),
    expiry: date(spec, 'expiry'),
    pkce: decodePkce(obj(spec, 'pkce')),
  }),
});

const DEVICE_STATUSES = ['pending', 'complete', 'denied'] as const;

export const deviceTokens = kind<DeviceToken>('DeviceToken', 'devicetokens', 'device token', {
  key: (t) => t.deviceCode,
  specKey: (s) => str(s, 'deviceCode'),
  encode: (t) => ({
    deviceCode: t.deviceCode,
    status: t.status,
    token: t.token,
    expiry: iso(t.expiry),
    lastRequest: iso(t.lastRequest),
    pollInterval: t.pollInterval,
    pkce: encodePkce(t.pkce),
  }),
  labels: (t) => expiresLabels(t.expiry),
  decode: ({ spec = {} }) => ({
    deviceCode: str(spec, 'deviceCode'),
    status: DEVICE_STATUSES.find((s) => s === spec.status) ?? 'pending',
    token: str(spec, 'token'),
    expiry: date(spec, 'expiry'),
    lastRequest: date(spec, 'lastRequest'),
    pollInterval: typeof spec.pollInterval === 'number' ? spec.pollInterval : 0,
    pkce: decodePkce(obj(spec, 'pkce')),
  }),
});

// JWK members the schema names; any other member is kept as JSON text in `extraMembers`, so a key round-trips
// exactly while the schema stays structural.
const JWK_STRING_MEMBERS = new Set([
  'kty',
  'kid',
  'alg',
  'use',
  'n',
  'e',
  'd',
  'p',
  'q',
  'dp',
  'dq',
  'qi',
  'crv',
  'x',
  'y',
  'k',
]);

export function encodeJwk(jwk: Record<string, unknown>): Spec {
  const out: Spec = {};
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(jwk)) {
    if (v === undefined) continue;
    if (JWK_STRING_MEMBERS.has(k) && typeof v === 'string') out[k] = v;
    else if (k === 'key_ops' && Array.isArray(v) && v.every((x) => typeof x === 'string')) out[k] = [...v];
    else if (k === 'ext' && typeof v === 'boolean') out[k] = v;
    else extra[k] = JSON.stringify(v);
  }
  if (Object.keys(extra).length > 0) out.extraMembers = extra;
  return out;
}

export function decodeJwk(s: Spec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k !== 'extraMembers') out[k] = Array.isArray(v) ? [...(v as unknown[])] : v;
  }
  for (const [k, v] of Object.entries(obj(s, 'extraMembers'))) {
    if (typeof v === 'string') out[k] = JSON.parse(v) as unknown;
  }
  return out;
}

const KEY_SET_NAMES: readonly KeySetName[] = ['signing', 'sealing'];

export const keySets = kind<KeySet>('KeySet', 'keysets', 'key set', {
  key: (k) => k.name,
  specKey: (s) => str(s, 'name'),
  encode: (k) => ({
    name: k.name,
    nextRotation: iso(k.nextRotation),
    keyCount: k.keys.length,
    keys: k.keys.map((key) => ({
      kid: key.kid,
      alg: key.alg,
      privateJwk: encodeJwk(key.privateJwk),
      ...maybe('publicJwk', key.publicJwk, encodeJwk),
      createdAt: iso(key.createdAt),
      activeFrom: iso(key.activeFrom),
      ...maybe('retiredAt', key.retiredAt, iso),
      ...maybe('publishUntil', key.publishUntil, iso),
    })),
  }),
  labels: () => ({}),
  decode: ({ spec = {} }) => ({
    name: KEY_SET_NAMES.find((n) => n === spec.name) ?? 'signing',
    keys: (Array.isArray(spec.keys) ? (spec.keys as Spec[]) : []).map((k): StoredKey => ({
      kid: str(k, 'kid'),
      alg: str(k, 'alg'),
      privateJwk: decodeJwk(obj(k, 'privateJwk')),
      ...(typeof k.publicJwk === 'object' && k.publicJwk !== null
        ? { publicJwk: decodeJwk(k.publicJwk as Spec) }
        : {}),
      createdAt: date(k, 'createdAt'),
      activeFrom: date(k, 'activeFrom'),
      ...optDate(k, 'retiredAt'),
      ...optDate(k, 'publishUntil'),
    })),
    nextRotation: date(spec, 'nextRotation'),
  }),
});

export const revocations = kind<Revocation>('Revocation', 'revocations', 'revocation', {
  key: (r) => r.id,
  specKey: (s) => str(s, 'id'),
  encode: (r) => ({ id: r.id, expiry: iso(r.expiry) }),
  labels: (r) => expiresLabels(r.expiry),
  decode: ({ spec = {} }) => ({ id: str(spec, 'id'), expiry: date(spec, 'expiry') }),
});

export const sessions = kind<Session>('AuthSession', 'authsessions', 'session', {
  key: (x) => x.id,
  specKey: (s) => str(s, 'id'),
  encode: (x) => ({
    id: x.id,
    claims: encodeClaims(x.claims),
    user: displayUser(x.claims),
    connectorID: x.connectorID,
    ...maybe('connectorData', x.connectorData, b64),
    authTime: iso(x.authTime),
    amr: [...x.amr],
    createdAt: iso(x.createdAt),
    lastActivity: iso(x.lastActivity),
    absoluteExpiry: iso(x.absoluteExpiry),
    idleExpiry: iso(x.idleExpiry),
    clients: Object.fromEntries(
      Object.entries(x.clients).map(([clientID, c]) => [clientID, { since: iso(c.since) }]),
    ),
    consents: Object.fromEntries(
      Object.entries(x.consents).map(([clientID, scopes]) => [clientID, [...scopes]]),
    ),
    answeredApprovals: Object.fromEntries(
      Object.entries(x.answeredApprovals).map(([id, expiry]) => [id, iso(expiry)]),
    ),
    ...maybe('ipAddress', x.ipAddress, String),
    ...maybe('userAgent', x.userAgent, String),
  }),
  // No client label: a session serves every client that logs in through it.
  labels: (x) => ({
    [LABEL_USER]: userLabel(x.claims.userID),
    [LABEL_CONNECTOR]: labelValue(x.connectorID),
    ...expiresLabels(sessionExpiry(x)),
  }),
  decode: ({ spec = {} }) => ({
    id: str(spec, 'id'),
    claims: decodeClaims(obj(spec, 'claims')),
    connectorID: str(spec, 'connectorID'),
    ...optBytes(spec, 'connectorData'),
    authTime: date(spec, 'authTime'),
    amr: strs(spec, 'amr'),
    createdAt: date(spec, 'createdAt'),
    lastActivity: date(spec, 'lastActivity'),
    absoluteExpiry: date(spec, 'absoluteExpiry'),
    idleExpiry: date(spec, 'idleExpiry'),
    clients: Object.fromEntries(
      Object.entries(obj(spec, 'clients')).map(([clientID, raw]): [string, SessionClient] => [
        clientID,
        { since: date(typeof raw === 'object' && raw !== null ? (raw as Spec) : {}, 'since') },
      ]),
    ),
    consents: Object.fromEntries(
      Object.keys(obj(spec, 'consents')).map((clientID) => [clientID, strs(obj(spec, 'consents'), clientID)]),
    ),
    answeredApprovals: dates(spec, 'answeredApprovals'),
    ...optStr(spec, 'ipAddress'),
    ...optStr(spec, 'userAgent'),
  }),
});

/** Every kind, for CRD checks. */
export const ALL_KINDS: readonly Kind<unknown>[] = [
  authRequests,
  authCodes,
  refreshTokens,
  offlineSessions,
  clients,
  passwords,
  connectors,
  deviceRequests,
  deviceTokens,
  keySets,
  revocations,
  sessions,
] as Kind<unknown>[];

const LOOKUP_LABELS = [LABEL_CLIENT, LABEL_USER, LABEL_CONNECTOR, LABEL_EXPIRES];

/**
 * A complete object for create (no `base`) or replace (`base` = the object read): the lookup labels are
 * recomputed from the entity, every other label and all metadata of `base` are kept.
 */
export function toObject<T>(
  k: Kind<T>,
  v: T,
  namespace: string,
  base?: KubeObject,
  name: string = k.name(k.key(v)),
): KubeObject {
  let metadata: KubeObject['metadata'];
  if (base) {
    const kept = Object.entries(base.metadata.labels ?? {}).filter(([l]) => !LOOKUP_LABELS.includes(l));
    metadata = { ...base.metadata, labels: { ...Object.fromEntries(kept), ...k.labels(v) } };
  } else {
    metadata = { name, namespace, labels: { ...MANAGED, ...k.labels(v) } };
  }
  return { apiVersion: API_VERSION, kind: k.kind, metadata, spec: k.encode(v) };
}
