import type { GarbageCollectionResult, Storage } from '../../../src/storage/storage.js';
import * as f from '../fixtures.js';
import { expectStorageError, type SuiteContext } from './context.js';

// "Expired at now" means expiry < now (Dex's rule): an entity whose expiry is exactly `now` still lives.
// The instants below are written in several zones; they are the same instants whatever the zone.

/** 2026-01-01T15:00:00.000Z, written three ways. */
const EXPIRY_EST = new Date('2026-01-01T10:00:00-05:00');
const EXPIRY_JST = new Date('2026-01-02T00:00:00+09:00');
const LATER = new Date('2026-01-01T16:00:00Z');

const BEFORE = [
  new Date('2026-01-01T09:59:59.999-05:00'),
  new Date('2026-01-01T23:59:59.999+09:00'),
  new Date('2026-01-01T14:59:59.999Z'),
  new Date('2026-01-01T07:00:00-08:00'),
];
const AFTER_FIRST = new Date('2026-01-02T00:00:00.001+09:00');
const AFTER_ALL = new Date('2026-01-01T11:00:00.001-05:00');

const none: GarbageCollectionResult = {
  authRequests: 0,
  authCodes: 0,
  deviceRequests: 0,
  deviceTokens: 0,
  refreshTokens: 0,
  revocations: 0,
  sessions: 0,
};
const each = (n: number): GarbageCollectionResult => ({
  authRequests: n,
  authCodes: n,
  deviceRequests: n,
  deviceTokens: n,
  refreshTokens: n,
  // Revocations and sessions are seeded and collected by conformance/revocations.ts and sessions.ts.
  revocations: 0,
  sessions: 0,
});

interface Expiring {
  exists(s: Storage): Promise<boolean>;
}

async function seed(s: Storage): Promise<{ early: Expiring[]; late: Expiring[]; never: Expiring }> {
  const early: Expiring[] = [];
  const late: Expiring[] = [];
  const exists = (get: () => Promise<unknown>) => (): Promise<boolean> =>
    get().then(
      () => true,
      (e: unknown) => {
        if ((e as { code?: string }).code === 'NotFound') return false;
        throw e;
      },
    );
  const add = async (tag: string, expiry: Date, into: Expiring[]): Promise<void> => {
    const ar = f.authRequest(`gc-ar-${tag}`, expiry);
    const ac = f.authCode(`gc-ac-${tag}`, expiry);
    const dr = f.deviceRequest(`GCDR-${tag.toUpperCase()}`, expiry);
    const dt = f.deviceToken(`gc-dt-${tag}`, expiry);
    const rt = f.refreshToken(`gc-rt-${tag}`, expiry);
    await Promise.all([
      s.createAuthRequest(ar),
      s.createAuthCode(ac),
      s.createDeviceRequest(dr),
      s.createDeviceToken(dt),
      s.createRefreshToken(rt),
    ]);
    into.push(
      { exists: (st) => exists(() => st.getAuthRequest(ar.id))() },
      { exists: (st) => exists(() => st.getAuthCode(ac.id))() },
      { exists: (st) => exists(() => st.getDeviceRequest(dr.userCode))() },
      { exists: (st) => exists(() => st.getDeviceToken(dt.deviceCode))() },
      { exists: (st) => exists(() => st.getRefreshToken(rt.id))() },
    );
  };
  await add('est', EXPIRY_EST, early);
  await add('jst', EXPIRY_JST, early);
  await add('late', LATER, late);
  const forever = f.refreshToken('gc-rt-forever');
  await s.createRefreshToken(forever);
  return { early, late, never: { exists: (st) => exists(() => st.getRefreshToken(forever.id))() } };
}

const allExist = async (s: Storage, xs: Expiring[]): Promise<boolean[]> =>
  Promise.all(xs.map((x) => x.exists(s)));

export function describeGarbageCollection(ctx: SuiteContext): void {
  describe('garbage collection', () => {
    it('deletes nothing before expiry or at it, whatever the zone `now` is written in', async () => {
      const s = ctx.storage;
      const { early, late, never } = await seed(s);
      for (const now of [...BEFORE, EXPIRY_JST, EXPIRY_EST])
        expect(await s.garbageCollect(now)).toEqual(none);
      expect(await allExist(s, [...early, ...late, never])).toEqual(
        Array(early.length + late.length + 1).fill(true),
      );
    });

    it('deletes exactly the expired ones, refresh tokens included, and never one without expiry', async () => {
      const s = ctx.storage;
      const { early, late, never } = await seed(s);

      expect(await s.garbageCollect(AFTER_FIRST)).toEqual(each(2));
      expect(await allExist(s, early)).toEqual(Array(early.length).fill(false));
      expect(await allExist(s, [...late, never])).toEqual(Array(late.length + 1).fill(true));
      expect(await s.garbageCollect(AFTER_FIRST)).toEqual(none);

      expect(await s.garbageCollect(AFTER_ALL)).toEqual(each(1));
      expect(await allExist(s, late)).toEqual(Array(late.length).fill(false));
      expect(await never.exists(s)).toBe(true);

      expect(await s.garbageCollect(new Date('2999-12-31T23:59:59+14:00'))).toEqual(none);
      expect(await never.exists(s)).toBe(true);
    });

    it('collects a backlog larger than one page completely', async () => {
      const PAGE = 10;
      const EXPIRED = 25;
      const { storage: s, cleanup } = await ctx.factory({ gcPageSize: PAGE });
      try {
        const expiry = new Date('2026-01-01T00:00:00+02:00');
        const keep = new Date('2026-06-01T00:00:00-07:00');
        const n = Array.from({ length: EXPIRED }, (_, i) => String(i).padStart(3, '0'));
        await Promise.all([
          ...n.map((i) => s.createAuthRequest(f.authRequest(`page-ar-${i}`, expiry))),
          ...n.map((i) => s.createAuthCode(f.authCode(`page-ac-${i}`, expiry))),
          ...n.map((i) => s.createRefreshToken(f.refreshToken(`page-rt-${i}`, expiry))),
          ...n.map((i) => s.createSession(f.session(`page-se-${i}`, { idleExpiry: expiry }))),
          s.createSession(f.session('page-se-keep', { idleExpiry: keep })),
          s.createAuthRequest(f.authRequest('page-ar-keep', keep)),
          s.createRefreshToken(f.refreshToken('page-rt-keep', keep)),
        ]);
        const result = await s.garbageCollect(new Date('2026-02-01T00:00:00Z'));
        expect(result).toEqual({
          ...none,
          authRequests: EXPIRED,
          authCodes: EXPIRED,
          refreshTokens: EXPIRED,
          sessions: EXPIRED,
        });
        expect((await s.listAuthRequests()).items.map((a) => a.id)).toEqual(['page-ar-keep']);
        expect((await s.listRefreshTokens()).items.map((r) => r.id)).toEqual(['page-rt-keep']);
        expect((await s.listSessions()).items.map((x) => x.id)).toEqual(['page-se-keep']);
        await expectStorageError(s.getAuthCode('page-ac-000'), 'NotFound');
      } finally {
        await cleanup();
      }
    });
  });
}
