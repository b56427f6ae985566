import { jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { digest } from '../../src/oauth/digest.js';
import { RefreshDeniedError } from '../../src/connectors/connector.js';
import { OAuthError } from '../../src/oauth/errors.js';
import type { NewRefreshToken, RefreshPolicy, RefreshUse } from '../../src/oauth/refresh.js';
import { refreshIDForCode, RefreshTokens } from '../../src/oauth/refresh.js';
import { NotFoundError } from '../../src/storage/errors.js';
import { MemoryStorage } from '../../src/storage/memory/memory.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite.js';
import type { RefreshToken, Storage } from '../../src/storage/storage.js';
import { decodeRefreshToken, encodeRefreshToken } from '../../src/tokens/refresh-token-wire.js';
import { ManualClock } from '../../src/util/clock.js';
import { randomIds } from '../../src/util/ids.js';

const ID = /^[a-z][a-z2-7]{24}$/;
const T0 = new Date('2030-03-04T05:06:07.089Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const INVALID = 'Refresh token is invalid or has already been claimed by another client.';
const REPLAYED = 'Refresh token was already used; the login has been revoked.';
const EXPIRED = 'Refresh token expired.';
const OTHER_CLIENT = 'Refresh token was issued to another client.';

const ROTATING: RefreshPolicy = { disableRotation: false, reuseIntervalMs: 3000 };

const newToken = (overrides: Partial<NewRefreshToken> = {}): NewRefreshToken => ({
  clientID: 'kubectl',
  scopes: ['openid', 'groups', 'offline_access'],
  nonce: 'nonce-1',
  claims: {
    userID: 'u-1',
    username: 'Jane',
    preferredUsername: 'jane',
    email: 'jane@example.com',
    emailVerified: true,
    groups: ['admins'],
  },
  connectorID: 'ldap',
  connectorData: Uint8Array.from([1, 2, 3]),
  authTime: new Date('2030-03-04T05:00:00.000Z'),
  ...overrides,
});

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-refresh-'));
  dirs.push(dir);
  return join(dir, 'latchkey.db');
}

interface Backend {
  storage: Storage;
  /** Everything the back end holds for refresh tokens, as text (the raw rows for SQLite). */
  dump(): Promise<string>;
  close(): Promise<void>;
}

const backends: [string, () => Backend][] = [
  [
    'memory',
    () => {
      const storage = new MemoryStorage();
      return {
        storage,
        dump: async () => JSON.stringify((await storage.listRefreshTokens()).items),
        close: () => storage.close(),
      };
    },
  ],
  [
    'sqlite3',
    () => {
      const file = tempFile();
      const storage = SqliteStorage.open(file);
      return {
        storage,
        dump: async () => {
          const raw = new DatabaseSync(file, { readOnly: true });
          try {
            return JSON.stringify(raw.prepare('SELECT * FROM refresh_tokens').all());
          } finally {
            raw.close();
          }
        },
        close: () => storage.close(),
      };
    },
  ],
];

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

async function expectGrantError(p: Promise<unknown>, description: string): Promise<void> {
  const e = await rejection(p);
  expect(e).toBeInstanceOf(OAuthError);
  expect(e).toMatchObject({ error: 'invalid_grant', description, status: 400 });
}

function secretOf(wire: string): string {
  const parsed = decodeRefreshToken(wire);
  if (!parsed) throw new Error(`not a refresh token: ${wire}`);
  return parsed.secret;
}

describe.each(backends)('RefreshTokens on %s', (_name, open) => {
  let backend: Backend;
  let storage: Storage;
  let clock: ManualClock;
  const tokens = (policy: RefreshPolicy = ROTATING) => new RefreshTokens(storage, policy, clock, randomIds);
  const stored = (id: string) => storage.getRefreshToken(id);
  const idOf = (wire: string) => decodeRefreshToken(wire)!.refreshID;

  beforeEach(() => {
    backend = open();
    storage = backend.storage;
    clock = new ManualClock(T0);
  });
  afterEach(() => backend.close());

  describe('create', () => {
    it('returns a Dex wire token and stores only the digest of its secret', async () => {
      const rt = tokens({ ...ROTATING, validIfNotUsedForMs: HOUR, absoluteLifetimeMs: 24 * HOUR });
      const wire = await rt.create(newToken());
      const parsed = decodeRefreshToken(wire);
      expect(parsed).toEqual({ refreshID: expect.stringMatching(ID), secret: expect.stringMatching(ID) });
      const { refreshID, secret } = parsed!;
      expect(encodeRefreshToken(refreshID, secret)).toBe(wire);

      const t = await stored(refreshID);
      expect(t).toEqual({
        id: refreshID,
        token: digest(secret),
        obsoleteToken: '',
        createdAt: T0,
        lastUsed: T0,
        clientID: 'kubectl',
        scopes: ['openid', 'groups', 'offline_access'],
        nonce: 'nonce-1',
        claims: newToken().claims,
        connectorID: 'ldap',
        connectorData: Uint8Array.from([1, 2, 3]),
        expiry: new Date(T0.getTime() + HOUR),
        familyID: refreshID,
        rotationKey: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        authTime: new Date('2030-03-04T05:00:00.000Z'),
      });

      const dump = await backend.dump();
      expect(dump).toContain(digest(secret));
      expect(dump).not.toContain(secret);
      expect(dump).not.toContain(wire);
    });

    it('uses the given ID (the one derived from a code) and leaves expiry unset without lifetimes', async () => {
      const id = refreshIDForCode(digest('some-code'));
      const wire = await tokens().create(newToken({ id }));
      expect(idOf(wire)).toBe(id);
      const t = await stored(id);
      expect(t.familyID).toBe(id);
      expect(t).not.toHaveProperty('expiry');
    });

    it('gives every login its own token, even for the same user and client', async () => {
      const rt = tokens();
      const a = await rt.create(newToken());
      const b = await rt.create(newToken());
      expect(idOf(a)).not.toBe(idOf(b));
      expect(secretOf(a)).not.toBe(secretOf(b));
      expect((await storage.listRefreshTokens()).items).toHaveLength(2);
    });
  });

  describe('use', () => {
    it('rotates: a new secret under the same ID, the old one kept as obsolete, lastUsed advanced', async () => {
      const rt = tokens();
      const first = await rt.create(newToken());
      clock.advance(10 * MINUTE);
      const used = await rt.use(first, 'kubectl');

      expect(used.refreshIdentity).toBe(true);
      expect(used.wire).not.toBe(first);
      expect(idOf(used.wire)).toBe(idOf(first));
      const next = secretOf(used.wire);
      expect(next).not.toBe(secretOf(first));

      const t = await stored(idOf(first));
      expect(t.token).toBe(digest(next));
      expect(t.obsoleteToken).toBe(digest(secretOf(first)));
      expect(t.lastUsed).toEqual(new Date(T0.getTime() + 10 * MINUTE));
      expect(t.createdAt).toEqual(T0);
      expect(used.token).toEqual(t);

      const dump = await backend.dump();
      expect(dump).not.toContain(next);
      expect(dump).not.toContain(secretOf(first));
    });

    it('accepts the successor, which rotates again', async () => {
      const rt = tokens();
      const first = await rt.create(newToken());
      const second = (await rt.use(first, 'kubectl')).wire;
      clock.advance(MINUTE);
      const third = await rt.use(second, 'kubectl');
      expect(third.refreshIdentity).toBe(true);
      expect([first, second]).not.toContain(third.wire);
      const t = await stored(idOf(first));
      expect(t.token).toBe(digest(secretOf(third.wire)));
      expect(t.obsoleteToken).toBe(digest(secretOf(second)));
    });

    it('answers the old token inside the reuse window with the same successor, without writing', async () => {
      const rt = tokens();
      const first = await rt.create(newToken());
      const rotated = await rt.use(first, 'kubectl');
      const before = await stored(idOf(first));
      clock.advance(ROTATING.reuseIntervalMs);

      const again = await rt.use(first, 'kubectl');
      expect(again).toEqual({ token: before, wire: rotated.wire, refreshIdentity: false });
      expect(await stored(idOf(first))).toEqual(before);
      // The successor is still the live token.
      expect((await rt.use(rotated.wire, 'kubectl')).refreshIdentity).toBe(true);
    });

    it('revokes the login when the old token comes back outside the window', async () => {
      const rt = tokens();
      const first = await rt.create(newToken());
      const successor = (await rt.use(first, 'kubectl')).wire;
      clock.advance(ROTATING.reuseIntervalMs + 1);

      await expectGrantError(rt.use(first, 'kubectl'), REPLAYED);
      await expect(stored(idOf(first))).rejects.toBeInstanceOf(NotFoundError);
      // The family is gone: the legitimate holder of the successor is logged out too.
      await expectGrantError(rt.use(successor, 'kubectl'), INVALID);
      await expectGrantError(rt.use(first, 'kubectl'), INVALID);
    });

    it('refuses another client without touching the token', async () => {
      const rt = tokens();
      const wire = await rt.create(newToken());
      const before = await stored(idOf(wire));
      await expectGrantError(rt.use(wire, 'other-app'), OTHER_CLIENT);
      expect(await stored(idOf(wire))).toEqual(before);
      expect((await rt.use(wire, 'kubectl')).refreshIdentity).toBe(true);
    });

    it('refuses garbage, empty, half-empty and legacy bare-ID tokens, and wrong secrets', async () => {
      const rt = tokens();
      const wire = await rt.create(newToken());
      const id = idOf(wire);
      const before = await stored(id);
      const presented = [
        '',
        'not a token',
        '!!!!',
        'abc',
        'a'.repeat(5000),
        Buffer.from('plain text, not protobuf').toString('base64url'),
        encodeRefreshToken(id, ''),
        encodeRefreshToken('', secretOf(wire)),
        id, // a Dex legacy token: the bare storage ID, no secret
        encodeRefreshToken(id, 'wrong-secret'),
        encodeRefreshToken(id, digest(secretOf(wire))), // the stored digest is not the secret
        encodeRefreshToken(randomIds.newID(), secretOf(wire)),
        wire.slice(0, -2),
        `${wire}AAAA`, // trailing bytes that are no protobuf field
      ];
      for (const raw of presented) await expectGrantError(rt.use(raw, 'kubectl'), INVALID);
      expect(await stored(id)).toEqual(before);
    });

    it('expires an idle token and deletes it; each use restarts the idle clock', async () => {
      const rt = tokens({ ...ROTATING, validIfNotUsedForMs: HOUR });
      let wire = await rt.create(newToken());
      for (let i = 0; i < 3; i++) {
        clock.advance(HOUR); // exactly the limit is still fine
        wire = (await rt.use(wire, 'kubectl')).wire;
        expect((await stored(idOf(wire))).expiry).toEqual(new Date(clock.now().getTime() + HOUR));
      }
      clock.advance(HOUR + 1);
      await expectGrantError(rt.use(wire, 'kubectl'), EXPIRED);
      await expect(stored(idOf(wire))).rejects.toBeInstanceOf(NotFoundError);
      await expectGrantError(rt.use(wire, 'kubectl'), INVALID);
    });

    it('expires at the absolute lifetime however often it is used', async () => {
      const rt = tokens({ ...ROTATING, validIfNotUsedForMs: HOUR, absoluteLifetimeMs: 2 * HOUR });
      let wire = await rt.create(newToken());
      clock.advance(50 * MINUTE);
      wire = (await rt.use(wire, 'kubectl')).wire;
      clock.advance(50 * MINUTE);
      wire = (await rt.use(wire, 'kubectl')).wire;
      // Idle limit would be 2h40m; the absolute one (2h) wins.
      expect((await stored(idOf(wire))).expiry).toEqual(new Date(T0.getTime() + 2 * HOUR));
      clock.advance(20 * MINUTE);
      wire = (await rt.use(wire, 'kubectl')).wire;
      clock.advance(1);
      await expectGrantError(rt.use(wire, 'kubectl'), EXPIRED);
      await expect(stored(idOf(wire))).rejects.toBeInstanceOf(NotFoundError);
    });

    it('checks expiry before the reuse window', async () => {
      const rt = tokens({ ...ROTATING, reuseIntervalMs: HOUR, validIfNotUsedForMs: MINUTE });
      const first = await rt.create(newToken());
      await rt.use(first, 'kubectl');
      clock.advance(MINUTE + 1);
      await expectGrantError(rt.use(first, 'kubectl'), EXPIRED);
    });

    it('with rotation disabled returns the same token and only advances lastUsed', async () => {
      const rt = tokens({ disableRotation: true, reuseIntervalMs: 3000, validIfNotUsedForMs: HOUR });
      const wire = await rt.create(newToken());
      const before = await stored(idOf(wire));
      clock.advance(30 * MINUTE);
      const used = await rt.use(wire, 'kubectl');
      expect(used.wire).toBe(wire);
      expect(used.refreshIdentity).toBe(true);
      const later = new Date(T0.getTime() + 30 * MINUTE);
      const expected: RefreshToken = {
        ...before,
        lastUsed: later,
        expiry: new Date(later.getTime() + HOUR),
      };
      expect(used.token).toEqual(expected);
      expect(await stored(idOf(wire))).toEqual(expected);
      clock.advance(HOUR);
      expect((await rt.use(wire, 'kubectl')).wire).toBe(wire);
    });

    it('without rotation, records lastUsed at most once a minute (no write for a refresh right after another)', async () => {
      const rt = tokens({ disableRotation: true, reuseIntervalMs: 3000, validIfNotUsedForMs: HOUR });
      const wire = await rt.create(newToken());
      const before = await stored(idOf(wire));
      clock.advance(30_000);
      const used = await rt.use(wire, 'kubectl');
      expect(used).toMatchObject({ wire, refreshIdentity: true });
      expect(await stored(before.id)).toEqual(before);
      clock.advance(31_000);
      await rt.use(wire, 'kubectl');
      expect((await stored(before.id)).lastUsed).toEqual(new Date(T0.getTime() + 61_000));
    });
  });

  describe('concurrent use of one token', () => {
    it('lets exactly one of 20 racers refresh the identity, and all get the same successor', async () => {
      const rt = tokens();
      const wire = await rt.create(newToken());
      const results = await Promise.all(Array.from({ length: 20 }, () => rt.use(wire, 'kubectl')));
      expectOneRotation(results, wire);
      const t = await stored(idOf(wire));
      expect(t.token).toBe(digest(secretOf(results[0]!.wire)));
      expect(t.obsoleteToken).toBe(digest(secretOf(wire)));
    });

    it('gives 20 racers presenting the old token inside the window the current successor', async () => {
      const rt = tokens();
      const wire = await rt.create(newToken());
      const successor = (await rt.use(wire, 'kubectl')).wire;
      clock.advance(1000);
      const results = await Promise.all(Array.from({ length: 20 }, () => rt.use(wire, 'kubectl')));
      expect(results.map((r) => r.wire)).toEqual(Array(20).fill(successor));
      expect(results.every((r) => !r.refreshIdentity)).toBe(true);
    });
  });

  describe('the caller’s hook (checks and the connector’s fresh identity) before any write', () => {
    const fresh = { ...newToken().claims, groups: ['devs'], email: 'j@example.org' };

    it('writes the new identity with the rotation, in one write, and nothing else', async () => {
      const rt = tokens();
      const wire = await rt.create(newToken());
      const before = await stored(idOf(wire));
      const writes = jest.spyOn(storage, 'updateRefreshToken');
      const used = await rt.use(wire, 'kubectl', {
        refreshIdentity: async (token) => {
          expect(token).toEqual(before);
          return { claims: fresh, connectorData: Uint8Array.from([9]) };
        },
      });
      expect(writes).toHaveBeenCalledTimes(1);
      writes.mockRestore();
      const after = await stored(before.id);
      expect(after).toEqual({
        ...before,
        token: digest(secretOf(used.wire)),
        obsoleteToken: digest(secretOf(wire)),
        lastUsed: clock.now(),
        claims: fresh,
        connectorData: Uint8Array.from([9]),
      });
      expect(used).toMatchObject({ refreshIdentity: true, token: after });
    });

    it('leaves the presented token valid when the hook fails (an upstream outage costs no login)', async () => {
      const rt = tokens();
      const wire = await rt.create(newToken());
      const before = await stored(idOf(wire));
      const outage = new OAuthError('temporarily_unavailable', 'directory down');
      await expect(rt.use(wire, 'kubectl', { refreshIdentity: () => Promise.reject(outage) })).rejects.toBe(
        outage,
      );
      expect(await stored(before.id)).toEqual(before);
      // Long after any reuse window, the same token still refreshes.
      clock.advance(HOUR);
      expect(
        (await rt.use(wire, 'kubectl', { refreshIdentity: async () => ({ claims: fresh }) })).refreshIdentity,
      ).toBe(true);
    });

    it('revokes the login when the connector denies the user', async () => {
      const rt = tokens();
      const wire = await rt.create(newToken());
      await expectGrantError(
        rt.use(wire, 'kubectl', {
          refreshIdentity: () => Promise.reject(new RefreshDeniedError('left the group')),
        }),
        'The user can no longer be signed in; log in again.',
      );
      await expect(stored(idOf(wire))).rejects.toBeInstanceOf(NotFoundError);
    });

    it('asks the hook once for 20 racers presenting one secret', async () => {
      const rt = tokens();
      const wire = await rt.create(newToken());
      let calls = 0;
      let checks = 0;
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          rt.use(wire, 'kubectl', {
            check: async () => void checks++,
            refreshIdentity: async () => {
              calls++;
              return { claims: fresh };
            },
          }),
        ),
      );
      expect(calls).toBe(1);
      // The per-request checks are not shared: each racer's own request is checked.
      expect(checks).toBe(20);
      expectOneRotation(results, wire);
      expect((await stored(idOf(wire))).claims).toEqual(fresh);
    });

    it('answers as a racer when its connector call failed because another replica rotated meanwhile', async () => {
      const rt = tokens();
      const other = tokens();
      const wire = await rt.create(newToken());
      let successor = '';
      const used = await rt.use(wire, 'kubectl', {
        refreshIdentity: async () => {
          // Another replica refreshes first, using the upstream's one-time refresh token: ours is refused.
          successor = (await other.use(wire, 'kubectl')).wire;
          throw new RefreshDeniedError('upstream refresh token already used');
        },
      });
      expect(used).toMatchObject({ wire: successor, refreshIdentity: false });
      expect((await stored(idOf(wire))).token).toBe(digest(secretOf(successor)));
    });

    it('runs the checks, not the connector, for a racer inside the reuse window', async () => {
      const rt = tokens();
      const wire = await rt.create(newToken());
      await rt.use(wire, 'kubectl');
      const seen: string[] = [];
      await rt.use(wire, 'kubectl', {
        check: async () => void seen.push('check'),
        refreshIdentity: async () => {
          seen.push('refresh');
          return undefined;
        },
      });
      expect(seen).toEqual(['check']);
      const refused = new OAuthError('invalid_grant', 'no longer allowed');
      await expect(rt.use(wire, 'kubectl', { check: () => Promise.reject(refused) })).rejects.toBe(refused);
    });

    it('without rotation, writes a changed identity at once, an unchanged one at most once a minute', async () => {
      const rt = tokens({ disableRotation: true, reuseIntervalMs: 0 });
      const wire = await rt.create(newToken());
      const writes = jest.spyOn(storage, 'updateRefreshToken');
      await rt.use(wire, 'kubectl', { refreshIdentity: async (token) => ({ claims: token.claims }) });
      expect(writes).toHaveBeenCalledTimes(0);
      await rt.use(wire, 'kubectl', { refreshIdentity: async () => ({ claims: fresh }) });
      expect(writes).toHaveBeenCalledTimes(1);
      writes.mockRestore();
      expect((await stored(idOf(wire))).claims).toEqual(fresh);
    });
  });

  describe('revokePresented', () => {
    it('revokes only for the owning client and a secret that matches', async () => {
      const rt = tokens();
      const wire = await rt.create(newToken());
      const id = idOf(wire);
      expect(await rt.revokePresented(wire, 'other-app')).toBe(false);
      expect(await rt.revokePresented(encodeRefreshToken(id, 'guess'), 'kubectl')).toBe(false);
      expect(await rt.revokePresented(id, 'kubectl')).toBe(false);
      expect(await rt.revokePresented('garbage!', 'kubectl')).toBe(false);
      expect(await rt.revokePresented(encodeRefreshToken(randomIds.newID(), 'x'), 'kubectl')).toBe(false);
      await expect(stored(id)).resolves.toMatchObject({ id });

      expect(await rt.revokePresented(wire, 'kubectl')).toBe(true);
      await expect(stored(id)).rejects.toBeInstanceOf(NotFoundError);
      expect(await rt.revokePresented(wire, 'kubectl')).toBe(false);
    });

    it('accepts the just-rotated (obsolete) secret too and takes the successor with it', async () => {
      const rt = tokens();
      const wire = await rt.create(newToken());
      const successor = (await rt.use(wire, 'kubectl')).wire;
      expect(await rt.revokePresented(wire, 'kubectl')).toBe(true);
      await expectGrantError(rt.use(successor, 'kubectl'), INVALID);
    });
  });

  describe('lookupActive', () => {
    it('finds the token by its current secret only, and not once it has expired', async () => {
      const rt = tokens({ ...ROTATING, validIfNotUsedForMs: HOUR });
      const wire = await rt.create(newToken());
      expect(await rt.lookupActive(wire)).toEqual(await stored(idOf(wire)));
      const successor = (await rt.use(wire, 'kubectl')).wire;
      expect(await rt.lookupActive(wire)).toBeUndefined();
      expect(await rt.lookupActive(successor)).toEqual(await stored(idOf(wire)));
      expect(await rt.lookupActive('')).toBeUndefined();
      expect(await rt.lookupActive(idOf(wire))).toBeUndefined();
      expect(await rt.lookupActive(encodeRefreshToken(idOf(wire), 'nope'))).toBeUndefined();
      clock.advance(HOUR + 1);
      expect(await rt.lookupActive(successor)).toBeUndefined();
      // Looking is not using: the expired token is left for garbage collection.
      await expect(stored(idOf(wire))).resolves.toMatchObject({ id: idOf(wire) });
    });
  });
});

describe('RefreshTokens on two SQLite connections to one file', () => {
  it('lets exactly one of 20 racers refresh the identity, and all get the same successor', async () => {
    const file = tempFile();
    const a = SqliteStorage.open(file);
    const b = SqliteStorage.open(file);
    try {
      const clock = new ManualClock(T0);
      const replicas = [a, b].map((s) => new RefreshTokens(s, ROTATING, clock, randomIds));
      const wire = await replicas[0]!.create(newToken());
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => replicas[i % 2]!.use(wire, 'kubectl')),
      );
      expectOneRotation(results, wire);
      const t = await b.getRefreshToken(decodeRefreshToken(wire)!.refreshID);
      expect(t.token).toBe(digest(secretOf(results[0]!.wire)));
      expect(t.obsoleteToken).toBe(digest(secretOf(wire)));
      // Either replica accepts the successor.
      expect((await replicas[1]!.use(results[0]!.wire, 'kubectl')).refreshIdentity).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

function expectOneRotation(results: RefreshUse[], presented: string): void {
  expect(results).toHaveLength(20);
  expect(results.filter((r) => r.refreshIdentity)).toHaveLength(1);
  const successor = results[0]!.wire;
  expect(successor).not.toBe(presented);
  expect(results.map((r) => r.wire)).toEqual(Array(20).fill(successor));
}

describe('expiryOf', () => {
  const at = { createdAt: T0, lastUsed: new Date(T0.getTime() + 30 * MINUTE) };
  const withPolicy = (p: Partial<RefreshPolicy>) =>
    new RefreshTokens(new MemoryStorage(), { ...ROTATING, ...p }, new ManualClock(T0), randomIds);

  it('is unset without lifetimes', () => {
    expect(withPolicy({}).expiryOf(at)).toBeUndefined();
  });
  it('is lastUsed + idle limit', () => {
    expect(withPolicy({ validIfNotUsedForMs: HOUR }).expiryOf(at)).toEqual(
      new Date(T0.getTime() + 90 * MINUTE),
    );
  });
  it('is createdAt + absolute lifetime', () => {
    expect(withPolicy({ absoluteLifetimeMs: HOUR }).expiryOf(at)).toEqual(new Date(T0.getTime() + HOUR));
  });
  it('is the earlier of the two', () => {
    const both = withPolicy({ validIfNotUsedForMs: HOUR, absoluteLifetimeMs: 80 * MINUTE });
    expect(both.expiryOf(at)).toEqual(new Date(T0.getTime() + 80 * MINUTE));
    const idleFirst = withPolicy({ validIfNotUsedForMs: 10 * MINUTE, absoluteLifetimeMs: HOUR });
    expect(idleFirst.expiryOf(at)).toEqual(new Date(T0.getTime() + 40 * MINUTE));
  });
});

describe('refreshIDForCode', () => {
  it('is a deterministic storage-shaped ID', () => {
    const d = digest('code-1');
    expect(refreshIDForCode(d)).toBe(refreshIDForCode(d));
    expect(refreshIDForCode(d)).not.toBe(refreshIDForCode(digest('code-2')));
    for (let i = 0; i < 500; i++) {
      const id = refreshIDForCode(digest(randomIds.newID()));
      expect(id).toHaveLength(25);
      expect(id).toMatch(ID);
    }
  });

  it('does not change between versions (a replayed code must find what the first redemption issued)', () => {
    expect(refreshIDForCode(digest('abc'))).toBe(PINNED_ABC);
  });
});

// refreshIDForCode(digest('abc')), recorded once.
const PINNED_ABC = 'zubybfejalox2ad5vcfmfgnjo';

describe('RefreshTokens on a back end whose reads may lag (a watch-fed cache)', () => {
  // Reads that are not asked to be consistent answer a copy frozen before the last rotation — what a replica
  // whose watch has not yet delivered another replica's write sees.
  function laggingStorage(): { storage: Storage; freeze(id: string): Promise<void> } {
    const inner = new MemoryStorage();
    const frozen = new Map<string, RefreshToken>();
    const storage = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'getRefreshToken') {
          return async (id: string, opts?: { consistent?: boolean }) =>
            (!opts?.consistent && frozen.get(id)) || target.getRefreshToken(id);
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    }) as Storage;
    return { storage, freeze: async (id) => void frozen.set(id, await inner.getRefreshToken(id)) };
  }

  it('refreshes the successor a lagging copy does not know yet, instead of refusing it', async () => {
    const clock = new ManualClock(T0);
    const { storage, freeze } = laggingStorage();
    const rt = new RefreshTokens(storage, ROTATING, clock, randomIds);
    const first = await rt.create(newToken());
    const id = decodeRefreshToken(first)!.refreshID;
    await freeze(id); // this replica's copy stops here
    const second = (await rt.use(first, 'kubectl')).wire; // rotated (elsewhere, as far as the copy knows)
    clock.advance(MINUTE); // past the reuse window: a real replay would now revoke the login
    const third = await rt.use(second, 'kubectl');
    expect(third.wire).not.toBe(second);
    expect((await storage.getRefreshToken(id, { consistent: true })).token).toBe(
      digest(decodeRefreshToken(third.wire)!.secret),
    );
    // And a real replay is still judged as one, on the stored state.
    clock.advance(MINUTE);
    await expect(rt.use(second, 'kubectl')).rejects.toMatchObject({ description: REPLAYED });
  });
});
