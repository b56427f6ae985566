// From the normalised file to the typed Config: each section parsed field by field (so that one bad field
// does not hide the problems of its neighbours), defaults applied, environment references resolved, and the
// rules that relate several fields checked.

import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import type {
  Config,
  ConnectorConfig,
  ExpiryConfig,
  FrontendConfig,
  ThrottlingConfig,
  GrantType,
  OAuth2Config,
  LoggerConfig,
  SessionsConfig,
  SignerConfig,
  StaticClientConfig,
  StaticPasswordConfig,
  StorageConfig,
  TelemetryConfig,
  WebConfig,
} from './types.js';
import { describeValue, type Findings, type PathSegment, quote, zodErrorMap } from './problems.js';
import { isPlainObject } from './normalize.js';
import { connectorType, typeServesGrant } from '../connectors/types.js';
import {
  clientShape,
  connectorShape,
  expiryShape,
  frontendShape,
  throttlingShape,
  GRANT_TYPES,
  grantTypeSchema,
  issuerSchema,
  loggerShape,
  oauth2Shape,
  PASSWORD_CONNECTOR_TYPES,
  passwordShape,
  sessionsShape,
  signerSchema,
  storageSchema,
  telemetryShape,
  TOKEN_EXCHANGE_CONNECTOR_TYPES,
  webShape,
} from './schema.js';

export interface BuildOptions {
  env: NodeJS.ProcessEnv;
  /** When set, relative file paths of the file (sqlite file, TLS files, kubeconfig, frontend dir) resolve here. */
  baseDir?: string;
}

const OOB = 'urn:ietf:wg:oauth:2.0:oob';
const HOUR = 3_600_000;
const MINUTE = 60_000;

const DEFAULTS = {
  signingKeys: 6 * HOUR,
  idTokens: 24 * HOUR,
  authRequests: 24 * HOUR,
  authCodes: 10 * MINUTE,
  deviceRequests: 5 * MINUTE,
  reuseInterval: 3_000,
};

const SESSION_DEFAULTS = {
  cookieName: 'latchkey_session',
  absoluteLifetime: { ms: 24 * HOUR, text: '24h' },
  validIfNotUsedFor: HOUR,
} as const;

// ---------------------------------------------------------------------------------------------------------
// Parsing helpers

function parse<T extends z.ZodType>(
  schema: T,
  value: unknown,
  path: PathSegment[],
  f: Findings,
): { ok: true; value: z.output<T> } | { ok: false } {
  const r = schema.safeParse(value, { error: zodErrorMap });
  if (r.success) return { ok: true, value: r.data };
  for (const issue of r.error.issues) {
    f.problem([...path, ...issue.path.filter((p): p is PathSegment => typeof p !== 'symbol')], issue.message);
  }
  return { ok: false };
}

type Shape = Record<string, z.ZodType>;
type Parsed<S extends Shape> = { [K in keyof S]?: z.output<S[K]> };

interface Fields<S extends Shape> {
  v: Parsed<S>;
  /** Every field parsed. */
  ok: boolean;
  /** The field was written (and is not an empty string). */
  given(key: keyof S): boolean;
  /** The field was written and parsed. */
  good(key: keyof S): boolean;
}

/** Parses a mapping field by field; undefined (with a problem) when it is not a mapping at all. */
function parseFields<S extends Shape>(
  shape: S,
  raw: unknown,
  path: PathSegment[],
  f: Findings,
): Fields<S> | undefined {
  if (raw !== undefined && !isPlainObject(raw)) {
    f.problem(path, `expected a mapping, got ${describeValue(raw)}`);
    return undefined;
  }
  const obj = raw ?? {};
  const v: Parsed<S> = {};
  const failed = new Set<keyof S>();
  for (const key of Object.keys(shape) as (keyof S & string)[]) {
    const r = parse(shape[key]!, obj[key], [...path, key], f);
    if (r.ok) v[key] = r.value as Parsed<S>[typeof key];
    else failed.add(key);
  }
  const given = (key: keyof S) => obj[key as string] !== undefined && obj[key as string] !== '';
  return { v, ok: failed.size === 0, given, good: (key) => given(key) && !failed.has(key) };
}

/** A list section: undefined (with a problem) when it is not a list. */
function parseList(raw: unknown, path: PathSegment[], noun: string, f: Findings): unknown[] | undefined {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    f.problem(path, `expected ${noun}, got ${describeValue(raw)}`);
    return undefined;
  }
  return raw;
}

function resolvePath(p: string, baseDir: string | undefined): string {
  return baseDir === undefined || isAbsolute(p) ? p : resolve(baseDir, p);
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

/** An environment variable read for idEnv / secretEnv / hashFromEnv: unset or empty is a problem. */
function fromEnv(name: string, path: PathSegment[], opts: BuildOptions, f: Findings): string | undefined {
  const value = opts.env[name];
  if (value === undefined || value === '') {
    f.problem(path, `environment variable ${quote(name)} is not set`);
    return undefined;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------
// Sections

function buildIssuer(raw: unknown, f: Findings): { issuer: string; issuerPath: string } | undefined {
  const r = parse(issuerSchema, raw, ['issuer'], f);
  if (!r.ok) return undefined;
  const s = r.value;
  let url: URL | undefined;
  try {
    url = new URL(s);
  } catch {
    url = undefined;
  }
  if (
    !url ||
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.hostname === '' ||
    /\s/.test(s)
  ) {
    f.problem(
      ['issuer'],
      `expected an absolute http(s) URL such as "https://dex.example.com/dex", got ${quote(s)}`,
    );
    return undefined;
  }
  if (url.search !== '' || url.hash !== '' || /[?#]/.test(s)) {
    f.problem(['issuer'], `must not have a query or fragment, got ${quote(s)}`);
    return undefined;
  }
  if (url.username !== '' || url.password !== '') {
    f.problem(['issuer'], 'must not contain a user name or password');
    return undefined;
  }
  return { issuer: s, issuerPath: url.pathname.replace(/\/+$/, '') };
}

/** Kubernetes credentials: exactly one of inCluster: true and kubeConfigFile (checked even if other fields are bad). */
function kubernetesCredentialsProblem(rawConfig: unknown): string | undefined {
  const c = isPlainObject(rawConfig) ? rawConfig : {};
  const { inCluster, kubeConfigFile } = c;
  if (inCluster !== undefined && typeof inCluster !== 'boolean') return undefined; // reported as a type problem
  if (kubeConfigFile !== undefined && typeof kubeConfigFile !== 'string') return undefined;
  const hasFile = kubeConfigFile !== undefined && kubeConfigFile !== '';
  if (inCluster === true && hasFile) return 'set either inCluster: true or kubeConfigFile, not both';
  if (inCluster !== true && !hasFile) return 'expected inCluster: true or a kubeConfigFile';
  return undefined;
}

function buildStorage(raw: unknown, opts: BuildOptions, f: Findings): StorageConfig | undefined {
  const credentialsProblem =
    isPlainObject(raw) && raw.type === 'kubernetes' ? kubernetesCredentialsProblem(raw.config) : undefined;
  const r = parse(storageSchema, raw, ['storage'], f);
  if (credentialsProblem !== undefined) f.problem(['storage', 'config'], credentialsProblem);
  if (!r.ok || credentialsProblem !== undefined) return undefined;
  const s = r.value;
  switch (s.type) {
    case 'memory':
      return { type: 'memory' };
    case 'sqlite3':
      return {
        type: 'sqlite3',
        file: s.config.file === ':memory:' ? s.config.file : resolvePath(s.config.file, opts.baseDir),
      };
    case 'kubernetes': {
      const out: StorageConfig = {
        type: 'kubernetes',
        inCluster: s.config.inCluster,
        crdHandling: s.config.crdHandling,
      };
      if (s.config.watchSecrets) out.watchSecrets = true;
      if (s.config.tokenCacheSize !== undefined) out.tokenCacheSize = s.config.tokenCacheSize;
      const kubeConfigFile = nonEmpty(s.config.kubeConfigFile);
      if (kubeConfigFile !== undefined) out.kubeConfigFile = resolvePath(kubeConfigFile, opts.baseDir);
      const namespace = nonEmpty(s.config.namespace);
      if (namespace !== undefined) out.namespace = namespace;
      return out;
    }
  }
}

const TLS = { '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' } as const;

function buildWeb(raw: unknown, opts: BuildOptions, f: Findings): WebConfig | undefined {
  const w = parseFields(webShape, raw, ['web'], f);
  if (!w) return undefined;
  const { v } = w;
  const https = nonEmpty(v.https);
  if (https !== undefined) {
    if (!w.given('tlsCert')) f.problem(['web', 'tlsCert'], 'required with web.https');
    if (!w.given('tlsKey')) f.problem(['web', 'tlsKey'], 'required with web.https');
  }
  const min = v.tlsMinVersion ?? '1.2';
  if (v.tlsMaxVersion !== undefined && v.tlsMaxVersion < min) {
    f.problem(['web', 'tlsMaxVersion'], `"${v.tlsMaxVersion}" is lower than web.tlsMinVersion "${min}"`);
  }
  const headers = v.headers ?? {};
  const seen = new Map<string, string>();
  for (const name of Object.keys(headers)) {
    const earlier = seen.get(name.toLowerCase());
    if (earlier !== undefined) f.problem(['web', 'headers', name], `same header as ${quote(earlier)}`);
    seen.set(name.toLowerCase(), name);
  }
  if (!w.ok) return undefined;
  const out: WebConfig = {
    tlsMinVersion: TLS[min],
    headers,
    allowedOrigins: v.allowedOrigins ?? [],
    allowedHeaders: v.allowedHeaders && v.allowedHeaders.length > 0 ? v.allowedHeaders : ['Authorization'],
    clientRemoteIP: { trustedProxies: v.clientRemoteIP?.trustedProxies ?? [] },
  };
  const http = nonEmpty(v.http);
  if (http !== undefined) out.http = http;
  if (https !== undefined) out.https = https;
  const tlsCert = nonEmpty(v.tlsCert);
  const tlsKey = nonEmpty(v.tlsKey);
  if (tlsCert !== undefined) out.tlsCert = resolvePath(tlsCert, opts.baseDir);
  if (tlsKey !== undefined) out.tlsKey = resolvePath(tlsKey, opts.baseDir);
  if (v.tlsMaxVersion !== undefined) out.tlsMaxVersion = TLS[v.tlsMaxVersion];
  if (v.drainDelay !== undefined) out.drainDelay = v.drainDelay;
  if (v.workers !== undefined) out.workers = v.workers;
  const header = nonEmpty(v.clientRemoteIP?.header);
  if (header !== undefined) out.clientRemoteIP.header = header;
  return out;
}

function buildTelemetry(raw: unknown, f: Findings): TelemetryConfig | undefined {
  const t = parseFields(telemetryShape, raw, ['telemetry'], f);
  if (!t?.ok) return undefined;
  const out: TelemetryConfig = { enableProfiling: t.v.enableProfiling ?? false };
  const http = nonEmpty(t.v.http);
  if (http !== undefined) out.http = http;
  return out;
}

function buildThrottling(raw: unknown, f: Findings): ThrottlingConfig | undefined {
  const t = parseFields(throttlingShape, raw, ['throttling'], f);
  if (!t?.ok) return undefined;
  return {
    passwordFailuresPerAccount: t.v.passwordFailuresPerAccount ?? 5,
    passwordFailuresPerIP: t.v.passwordFailuresPerIP ?? 50,
    window: t.v.window ?? 15 * 60_000,
    requestsPerSecondPerIP: t.v.requestsPerSecondPerIP ?? 10,
    requestBurstPerIP: t.v.requestBurstPerIP ?? 100,
  };
}

function buildExpiry(raw: unknown, f: Findings): (ExpiryConfig & { signingKeysGiven: boolean }) | undefined {
  const e = parseFields(expiryShape, raw, ['expiry'], f);
  if (!e?.ok) return undefined;
  const { v } = e;
  const rt = v.refreshTokens ?? { disableRotation: false };
  const out: ExpiryConfig & { signingKeysGiven: boolean } = {
    signingKeys: v.signingKeys ?? DEFAULTS.signingKeys,
    idTokens: v.idTokens ?? DEFAULTS.idTokens,
    authRequests: v.authRequests ?? DEFAULTS.authRequests,
    authCodes: v.authCodes ?? DEFAULTS.authCodes,
    deviceRequests: v.deviceRequests ?? DEFAULTS.deviceRequests,
    refreshTokens: {
      disableRotation: rt.disableRotation,
      reuseInterval: rt.reuseInterval ?? DEFAULTS.reuseInterval,
    },
    signingKeysGiven: v.signingKeys !== undefined,
  };
  // "0" means never, as unset does (Dex).
  if (rt.validIfNotUsedFor) out.refreshTokens.validIfNotUsedFor = rt.validIfNotUsedFor;
  if (rt.absoluteLifetime) out.refreshTokens.absoluteLifetime = rt.absoluteLifetime;
  return out;
}

function buildLogger(raw: unknown, f: Findings): LoggerConfig | undefined {
  const l = parseFields(loggerShape, raw, ['logger'], f);
  if (!l?.ok) return undefined;
  return { level: l.v.level ?? 'info', format: l.v.format ?? 'text', excludeFields: l.v.excludeFields ?? [] };
}

function buildSigner(
  raw: unknown,
  expiry: { signingKeys: number; signingKeysGiven: boolean } | undefined,
  f: Findings,
): SignerConfig | undefined {
  if (raw === undefined) {
    if (expiry?.signingKeysGiven)
      f.warn(['expiry', 'signingKeys'], 'deprecated (use signer.config.keysRotationPeriod)');
    if (!expiry) return undefined;
    return { type: 'local', keysRotationPeriod: expiry.signingKeys, algorithm: 'RS256' };
  }
  if (expiry?.signingKeysGiven) {
    f.warn(
      ['expiry', 'signingKeys'],
      'deprecated and ignored because signer is set (use signer.config.keysRotationPeriod)',
    );
  }
  const r = parse(signerSchema, raw, ['signer'], f);
  if (!r.ok) return undefined;
  return {
    type: 'local',
    keysRotationPeriod: r.value.config.keysRotationPeriod,
    algorithm: r.value.config.algorithm,
  };
}

interface ConnectorsResult {
  connectors: ConnectorConfig[];
  /** Every entry parsed: checks that look for a connector may conclude it is missing. */
  complete: boolean;
}

function buildConnectors(raw: unknown, enablePasswordDB: boolean | undefined, f: Findings): ConnectorsResult {
  const list = parseList(raw, ['connectors'], 'a list of connectors', f);
  if (!list) return { connectors: [], complete: false };
  const connectors: ConnectorConfig[] = [];
  const firstIndex = new Map<string, number>();
  let complete = true;
  list.forEach((item, i) => {
    const c = parseFields(connectorShape, item, ['connectors', i], f);
    if (!c?.ok) complete = false;
    if (!c) return;
    const id = c.v.id;
    if (id !== undefined && c.good('id')) {
      if (id === 'local' && enablePasswordDB) {
        f.problem(
          ['connectors', i, 'id'],
          '"local" is reserved for the password database (enablePasswordDB: true)',
        );
        complete = false;
        return;
      }
      const first = firstIndex.get(id);
      if (first !== undefined) {
        f.problem(
          ['connectors', i, 'id'],
          `duplicate connector id ${quote(id)} (already used by connectors[${first}])`,
        );
        complete = false;
        return;
      }
      firstIndex.set(id, i);
    }
    const type = c.v.type;
    (c.v.grantTypes ?? []).forEach((g, j) => {
      const declared = type !== undefined ? connectorType(type) : undefined;
      if (declared && !typeServesGrant(declared, g)) {
        f.problem(['connectors', i, 'grantTypes', j], `a connector of type ${type} cannot serve ${quote(g)}`);
        complete = false;
      }
    });
    if (c.ok && type !== undefined && id !== undefined && c.v.name !== undefined) {
      connectors.push({
        type,
        id,
        name: c.v.name,
        config: c.v.config ?? {},
        ...(c.v.grantTypes && c.v.grantTypes.length > 0 ? { grantTypes: [...new Set(c.v.grantTypes)] } : {}),
      });
    }
  });
  return { connectors, complete };
}

/**
 * Why `uri` is not an absolute URL a browser may be sent to (custom schemes of native apps included), or
 * undefined. `expected` is the message for what is not a URL at all.
 */
function browserURLProblem(uri: string, expected: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return expected;
  }
  if (/\s/.test(uri)) return expected;
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    if (url.hostname === '') return expected;
  } else if (/^\d+(?:\/|$)/.test(uri.slice(url.protocol.length))) {
    return `${quote(uri)} looks like host:port without a scheme; expected an absolute URL such as ${quote(`http://${uri}`)}`;
  }
  if (uri.includes('#')) return `must not contain a fragment ("#…"), got ${quote(uri)}`;
  return undefined;
}

/** Why a client may not register this redirect URI, or undefined; also judges OAuth2Client objects. */
export function redirectURIProblem(uri: string, issuerPath: string | undefined): string | undefined {
  if (uri === OOB || uri === '/device/callback') return undefined;
  if (uri.startsWith('/') && uri.endsWith('/device/callback')) {
    if (issuerPath === undefined || uri === `${issuerPath}/device/callback`) return undefined;
  }
  const deviceCallback = `${issuerPath ?? ''}/device/callback`;
  return browserURLProblem(
    uri,
    `expected an absolute URL such as "http://127.0.0.1:5555/callback", ${quote(OOB)} or ` +
      `${quote(deviceCallback)}, got ${quote(uri)}`,
  );
}

/**
 * Why a client may not register this post-logout redirect URI, or undefined: the rules of redirect URIs
 * without the device flow's and the OOB's, which only a login ends at. Also judges OAuth2Client objects.
 */
export function postLogoutRedirectURIProblem(uri: string): string | undefined {
  return browserURLProblem(
    uri,
    `expected an absolute URL such as "http://127.0.0.1:5555/", got ${quote(uri)}`,
  );
}

/**
 * Why this back-channel logout URI cannot be used, or undefined: OpenID Connect Back-Channel Logout 1.0 §2.2
 * asks for an absolute URL without a fragment, which Latchkey POSTs to, so http(s) only. Also judges
 * OAuth2Client objects.
 */
export function backchannelLogoutURIProblem(uri: string): string | undefined {
  const expected = `expected an absolute http(s) URL such as "https://app.example.com/backchannel-logout", got ${quote(uri)}`;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return expected;
  }
  if (/\s/.test(uri) || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    return expected;
  }
  if (uri.includes('#')) return `must not contain a fragment ("#…"), got ${quote(uri)}`;
  return undefined;
}

function buildClients(
  raw: unknown,
  issuerPath: string | undefined,
  servedGrants: readonly GrantType[] | undefined,
  /** The file has a sessions section (whether or not it is valid). */
  sessionsOn: boolean,
  opts: BuildOptions,
  f: Findings,
): StaticClientConfig[] | undefined {
  const list = parseList(raw, ['staticClients'], 'a list of clients', f);
  if (!list) return undefined;
  const clients: StaticClientConfig[] = [];
  const firstIndex = new Map<string, number>();
  const ssoLists: { index: number; ids: string[] }[] = [];
  let ok = true;
  list.forEach((item, i) => {
    const path = ['staticClients', i];
    const c = parseFields(clientShape, item, path, f);
    if (!c) {
      ok = false;
      return;
    }
    const { v } = c;
    let good = c.ok;

    let id: string | undefined;
    let idPath: PathSegment[] = [...path, 'id'];
    if (c.given('id') && c.given('idEnv')) {
      f.problem([...path, 'idEnv'], 'set either id or idEnv, not both');
      good = false;
    } else if (c.given('idEnv')) {
      idPath = [...path, 'idEnv'];
      id = c.good('idEnv') ? fromEnv(v.idEnv!, idPath, opts, f) : undefined;
    } else if (c.given('id')) {
      id = v.id;
    } else {
      f.problem([...path, 'id'], 'required (or idEnv)');
    }
    if (id === undefined) good = false;

    let secret: string | undefined;
    if (c.given('secret') && c.given('secretEnv')) {
      f.problem([...path, 'secretEnv'], 'set either secret or secretEnv, not both');
      good = false;
    } else if (c.given('secretEnv')) {
      secret = c.good('secretEnv') ? fromEnv(v.secretEnv!, [...path, 'secretEnv'], opts, f) : undefined;
      if (secret === undefined) good = false;
    } else if (c.given('secret')) {
      secret = v.secret;
    } else if (v.public === false) {
      f.problem([...path, 'secret'], 'required for a confidential client (or secretEnv, or public: true)');
      good = false;
    }

    (v.redirectURIs ?? []).forEach((uri, j) => {
      const problem = redirectURIProblem(uri, issuerPath);
      if (problem !== undefined) {
        f.problem([...path, 'redirectURIs', j], problem);
        good = false;
      }
    });
    (v.postLogoutRedirectURIs ?? []).forEach((uri, j) => {
      const problem = postLogoutRedirectURIProblem(uri);
      if (problem !== undefined) {
        f.problem([...path, 'postLogoutRedirectURIs', j], problem);
        good = false;
      }
    });
    const backchannelLogoutURI = nonEmpty(v.backchannelLogoutURI);
    const backchannelProblem =
      backchannelLogoutURI === undefined ? undefined : backchannelLogoutURIProblem(backchannelLogoutURI);
    if (backchannelProblem !== undefined) {
      f.problem([...path, 'backchannelLogoutURI'], backchannelProblem);
      good = false;
    }

    if (sessionsOn) {
      if (v.ssoSharedWith) ssoLists.push({ index: i, ids: v.ssoSharedWith });
    } else {
      // A restriction that cannot be enforced is refused; these keys only grant, and without sessions there
      // is nothing to grant.
      if (v.refreshTokenLifetime === 'session') {
        f.problem(
          [...path, 'refreshTokenLifetime'],
          '"session" needs the sessions section: without browser sessions there is no session for its ' +
            'refresh tokens to end with',
        );
        good = false;
      }
      for (const [key, what] of SESSION_ONLY_CLIENT_KEYS) {
        if (c.good(key)) f.warn([...path, key], `has no effect without the sessions section (${what})`);
      }
    }

    if (id !== undefined) {
      const first = firstIndex.get(id);
      if (first !== undefined) {
        f.problem(idPath, `duplicate client id ${quote(id)} (already used by staticClients[${first}])`);
        good = false;
      } else {
        firstIndex.set(id, i);
      }
    }

    (v.grantTypes ?? []).forEach((g, j) => {
      // A client may list only grants the server serves; client_credentials it enables for itself.
      if (g === 'client_credentials' || servedGrants === undefined || servedGrants.includes(g)) return;
      f.problem(
        [...path, 'grantTypes', j],
        `${quote(g)} is not served (oauth2.grantTypes: ${servedGrants.join(', ')})`,
      );
      good = false;
    });
    if (v.public && v.grantTypes?.includes('client_credentials')) {
      f.problem(
        [...path, 'grantTypes', v.grantTypes.indexOf('client_credentials')],
        '"client_credentials" needs a confidential client (public: false, with a secret)',
      );
      good = false;
    }

    if (good && id !== undefined && v.name !== undefined) {
      clients.push({
        id,
        secret: secret ?? '',
        name: v.name,
        redirectURIs: v.redirectURIs ?? [],
        trustedPeers: v.trustedPeers ?? [],
        public: v.public ?? false,
        logoURL: v.logoURL ?? '',
        ...(v.allowedConnectors && v.allowedConnectors.length > 0
          ? { allowedConnectors: [...new Set(v.allowedConnectors)] }
          : {}),
        ...(v.grantTypes ? { grantTypes: [...new Set(v.grantTypes)] } : {}),
        ...(v.clientCredentialsClaims
          ? { clientCredentialsClaims: { groups: v.clientCredentialsClaims.groups ?? [] } }
          : {}),
        ...(v.postLogoutRedirectURIs && v.postLogoutRedirectURIs.length > 0
          ? { postLogoutRedirectURIs: v.postLogoutRedirectURIs }
          : {}),
        ...(backchannelLogoutURI !== undefined ? { backchannelLogoutURI } : {}),
        // [] is kept: it means "share with none", which an absent list (the section's default) may not.
        ...(v.ssoSharedWith ? { ssoSharedWith: [...new Set(v.ssoSharedWith)] } : {}),
        ...(v.refreshTokenLifetime ? { refreshTokenLifetime: v.refreshTokenLifetime } : {}),
      });
    } else {
      ok = false;
    }
  });
  // Only once every id is known. A warning, not a problem: the id may be a client in storage (an OAuth2Client
  // object), and sharing with a client that does not exist grants nothing.
  if (ok) {
    const ids = [...firstIndex.keys()];
    for (const { index, ids: shared } of ssoLists) {
      shared.forEach((id, j) => {
        if (id === '*' || firstIndex.has(id)) return;
        f.warn(
          ['staticClients', index, 'ssoSharedWith', j],
          `no static client has the id ${quote(id)} (static clients: ${ids.join(', ')}); it counts only ` +
            'if the storage holds a client with this id',
        );
      });
    }
  }
  return ok ? clients : undefined;
}

/** Client keys that only matter with browser sessions, and what they would do. */
const SESSION_ONLY_CLIENT_KEYS = [
  ['postLogoutRedirectURIs', 'there is no logout endpoint to redirect from'],
  ['backchannelLogoutURI', 'there are no browser sessions whose end it would hear of'],
  ['ssoSharedWith', 'there are no browser sessions to share'],
] as const;

const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A bcrypt hash as Dex reads it: the hash itself, or (legacy) standard base64 of it. */
export function readBcryptHash(s: string): { hash: string; cost: number } | undefined {
  const direct = BCRYPT.exec(s);
  const decoded = direct
    ? undefined
    : BASE64.test(s)
      ? Buffer.from(s, 'base64').toString('latin1')
      : undefined;
  const m = direct ?? (decoded !== undefined ? BCRYPT.exec(decoded) : null);
  if (!m) return undefined;
  const cost = Number(m[1]);
  if (cost < 4 || cost > 31) return undefined;
  return { hash: direct ? s : decoded!, cost };
}

const BCRYPT_EXPECTED =
  'a bcrypt hash ("$2a$…", "$2b$…" or "$2y$…", 60 characters) or the base64 encoding of one';

function buildPasswords(
  raw: unknown,
  enablePasswordDB: boolean | undefined,
  opts: BuildOptions,
  f: Findings,
): StaticPasswordConfig[] | undefined {
  const list = parseList(raw, ['staticPasswords'], 'a list of passwords', f);
  if (!list) return undefined;
  if (list.length > 0 && enablePasswordDB === false) {
    f.problem(['staticPasswords'], 'requires enablePasswordDB: true');
  }
  const passwords: StaticPasswordConfig[] = [];
  const firstIndex = new Map<string, number>();
  let ok = true;
  list.forEach((item, i) => {
    const path = ['staticPasswords', i];
    const p = parseFields(passwordShape, item, path, f);
    if (!p) {
      ok = false;
      return;
    }
    const { v } = p;
    let good = p.ok;

    let hash: { hash: string; cost: number } | undefined;
    let hashPath: PathSegment[] = [...path, 'hash'];
    if (p.given('hash') && p.given('hashFromEnv')) {
      f.problem([...path, 'hashFromEnv'], 'set either hash or hashFromEnv, not both');
    } else if (p.given('hashFromEnv')) {
      hashPath = [...path, 'hashFromEnv'];
      const value = p.good('hashFromEnv') ? fromEnv(v.hashFromEnv!, hashPath, opts, f) : undefined;
      if (value !== undefined) {
        hash = readBcryptHash(value);
        if (!hash)
          f.problem(
            hashPath,
            `environment variable ${quote(v.hashFromEnv!)} does not hold ${BCRYPT_EXPECTED}`,
          );
      }
    } else if (p.given('hash')) {
      if (p.good('hash')) {
        hash = readBcryptHash(v.hash!);
        if (!hash) f.problem(hashPath, `expected ${BCRYPT_EXPECTED}`);
      }
    } else {
      f.problem(hashPath, 'required (or hashFromEnv)');
    }
    if (hash && (hash.cost < 10 || hash.cost > 16)) {
      f.warn(
        hashPath,
        `bcrypt cost ${hash.cost} is outside 10..16: logins with this password will be refused`,
      );
    }
    if (!hash) good = false;

    const email = v.email?.toLowerCase();
    if (email !== undefined) {
      const first = firstIndex.get(email);
      if (first !== undefined) {
        f.problem(
          [...path, 'email'],
          `duplicate email ${quote(email)} (already used by staticPasswords[${first}])`,
        );
        good = false;
      } else {
        firstIndex.set(email, i);
      }
    }

    if (good && hash && email !== undefined && v.username !== undefined && v.userID !== undefined) {
      const out: StaticPasswordConfig = {
        email,
        hash: hash.hash,
        username: v.username,
        emailVerified: v.emailVerified ?? true,
        userID: v.userID,
        groups: v.groups ?? [],
      };
      if (nonEmpty(v.name) !== undefined) out.name = v.name;
      if (nonEmpty(v.preferredUsername) !== undefined) out.preferredUsername = v.preferredUsername;
      passwords.push(out);
    } else {
      ok = false;
    }
  });
  return ok ? passwords : undefined;
}

const TOKEN_EXCHANGE: GrantType = 'urn:ietf:params:oauth:grant-type:token-exchange';

function buildOAuth2(
  raw: unknown,
  connectors: ConnectorsResult,
  enablePasswordDB: boolean | undefined,
  opts: BuildOptions,
  f: Findings,
): OAuth2Config | undefined {
  const o = parseFields(oauth2Shape, raw, ['oauth2'], f);
  if (!o) return undefined;
  const { v } = o;

  const passwordConnector = nonEmpty(v.passwordConnector);
  if (passwordConnector !== undefined) {
    const path = ['oauth2', 'passwordConnector'];
    const known = connectors.connectors.map((c) => c.id);
    if (enablePasswordDB) known.push('local');
    const type =
      passwordConnector === 'local' && enablePasswordDB
        ? 'local'
        : connectors.connectors.find((c) => c.id === passwordConnector)?.type;
    if (type === undefined) {
      if (passwordConnector === 'local' && enablePasswordDB === false) {
        f.problem(path, '"local" needs enablePasswordDB: true');
      } else if (connectors.complete) {
        const which =
          known.length > 0 ? `connector ids: ${known.join(', ')}` : 'no connectors are configured';
        f.problem(path, `no connector with id ${quote(passwordConnector)} (${which})`);
      }
    } else if (!PASSWORD_CONNECTOR_TYPES.includes(type)) {
      f.problem(
        path,
        `connector ${quote(passwordConnector)} is of type ${type}, which cannot check passwords ` +
          `(password connectors: ${PASSWORD_CONNECTOR_TYPES.join(', ')})`,
      );
    }
  }

  const canExchange = connectors.connectors.some((c) => TOKEN_EXCHANGE_CONNECTOR_TYPES.includes(c.type));
  const possible = (g: GrantType): boolean =>
    g === 'password' ? passwordConnector !== undefined : g === TOKEN_EXCHANGE ? canExchange : true;
  // Dex serves client_credentials to every confidential client only when asked to; by default a client
  // opts in itself (staticClients[].grantTypes).
  const byDefault = (g: GrantType): boolean =>
    g === 'client_credentials'
      ? envFlag(opts.env.DEX_CLIENT_CREDENTIAL_GRANT_ENABLED_BY_DEFAULT)
      : possible(g);

  // The listed grants that are valid, with their positions, even when another entry of the list is not.
  const rawGrants = isPlainObject(raw) ? raw.grantTypes : undefined;
  const listed: [GrantType, number][] = Array.isArray(rawGrants)
    ? rawGrants.flatMap((g, j): [GrantType, number][] => {
        const r = grantTypeSchema.safeParse(g);
        return r.success ? [[r.data, j]] : [];
      })
    : [];
  let grantTypes: GrantType[];
  if (listed.length > 0) {
    listed.forEach(([g, j]) => {
      if (possible(g)) return;
      const path = ['oauth2', 'grantTypes', j];
      if (g === 'password') f.problem(path, `"password" needs oauth2.passwordConnector`);
      else if (connectors.complete) {
        f.problem(
          path,
          `${quote(g)} needs a connector that can exchange tokens (type ${TOKEN_EXCHANGE_CONNECTOR_TYPES.join(' or ')})`,
        );
      }
    });
    grantTypes = [...new Set(listed.map(([g]) => g))];
  } else {
    grantTypes = GRANT_TYPES.filter(byDefault);
  }
  grantTypes.sort();

  if (!o.ok) return undefined;
  const methods = v.pkce?.codeChallengeMethodsSupported;
  if (methods?.includes('plain')) {
    f.warn(
      ['oauth2', 'pkce', 'codeChallengeMethodsSupported'],
      '"plain" lets anyone who sees the authorization request redeem its code (RFC 9700 §2.1.1); allow only S256 unless an old client needs plain',
    );
  }
  const out: OAuth2Config = {
    grantTypes,
    responseTypes: ['code'],
    skipApprovalScreen: v.skipApprovalScreen ?? false,
    alwaysShowLoginScreen: v.alwaysShowLoginScreen ?? false,
    pkce: {
      enforce: v.pkce?.enforce ?? false,
      // S256 only unless the file asks for plain too (Dex's default allows plain; RFC 9700 §2.1.1 says no).
      codeChallengeMethodsSupported: methods && methods.length > 0 ? [...new Set(methods)] : ['S256'],
    },
  };
  if (passwordConnector !== undefined) out.passwordConnector = passwordConnector;
  return out;
}

/** Dex's boolean environment flags (Go's strconv.ParseBool). */
function envFlag(value: string | undefined): boolean {
  return ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value ?? '');
}

/**
 * The sessions section: `{}` when the file has none (sessions off), `{ sessions }` when it has one (even
 * empty), undefined when it has problems.
 */
function buildSessions(
  raw: unknown,
  issuer: { issuer: string; issuerPath: string } | undefined,
  f: Findings,
): { sessions?: SessionsConfig } | undefined {
  if (raw === undefined) return {};
  const s = parseFields(sessionsShape, raw, ['sessions'], f);
  if (!s) return undefined;
  const { v } = s;
  const written = raw as Record<string, unknown>;

  let good = s.ok;

  const cookieName = nonEmpty(v.cookieName) ?? SESSION_DEFAULTS.cookieName;
  // Browsers drop a prefixed cookie whose attributes break the prefix's promise (RFC 6265bis §4.1.3), and
  // the session cookie gets Secure only with an https issuer and Path = the issuer's path, as Latchkey's
  // other cookies do: such a name would leave every login without a session, silently.
  const prefix = /^__(?:secure|host)-/i.exec(cookieName)?.[0];
  if (prefix !== undefined && issuer !== undefined) {
    if (!issuer.issuer.startsWith('https:')) {
      f.problem(
        ['sessions', 'cookieName'],
        `browsers keep a cookie named "${prefix}…" only when it is Secure, which needs an https issuer`,
      );
      good = false;
    } else if (prefix.toLowerCase() === '__host-' && issuer.issuerPath !== '') {
      f.problem(
        ['sessions', 'cookieName'],
        `browsers keep a cookie named "${prefix}…" only with Path=/, and the cookie's path is the ` +
          `issuer's, ${quote(issuer.issuerPath)}`,
      );
      good = false;
    }
  }

  const absolute = v.absoluteLifetime ?? SESSION_DEFAULTS.absoluteLifetime.ms;
  // Unset, the idle limit is the default or the absolute one if that is shorter: a session ends at the earlier
  // of the two anyway, and consumers may count on idle ≤ absolute.
  const idle = v.validIfNotUsedFor ?? Math.min(SESSION_DEFAULTS.validIfNotUsedFor, absolute);
  const absoluteKnown = s.good('absoluteLifetime') || !s.given('absoluteLifetime');
  if (s.good('validIfNotUsedFor') && absoluteKnown && idle > absolute) {
    const limit = s.given('absoluteLifetime')
      ? quote(String(written.absoluteLifetime))
      : `(default ${quote(SESSION_DEFAULTS.absoluteLifetime.text)})`;
    f.problem(
      ['sessions', 'validIfNotUsedFor'],
      `${quote(String(written.validIfNotUsedFor))} is longer than sessions.absoluteLifetime ${limit}`,
    );
    good = false;
  }

  if (s.given('cookieEncryptionKey')) {
    // Whatever its length: a key Latchkey does not use cannot be wrong, only misleading.
    f.warn(
      ['sessions', 'cookieEncryptionKey'],
      'not used: Latchkey seals the session cookie with its rotating sealing keys from storage',
    );
  }
  if (!good) return undefined;
  return {
    sessions: {
      cookieName,
      absoluteLifetime: absolute,
      validIfNotUsedFor: idle,
      rememberMeCheckedByDefault: v.rememberMeCheckedByDefault ?? true,
      ssoSharedWithDefault: v.ssoSharedWithDefault ?? 'none',
    },
  };
}

function buildFrontend(raw: unknown, opts: BuildOptions, f: Findings): FrontendConfig | undefined {
  const fe = parseFields(frontendShape, raw, ['frontend'], f);
  if (!fe?.ok) return undefined;
  const { v } = fe;
  let theme = nonEmpty(v.theme) ?? 'light';
  if (theme === 'coreos' || theme === 'tectonic') {
    f.warn(['frontend', 'theme'], `${quote(theme)} is a legacy theme name; using "light"`);
    theme = 'light';
  }
  const out: FrontendConfig = {
    theme,
    issuer: nonEmpty(v.issuer) ?? 'Latchkey',
    logoURL: nonEmpty(v.logoURL) ?? 'theme/logo.png',
    extra: v.extra ?? {},
  };
  const fileDir = nonEmpty(v.dir);
  const dir =
    fileDir !== undefined
      ? resolvePath(fileDir, opts.baseDir)
      : (nonEmpty(opts.env.LATCHKEY_FRONTEND_DIR) ?? nonEmpty(opts.env.DEX_FRONTEND_DIR));
  if (dir !== undefined) out.dir = dir;
  return out;
}

const UNSUPPORTED_SECTIONS: Record<string, string> = {
  grpc: 'the gRPC API is not supported by Latchkey',
  mfa: 'not supported yet (multi-factor authentication)',
};

function checkUnsupported(raw: Record<string, unknown>, f: Findings): void {
  for (const [key, message] of Object.entries(UNSUPPORTED_SECTIONS)) {
    const value = raw[key];
    if (value === undefined) continue;
    if (isPlainObject(value) && Object.keys(value).length === 0)
      f.warn([key], `empty section ignored (${message})`);
    else f.problem([key], message);
  }
}

const enablePasswordDBSchema = z.boolean().default(false);

/** Builds the Config, or returns undefined when problems were found (they are in `f`). */
export function buildConfig(
  raw: Record<string, unknown>,
  opts: BuildOptions,
  f: Findings,
): Config | undefined {
  checkUnsupported(raw, f);
  const issuer = buildIssuer(raw.issuer, f);
  const storage = buildStorage(raw.storage, opts, f);
  const web = buildWeb(raw.web, opts, f);
  const telemetry = buildTelemetry(raw.telemetry, f);
  const expiry = buildExpiry(raw.expiry, f);
  const logger = buildLogger(raw.logger, f);
  const signer = buildSigner(raw.signer, expiry, f);
  const passwordDB = parse(enablePasswordDBSchema, raw.enablePasswordDB, ['enablePasswordDB'], f);
  const enablePasswordDB = passwordDB.ok ? passwordDB.value : undefined;
  const connectors = buildConnectors(raw.connectors, enablePasswordDB, f);
  const oauth2 = buildOAuth2(raw.oauth2, connectors, enablePasswordDB, opts, f);
  const sessions = buildSessions(raw.sessions, issuer, f);
  const staticClients = buildClients(
    raw.staticClients,
    issuer?.issuerPath,
    oauth2?.grantTypes,
    raw.sessions !== undefined,
    opts,
    f,
  );
  const staticPasswords = buildPasswords(raw.staticPasswords, enablePasswordDB, opts, f);

  const frontend = buildFrontend(raw.frontend, opts, f);
  const throttling = buildThrottling(raw.throttling, f);

  if (
    f.problems.length > 0 ||
    !issuer ||
    !storage ||
    !web ||
    !telemetry ||
    !expiry ||
    !logger ||
    !signer ||
    enablePasswordDB === undefined ||
    !connectors.complete ||
    !staticClients ||
    !staticPasswords ||
    !oauth2 ||
    !frontend ||
    !throttling ||
    !sessions
  ) {
    if (f.problems.length === 0) f.problem([], 'invalid configuration'); // unreachable: every failure says why
    return undefined;
  }
  const { signingKeysGiven: _, ...expiryConfig } = expiry;
  return {
    issuer: issuer.issuer,
    issuerPath: issuer.issuerPath,
    storage,
    web,
    telemetry,
    expiry: { ...expiryConfig, signingKeys: signer.keysRotationPeriod },
    logger,
    oauth2,
    signer,
    staticClients,
    connectors: connectors.connectors,
    enablePasswordDB,
    staticPasswords,
    frontend,
    throttling,
    ...sessions,
  };
}
