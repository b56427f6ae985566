import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clientFromDex, compareClient } from '../../src/importer/convert-clients.js';
import { compareConnector, connectorFromDex } from '../../src/importer/convert-connectors.js';
import { keysFromDex, newSigningKeySet, withDexKeys } from '../../src/importer/convert-keys.js';
import { comparePassword, passwordFromDex } from '../../src/importer/convert-passwords.js';
import { compareRefreshToken, refreshTokenFromDex } from '../../src/importer/convert-refresh-tokens.js';
import { sourceFromDexConfig, UnsupportedSourceError } from '../../src/importer/dex-config.js';
import { parseGoTime, publicJwk } from '../../src/importer/dex-encoding.js';
import type { DexKeys, DexOfflineSession, DexRefreshToken } from '../../src/importer/dex-model.js';
import { Pacer } from '../../src/importer/pool.js';
import { writeEntity, type Target } from '../../src/importer/write.js';
import { activeKey, nextKey, publishedKeys, rotateKeySet } from '../../src/keys/rotation.js';
import { generateSigningKey } from '../../src/keys/generate.js';
import { digest } from '../../src/oauth/digest.js';
import { AlreadyExistsError, NotFoundError, UnavailableError } from '../../src/storage/errors.js';
import { MemoryStorage } from '../../src/storage/memory/memory.js';
import { withStaticOverlay } from '../../src/storage/static.js';
import type { Client, RefreshToken } from '../../src/storage/storage.js';
import { decodeRefreshToken } from '../../src/tokens/refresh-token-wire.js';
import { decodeSubject } from '../../src/tokens/subject.js';
import {
  dexRefreshTokenWire,
  dexSubject,
  goJsonTime,
  goSqliteTime,
  idToName,
  offlineTokenName,
} from '../fixtures/dex/formats.js';

// The importer's pure rules, and the fixture builders checked against the reference's own examples.

const HOUR = 3_600_000;
const NOW = new Date('2026-03-01T12:00:00.000Z');

describe("the fixtures write Dex's formats (reference §3, §5)", () => {
  it('derives object names as Dex does', () => {
    expect(idToName('example-app')).toBe('mv4gc3lqnrss2ylqodf7fhheqqrcgji');
    expect(offlineTokenName('0-385-28089-0', 'mock')).toBe('s2zzxpggomkhw');
  });

  it('encodes sub and refresh tokens as Dex does, and Latchkey reads them back', () => {
    expect(dexSubject('2342749', 'github')).toBe('CgcyMzQyNzQ5EgZnaXRodWI');
    expect(dexSubject('0-385-28089-0', 'mock')).toBe('Cg0wLTM4NS0yODA4OS0wEgRtb2Nr');
    expect(dexSubject('08a8684b-db88-4b73-90a9-3cd1661f5466', 'local')).toBe(
      'CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs',
    );
    expect(decodeSubject('Cg0wLTM4NS0yODA4OS0wEgRtb2Nr')).toEqual({
      userID: '0-385-28089-0',
      connectorID: 'mock',
    });
    const wire = dexRefreshTokenWire('abcdefghijklmnopqrstuvwxy', 'zyxwvutsrqponmlkjihgfedcb');
    expect(wire).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeRefreshToken(wire)).toEqual({
      refreshID: 'abcdefghijklmnopqrstuvwxy',
      secret: 'zyxwvutsrqponmlkjihgfedcb',
    });
  });

  it("writes Go's times: RFC 3339 with nanoseconds in JSON, the SQLite driver's layout in SQLite", () => {
    const t = new Date('2026-03-01T12:00:00.120Z');
    expect(goJsonTime(t)).toBe('2026-03-01T12:00:00.12Z');
    expect(goJsonTime(t, 456_789)).toBe('2026-03-01T12:00:00.120456789Z');
    expect(goSqliteTime(new Date('2026-03-01T12:00:00.000Z'))).toBe('2026-03-01 12:00:00+00:00');
  });
});

describe("Dex's time encodings", () => {
  it.each([
    ['2026-03-01T12:00:00.123456789Z', '2026-03-01T12:00:00.123Z'],
    ['2026-03-01T14:00:00+02:00', '2026-03-01T12:00:00.000Z'],
    ['2026-03-01T06:30:00.5-05:30', '2026-03-01T12:00:00.500Z'],
    ['2026-03-01 12:00:00.999999999+00:00', '2026-03-01T12:00:00.999Z'],
    ['2026-03-01 12:00:00', '2026-03-01T12:00:00.000Z'],
  ])('reads %s', (text, iso) => {
    expect(parseGoTime(text)?.toISOString()).toBe(iso);
  });

  it("reads Go's zero time (an old SQLite row's default) as year 1, and refuses what is not a time", () => {
    expect(parseGoTime('0001-01-01 00:00:00 UTC')?.getUTCFullYear()).toBe(1);
    expect(parseGoTime('0001-01-01T00:00:00Z')?.toISOString()).toBe('0001-01-01T00:00:00.000Z');
    expect(parseGoTime('yesterday')).toBeUndefined();
    expect(parseGoTime(undefined)).toBeUndefined();
  });
});

describe('clients', () => {
  const dex = {
    id: 'kubectl',
    secret: 'plain-secret',
    redirectURIs: ['http://127.0.0.1:8000'],
    trustedPeers: [],
    public: false,
    name: 'kubectl',
    logoURL: '',
  };

  it('keeps everything but stores the secret as a digest', () => {
    expect(clientFromDex(dex)).toEqual({ ...dex, secret: `sha256:${digest('plain-secret')}` });
    expect(clientFromDex({ ...dex, secret: '', public: true }).secret).toBe('');
  });

  it('counts a client holding the same secret, digested or in clear, as unchanged', () => {
    const incoming = clientFromDex(dex);
    expect(compareClient(incoming, incoming, dex.secret)).toEqual({ kind: 'unchanged' });
    expect(compareClient({ ...incoming, secret: 'plain-secret' }, incoming, dex.secret)).toEqual({
      kind: 'unchanged',
    });
    expect(compareClient({ ...incoming, allowedConnectors: [] }, incoming, dex.secret)).toEqual({
      kind: 'unchanged',
    });
    expect(
      compareClient(
        { ...incoming, secret: 'other', redirectURIs: [], grantTypes: ['password'] },
        incoming,
        dex.secret,
      ),
    ).toEqual({ kind: 'conflict', fields: ['secret', 'redirectURIs', 'grantTypes'] });
  });
});

describe("clients' browser-session settings (Dex main branch)", () => {
  const dex = {
    id: 'portal',
    secret: '',
    redirectURIs: ['https://portal.example.com/callback'],
    trustedPeers: [],
    public: true,
    name: 'Portal',
    logoURL: '',
  };
  const settings = {
    postLogoutRedirectURIs: ['https://portal.example.com/bye'],
    backchannelLogoutURI: 'https://portal.example.com/backchannel-logout',
    ssoSharedWith: ['kubectl'],
    refreshTokenLifetime: 'session' as const,
  };

  it('carries them over; a client without them gets none', () => {
    expect(clientFromDex({ ...dex, ...settings })).toEqual({ ...dex, ...settings });
    const plain = clientFromDex(dex);
    for (const key of Object.keys(settings)) expect(plain).not.toHaveProperty(key);
  });

  it('keeps an empty ssoSharedWith (share with none), unlike an absent one (the default)', () => {
    expect(clientFromDex({ ...dex, ssoSharedWith: [] }).ssoSharedWith).toEqual([]);
    const withEmpty = clientFromDex({ ...dex, ssoSharedWith: [] });
    expect(compareClient(clientFromDex(dex), withEmpty, '')).toEqual({
      kind: 'conflict',
      fields: ['ssoSharedWith'],
    });
  });

  it('compares them: absent = standalone, absent = no post-logout URIs; any other difference is a conflict', () => {
    const incoming = clientFromDex({ ...dex, ...settings });
    expect(compareClient(incoming, incoming, '')).toEqual({ kind: 'unchanged' });
    const plain = clientFromDex(dex);
    expect(
      compareClient({ ...plain, refreshTokenLifetime: 'standalone', postLogoutRedirectURIs: [] }, plain, ''),
    ).toEqual({ kind: 'unchanged' });
    expect(compareClient(plain, incoming, '')).toEqual({
      kind: 'conflict',
      fields: ['postLogoutRedirectURIs', 'backchannelLogoutURI', 'ssoSharedWith', 'refreshTokenLifetime'],
    });
  });
});

describe('passwords and connectors', () => {
  it('imports the bcrypt hash unchanged, warning about one that cannot log in', () => {
    const ok = passwordFromDex({
      email: 'Alice@Example.com',
      hash: '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W',
      username: 'alice',
      userID: 'a1',
      groups: ['g'],
    });
    expect(ok.entity.email).toBe('alice@example.com');
    expect(ok.warning).toBeUndefined();
    expect(comparePassword(ok.entity, { ...ok.entity, name: '' })).toEqual({ kind: 'unchanged' });
    expect(comparePassword(ok.entity, { ...ok.entity, groups: [] })).toEqual({
      kind: 'conflict',
      fields: ['groups'],
    });
    const cheap = passwordFromDex({
      ...ok.entity,
      hash: '$2a$04$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W',
    });
    expect(cheap.warning).toMatch(/bcrypt cost 4 is outside 10..16; this password cannot log in/);
  });

  it('imports a connector Latchkey can run, and says why it skips one it cannot', () => {
    const bytes = (o: unknown) => new Uint8Array(Buffer.from(JSON.stringify(o)));
    const mock = connectorFromDex({ id: 'mock', type: 'mockCallback', name: 'Mock', config: bytes({}) });
    expect(mock).toEqual({ entity: { id: 'mock', type: 'mockCallback', name: 'Mock', config: {} } });
    if (!('entity' in mock)) throw new Error('unreachable');
    expect(compareConnector(mock.entity, { ...mock.entity, grantTypes: [] })).toEqual({ kind: 'unchanged' });
    expect(connectorFromDex({ id: 's', type: 'saml', name: 'S', config: bytes({}) })).toEqual({
      skip: expect.stringMatching(/^Latchkey cannot run it: .*"saml" is not supported/),
    });
    expect(
      connectorFromDex({ id: 'x', type: 'oidc', name: 'X', config: new Uint8Array(Buffer.from('{no')) }),
    ).toEqual({
      skip: 'its config is not JSON',
    });
  });
});

describe('refresh tokens', () => {
  const dex: DexRefreshToken = {
    id: 'rtid',
    clientID: 'kubectl',
    scopes: ['openid', 'offline_access'],
    nonce: 'n',
    token: 'secret-now',
    obsoleteToken: 'secret-before',
    claims: {
      userID: 'u1',
      username: 'U',
      preferredUsername: 'u',
      email: 'u@x',
      emailVerified: true,
      groups: ['g'],
    },
    connectorID: 'oidc',
    connectorData: new Uint8Array(Buffer.from('from-token')),
    createdAt: new Date(NOW.getTime() - 48 * HOUR),
    lastUsed: new Date(NOW.getTime() - HOUR),
  };
  const session: DexOfflineSession = {
    userID: 'u1',
    connectorID: 'oidc',
    refresh: { kubectl: 'rtid' },
    connectorData: new Uint8Array(Buffer.from('from-session')),
  };
  const never = { now: NOW, expiryOf: () => undefined };

  it("stores the digest of the current secret, no obsolete one, a fresh rotation key, the session's connector data", () => {
    const a = refreshTokenFromDex(dex, session, never);
    const b = refreshTokenFromDex(dex, session, never);
    if (!('entity' in a) || !('entity' in b)) throw new Error('skipped');
    expect(a.entity).toMatchObject({
      id: 'rtid',
      token: digest('secret-now'),
      obsoleteToken: '',
      familyID: 'rtid',
      claims: dex.claims,
      createdAt: dex.createdAt,
      lastUsed: dex.lastUsed,
    });
    expect(Buffer.from(a.entity.connectorData!).toString()).toBe('from-session');
    expect(a.entity.rotationKey).not.toBe(b.entity.rotationKey);
    const { connectorData: _, ...noData } = session;
    const c = refreshTokenFromDex(dex, noData, never);
    if (!('entity' in c)) throw new Error('skipped');
    expect(Buffer.from(c.entity.connectorData!).toString()).toBe('from-token');
  });

  it("skips what Dex itself refuses, and what has expired under Latchkey's policy", () => {
    expect(refreshTokenFromDex({ ...dex, token: '' }, session, never)).toEqual({
      skip: expect.stringContaining('no rotating secret'),
    });
    expect(refreshTokenFromDex(dex, undefined, never)).toEqual({
      skip: expect.stringContaining('no offline session'),
    });
    expect(refreshTokenFromDex(dex, { ...session, refresh: { kubectl: 'newer' } }, never)).toEqual({
      skip: expect.stringContaining('not the current refresh token'),
    });
    const policy = {
      now: NOW,
      expiryOf: (t: { createdAt: Date }) => new Date(t.createdAt.getTime() + 24 * HOUR),
    };
    expect(refreshTokenFromDex(dex, session, policy)).toEqual({ skip: expect.stringContaining('expired') });
    const kept = refreshTokenFromDex(dex, session, {
      ...policy,
      expiryOf: () => new Date(NOW.getTime() + HOUR),
    });
    expect('entity' in kept && kept.entity.expiry).toEqual(new Date(NOW.getTime() + HOUR));
  });

  it('decides: same state unchanged, Dex used it since → update, Latchkey used it since → conflict', () => {
    const r = refreshTokenFromDex(dex, session, never);
    if (!('entity' in r)) throw new Error('skipped');
    const mine = r.entity;
    expect(compareRefreshToken(mine, { ...mine, rotationKey: 'other' })).toEqual({ kind: 'unchanged' });
    const dexNewer = { ...mine, token: digest('rotated-at-dex'), lastUsed: new Date(NOW.getTime()) };
    expect(compareRefreshToken(mine, dexNewer)).toEqual({
      kind: 'update',
      reason: 'Dex used it after the last import',
    });
    const usedHere: RefreshToken = {
      ...mine,
      token: digest('rotated-here'),
      obsoleteToken: mine.token,
      lastUsed: NOW,
    };
    expect(compareRefreshToken(usedHere, mine)).toEqual({
      kind: 'conflict',
      fields: ['token'],
      reason: 'used at Latchkey since the import',
    });
    expect(
      compareRefreshToken({ ...mine, claims: { ...mine.claims, userID: 'someone' } }, dexNewer),
    ).toMatchObject({
      kind: 'conflict',
      fields: ['claims.userID'],
    });
  });
});

describe("Dex's signing keys in Latchkey's rotation model", () => {
  const jwk = (kid: string) => ({
    kty: 'RSA',
    kid,
    alg: 'RS256',
    use: 'sig',
    n: 'AQAB-n',
    e: 'AQAB',
    d: 'private',
  });
  const dexKeys: DexKeys = {
    signingKeyPub: jwk('current'),
    verificationKeys: [
      { publicKey: jwk('older'), expiry: new Date(NOW.getTime() + 3 * HOUR) },
      { publicKey: jwk('expired'), expiry: new Date(NOW.getTime() - HOUR) },
    ],
    nextRotation: new Date(NOW.getTime() + 2 * HOUR),
  };

  it('publishes the current key until its last token can expire, verification keys until Dex would', () => {
    const { keys, skipped } = keysFromDex(dexKeys, NOW, 24 * HOUR);
    expect(keys.map((k) => [k.kid, k.publishUntil!.toISOString()])).toEqual([
      ['current', new Date(NOW.getTime() + 26 * HOUR).toISOString()],
      ['older', new Date(NOW.getTime() + 3 * HOUR).toISOString()],
    ]);
    expect(skipped).toEqual([{ kid: 'expired', reason: expect.stringContaining('expired at') }]);
    for (const k of keys) {
      expect(k.publicJwk).not.toHaveProperty('d');
      expect(k.privateJwk).toEqual({});
      expect(k.retiredAt).toEqual(NOW);
    }
    // A Dex whose rotation is overdue (stopped): the key's tokens may live expiry.idTokens from now.
    const stale = keysFromDex({ ...dexKeys, nextRotation: new Date(NOW.getTime() - 5 * HOUR) }, NOW, HOUR);
    expect(stale.keys[0]!.publishUntil).toEqual(new Date(NOW.getTime() + HOUR));
    expect(publicJwk({ kty: 'EC', x: 'x', y: 'y', d: 'd' })).toEqual({ kty: 'EC', x: 'x', y: 'y' });
  });

  it('never signs with them, keeps them through rotations while published, drops them after', async () => {
    const { keys } = keysFromDex(dexKeys, NOW, 24 * HOUR);
    const period = 6 * HOUR;
    let ks = await newSigningKeySet(NOW, period, 'ES256', keys);
    expect(withDexKeys(ks, keys)).toBe(ks);
    const dexKids = new Set(['current', 'older']);
    for (let step = 0; step < 6; step++) {
      const t = new Date(NOW.getTime() + step * period + 1);
      expect(dexKids.has(activeKey(ks, t)!.kid)).toBe(false);
      expect(dexKids.has(nextKey(ks, t)?.kid ?? '')).toBe(false);
      const published = publishedKeys(ks, t).map((k) => k.kid);
      expect(published.includes('current')).toBe(t.getTime() < NOW.getTime() + 26 * HOUR);
      expect(published.includes('older')).toBe(t.getTime() < NOW.getTime() + 3 * HOUR);
      ks = rotateKeySet(
        ks,
        new Date(ks.nextRotation.getTime()),
        period,
        HOUR,
        await generateSigningKey('ES256', NOW, NOW),
      );
    }
    expect(ks.keys.some((k) => dexKids.has(k.kid))).toBe(false);
  });
});

describe('writing with conflict checks', () => {
  const client = (over: Partial<Client> = {}): Client => ({
    id: 'app',
    secret: 'sha256:abc',
    redirectURIs: ['https://app.example.com/cb'],
    trustedPeers: [],
    public: false,
    name: 'App',
    logoURL: '',
    ...over,
  });
  const countingTarget = (s: MemoryStorage) => {
    const calls = { get: 0, create: 0, update: 0 };
    const t: Target<Client> = {
      get: (id) => (calls.get++, s.getClient(id)),
      create: (c) => (calls.create++, s.createClient(c)),
      update: (id, u) => (calls.update++, s.updateClient(id, u)),
      decide: (e, i) => compareClient(e, i, ''),
    };
    return { t, calls };
  };
  const opts = (apply: boolean, overwrite = false) => ({
    apply,
    overwrite,
    pacer: new Pacer({ parallel: 1 }),
  });

  it('a dry run only reads', async () => {
    const s = new MemoryStorage();
    const { t, calls } = countingTarget(s);
    expect(await writeEntity(t, 'app', client(), opts(false))).toEqual({ kind: 'created' });
    await s.createClient(client({ name: 'Other' }));
    expect(await writeEntity(t, 'app', client(), opts(false))).toEqual({
      kind: 'conflict',
      fields: ['name'],
    });
    expect(await writeEntity(t, 'app', client(), opts(false, true))).toEqual({
      kind: 'overwritten',
      fields: ['name'],
    });
    expect(calls).toEqual({ get: 3, create: 0, update: 0 });
    expect((await s.getClient('app')).name).toBe('Other');
  });

  it('applying creates, leaves equal and conflicting entities alone, and overwrites only when asked', async () => {
    const s = new MemoryStorage();
    const { t } = countingTarget(s);
    expect(await writeEntity(t, 'app', client(), opts(true))).toEqual({ kind: 'created' });
    expect(await writeEntity(t, 'app', client(), opts(true))).toEqual({ kind: 'unchanged' });
    expect(await writeEntity(t, 'app', client({ name: 'New' }), opts(true))).toEqual({
      kind: 'conflict',
      fields: ['name'],
    });
    expect((await s.getClient('app')).name).toBe('App');
    expect(await writeEntity(t, 'app', client({ name: 'New' }), opts(true, true))).toEqual({
      kind: 'overwritten',
      fields: ['name'],
    });
    expect((await s.getClient('app')).name).toBe('New');
  });

  it("reports an entity of Latchkey's config file as read-only instead of failing the import", async () => {
    const s = withStaticOverlay(new MemoryStorage(), {
      clients: [client({ name: 'Static' })],
      passwords: [],
      connectors: [],
    });
    const t: Target<Client> = {
      get: (id) => s.getClient(id),
      create: (c) => s.createClient(c),
      update: (id, u) => s.updateClient(id, u),
      decide: (e, i) => compareClient(e, i, ''),
    };
    expect(await writeEntity(t, 'app', client(), opts(true))).toEqual({ kind: 'conflict', fields: ['name'] });
    expect(await writeEntity(t, 'app', client(), opts(true, true))).toEqual({
      kind: 'failed',
      message: "defined in Latchkey's config file (read-only); change it there",
    });
  });

  it('retries what storage reports as busy, and gives up on other errors at once', async () => {
    const pacer = new Pacer({ parallel: 1 });
    let attempts = 0;
    const busyTwice: Target<Client> = {
      get: () => Promise.reject(new NotFoundError('client')),
      create: async () => {
        if (++attempts <= 2) throw new UnavailableError('429 Too Many Requests');
      },
      update: () => Promise.reject(new Error('unused')),
      decide: () => ({ kind: 'unchanged' }),
    };
    expect(await writeEntity(busyTwice, 'app', client(), { apply: true, overwrite: false, pacer })).toEqual({
      kind: 'created',
    });
    expect(pacer.retries).toBe(2);
    const broken: Target<Client> = {
      ...busyTwice,
      create: () => Promise.reject(new Error('schema says no')),
    };
    expect(await writeEntity(broken, 'app', client(), { apply: true, overwrite: false, pacer })).toEqual({
      kind: 'failed',
      message: 'schema says no',
    });
    const vanished: Target<Client> = {
      ...busyTwice,
      create: () => Promise.reject(new AlreadyExistsError('client')),
    };
    expect(await writeEntity(vanished, 'app', client(), { apply: true, overwrite: false, pacer })).toEqual({
      kind: 'failed',
      message: 'it was created and deleted again while being imported',
    });
  });

  it('keeps at most --parallel items in flight and handles every item once', async () => {
    const pacer = new Pacer({ parallel: 3 });
    let inFlight = 0;
    let most = 0;
    const seen: number[] = [];
    await pacer.each(
      Array.from({ length: 20 }, (_, i) => i),
      async (i) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise<void>((resolve) => setImmediate(resolve));
        seen.push(i);
        inFlight--;
      },
    );
    expect(most).toBe(3);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});

describe("reading the source from Dex's config file", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-dex-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const dexConfig = async (storage: string): Promise<string> => {
    const f = join(dir, `dex-${Math.random().toString(36).slice(2)}.yaml`);
    await writeFile(f, `issuer: https://dex.example.com\nstorage:\n${storage}\n`);
    return f;
  };

  it("takes Kubernetes and SQLite storage as Dex's config names them, environment expanded", async () => {
    expect(
      await sourceFromDexConfig(
        await dexConfig('  type: kubernetes\n  config:\n    inCluster: true'),
        {},
        'dex',
      ),
    ).toEqual({
      type: 'kubernetes',
      inCluster: true,
      namespace: 'dex',
    });
    expect(
      await sourceFromDexConfig(
        await dexConfig('  type: kubernetes\n  config:\n    kubeConfigFile: $HOME/kc'),
        { HOME: '/h' },
      ),
    ).toEqual({ type: 'kubernetes', inCluster: false, kubeConfigFile: '/h/kc' });
    expect(
      await sourceFromDexConfig(await dexConfig('  type: sqlite3\n  config:\n    file: /var/dex/dex.db'), {}),
    ).toEqual({
      type: 'sqlite3',
      file: '/var/dex/dex.db',
    });
  });

  it('refuses what cannot be imported, saying why', async () => {
    for (const type of ['postgres', 'mysql', 'etcd']) {
      const err = await sourceFromDexConfig(
        await dexConfig(`  type: ${type}\n  config:\n    host: db`),
        {},
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnsupportedSourceError);
      expect((err as Error).message).toContain(`importing from Dex's "${type}" storage is not supported`);
    }
    await expect(sourceFromDexConfig(await dexConfig('  type: memory'), {})).rejects.toThrow(
      /nothing to import/,
    );
    await expect(
      sourceFromDexConfig(await dexConfig('  type: sqlite3\n  config:\n    file: ":memory:"'), {}),
    ).rejects.toThrow(/in-memory SQLite/);
  });
});
