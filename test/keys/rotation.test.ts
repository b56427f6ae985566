import {
  activeKey,
  followingRotation,
  initialKeySet,
  isPublished,
  isRotationDue,
  jwksMaxAgeSeconds,
  nextKey,
  publishedKeys,
  pruneKeySet,
  rotateKeySet,
} from '../../src/keys/rotation.js';
import type { KeySet, StoredKey } from '../../src/storage/storage.js';

const H = 60 * 60 * 1000;
const P = 6 * H; // rotation period
const R = 24 * H; // retention (expiry.idTokens)
const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);

function key(kid: string, createdAt: Date = T0): StoredKey {
  return {
    kid,
    alg: 'RS256',
    privateJwk: { kty: 'test', kid },
    publicJwk: { kty: 'test', kid },
    createdAt,
    activeFrom: createdAt,
  };
}

const kids = (keys: StoredKey[]): string[] => keys.map((k) => k.kid);
const byKid = (ks: KeySet, kid: string): StoredKey => {
  const k = ks.keys.find((x) => x.kid === kid);
  if (!k) throw new Error(`no key ${kid}`);
  return k;
};

describe('initialKeySet', () => {
  test('holds an active key from now and a next key from now + period', () => {
    const ks = initialKeySet('signing', T0, P, key('A', at(-5)), key('B', at(-5)));
    expect(ks).toEqual({
      name: 'signing',
      keys: [
        { ...key('A', at(-5)), activeFrom: T0 },
        { ...key('B', at(-5)), activeFrom: at(P) },
      ],
      nextRotation: at(P),
    });
    expect(activeKey(ks, T0)?.kid).toBe('A');
    expect(nextKey(ks, T0)?.kid).toBe('B');
    expect(kids(publishedKeys(ks, T0))).toEqual(['A', 'B']);
  });

  test('does not share Date objects with its inputs and rejects bad input', () => {
    const a = key('A');
    const ks = initialKeySet('sealing', T0, P, a, key('B'));
    expect(ks.keys[0]!.activeFrom).not.toBe(T0);
    expect(a.activeFrom).toEqual(T0);
    expect(() => initialKeySet('signing', T0, P, key('A'), key('A'))).toThrow(/differ/);
    expect(() => initialKeySet('signing', T0, 0, key('A'), key('B'))).toThrow(RangeError);
    expect(() => initialKeySet('signing', T0, Number.NaN, key('A'), key('B'))).toThrow(RangeError);
  });
});

describe('isRotationDue and activeKey from a cached set', () => {
  const ks = initialKeySet('signing', T0, P, key('A'), key('B'));

  test('due exactly at nextRotation', () => {
    expect(isRotationDue(ks, at(P - 1))).toBe(false);
    expect(isRotationDue(ks, at(P))).toBe(true);
    expect(isRotationDue(ks, at(10 * P))).toBe(true);
  });

  test('the pre-published next key signs from its activeFrom even before anyone rotates', () => {
    expect(activeKey(ks, at(P - 1))?.kid).toBe('A');
    expect(activeKey(ks, at(P))?.kid).toBe('B');
    expect(nextKey(ks, at(P))).toBeUndefined();
  });

  test('no key is active before the first activeFrom', () => {
    expect(activeKey(ks, at(-1))).toBeUndefined();
  });
});

describe('rotateKeySet', () => {
  const ks0 = initialKeySet('signing', T0, P, key('A'), key('B'));

  test('returns its argument itself when no step is due (no write)', () => {
    expect(rotateKeySet(ks0, at(P - 1), P, R, key('C'))).toBe(ks0);
  });

  test('one step: next becomes active, previous retired and retained, fresh key is next', () => {
    const snapshot = structuredClone(ks0);
    const now = at(P + 30_000);
    const ks1 = rotateKeySet(ks0, now, P, R, key('C', now));
    expect(ks0).toEqual(snapshot); // input untouched
    expect(ks1).toEqual({
      name: 'signing',
      keys: [
        { ...ks0.keys[0]!, retiredAt: now, publishUntil: at(P + 30_000 + R) },
        ks0.keys[1]!,
        { ...key('C', now), activeFrom: at(2 * P) },
      ],
      nextRotation: at(2 * P), // grid kept
    });
    expect(activeKey(ks1, now)?.kid).toBe('B');
    expect(nextKey(ks1, now)?.kid).toBe('C');
    expect(kids(publishedKeys(ks1, now))).toEqual(['A', 'B', 'C']);
    expect(isRotationDue(ks1, now)).toBe(false);
    // Pure: the same inputs give the same output, and a re-run after the write is a no-op.
    expect(rotateKeySet(ks0, now, P, R, key('C', now))).toEqual(ks1);
    expect(rotateKeySet(ks1, now, P, R, key('D', now))).toBe(ks1);
  });

  test('retired keys stay published until publishUntil, then are dropped at the next step', () => {
    let ks = ks0;
    const fresh = ['C', 'D', 'E', 'F', 'G', 'H'];
    for (let i = 1; i <= 5; i++) ks = rotateKeySet(ks, at(i * P), P, R, key(fresh[i - 1]!, at(i * P)));
    // Rotations at 6h (A retired until 30h), 12h (B until 36h), 18h (C until 42h), 24h (D until 48h), 30h:
    // A's publishUntil (30h) has come at the 30h step, so it is gone.
    expect(kids(ks.keys)).toEqual(['B', 'C', 'D', 'E', 'F', 'G']);
    expect(byKid(ks, 'B').publishUntil).toEqual(at(2 * P + R));
    expect(activeKey(ks, at(5 * P))?.kid).toBe('F');
    expect(nextKey(ks, at(5 * P))?.kid).toBe('G');
    expect(ks.nextRotation).toEqual(at(6 * P));

    // Between steps, publication follows publishUntil to the millisecond.
    const B = byKid(ks, 'B');
    expect(isPublished(B, at(2 * P + R - 1))).toBe(true);
    expect(isPublished(B, at(2 * P + R))).toBe(false);
    expect(kids(publishedKeys(ks, at(2 * P + R - 1)))).toEqual(['B', 'C', 'D', 'E', 'F', 'G']);
    expect(kids(publishedKeys(ks, at(2 * P + R)))).toEqual(['C', 'D', 'E', 'F', 'G']);
  });

  test('a retention shorter than the period: the retired key is unpublished before the next step', () => {
    const ks1 = rotateKeySet(ks0, at(P), P, H, key('C', at(P)));
    expect(kids(publishedKeys(ks1, at(P + H - 1)))).toEqual(['A', 'B', 'C']);
    expect(kids(publishedKeys(ks1, at(P + H)))).toEqual(['B', 'C']);
    const ks2 = rotateKeySet(ks1, at(2 * P), P, H, key('D', at(2 * P)));
    expect(kids(ks2.keys)).toEqual(['B', 'C', 'D']);
  });

  test('late by less than a quarter period keeps the grid', () => {
    const now = at(P + P / 4 - 1);
    const ks1 = rotateKeySet(ks0, now, P, R, key('C', now));
    expect(ks1.nextRotation).toEqual(at(2 * P));
    expect(byKid(ks1, 'C').activeFrom).toEqual(at(2 * P));
    expect(byKid(ks1, 'A').retiredAt).toEqual(now);
    expect(byKid(ks1, 'A').publishUntil).toEqual(new Date(now.getTime() + R));
  });

  test('late by a quarter period or more restarts the grid a full period ahead', () => {
    const now = at(P + P / 4);
    const ks1 = rotateKeySet(ks0, now, P, R, key('C', now));
    expect(ks1.nextRotation).toEqual(at(2 * P + P / 4));
    expect(byKid(ks1, 'C').activeFrom).toEqual(at(2 * P + P / 4));
  });

  test('catch-up after a long downtime: one step, the published next key signs, the fresh one waits a full period', () => {
    const now = at(10 * P + 37 * 60 * 1000);
    const ks1 = rotateKeySet(ks0, now, P, R, key('C', now));
    expect(kids(ks1.keys)).toEqual(['A', 'B', 'C']);
    expect(activeKey(ks1, now)?.kid).toBe('B');
    expect(byKid(ks1, 'B').activeFrom).toEqual(at(P)); // published since T0, signing since its instant
    expect(byKid(ks1, 'A').retiredAt).toEqual(now);
    expect(byKid(ks1, 'A').publishUntil).toEqual(new Date(now.getTime() + R));
    expect(byKid(ks1, 'C').activeFrom).toEqual(new Date(now.getTime() + P));
    expect(ks1.nextRotation).toEqual(new Date(now.getTime() + P));
    expect(isRotationDue(ks1, now)).toBe(false);
    // Every key that can sign at or after now is either the active one or one published a full period ahead.
    for (const k of ks1.keys) {
      if (k.activeFrom.getTime() <= now.getTime())
        expect(k.kid === 'B' || k.retiredAt !== undefined).toBe(true);
    }
  });

  test('a set without a next key: the active key keeps signing, the fresh key becomes next', () => {
    const damaged: KeySet = { name: 'signing', keys: [ks0.keys[0]!], nextRotation: at(P) };
    const ks1 = rotateKeySet(damaged, at(P), P, R, key('C', at(P)));
    expect(kids(ks1.keys)).toEqual(['A', 'C']);
    expect(byKid(ks1, 'A').retiredAt).toBeUndefined();
    expect(activeKey(ks1, at(P))?.kid).toBe('A');
    expect(byKid(ks1, 'C').activeFrom).toEqual(at(2 * P));
  });

  test('an empty set: the fresh key signs at once', () => {
    const empty: KeySet = { name: 'sealing', keys: [], nextRotation: T0 };
    const ks1 = rotateKeySet(empty, at(5), P, R, key('C', at(5)));
    expect(ks1).toEqual({
      name: 'sealing',
      keys: [{ ...key('C', at(5)), activeFrom: at(5) }],
      nextRotation: at(P),
    });
  });

  test('rejects a fresh key the set already holds', () => {
    expect(() => rotateKeySet(ks0, at(P), P, R, key('B'))).toThrow(/already/);
  });

  test('simulated years with random lateness: invariants hold at every step', () => {
    // Deterministic PRNG (mulberry32).
    let seed = 0x5eed;
    const rand = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = seed;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const firstSeen = new Map<string, number>();
    let ks = initialKeySet('signing', T0, P, key('k0'), key('k1'));
    firstSeen.set('k0', T0.getTime()).set('k1', T0.getTime());
    let rotations = 0;
    for (let i = 2; i < 600; i++) {
      // Mostly on time; sometimes late by up to 3 periods (a downtime).
      const late = rand() < 0.9 ? rand() * 60_000 : rand() * 3 * P;
      const now = new Date(ks.nextRotation.getTime() + late);
      const signerBefore = activeKey(ks, now)!;
      const next = rotateKeySet(ks, now, P, R, key(`k${i}`, now));
      expect(next).not.toBe(ks);
      rotations++;
      firstSeen.set(`k${i}`, now.getTime());
      ks = next;

      const active = activeKey(ks, now)!;
      // The cached set already switched to the key that is now active: rotation writes never change the signer.
      expect(active.kid).toBe(signerBefore.kid);
      const pending = nextKey(ks, now)!;
      expect(pending.activeFrom).toEqual(ks.nextRotation);
      const lead = pending.activeFrom.getTime() - now.getTime();
      expect(lead).toBeGreaterThan((3 * P) / 4);
      expect(lead).toBeLessThanOrEqual(P);
      expect(jwksMaxAgeSeconds(P) * 1000).toBeLessThan(lead - Math.min(30_000, P / 4));
      // Keys that can sign were published at least 3/4 of a period before (the first key excepted).
      if (active.kid !== 'k0') {
        expect(active.activeFrom.getTime() - firstSeen.get(active.kid)!).toBeGreaterThan((3 * P) / 4);
      }
      // Exactly one key is in service and active; every other key at or before now is retired.
      const inService = ks.keys.filter((k) => k.retiredAt === undefined);
      expect(kids(inService).sort()).toEqual([active.kid, pending.kid].sort());
      // Nothing past its retention is kept; every retired key is kept until retention after its retirement.
      for (const k of ks.keys) {
        if (k.retiredAt) {
          expect(k.publishUntil!.getTime()).toBe(k.retiredAt.getTime() + R);
          expect(k.publishUntil!.getTime()).toBeGreaterThan(now.getTime());
        }
      }
    }
    expect(rotations).toBe(598);
  });
});

describe('pruneKeySet', () => {
  test('drops keys past publishUntil and returns the argument itself when nothing is to drop', () => {
    const ks0 = initialKeySet('signing', T0, P, key('A'), key('B'));
    const ks1 = rotateKeySet(ks0, at(P), P, R, key('C', at(P)));
    expect(pruneKeySet(ks1, at(P + R - 1))).toBe(ks1);
    expect(kids(pruneKeySet(ks1, at(P + R)).keys)).toEqual(['B', 'C']);
  });
});

describe('followingRotation', () => {
  test('grid or restart', () => {
    expect(followingRotation(T0, T0, P)).toEqual(at(P));
    expect(followingRotation(T0, at(P / 4 - 1), P)).toEqual(at(P));
    expect(followingRotation(T0, at(P / 4), P)).toEqual(at(P / 4 + P));
  });
});

describe('jwksMaxAgeSeconds', () => {
  test('at most half a period, capped at 600, at least 1', () => {
    expect(jwksMaxAgeSeconds(6 * H)).toBe(600);
    expect(jwksMaxAgeSeconds(20 * 60 * 1000)).toBe(600);
    expect(jwksMaxAgeSeconds(10 * 60 * 1000)).toBe(300);
    expect(jwksMaxAgeSeconds(61_999)).toBe(30);
    expect(jwksMaxAgeSeconds(3000)).toBe(1);
    expect(jwksMaxAgeSeconds(1000)).toBe(1);
  });
});
