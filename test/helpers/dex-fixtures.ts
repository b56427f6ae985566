import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import bcrypt from 'bcrypt';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { SignJWT } from 'jose';
import type { ControlPlane } from './control-plane.js';
import { DEX_API_VERSION, dexCrds } from '../fixtures/dex/crds.js';
import {
  base32,
  dexRefreshTokenWire,
  goBytes,
  goJsonTime,
  goSqliteTime,
  idToName,
  offlineTokenName,
} from '../fixtures/dex/formats.js';
import { applyDexMigrations } from '../fixtures/dex/sqlite-schema.js';

// A Dex installation for the importer tests: the state a running Dex would have stored (clients created
// through its API, passwords, an API-created connector, logins with refresh tokens and offline sessions,
// signing keys, logins in progress), written in Dex's formats as documented in the reference
// (test/fixtures/dex/formats.ts says which), into Dex's CRDs on a real kube-apiserver or into a SQLite
// file with Dex's schema. What a test needs to act as the users and clients (plain passwords, the refresh
// token strings the clients hold, Dex's private keys) is kept beside it.

type Jwk = Record<string, unknown>;

export interface DexClaims {
  userID: string;
  username: string;
  preferredUsername: string;
  email: string;
  emailVerified: boolean;
  groups: string[];
}

export interface DexClientFixture {
  id: string;
  secret: string;
  redirectURIs: string[];
  trustedPeers: string[];
  public: boolean;
  name: string;
  logoURL: string;
}

export interface DexPasswordFixture {
  email: string;
  /** bcrypt hash as text (Dex stores its bytes). */
  hash: string;
  username: string;
  userID: string;
  name: string;
  preferredUsername: string;
  emailVerified: boolean;
  groups: string[];
}

export interface DexConnectorFixture {
  id: string;
  type: string;
  name: string;
  config: Record<string, unknown>;
}

export interface DexRefreshFixture {
  id: string;
  clientID: string;
  scopes: string[];
  nonce: string;
  token: string;
  obsoleteToken: string;
  claims: DexClaims;
  connectorID: string;
  connectorData?: string;
  createdAt: Date;
  lastUsed: Date;
}

export interface DexSessionFixture {
  userID: string;
  connID: string;
  refresh: Record<string, { ID: string; ClientID: string; CreatedAt: Date; LastUsed: Date }>;
  connectorData?: string;
}

export interface DexKeysFixture {
  signingKey: Jwk;
  signingKeyPub: Jwk;
  verificationKeys: { publicKey: Jwk; expiry: Date }[];
  nextRotation: Date;
}

export interface DexInstallation {
  now: Date;
  clients: DexClientFixture[];
  passwords: DexPasswordFixture[];
  connectors: DexConnectorFixture[];
  refreshTokens: DexRefreshFixture[];
  offlineSessions: DexSessionFixture[];
  keys: DexKeysFixture;
  /** Logins in progress (auth requests, codes, device requests and tokens): one of each. */
  shortLivedIDs: { authRequest: string; authCode: string; userCode: string; deviceCode: string };
  /** Private keys by kid: the current signing key, the retired one still published, an expired one. */
  privateKeys: Map<string, KeyObject>;
  kids: { current: string; verification: string; expired: string };
}

/** Dex's NewID: 16 random bytes, a letter first, the rest lower-case base32 (25 characters). */
export function dexNewID(): string {
  const b = randomBytes(16);
  return String.fromCharCode(97 + (b[0]! % 26)) + base32(b.subarray(1));
}

// The people of the fixture. Alice's subject and Kilgore's are the reference's own examples (§3).
export const ALICE = {
  userID: '08a8684b-db88-4b73-90a9-3cd1661f5466',
  connectorID: 'local',
  email: 'alice@example.com',
  password: 'alice-correct-horse',
  groups: ['admins', 'devs'],
  sub: 'CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs',
};
export const KILGORE = {
  userID: '0-385-28089-0',
  connectorID: 'mock',
  email: 'kilgore@kilgore.trout',
  groups: ['authors'],
  sub: 'Cg0wLTM4NS0yODA4OS0wEgRtb2Nr',
};

export const KUBECTL = {
  id: 'kubectl',
  secret: 'kubectl-dex-secret-Zm9vYmFy',
  redirect: 'http://127.0.0.1:8000',
};
export const DASHBOARD = {
  id: 'dashboard',
  secret: 'dashboard-dex-secret-YmFyYmF6',
  redirect: 'http://127.0.0.1:5555/callback',
};
/** A config value only Dex's API-created connector holds: it must never be printed. */
export const CONNECTOR_SECRET = 'saml-signing-secret-dont-print';
/** Dex's mock connectors hand this out as connector data (reference §6). */
export const MOCK_CONNECTOR_DATA = 'foobar';

const SCOPES = ['openid', 'email', 'groups', 'profile', 'offline_access'];

function rsaKey(): { kid: string; priv: KeyObject; privateJwk: Jwk; publicJwk: Jwk } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  // §3: Dex's local signer: RSA-2048, kid = 20 random bytes in hex, `use: sig`, `alg` set.
  const kid = randomBytes(20).toString('hex');
  const pub = publicKey.export({ format: 'jwk' }) as Jwk;
  const priv = privateKey.export({ format: 'jwk' }) as Jwk;
  return {
    kid,
    priv: privateKey,
    privateJwk: { use: 'sig', kty: 'RSA', kid, alg: 'RS256', ...priv },
    publicJwk: { use: 'sig', kty: 'RSA', kid, alg: 'RS256', n: pub.n, e: pub.e },
  };
}

const claimsOf = (p: { userID: string; email: string; groups: string[]; username?: string }): DexClaims => ({
  userID: p.userID,
  username: p.username ?? p.email.split('@')[0]!,
  preferredUsername: p.username ?? p.email.split('@')[0]!,
  email: p.email,
  emailVerified: true,
  groups: [...p.groups],
});

/**
 * The installation. `bulkUsers` adds that many users, each logged in with kubectl and the dashboard (two
 * refresh tokens, one offline session per user).
 */
export async function buildDexInstallation(
  opts: { now?: Date; bulkUsers?: number } = {},
): Promise<DexInstallation> {
  const now = opts.now ?? new Date();
  const ago = (ms: number) => new Date(now.getTime() - ms);
  const HOUR = 3_600_000;
  const clients: DexClientFixture[] = [
    {
      id: KUBECTL.id,
      secret: KUBECTL.secret,
      redirectURIs: [KUBECTL.redirect],
      trustedPeers: [],
      public: false,
      name: 'kubectl',
      logoURL: '',
    },
    {
      id: DASHBOARD.id,
      secret: DASHBOARD.secret,
      redirectURIs: [DASHBOARD.redirect],
      trustedPeers: [KUBECTL.id],
      public: false,
      name: 'Cluster dashboard',
      logoURL: 'https://dashboard.example.com/logo.png',
    },
    {
      id: 'cli-public',
      secret: '',
      redirectURIs: ['http://127.0.0.1:18000/callback'],
      trustedPeers: [],
      public: true,
      name: 'A public CLI',
      logoURL: '',
    },
  ];
  // Bob shares Alice's hash: one bcrypt hash is enough for the fixture.
  const aliceHash = await bcrypt.hash(ALICE.password, 10);
  const passwords: DexPasswordFixture[] = [
    {
      email: ALICE.email,
      hash: aliceHash,
      username: 'alice',
      userID: ALICE.userID,
      name: 'Alice Liddell',
      preferredUsername: 'alice',
      emailVerified: true,
      groups: [...ALICE.groups],
    },
    {
      email: 'bob@example.com',
      hash: aliceHash,
      username: 'bob',
      userID: 'bob-1',
      name: '',
      preferredUsername: '',
      emailVerified: true,
      groups: [],
    },
  ];
  const connectors: DexConnectorFixture[] = [
    { id: 'mock', type: 'mockCallback', name: 'Mock', config: {} },
    // Created through Dex's API with a type Latchkey does not run: reported, not imported.
    {
      id: 'corp-saml',
      type: 'saml',
      name: 'Corporate SSO',
      config: { ssoURL: 'https://sso.example.com/saml', signingSecret: CONNECTOR_SECRET },
    },
  ];

  const refreshTokens: DexRefreshFixture[] = [];
  const offlineSessions: DexSessionFixture[] = [];
  const login = (
    claims: DexClaims,
    connectorID: string,
    clientID: string,
    sessionFor?: DexSessionFixture,
    extra: Partial<DexRefreshFixture> = {},
  ): DexRefreshFixture => {
    const t: DexRefreshFixture = {
      id: dexNewID(),
      clientID,
      scopes: [...SCOPES],
      nonce: '',
      token: dexNewID(),
      obsoleteToken: dexNewID(),
      claims,
      connectorID,
      createdAt: ago(48 * HOUR),
      lastUsed: ago(HOUR),
      ...extra,
    };
    refreshTokens.push(t);
    if (sessionFor) {
      sessionFor.refresh[clientID] = {
        ID: t.id,
        ClientID: clientID,
        CreatedAt: t.createdAt,
        LastUsed: t.lastUsed,
      };
    }
    return t;
  };

  const aliceClaims = { ...claimsOf({ ...ALICE, username: 'alice' }), username: 'Alice Liddell' };
  const aliceSession: DexSessionFixture = { userID: ALICE.userID, connID: 'local', refresh: {} };
  offlineSessions.push(aliceSession);
  login(aliceClaims, 'local', KUBECTL.id, aliceSession, { nonce: 'n-0S6_WzA2Mj' });
  // Replaced by a newer login of the dashboard: Dex refuses it, so it must not move.
  login(aliceClaims, 'local', DASHBOARD.id);
  login(aliceClaims, 'local', DASHBOARD.id, aliceSession);

  const kilgoreClaims: DexClaims = {
    userID: KILGORE.userID,
    username: 'Kilgore Trout',
    preferredUsername: 'kilgore',
    email: KILGORE.email,
    emailVerified: true,
    groups: [...KILGORE.groups],
  };
  // Newer Dex keeps the upstream's data in the offline session, not in the refresh token.
  const kilgoreSession: DexSessionFixture = {
    userID: KILGORE.userID,
    connID: 'mock',
    refresh: {},
    connectorData: MOCK_CONNECTOR_DATA,
  };
  offlineSessions.push(kilgoreSession);
  login(kilgoreClaims, 'mock', KUBECTL.id, kilgoreSession);

  // A token from before Dex rotated refresh tokens (no secret), and one whose user has no offline session.
  login(claimsOf({ userID: 'bob-1', email: 'bob@example.com', groups: [] }), 'local', KUBECTL.id, undefined, {
    token: '',
    obsoleteToken: '',
  });
  login(claimsOf({ userID: 'bob-1', email: 'bob@example.com', groups: [] }), 'local', DASHBOARD.id);

  // Bulk users log in through the API-created mock connector (no password entries: only their tokens and
  // offline sessions count), with kubectl and the dashboard.
  for (let i = 0; i < (opts.bulkUsers ?? 0); i++) {
    const userID = `bulk-${i}`;
    const session: DexSessionFixture = {
      userID,
      connID: 'mock',
      refresh: {},
      connectorData: MOCK_CONNECTOR_DATA,
    };
    offlineSessions.push(session);
    const claims = claimsOf({ userID, email: `user${i}@example.com`, groups: ['bulk'] });
    login(claims, 'mock', KUBECTL.id, session);
    login(claims, 'mock', DASHBOARD.id, session);
  }

  const current = rsaKey();
  const verification = rsaKey();
  const expired = rsaKey();
  return {
    now,
    clients,
    passwords,
    connectors,
    refreshTokens,
    offlineSessions,
    keys: {
      signingKey: current.privateJwk,
      signingKeyPub: current.publicJwk,
      verificationKeys: [
        { publicKey: verification.publicJwk, expiry: new Date(now.getTime() + 3 * HOUR) },
        { publicKey: expired.publicJwk, expiry: ago(HOUR) },
      ],
      nextRotation: new Date(now.getTime() + 2 * HOUR),
    },
    shortLivedIDs: {
      authRequest: dexNewID(),
      authCode: dexNewID(),
      userCode: 'BCDF-GHJK',
      deviceCode: dexNewID() + dexNewID(),
    },
    privateKeys: new Map([
      [current.kid, current.priv],
      [verification.kid, verification.priv],
      [expired.kid, expired.priv],
    ]),
    kids: { current: current.kid, verification: verification.kid, expired: expired.kid },
  };
}

/** The refresh token string a client holds for this Dex token (§3). */
export const wireOf = (t: DexRefreshFixture): string => dexRefreshTokenWire(t.id, t.token);

/** The refresh token Dex honours for a user, connector and client. */
export function currentToken(
  inst: DexInstallation,
  userID: string,
  connID: string,
  clientID: string,
): DexRefreshFixture {
  const s = inst.offlineSessions.find((x) => x.userID === userID && x.connID === connID);
  const id = s?.refresh[clientID]?.ID;
  const t = inst.refreshTokens.find((x) => x.id === id);
  if (!t) throw new Error(`no current token for ${userID}/${connID}/${clientID}`);
  return t;
}

/** Every secret of the installation (for checking that none is ever printed). */
export function secretsOf(inst: DexInstallation): string[] {
  const out = [
    ...inst.clients.map((c) => c.secret),
    ...inst.passwords.map((p) => p.hash),
    ALICE.password,
    CONNECTOR_SECRET,
    String(inst.keys.signingKey.d),
  ];
  for (const t of inst.refreshTokens) out.push(t.token, t.obsoleteToken, wireOf(t));
  return [...new Set(out.filter((s) => s !== ''))];
}

/** An ID token as Dex signs it (RS256, header {alg, kid}), with a key of the installation. */
export function signAsDex(
  inst: DexInstallation,
  kid: string,
  claims: { iss: string; sub: string; aud: string; email?: string },
): Promise<string> {
  const key = inst.privateKeys.get(kid);
  if (!key) throw new Error(`no private key ${kid}`);
  return new SignJWT({ ...(claims.email ? { email: claims.email, email_verified: true } : {}) })
    .setProtectedHeader({ alg: 'RS256', kid })
    .setIssuer(claims.iss)
    .setSubject(claims.sub)
    .setAudience(claims.aud)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(key);
}

// ---- Kubernetes: dex.coreos.com/v1 objects ---------------------------------------------------------

const NANOS = 456_789; // Go keeps nanoseconds; the importer must cope with more precision than JSON dates.
const omitEmpty = (o: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== '' && v !== undefined && !(Array.isArray(v) && v.length === 0)),
  );
const claimsJson = (c: DexClaims) => ({
  userID: c.userID,
  username: c.username,
  preferredUsername: c.preferredUsername,
  email: c.email,
  emailVerified: c.emailVerified,
  ...(c.groups.length > 0 ? { groups: c.groups } : {}),
});

/** Every object Dex would have stored, as its Kubernetes storage writes them (fields at the top level). */
export function dexKubernetesObjects(inst: DexInstallation, namespace: string): Record<string, unknown>[] {
  const obj = (kind: string, name: string, fields: Record<string, unknown>) => ({
    apiVersion: DEX_API_VERSION,
    kind,
    metadata: { name, namespace },
    ...fields,
  });
  const out: Record<string, unknown>[] = [];
  for (const c of inst.clients) {
    out.push(
      obj('OAuth2Client', idToName(c.id), {
        ...omitEmpty({
          id: c.id,
          secret: c.secret,
          redirectURIs: c.redirectURIs,
          trustedPeers: c.trustedPeers,
          name: c.name,
          logoURL: c.logoURL,
        }),
        public: c.public,
      }),
    );
  }
  for (const p of inst.passwords) {
    const email = p.email.toLowerCase();
    out.push(
      obj('Password', idToName(email), {
        ...omitEmpty({
          email,
          hash: goBytes(p.hash),
          username: p.username,
          name: p.name,
          preferredUsername: p.preferredUsername,
          userID: p.userID,
          groups: p.groups,
        }),
        emailVerified: p.emailVerified,
      }),
    );
  }
  for (const c of inst.connectors) {
    out.push(
      obj('Connector', c.id, {
        id: c.id,
        type: c.type,
        name: c.name,
        config: goBytes(JSON.stringify(c.config)),
      }),
    );
  }
  for (const t of inst.refreshTokens) {
    out.push(
      obj('RefreshToken', t.id, {
        CreatedAt: goJsonTime(t.createdAt, NANOS),
        LastUsed: goJsonTime(t.lastUsed, NANOS),
        clientID: t.clientID,
        ...omitEmpty({ scopes: t.scopes, token: t.token, obsoleteToken: t.obsoleteToken, nonce: t.nonce }),
        claims: claimsJson(t.claims),
        connectorID: t.connectorID,
        ...(t.connectorData ? { connectorData: goBytes(t.connectorData) } : {}),
      }),
    );
  }
  for (const s of inst.offlineSessions) {
    out.push(
      obj('OfflineSessions', offlineTokenName(s.userID, s.connID), {
        userID: s.userID,
        connID: s.connID,
        refresh: Object.fromEntries(
          Object.entries(s.refresh).map(([client, r]) => [
            client,
            {
              ID: r.ID,
              ClientID: r.ClientID,
              CreatedAt: goJsonTime(r.CreatedAt, NANOS),
              LastUsed: goJsonTime(r.LastUsed, NANOS),
            },
          ]),
        ),
        ...(s.connectorData ? { connectorData: goBytes(s.connectorData) } : {}),
      }),
    );
  }
  out.push(
    obj('SigningKey', 'openid-connect-keys', {
      signingKey: inst.keys.signingKey,
      signingKeyPub: inst.keys.signingKeyPub,
      verificationKeys: inst.keys.verificationKeys.map((v) => ({
        publicKey: v.publicKey,
        expiry: goJsonTime(v.expiry),
      })),
      nextRotation: goJsonTime(inst.keys.nextRotation),
    }),
  );
  const ids = inst.shortLivedIDs;
  const expiry = goJsonTime(new Date(inst.now.getTime() + 600_000));
  out.push(
    obj('AuthRequest', ids.authRequest, {
      clientID: KUBECTL.id,
      redirectURI: KUBECTL.redirect,
      loggedIn: false,
      claims: claimsJson(claimsOf({ userID: '', email: '', groups: [] })),
      expiry,
      hmac_key: goBytes(randomBytes(32)),
    }),
    obj('AuthCode', ids.authCode, {
      clientID: KUBECTL.id,
      redirectURI: KUBECTL.redirect,
      claims: claimsJson({ ...claimsOf(ALICE), userID: ALICE.userID }),
      connectorID: 'local',
      expiry,
    }),
    obj('DeviceRequest', ids.userCode.toLowerCase(), {
      device_code: ids.deviceCode,
      client_id: KUBECTL.id,
      scopes: ['openid'],
      expiry,
    }),
    obj('DeviceToken', ids.deviceCode, {
      status: 'pending',
      expiry,
      last_request: goJsonTime(inst.now),
      poll_interval: 5,
    }),
  );
  return out;
}

/** Installs Dex's CRDs as Dex creates them (idempotent) and waits until each kind is served. */
export async function installDexCrds(cp: ControlPlane): Promise<void> {
  const r = await cp.kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: dexCrds() }),
  });
  if (r.code !== 0) throw new Error(`kubectl apply Dex CRDs: ${r.stderr}`);
  const established = await cp.kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    ...dexCrds().map((c) => `crd/${(c as { metadata: { name: string } }).metadata.name}`),
  ]);
  if (established.code !== 0) throw new Error(`Dex CRDs not established: ${established.stderr}`);
}

/**
 * Writes the installation into `namespace`: small sets with kubectl (as an operator would), large ones
 * through the API with a bounded number of requests in flight.
 */
export async function loadIntoKubernetes(
  cp: ControlPlane,
  namespace: string,
  inst: DexInstallation,
): Promise<void> {
  const objects = dexKubernetesObjects(inst, namespace);
  if (objects.length <= 200) {
    const r = await cp.kubectl(['create', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
    });
    if (r.code !== 0) throw new Error(`kubectl create Dex objects: ${r.stderr}`);
    return;
  }
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfig);
  const api = kc.makeApiClient(CustomObjectsApi);
  const plural: Record<string, string> = {
    OAuth2Client: 'oauth2clients',
    Password: 'passwords',
    Connector: 'connectors',
    RefreshToken: 'refreshtokens',
    OfflineSessions: 'offlinesessionses',
    SigningKey: 'signingkeies',
    AuthRequest: 'authrequests',
    AuthCode: 'authcodes',
    DeviceRequest: 'devicerequests',
    DeviceToken: 'devicetokens',
  };
  let next = 0;
  const worker = async () => {
    while (next < objects.length) {
      const body = objects[next++]!;
      await api.createNamespacedCustomObject({
        group: 'dex.coreos.com',
        version: 'v1',
        namespace,
        plural: plural[body.kind as string]!,
        body,
      });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

// ---- SQLite: Dex's tables ----------------------------------------------------------------------------

const json = (v: unknown): Uint8Array => new Uint8Array(Buffer.from(JSON.stringify(v), 'utf8'));

/** Creates `file` with Dex's schema (migrations up to `upTo`) and the installation's rows in Dex's formats. */
export function writeDexSqlite(file: string, inst: DexInstallation, opts: { upTo?: number } = {}): void {
  const db = new DatabaseSync(file);
  try {
    applyDexMigrations(db, opts.upTo);
    const cols = (table: string) =>
      new Set(
        (db.prepare(`select name from pragma_table_info(?)`).all(table) as { name: string }[]).map(
          (c) => c.name,
        ),
      );
    const insert = (table: string, row: Record<string, string | number | Uint8Array | null>) => {
      const have = cols(table);
      if (have.size === 0) return; // a table an older Dex did not have yet
      const entries = Object.entries(row).filter(([k]) => have.has(k));
      db.prepare(
        `insert into ${table} (${entries.map(([k]) => k).join(', ')}) values (${entries.map(() => '?').join(', ')})`,
      ).run(...entries.map(([, v]) => v));
    };
    db.exec('begin');
    for (const c of inst.clients) {
      insert('client', {
        id: c.id,
        secret: c.secret,
        redirect_uris: json(c.redirectURIs),
        trusted_peers: json(c.trustedPeers),
        public: c.public ? 1 : 0,
        name: c.name,
        logo_url: c.logoURL,
      });
    }
    for (const p of inst.passwords) {
      insert('password', {
        email: p.email.toLowerCase(),
        hash: new Uint8Array(Buffer.from(p.hash, 'utf8')),
        username: p.username,
        user_id: p.userID,
        preferred_username: p.preferredUsername,
        groups: json(p.groups),
        name: p.name,
        email_verified: p.emailVerified ? 1 : 0,
      });
    }
    for (const c of inst.connectors) {
      insert('connector', {
        id: c.id,
        type: c.type,
        name: c.name,
        resource_version: '1',
        config: json(c.config),
      });
    }
    for (const t of inst.refreshTokens) {
      insert('refresh_token', {
        id: t.id,
        client_id: t.clientID,
        scopes: json(t.scopes),
        nonce: t.nonce,
        claims_user_id: t.claims.userID,
        claims_username: t.claims.username,
        claims_preferred_username: t.claims.preferredUsername,
        claims_email: t.claims.email,
        claims_email_verified: t.claims.emailVerified ? 1 : 0,
        // Go's json.Marshal of a nil slice.
        claims_groups: t.claims.groups.length > 0 ? json(t.claims.groups) : json(null),
        connector_id: t.connectorID,
        connector_data: t.connectorData ? new Uint8Array(Buffer.from(t.connectorData)) : null,
        token: t.token,
        obsolete_token: t.obsoleteToken,
        created_at: goSqliteTime(t.createdAt, NANOS),
        last_used: goSqliteTime(t.lastUsed, NANOS),
      });
    }
    for (const s of inst.offlineSessions) {
      insert('offline_session', {
        user_id: s.userID,
        conn_id: s.connID,
        refresh: json(
          Object.fromEntries(
            Object.entries(s.refresh).map(([client, r]) => [
              client,
              {
                ID: r.ID,
                ClientID: r.ClientID,
                CreatedAt: goJsonTime(r.CreatedAt, NANOS),
                LastUsed: goJsonTime(r.LastUsed, NANOS),
              },
            ]),
          ),
        ),
        connector_data: s.connectorData ? new Uint8Array(Buffer.from(s.connectorData)) : null,
      });
    }
    insert('keys', {
      id: 'keys',
      verification_keys: json(
        inst.keys.verificationKeys.map((v) => ({ publicKey: v.publicKey, expiry: goJsonTime(v.expiry) })),
      ),
      signing_key: json(inst.keys.signingKey),
      signing_key_pub: json(inst.keys.signingKeyPub),
      next_rotation: goSqliteTime(inst.keys.nextRotation),
    });
    const expiry = goSqliteTime(new Date(inst.now.getTime() + 600_000));
    const ids = inst.shortLivedIDs;
    const blankClaims = {
      claims_user_id: '',
      claims_username: '',
      claims_email: '',
      claims_email_verified: 0,
      claims_groups: json(null),
      connector_id: '',
    };
    insert('auth_request', {
      id: ids.authRequest,
      client_id: KUBECTL.id,
      response_types: json(['code']),
      scopes: json(['openid']),
      redirect_uri: KUBECTL.redirect,
      nonce: '',
      state: '',
      force_approval_prompt: 0,
      logged_in: 0,
      ...blankClaims,
      expiry,
    });
    insert('auth_code', {
      id: ids.authCode,
      client_id: KUBECTL.id,
      scopes: json(['openid']),
      nonce: '',
      redirect_uri: KUBECTL.redirect,
      ...blankClaims,
      expiry,
    });
    insert('device_request', {
      user_code: ids.userCode,
      device_code: ids.deviceCode,
      client_id: KUBECTL.id,
      client_secret: '',
      scopes: json(['openid']),
      expiry,
    });
    insert('device_token', {
      device_code: ids.deviceCode,
      status: 'pending',
      token: null,
      expiry,
      last_request: goSqliteTime(inst.now),
      poll_interval: 5,
    });
    db.exec('commit');
  } finally {
    db.close();
  }
}
