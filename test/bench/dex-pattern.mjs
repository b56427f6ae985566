// A STAND-IN for Dex's refresh_token grant on its Kubernetes (CRD) storage, for the bench table (issue 16:
// "≥ 3 × the refresh throughput of Dex on the same control plane"). Dex itself cannot be built here: the Go
// module proxy this machine reaches serves only github.com/dexidp/dex v2.13.0+incompatible (2019, no go.mod)
// and refuses v2.41+ and master (403). So this script replays, against the same test control plane, the
// Kubernetes API requests Dex makes per refresh — 10 reads and 4 writes, one after the other as Dex makes
// them — with objects shaped and sized like Dex's, and signs the two RS256 JWTs Dex signs per refresh.
//
// Its figure bounds Dex FROM ABOVE: real Dex does all of this plus its own work, none of which is here — no
// HTTP front end (no /token request parsed, no response written), no Go JSON (un)marshalling of its
// storage types or go-jose key decoding, no upstream connector refresh (the LDAP connector here would
// search its directory again; any upstream call is left out), and the signatures come from OpenSSL through
// node:crypto on the thread pool, faster than Go's crypto/rsa.
//
// The API server is spoken to with raw undici requests over kept-alive HTTP/1.1 connections, one per
// simulated user, authenticated with the admin kubeconfig's client certificate (as kubernetes.mjs does):
// @kubernetes/client-node would add per-request overhead Dex's plain net/http client does not have, and a
// kept-alive connection per concurrent request is the best case any HTTP/1.1 client can get.
//
// Used by table.mjs (the bench table, and `BENCH_ONLY=dex npm run bench`, which also measures Latchkey's
// Kubernetes refresh for the ratio).
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { adminTls, apiRequestCounts, perOperation } from './control-plane.mjs';
// Dex's CRDs and storage formats as the importer tests build them (checked against Dex's source there);
// TypeScript with erasable syntax only, which Node runs as it is.
import { DEX_API_VERSION, dexCrds } from '../fixtures/dex/crds.ts';
import {
  base32,
  dexSubject,
  goBytes,
  goJsonTime,
  idToName,
  offlineTokenName,
} from '../fixtures/dex/formats.ts';

const GROUP = 'dex.coreos.com';
/** The CRDs the refresh touches: Dex's kinds and plurals. */
const RESOURCES = {
  client: { kind: 'OAuth2Client', plural: 'oauth2clients' },
  connector: { kind: 'Connector', plural: 'connectors' },
  refresh: { kind: 'RefreshToken', plural: 'refreshtokens' },
  offline: { kind: 'OfflineSessions', plural: 'offlinesessionses' },
  keys: { kind: 'SigningKey', plural: 'signingkeies' },
};
/** Dex's resource-lock annotation on a refresh token being updated, and how long a lock holds. */
const LOCK_ANNOTATION = 'dexidp.com/resource-lock';
const LOCK_TIMEOUT_MS = 10_000;
const CLIENT_ID = 'kubernetes-dashboard';
const CONNECTOR_ID = 'ldap';
const KEYS_NAME = 'openid-connect-keys';

/** Dex's storage.NewID(): 16 random bytes, lower-case base32 without padding. */
const newID = () => base32(randomBytes(16));
/** time.Time as Go's JSON encodes it. */
const goTime = (ms = Date.now()) => goJsonTime(new Date(ms));
/** The lock annotation's value: time.RFC3339, no fractional seconds. */
const rfc3339 = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
/** A []byte of JSON, as Dex keeps connector configs and connector data. */
const jsonBytes = (value) => goBytes(JSON.stringify(value));

/** Applies the five CRDs the refresh touches, as Dex creates them, and waits until they are Established. */
async function installCRDs(cp) {
  const names = Object.values(RESOURCES).map((r) => `${r.plural}.${GROUP}`);
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-bench-dex-'));
  try {
    const file = join(dir, 'crds.json');
    const items = dexCrds().filter((c) => names.includes(c.metadata.name));
    await writeFile(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    await cp.kubectl('apply', '-f', file);
    await cp.kubectl(
      'wait',
      '--for=condition=Established',
      ...names.map((n) => `crd/${n}`),
      '--timeout=120s',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Dex's claims of one user, as its Kubernetes storage keeps them (storage/kubernetes/types.go Claims). */
const claimsOf = (u) => ({
  userID: `cn=user${u},ou=people,dc=example,dc=com`,
  username: `User Number ${u}`,
  preferredUsername: `user${u}`,
  email: `user${u}@example.com`,
  emailVerified: true,
  groups: ['developers', 'kubernetes-admins', `team-${u % 7}`],
});

/** An LDAP-like connector's per-user data (Dex keeps it as []byte, base64 in JSON). */
const connectorDataOf = (u) =>
  jsonBytes({
    username: `user${u}`,
    dn: `cn=user${u},ou=people,dc=example,dc=com`,
    refreshToken: newID() + newID(),
  });

/**
 * Replays Dex's refresh against the control plane `cp` (control-plane.mjs) with `concurrency` users, each
 * refreshing its own token in a loop for `seconds`. Returns refreshes/s (successful ones), failures, the
 * API requests per refresh as this script counted them and as the API server counted them, the mean
 * milliseconds a read and a write took, and this process's CPU use in % of one core (its own share: the rest
 * of the machine is the API server's and etcd's).
 */
export async function dexRefreshPattern({ cp, kc, namespace, concurrency, seconds }) {
  await installCRDs(cp);
  await cp.kubectl('create', 'namespace', namespace);
  const apiURL = kc.getCurrentCluster().server;
  const dispatcher = new Agent({ connect: adminTls(kc), connections: concurrency, pipelining: 1 });
  const url = (res, name) =>
    `${apiURL}/apis/${DEX_API_VERSION}/namespaces/${namespace}/${res.plural}${name ? `/${name}` : ''}`;
  let reads = 0;
  let writes = 0;
  let readMs = 0;
  let writeMs = 0;
  const fail = async (what, res) => {
    throw new Error(`${what}: ${res.statusCode} ${(await res.body.text()).slice(0, 200)}`);
  };
  const get = async (res, name) => {
    reads++;
    const t = performance.now();
    const r = await request(url(res, name), { dispatcher, headers: { accept: 'application/json' } });
    if (r.statusCode !== 200) await fail(`GET ${res.plural}/${name}`, r);
    const object = await r.body.json();
    readMs += performance.now() - t;
    return object;
  };
  /** A PUT of an object as just read: its metadata carries the resourceVersion, so a 409 means a conflict. */
  const put = async (res, object) => {
    writes++;
    const t = performance.now();
    const r = await request(url(res, object.metadata.name), {
      method: 'PUT',
      dispatcher,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(object),
    });
    if (r.statusCode !== 200) await fail(`PUT ${res.plural}/${object.metadata.name}`, r);
    await r.body.dump();
    writeMs += performance.now() - t;
  };
  const create = async (res, name, fields) => {
    const r = await request(url(res), {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        apiVersion: DEX_API_VERSION,
        kind: res.kind,
        metadata: { name, namespace },
        ...fields,
      }),
    });
    if (r.statusCode !== 201) await fail(`POST ${res.plural}/${name}`, r);
    await r.body.dump();
  };

  // The objects: one client, one connector, the signing keys, and per user a refresh token and its offline
  // sessions object (fields as in Dex's storage/kubernetes/types.go; CreatedAt/LastUsed of the refresh token
  // and of the RefreshTokenRef have no JSON tags there, hence the Go field names).
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(20).toString('hex');
  const jwk = (key) => ({ ...key.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' });
  const clientSecret = randomBytes(32).toString('base64url');
  await create(RESOURCES.client, idToName(CLIENT_ID), {
    id: CLIENT_ID,
    secret: clientSecret,
    redirectURIs: ['https://dashboard.example.com/oauth2/callback'],
    name: 'Kubernetes Dashboard',
  });
  await create(RESOURCES.connector, CONNECTOR_ID, {
    id: CONNECTOR_ID,
    type: 'ldap',
    name: 'LDAP',
    config: jsonBytes({
      host: 'ldap.example.com:636',
      bindDN: 'cn=dex,ou=services,dc=example,dc=com',
      bindPW: randomBytes(24).toString('base64url'),
      userSearch: {
        baseDN: 'ou=people,dc=example,dc=com',
        filter: '(objectClass=person)',
        username: 'uid',
        idAttr: 'DN',
        emailAttr: 'mail',
        nameAttr: 'cn',
      },
      groupSearch: {
        baseDN: 'ou=groups,dc=example,dc=com',
        filter: '(objectClass=groupOfNames)',
        userMatchers: [{ userAttr: 'DN', groupAttr: 'member' }],
        nameAttr: 'cn',
      },
    }),
  });
  const { publicKey: oldPublic } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await create(RESOURCES.keys, KEYS_NAME, {
    signingKey: jwk(privateKey),
    signingKeyPub: jwk(publicKey),
    verificationKeys: [{ publicKey: jwk(oldPublic), expiry: goTime(Date.now() + 86_400_000) }],
    nextRotation: goTime(Date.now() + 6 * 3_600_000),
  });
  const users = [];
  for (let u = 0; u < concurrency; u++) {
    const claims = claimsOf(u);
    const refreshID = newID();
    const token = newID();
    const offlineName = offlineTokenName(claims.userID, CONNECTOR_ID);
    const now = goTime();
    await create(RESOURCES.refresh, refreshID, {
      CreatedAt: now,
      LastUsed: now,
      clientID: CLIENT_ID,
      scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
      token,
      nonce: newID(),
      claims,
      connectorID: CONNECTOR_ID,
      connectorData: connectorDataOf(u),
    });
    await create(RESOURCES.offline, offlineName, {
      userID: claims.userID,
      connID: CONNECTOR_ID,
      refresh: { [CLIENT_ID]: { ID: refreshID, ClientID: CLIENT_ID, CreatedAt: now, LastUsed: now } },
      connectorData: connectorDataOf(u),
    });
    users.push({ refreshID, token, offlineName });
  }

  const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid })).toString('base64url');
  /** An RS256 JWT with node:crypto's callback sign (OpenSSL on the thread pool). */
  const signJWT = (claims) =>
    new Promise((resolve, reject) => {
      const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      sign('sha256', Buffer.from(input), privateKey, (e, sig) =>
        e ? reject(e) : resolve(`${input}.${sig.toString('base64url')}`),
      );
    });
  const tokenClaims = (claims, nonce, extra) => {
    const iat = Math.floor(Date.now() / 1000);
    return {
      iss: 'https://dex.example.com',
      sub: dexSubject(claims.userID, CONNECTOR_ID),
      aud: CLIENT_ID,
      exp: iat + 86_400,
      iat,
      nonce,
      email: claims.email,
      email_verified: claims.emailVerified,
      groups: claims.groups,
      name: claims.username,
      preferred_username: claims.preferredUsername,
      ...extra,
    };
  };

  /**
   * One refresh of user `u`, Dex's requests in Dex's order (server/handlers.go handleToken and
   * server/refreshhandlers.go; storage/kubernetes/storage.go and lock.go), each awaited before the next:
   *   reads                                                          writes
   *    1 GET oauth2clients      handleToken: client authentication
   *    2 GET refreshtokens      getRefreshTokenFromStorage (GetRefresh)
   *    3 GET offlinesessionses  refreshWithConnector: GetOfflineSessions, for the connector data
   *    4 GET connectors         getConnector re-reads it to compare its resourceVersion with the cached one
   *    5 GET signingkeies       newAccessToken → newIDToken: GetKeys, then RS256 signature 1
   *    6 GET signingkeies       newIDToken: GetKeys, then RS256 signature 2
   *      UpdateRefreshToken, under the annotation lock (lock.go):
   *    7 GET refreshtokens      Lock → setLockAnnotation                  1 PUT (lock annotation = now + 10 s)
   *    8 GET refreshtokens      the update itself (retryOnConflict)       2 PUT (token rotated, LastUsed, claims)
   *    9 GET refreshtokens      Unlock                                    3 PUT (annotations removed)
   *      UpdateOfflineSessions:
   *   10 GET offlinesessionses  updateOfflineSession                      4 PUT (refresh[client].LastUsed)
   * = 10 reads and 4 writes. Newer Dex versions update the token before signing and fetch the connector
   * before the offline sessions; the requests are the same. Every PUT carries the resourceVersion just read
   * (Dex's put sends the object it read back); with one token per user there is no contention, so a 409 is a
   * failure, not retried.
   */
  const refresh = async (u) => {
    const user = users[u];
    const client = await get(RESOURCES.client, idToName(CLIENT_ID));
    if (client.secret !== clientSecret) throw new Error('client authentication');
    const rt = await get(RESOURCES.refresh, user.refreshID);
    if (rt.clientID !== client.id || rt.token !== user.token) throw new Error('refresh token claimed twice');
    const session = await get(RESOURCES.offline, user.offlineName);
    const connectorData = rt.connectorData || session.connectorData;
    const connector = await get(RESOURCES.connector, rt.connectorID);
    if (connector.type !== 'ldap') throw new Error('connector');
    const ident = { ...rt.claims, connectorData };

    let keys = await get(RESOURCES.keys, KEYS_NAME);
    if (keys.signingKey?.kid !== kid) throw new Error('signing key');
    const accessToken = await signJWT(tokenClaims(ident, rt.nonce, { jti: newID() }));
    keys = await get(RESOURCES.keys, KEYS_NAME);
    if (keys.signingKey?.kid !== kid) throw new Error('signing key');
    const atHash = createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');
    const idToken = await signJWT(tokenClaims(ident, rt.nonce, { at_hash: atHash }));
    if (!idToken) throw new Error('ID token');

    const locked = await get(RESOURCES.refresh, user.refreshID);
    if (locked.metadata.annotations?.[LOCK_ANNOTATION]) throw new Error('already locked');
    locked.metadata.annotations = { [LOCK_ANNOTATION]: rfc3339(Date.now() + LOCK_TIMEOUT_MS) };
    await put(RESOURCES.refresh, locked);

    const old = await get(RESOURCES.refresh, user.refreshID);
    if (old.token !== user.token) throw new Error('refresh token claimed twice');
    const lastUsed = goTime();
    old.obsoleteToken = old.token;
    old.token = newID();
    Object.assign(old.claims, {
      username: ident.username,
      preferredUsername: ident.preferredUsername,
      email: ident.email,
      emailVerified: ident.emailVerified,
      groups: ident.groups,
    });
    old.LastUsed = lastUsed;
    delete old.connectorData; // moved to the offline sessions: []byte{} with omitempty
    await put(RESOURCES.refresh, old);
    user.token = old.token;

    const unlock = await get(RESOURCES.refresh, user.refreshID);
    delete unlock.metadata.annotations;
    await put(RESOURCES.refresh, unlock);

    const sessions = await get(RESOURCES.offline, user.offlineName);
    if (sessions.refresh?.[CLIENT_ID]?.ID !== user.refreshID) throw new Error('refresh token invalid');
    sessions.refresh[CLIENT_ID].LastUsed = lastUsed;
    sessions.connectorData = ident.connectorData;
    await put(RESOURCES.offline, sessions);
  };

  /** `concurrency` users refreshing for `secs`: successes, failures, seconds, this process's CPU time. */
  const loops = async (secs) => {
    let done = 0;
    let failures = 0;
    const deadline = performance.now() + secs * 1000;
    const loop = async (u) => {
      while (performance.now() < deadline) {
        try {
          await refresh(u);
          done++;
        } catch {
          failures++;
        }
      }
    };
    const start = performance.now();
    const cpu = process.cpuUsage();
    await Promise.all(Array.from({ length: concurrency }, (_, u) => loop(u)));
    const elapsed = (performance.now() - start) / 1000;
    const { user, system } = process.cpuUsage(cpu);
    return { done, failures, elapsed, cpuSeconds: (user + system) / 1e6 };
  };

  const metrics = new Agent({ connect: adminTls(kc) });
  try {
    for (let u = 0; u < concurrency; u++) await refresh(u); // every object read and written once
    // Warm, at full load, for up to 2 s: JIT, connections, and the API server's own work after new CRDs.
    const warm = await loops(Math.min(seconds, 2));
    if (warm.failures) throw new Error(`${warm.failures} refreshes failed while warming up`);
    const before = await apiRequestCounts(cp, metrics, GROUP);
    reads = 0;
    writes = 0;
    readMs = 0;
    writeMs = 0;
    const { done, failures, elapsed, cpuSeconds } = await loops(seconds);
    const attempts = done + failures;
    const server = perOperation(before, await apiRequestCounts(cp, metrics, GROUP), attempts);
    return {
      rps: done / elapsed,
      refreshes: done,
      failures,
      readsPerRefresh: reads / attempts,
      writesPerRefresh: writes / attempts,
      msPerRead: readMs / reads,
      msPerWrite: writeMs / writes,
      cpuPercent: (cpuSeconds / elapsed) * 100,
      apiServer: { reads: server.reads, writes: server.writes, detail: server.detail },
    };
  } finally {
    await Promise.all([dispatcher.close(), metrics.close()]);
  }
}
