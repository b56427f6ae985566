import { createLocalJWKSet, jwtVerify } from 'jose';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyManager } from '../../src/keys/manager.js';
import { JwtSigner } from '../../src/keys/signer.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite.js';
import { ManualClock } from '../../src/util/clock.js';
import { H, T0 } from './helpers.js';

// Two replicas = two SqliteStorage connections on one file, each with its own KeyManager and signer,
// sharing one clock so the rotation instant is deterministic.
describe('two replicas sharing one SQLite file', () => {
  const P = 6 * H;
  const clock = new ManualClock(T0);
  const stores: SqliteStorage[] = [];
  const managers: KeyManager[] = [];
  let rotations = 0;

  async function replica(file: string): Promise<JwtSigner> {
    const storage = SqliteStorage.open(file);
    stores.push(storage);
    const keys = new KeyManager(storage, {
      name: 'signing',
      kind: 'signing',
      rotationPeriodMs: P,
      retentionMs: 24 * H,
      clock,
      onRotate: () => rotations++,
    });
    managers.push(keys);
    return new JwtSigner(keys, clock);
  }

  afterAll(async () => {
    for (const m of managers) m.stop();
    for (const s of stores) await s.close();
  });

  it('rotate once and verify each other’s tokens before and after the rotation', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'latchkey-replicas-')), 'shared.db');
    const [a, b] = await Promise.all([replica(file), replica(file)]);
    await Promise.all(managers.map((m) => m.start()));

    const crossCheck = async () => {
      const now = Math.floor(clock.now().getTime() / 1000);
      const claims = { iss: 'https://issuer.example', sub: 'x', aud: 'c', iat: now, exp: now + 3600 };
      const [ta, tb] = await Promise.all([a.sign(claims), b.sign(claims)]);
      const [ja, jb] = await Promise.all([a.jwks(), b.jwks()]);
      expect(ja).toEqual(jb);
      const opts = { currentDate: clock.now() };
      await expect(jwtVerify(ta, createLocalJWKSet(jb), opts)).resolves.toBeDefined();
      await expect(jwtVerify(tb, createLocalJWKSet(ja), opts)).resolves.toBeDefined();
      return ja.keys.length;
    };

    expect(await crossCheck()).toBe(2);
    clock.advance(P + 1000);
    await Promise.all(managers.map((m) => m.refreshNow()));
    expect(rotations).toBe(1);
    expect(await crossCheck()).toBe(3);
    // A second look by both replicas does not rotate again within the same step.
    await Promise.all(managers.map((m) => m.refreshNow()));
    expect(rotations).toBe(1);
  });
});
