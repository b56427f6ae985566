import { base64url, compactDecrypt, decodeProtectedHeader } from 'jose';
import { KeyManager } from '../../src/keys/manager.js';
import { activeKey } from '../../src/keys/rotation.js';
import { Sealer, UnsealError, type UnsealErrorCode } from '../../src/keys/sealer.js';
import { ManualClock } from '../../src/util/clock.js';
import { CountingStorage, H, recordingLogger, T0 } from './helpers.js';

const P = 6 * H;
const R = 24 * H; // expiry.authRequests

let managers: KeyManager[] = [];
let logger: ReturnType<typeof recordingLogger>;

beforeEach(() => {
  managers = [];
  logger = recordingLogger();
});

afterEach(() => {
  for (const m of managers) m.stop();
  expect(logger.at('warn')).toEqual([]);
  expect(logger.at('error')).toEqual([]);
});

async function setup(
  retentionMs = R,
): Promise<{ storage: CountingStorage; clock: ManualClock; km: KeyManager }> {
  const storage = new CountingStorage();
  const clock = new ManualClock(T0);
  const km = new KeyManager(storage, {
    name: 'sealing',
    kind: 'sealing',
    rotationPeriodMs: P,
    retentionMs,
    clock,
    logger,
  });
  managers.push(km);
  await km.start();
  return { storage, clock, km };
}

async function unsealCode(p: Promise<unknown>): Promise<UnsealErrorCode | 'resolved'> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    if (e instanceof UnsealError) return e.code;
    throw e;
  }
}

const request = {
  clientID: 'example-app',
  redirectURI: 'http://127.0.0.1:5555/callback',
  state: 's',
  nonce: 'n',
  scopes: ['openid'],
};

describe('Sealer', () => {
  test('round trip; compact dir/A256GCM JWE with kid, iat and exp; nothing in clear', async () => {
    const { clock, km, storage } = await setup();
    const sealer = new Sealer(km);
    const sealed = await sealer.seal(request);
    const parts = sealed.split('.');
    expect(parts).toHaveLength(5);
    expect(parts[1]).toBe('');
    const kid = activeKey(km.cachedKeySet()!, clock.now())!.kid;
    const iat = T0.getTime() / 1000;
    expect(decodeProtectedHeader(sealed)).toEqual({
      alg: 'dir',
      enc: 'A256GCM',
      kid,
      iat,
      exp: iat + R / 1000,
    });
    expect(sealed).not.toContain('example-app');
    expect(Buffer.from(parts[3]!, 'base64url').toString('latin1')).not.toContain('example-app');
    expect(await sealer.unseal<typeof request>(sealed)).toEqual(request);
    // Without aad it is a standard compact JWE.
    const stored = (await storage.getKeySet('sealing')).keys[0]!;
    const { plaintext } = await compactDecrypt(sealed, base64url.decode(stored.privateJwk.k as string));
    expect(JSON.parse(new TextDecoder().decode(plaintext))).toEqual(request);
    // Another replica (another Sealer on the same storage) unseals it too.
    const other = new KeyManager(storage, {
      name: 'sealing',
      kind: 'sealing',
      rotationPeriodMs: P,
      retentionMs: R,
      clock,
      logger,
    });
    managers.push(other);
    await other.start();
    expect(await new Sealer(other).unseal(sealed)).toEqual(request);
    expect(storage.counts.creates).toBe(1);
  });

  test('aad binds a sealed value to a browser', async () => {
    const { km } = await setup();
    const sealer = new Sealer(km);
    const sealed = await sealer.seal(request, 'cookie-value-1');
    expect(sealed).not.toContain(base64url.encode('cookie-value-1'));
    expect(await sealer.unseal(sealed, 'cookie-value-1')).toEqual(request);
    expect(await unsealCode(sealer.unseal(sealed, 'cookie-value-2'))).toBe('invalid');
    expect(await unsealCode(sealer.unseal(sealed))).toBe('invalid');
    expect(await unsealCode(sealer.unseal(sealed, ''))).toBe('invalid');
    const unbound = await sealer.seal(request);
    expect(await unsealCode(sealer.unseal(unbound, 'cookie-value-1'))).toBe('invalid');
    expect(await unsealCode(sealer.unseal(unbound, ''))).toBe('invalid');
    // An empty aad would bind nothing (JWE drops empty AAD): refused.
    await expect(sealer.seal(request, '')).rejects.toThrow(TypeError);
  });

  test('tampering and garbage give typed errors', async () => {
    const { km } = await setup();
    const sealer = new Sealer(km);
    const sealed = await sealer.seal(request, 'c');
    const [prot, , iv, ct, tag] = sealed.split('.') as [string, string, string, string, string];
    const flip = (s: string, i = 0): string => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const header = decodeProtectedHeader(sealed);

    expect(await unsealCode(sealer.unseal([prot, '', iv, flip(ct), tag].join('.'), 'c'))).toBe('invalid');
    expect(await unsealCode(sealer.unseal([prot, '', iv, ct, flip(tag)].join('.'), 'c'))).toBe('invalid');
    expect(await unsealCode(sealer.unseal([prot, '', flip(iv), ct, tag].join('.'), 'c'))).toBe('invalid');
    // A header rewritten to extend exp fails authentication.
    const longer = base64url.encode(JSON.stringify({ ...header, exp: (header.exp as number) + 3600 }));
    expect(await unsealCode(sealer.unseal([longer, '', iv, ct, tag].join('.'), 'c'))).toBe('invalid');
    // An unknown kid.
    const stranger = base64url.encode(JSON.stringify({ ...header, kid: 'nobody' }));
    expect(await unsealCode(sealer.unseal([stranger, '', iv, ct, tag].join('.'), 'c'))).toBe('unknown_key');
    // Wrong algorithms or shape.
    const rsa = base64url.encode(JSON.stringify({ ...header, alg: 'RSA-OAEP' }));
    expect(await unsealCode(sealer.unseal([rsa, '', iv, ct, tag].join('.'), 'c'))).toBe('malformed');
    expect(await unsealCode(sealer.unseal([prot, 'AAAA', iv, ct, tag].join('.'), 'c'))).toBe('malformed');
    expect(await unsealCode(sealer.unseal('not.a.jwe', 'c'))).toBe('malformed');
    expect(await unsealCode(sealer.unseal('', 'c'))).toBe('malformed');
    expect(await unsealCode(sealer.unseal('!!!..a.b.c', 'c'))).toBe('malformed');
    // Untouched still works.
    expect(await sealer.unseal(sealed, 'c')).toEqual(request);
  });

  test('a sealed value expires after maxAge (default: the retention)', async () => {
    const { clock, km } = await setup(H);
    const sealer = new Sealer(km);
    const sealed = await sealer.seal(request);
    clock.advance(H - 1);
    expect(await sealer.unseal(sealed)).toEqual(request);
    clock.advance(1);
    expect(await unsealCode(sealer.unseal(sealed))).toBe('expired');
    const short = new Sealer(km, { maxAgeMs: 60_000 });
    const s2 = await short.seal(request);
    clock.advance(60_000);
    expect(await unsealCode(short.unseal(s2))).toBe('expired');
  });

  test('a rotated sealing key still unseals until its retention passes, then unknown_key', async () => {
    const { clock, km } = await setup();
    // A generous max age, so only the key's retention limits the sealed value here.
    const sealer = new Sealer(km, { maxAgeMs: 100 * R });
    clock.set(new Date(T0.getTime() + P - 1000));
    const sealedOld = await sealer.seal(request, 'c');
    const oldKid = decodeProtectedHeader(sealedOld).kid;

    clock.set(new Date(T0.getTime() + P)); // rotation
    const sealedNew = await sealer.seal(request, 'c');
    expect(km.rotations).toBe(1);
    expect(decodeProtectedHeader(sealedNew).kid).not.toBe(oldKid);
    expect(await sealer.unseal(sealedOld, 'c')).toEqual(request);
    const retired = km.cachedKeySet()!.keys.find((k) => k.kid === oldKid)!;
    expect(retired.publishUntil).toEqual(new Date(T0.getTime() + P + R));

    for (let i = 2; i <= 4; i++) {
      clock.set(new Date(T0.getTime() + i * P));
      await km.refreshNow();
    }
    clock.set(new Date(T0.getTime() + P + R - 1));
    expect(await sealer.unseal(sealedOld, 'c')).toEqual(request);
    clock.set(new Date(T0.getTime() + P + R));
    expect(await unsealCode(sealer.unseal(sealedOld, 'c'))).toBe('unknown_key');
    expect(await sealer.unseal(sealedNew, 'c')).toEqual(request);
    expect(km.rotations).toBe(5);
  });

  test('sealing keys are never published and a Sealer needs a sealing manager', async () => {
    const { storage } = await setup();
    const ks = await storage.getKeySet('sealing');
    expect(ks.keys.map((k) => k.publicJwk)).toEqual([undefined, undefined]);
    expect(ks.keys.map((k) => k.alg)).toEqual(['A256GCM', 'A256GCM']);
    const signing = new KeyManager(storage, {
      name: 'signing',
      kind: 'signing',
      rotationPeriodMs: P,
      retentionMs: R,
    });
    expect(() => new Sealer(signing)).toThrow(TypeError);
  });
});
