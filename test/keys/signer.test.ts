import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeProtectedHeader,
  jwtVerify,
  type JWK,
  type JWTPayload,
} from 'jose';
import { KeyManager, type KeyManagerOptions } from '../../src/keys/manager.js';
import { activeKey, nextKey } from '../../src/keys/rotation.js';
import { JwtSigner } from '../../src/keys/signer.js';
import type { KeySet } from '../../src/storage/storage.js';
import { ManualClock } from '../../src/util/clock.js';
import { CountingStorage, H, recordingLogger, T0 } from './helpers.js';

const P = 6 * H;
const R = 24 * H;
const ISS = 'https://issuer.example/dex';

let managers: KeyManager[] = [];
let logger: ReturnType<typeof recordingLogger>;

beforeEach(() => {
  managers = [];
  logger = recordingLogger();
});

afterEach(() => {
  for (const m of managers) m.stop();
  // No test here provokes a failure: nothing may be logged at warn or error.
  expect(logger.at('warn')).toEqual([]);
  expect(logger.at('error')).toEqual([]);
});

function manager(
  storage: CountingStorage,
  clock: ManualClock,
  extra: Partial<KeyManagerOptions> = {},
): KeyManager {
  const m = new KeyManager(storage, {
    name: 'signing',
    kind: 'signing',
    rotationPeriodMs: P,
    retentionMs: R,
    clock,
    logger,
    ...extra,
  });
  managers.push(m);
  return m;
}

function claims(clock: ManualClock, lifetimeMs = R): JWTPayload {
  const iat = Math.floor(clock.now().getTime() / 1000);
  return { iss: ISS, sub: 'CgR1c2VyEgVsb2NhbA', aud: 'kubernetes', iat, exp: iat + lifetimeMs / 1000 };
}

async function verify(token: string, jwks: { keys: JWK[] }, clock: ManualClock): Promise<JWTPayload> {
  const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
    issuer: ISS,
    audience: 'kubernetes',
    currentDate: clock.now(),
  });
  return payload;
}

const kidsOf = (jwks: { keys: JWK[] }): string[] => jwks.keys.map((k) => k.kid!).sort();
const sorted = (...k: string[]): string[] => [...k].sort();

describe('KeyManager + JwtSigner on one replica', () => {
  test('start creates a key set with an active and a next key, both in the JWKS', async () => {
    const storage = new CountingStorage();
    const clock = new ManualClock(T0);
    const km = manager(storage, clock);
    await km.start();

    const stored = await storage.getKeySet('signing');
    expect(stored.keys).toHaveLength(2);
    expect(stored.nextRotation).toEqual(new Date(T0.getTime() + P));
    const [a, b] = stored.keys as [KeySet['keys'][0], KeySet['keys'][0]];
    expect(a.activeFrom).toEqual(T0);
    expect(b.activeFrom).toEqual(new Date(T0.getTime() + P));
    expect(storage.counts).toMatchObject({ creates: 1, createConflicts: 0, writes: 0 });
    expect(km.rotations).toBe(0);

    const signer = new JwtSigner(km);
    const jwks = await signer.jwks();
    expect(kidsOf(jwks)).toEqual(sorted(a.kid, b.kid));
    for (const jwk of jwks.keys) {
      expect(jwk).toMatchObject({ kty: 'RSA', use: 'sig', alg: 'RS256' });
      expect(jwk.d).toBeUndefined();
      expect(jwk.kid).toBe(await calculateJwkThumbprint(jwk, 'sha256'));
    }
    expect(signer.algorithm()).toBe('RS256');
    expect(signer.jwksMaxAgeSeconds()).toBe(600);

    const token = await signer.sign(claims(clock));
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'RS256', kid: a.kid });
    expect((await verify(token, jwks, clock)).sub).toBe('CgR1c2VyEgVsb2NhbA');
    // Created once, logged once at info.
    expect(logger.at('info').map((e) => e.msg)).toEqual(['keys: created key set']);
  });

  test('rotation: the formerly-next key (already published) signs; the old key stays published until retention', async () => {
    const storage = new CountingStorage();
    const clock = new ManualClock(T0);
    let hook = 0;
    const km = manager(storage, clock, { onRotate: () => hook++ });
    await km.start();
    const signer = new JwtSigner(km);

    const ks0 = await km.current();
    const A = activeKey(ks0, clock.now())!.kid;
    const B = nextKey(ks0, clock.now())!.kid;
    const jwksBefore = await signer.jwks();
    expect(kidsOf(jwksBefore)).toEqual(sorted(A, B));
    const tokenA = await signer.sign(claims(clock));

    clock.advance(P - 1);
    expect(decodeProtectedHeader(await signer.sign(claims(clock))).kid).toBe(A);
    expect(km.rotations).toBe(0);

    clock.advance(1); // exactly nextRotation
    const tokenB = await signer.sign(claims(clock));
    expect(decodeProtectedHeader(tokenB)).toEqual({ alg: 'RS256', kid: B });
    expect(kidsOf(jwksBefore)).toContain(B); // published one full step before it signed
    // A relying party that cached the JWKS before the rotation verifies the new token without refetching.
    await verify(tokenB, jwksBefore, clock);
    expect(km.rotations).toBe(1);
    expect(hook).toBe(1);
    expect(storage.counts.writes).toBe(1);

    const ks1 = await storage.getKeySet('signing');
    const C = nextKey(ks1, clock.now())!.kid;
    expect(ks1.keys.map((k) => k.kid)).toEqual([A, B, C]);
    const oldA = ks1.keys[0]!;
    expect(oldA.retiredAt).toEqual(clock.now());
    expect(oldA.publishUntil).toEqual(new Date(T0.getTime() + P + R));
    expect(ks1.nextRotation).toEqual(new Date(T0.getTime() + 2 * P));
    expect(kidsOf(await signer.jwks())).toEqual(sorted(A, B, C));

    // Every token A signed (the last one at T0 + P - 1, living R) verifies until it expires: step through
    // the rotations (every P) up to just before A's publishUntil.
    const lastA = clock.now().getTime() - 1;
    const tokenLastA = await (async () => {
      const c = new ManualClock(new Date(lastA));
      return new JwtSigner(km, c).sign(claims(c));
    })();
    expect(decodeProtectedHeader(tokenLastA).kid).toBe(A);
    for (let i = 2; i <= 4; i++) {
      clock.set(new Date(T0.getTime() + i * P));
      await km.refreshNow();
    }
    expect(km.rotations).toBe(4);
    // tokenLastA's exp (whole seconds) is T0 + P - 1 s + R: it verifies up to then.
    clock.set(new Date(T0.getTime() + P + R - 1001));
    const jwksLate = await signer.jwks();
    expect(kidsOf(jwksLate)).toContain(A);
    await verify(tokenLastA, jwksLate, clock);
    await expect(verify(tokenA, jwksLate, clock)).rejects.toThrow(/exp/); // expired by its own exp, not by key loss
    clock.set(new Date(T0.getTime() + P + R - 1));
    expect(kidsOf(await signer.jwks())).toContain(A);

    clock.set(new Date(T0.getTime() + P + R)); // A's publishUntil (also the 5th rotation instant)
    const jwksAfter = await signer.jwks();
    expect(kidsOf(jwksAfter)).not.toContain(A);
    expect(kidsOf(jwksAfter)).toContain(B);
    expect((await storage.getKeySet('signing')).keys.map((k) => k.kid)).not.toContain(A);
    expect(km.rotations).toBe(5);
    expect(storage.counts.writes).toBe(5);
  });

  test('a replica that has not re-read storage switches to the next key at its instant', async () => {
    const storage = new CountingStorage();
    const clock = new ManualClock(T0);
    const a = manager(storage, clock);
    const b = manager(storage, clock);
    await a.start();
    await b.start();
    const cachedB = b.cachedKeySet()!;
    const B = nextKey(cachedB, clock.now())!.kid;
    clock.advance(P);
    await a.refreshNow(); // a rotates and writes
    expect(a.rotations).toBe(1);
    expect(b.cachedKeySet()).toBe(cachedB); // b has not re-read
    expect(activeKey(cachedB, clock.now())!.kid).toBe(B);
    // b's signer re-reads because its cached set is due, adopts a's rotation, and signs with B.
    const token = await new JwtSigner(b).sign(claims(clock));
    expect(decodeProtectedHeader(token).kid).toBe(B);
    expect(b.rotations).toBe(0);
    expect(b.cachedKeySet()).toEqual(await storage.getKeySet('signing'));
    expect(storage.counts.writes).toBe(1);
  });

  test('a restarted process adopts the stored keys instead of creating new ones', async () => {
    const storage = new CountingStorage();
    const clock = new ManualClock(T0);
    const first = manager(storage, clock);
    await first.start();
    const token = await new JwtSigner(first).sign(claims(clock));
    first.stop();
    clock.advance(H);
    const second = manager(storage, clock);
    await second.start();
    expect(second.cachedKeySet()).toEqual(first.cachedKeySet());
    expect(storage.counts).toMatchObject({ creates: 1, writes: 0 });
    await verify(token, await new JwtSigner(second).jwks(), clock);
  });

  test('signing N tokens imports the key once; a rotation imports the next key once', async () => {
    const storage = new CountingStorage();
    const clock = new ManualClock(T0);
    const km = manager(storage, clock, { algorithm: 'ES256' });
    await km.start();
    const signer = new JwtSigner(km);
    const tokens = await Promise.all(Array.from({ length: 25 }, () => signer.sign(claims(clock))));
    for (let i = 0; i < 5; i++) tokens.push(await signer.sign(claims(clock)));
    expect(signer.imports).toBe(1);
    expect(new Set(tokens).size).toBe(30); // ECDSA signatures are randomised: all distinct
    const jwks = await signer.jwks();
    for (const t of tokens) await verify(t, jwks, clock);
    clock.advance(P);
    await Promise.all(Array.from({ length: 10 }, () => signer.sign(claims(clock))));
    expect(signer.imports).toBe(2);
    expect(km.rotations).toBe(1);
  });

  test('ES256 keys sign ES256 tokens that verify against the JWKS', async () => {
    const storage = new CountingStorage();
    const clock = new ManualClock(T0);
    const km = manager(storage, clock, { algorithm: 'ES256' });
    await km.start();
    const signer = new JwtSigner(km);
    expect(signer.algorithm()).toBe('ES256');
    const token = await signer.sign(claims(clock));
    const header = decodeProtectedHeader(token);
    expect(Object.keys(header).sort()).toEqual(['alg', 'kid']);
    expect(header.alg).toBe('ES256');
    const jwks = await signer.jwks();
    expect(jwks.keys.map((k) => [k.kty, k.crv, k.alg, k.use])).toEqual([
      ['EC', 'P-256', 'ES256', 'sig'],
      ['EC', 'P-256', 'ES256', 'sig'],
    ]);
    expect(jwks.keys.find((k) => k.kid === header.kid)).toBeDefined();
    await verify(token, jwks, clock);
  });

  test('a typ asked for is written to the header after alg and kid; without one there is none', async () => {
    const storage = new CountingStorage();
    const clock = new ManualClock(T0);
    const km = manager(storage, clock);
    await km.start();
    const signer = new JwtSigner(km);
    const kid = activeKey(km.cachedKeySet()!, clock.now())!.kid;
    const typed = await signer.sign(claims(clock), { typ: 'logout+jwt' });
    expect(decodeProtectedHeader(typed)).toEqual({ alg: 'RS256', kid, typ: 'logout+jwt' });
    const jwks = await signer.jwks();
    const { protectedHeader } = await jwtVerify(typed, createLocalJWKSet(jwks), {
      issuer: ISS,
      audience: 'kubernetes',
      currentDate: clock.now(),
      typ: 'logout+jwt',
    });
    expect(protectedHeader.typ).toBe('logout+jwt');
    // The same signer's ID and access tokens keep Dex's header.
    const plain = await signer.sign(claims(clock), {});
    expect(decodeProtectedHeader(plain)).toEqual({ alg: 'RS256', kid });
    await expect(
      jwtVerify(plain, createLocalJWKSet(jwks), { currentDate: clock.now(), typ: 'logout+jwt' }),
    ).rejects.toThrow(/typ/);
  });

  test('an algorithm change applies at the next rotation, with the new key pre-published', async () => {
    const storage = new CountingStorage();
    const clock = new ManualClock(T0);
    const rs = manager(storage, clock, { algorithm: 'RS256' });
    await rs.start();
    rs.stop();
    const es = manager(storage, clock, { algorithm: 'ES256' });
    await es.start();
    const signer = new JwtSigner(es);
    clock.advance(P);
    // The already-published next key is RS256: it signs for this step; the fresh next key is ES256.
    expect(decodeProtectedHeader(await signer.sign(claims(clock))).alg).toBe('RS256');
    expect(signer.algorithms()).toEqual(['ES256', 'RS256']);
    clock.advance(P);
    const token = await signer.sign(claims(clock));
    expect(decodeProtectedHeader(token).alg).toBe('ES256');
    await verify(token, await signer.jwks(), clock);
  });

  test('catch-up after a long downtime: one rotation; the fresh key waits a full period', async () => {
    const storage = new CountingStorage();
    const clock = new ManualClock(T0);
    const before = manager(storage, clock);
    await before.start();
    const ks0 = before.cachedKeySet()!;
    const [A, B] = ks0.keys.map((k) => k.kid) as [string, string];
    before.stop();

    clock.advance(10 * P + 17 * 60 * 1000); // down for ten periods and a bit
    const now = clock.now();
    const after = manager(storage, clock);
    await after.start();
    expect(after.rotations).toBe(1);
    expect(storage.counts.writes).toBe(1);
    const ks = await storage.getKeySet('signing');
    const C = ks.keys[2]!.kid;
    expect(ks.keys.map((k) => k.kid)).toEqual([A, B, C]);
    expect(activeKey(ks, now)!.kid).toBe(B);
    expect(ks.keys[0]!.retiredAt).toEqual(now);
    expect(ks.keys[0]!.publishUntil).toEqual(new Date(now.getTime() + R));
    expect(ks.keys[2]!.activeFrom).toEqual(new Date(now.getTime() + P));
    expect(ks.nextRotation).toEqual(new Date(now.getTime() + P));
    const token = await new JwtSigner(after).sign(claims(clock));
    expect(decodeProtectedHeader(token).kid).toBe(B);
  });

  test('storage failing while a rotation is due: signing goes on with the pre-published key, warned once', async () => {
    const storage = new CountingStorage();
    const clock = new ManualClock(T0);
    const km = manager(storage, clock);
    await km.start();
    const B = nextKey(km.cachedKeySet()!, clock.now())!.kid;
    const signer = new JwtSigner(km);
    clock.advance(P);
    storage.failing = true;
    const token = await signer.sign(claims(clock));
    expect(decodeProtectedHeader(token).kid).toBe(B);
    expect(logger.at('warn')).toHaveLength(1);
    expect(logger.at('warn')[0]!.msg).toMatch(/using the cached one/);
    logger.entries.length = 0; // expected here; the afterEach check is for the other tests
    storage.failing = false;
    await km.refreshNow();
    expect(km.rotations).toBe(1);
  });

  test('a signer needs a signing key manager', () => {
    const km = new KeyManager(new CountingStorage(), {
      name: 'sealing',
      kind: 'sealing',
      rotationPeriodMs: P,
      retentionMs: R,
    });
    expect(() => new JwtSigner(km)).toThrow(TypeError);
    expect(
      () =>
        new KeyManager(new CountingStorage(), {
          name: 'signing',
          kind: 'signing',
          rotationPeriodMs: 0,
          retentionMs: R,
        }),
    ).toThrow(RangeError);
  });
});

describe('replicas racing', () => {
  test.each([2, 5])('%i managers: one key set, one rotation, no warnings', async (n) => {
    const storage = new CountingStorage();
    const clock = new ManualClock(T0);
    const ms = Array.from({ length: n }, () => manager(storage, clock));
    await Promise.all(ms.map((m) => m.start()));

    expect(storage.counts.creates).toBe(n);
    expect(storage.counts.createConflicts).toBe(n - 1);
    const stored = await storage.getKeySet('signing');
    for (const m of ms) expect(m.cachedKeySet()).toEqual(stored);
    expect(logger.at('info').map((e) => e.msg)).toEqual(['keys: created key set']);
    expect(logger.at('debug').filter((e) => /another replica/.test(e.msg ?? ''))).toHaveLength(n - 1);

    clock.advance(P);
    await Promise.all(ms.map((m) => m.refreshNow()));
    expect(ms.reduce((s, m) => s + m.rotations, 0)).toBe(1);
    expect(storage.counts.writes).toBe(1);
    expect(storage.counts.updates).toBe(n); // every replica saw the due set and tried; one wrote
    const rotated = await storage.getKeySet('signing');
    expect(rotated.keys).toHaveLength(3);
    for (const m of ms) expect(m.cachedKeySet()).toEqual(rotated);
    expect(logger.at('info').filter((e) => e.msg === 'keys: rotated')).toHaveLength(1);
    expect(
      logger.at('debug').filter((e) => e.msg === 'keys: already rotated by another replica'),
    ).toHaveLength(n - 1);

    // Tokens signed by any replica verify against any replica's JWKS.
    const tokens = await Promise.all(ms.map((m) => new JwtSigner(m).sign(claims(clock))));
    for (const m of ms) {
      const jwks = await new JwtSigner(m).jwks();
      for (const t of tokens) await verify(t, jwks, clock);
    }
  });
});
