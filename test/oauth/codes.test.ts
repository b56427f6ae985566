import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { CodeGrant } from '../../src/oauth/codes.js';
import { AuthCodes, CodeNotFoundError, codeRedirect, errorRedirect } from '../../src/oauth/codes.js';
import { digest } from '../../src/oauth/digest.js';
import { OAuthError } from '../../src/oauth/errors.js';
import { NotFoundError } from '../../src/storage/errors.js';
import { MemoryStorage } from '../../src/storage/memory/memory.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite.js';
import type { AuthCode, Storage } from '../../src/storage/storage.js';
import { ManualClock } from '../../src/util/clock.js';
import { randomIds } from '../../src/util/ids.js';

const T0 = new Date('2030-05-06T07:08:09.010Z');
const LIFETIME = 60_000;
const ISSUER = 'https://id.example.com/dex';
const INVALID = 'Invalid or expired code parameter.';

const grant = (): CodeGrant => ({
  clientID: 'app',
  redirectURI: 'https://app.example.com/callback',
  scopes: ['openid', 'offline_access'],
  nonce: 'n-1',
  pkce: { codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', codeChallengeMethod: 'S256' },
  claims: {
    userID: 'u-1',
    username: 'Jane',
    preferredUsername: 'jane',
    email: 'jane@example.com',
    emailVerified: true,
    groups: ['admins'],
  },
  connectorID: 'ldap',
  connectorData: Uint8Array.from([7, 8]),
  authTime: new Date('2030-05-06T07:00:00.000Z'),
});

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-codes-'));
  dirs.push(dir);
  return join(dir, 'latchkey.db');
}

interface Backend {
  storages: Storage[];
  /** Every stored code row, as text; undefined where the back end cannot list codes. */
  dump(): string | undefined;
}

const backends: [string, () => Backend][] = [
  ['memory', () => ({ storages: [new MemoryStorage()], dump: () => undefined })],
  [
    'sqlite3 (two connections)',
    () => {
      const file = tempFile();
      return {
        storages: [SqliteStorage.open(file), SqliteStorage.open(file)],
        dump: () => {
          const raw = new DatabaseSync(file, { readOnly: true });
          try {
            return JSON.stringify(raw.prepare('SELECT * FROM auth_codes').all());
          } finally {
            raw.close();
          }
        },
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

describe.each(backends)('AuthCodes on %s', (_name, open) => {
  let backend: Backend;
  let storage: Storage;
  let clock: ManualClock;
  let codes: AuthCodes;
  beforeEach(() => {
    backend = open();
    storage = backend.storages[0]!;
    clock = new ManualClock(T0);
    codes = new AuthCodes(storage, LIFETIME, clock, randomIds);
  });
  afterEach(async () => {
    for (const s of backend.storages) await s.close();
  });

  it('stores the code under its digest only, bound to the grant, with its lifetime', async () => {
    const code = await codes.issue(grant());
    expect(code).toMatch(/^[a-z][a-z2-7]{24}$/);
    const expected: AuthCode = {
      ...grant(),
      id: digest(code),
      expiry: new Date(T0.getTime() + LIFETIME),
    };
    expect(await storage.getAuthCode(digest(code))).toEqual(expected);
    await expect(storage.getAuthCode(code)).rejects.toBeInstanceOf(NotFoundError);
    const dump = backend.dump();
    if (dump !== undefined) {
      expect(dump).toContain(digest(code));
      expect(dump).not.toContain(code);
    }
  });

  it('issues a different code each time', async () => {
    const a = await codes.issue(grant());
    const b = await codes.issue(grant());
    expect(a).not.toBe(b);
  });

  it('redeems once; the second redemption is a CodeNotFoundError naming the digest', async () => {
    const code = await codes.issue(grant());
    const entity = await codes.redeem(code);
    expect(entity).toEqual({ ...grant(), id: digest(code), expiry: new Date(T0.getTime() + LIFETIME) });
    await expect(storage.getAuthCode(digest(code))).rejects.toBeInstanceOf(NotFoundError);

    const e = await rejection(codes.redeem(code));
    expect(e).toBeInstanceOf(CodeNotFoundError);
    expect(e).toMatchObject({ error: 'invalid_grant', description: INVALID, codeDigest: digest(code) });
  });

  it('lets exactly one of 20 concurrent redemptions win', async () => {
    const code = await codes.issue(grant());
    const replicas = backend.storages.map((s) => new AuthCodes(s, LIFETIME, clock, randomIds));
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => replicas[i % replicas.length]!.redeem(code)),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(19);
    for (const r of lost) expect(r.reason).toBeInstanceOf(CodeNotFoundError);
  });

  it('refuses an expired code (and it is gone afterwards); the last millisecond still counts', async () => {
    const fresh = await codes.issue(grant());
    const stale = await codes.issue(grant());
    clock.advance(LIFETIME);
    await expect(codes.redeem(fresh)).resolves.toMatchObject({ id: digest(fresh) });
    clock.advance(1);
    const e = await rejection(codes.redeem(stale));
    expect(e).toBeInstanceOf(OAuthError);
    expect(e).not.toBeInstanceOf(CodeNotFoundError);
    expect(e).toMatchObject({ error: 'invalid_grant', description: INVALID });
    await expect(codes.redeem(stale)).rejects.toBeInstanceOf(CodeNotFoundError);
  });

  it('refuses unknown, empty and over-long codes', async () => {
    await expect(codes.redeem(randomIds.newID())).rejects.toBeInstanceOf(CodeNotFoundError);
    for (const code of ['', 'x'.repeat(257)]) {
      const e = await rejection(codes.redeem(code));
      expect(e).toBeInstanceOf(OAuthError);
      expect(e).not.toBeInstanceOf(CodeNotFoundError);
      expect(e).toMatchObject({ error: 'invalid_grant', description: INVALID });
    }
  });
});

describe('client redirects', () => {
  const iss = 'iss=https%3A%2F%2Fid.example.com%2Fdex';

  it.each<[string, string, string]>([
    ['https://app.example.com/cb', 'st', `https://app.example.com/cb?code=C1&state=st&${iss}`],
    ['https://app.example.com/cb?x=1', 'st', `https://app.example.com/cb?x=1&code=C1&state=st&${iss}`],
    ['https://app.example.com/cb', '', `https://app.example.com/cb?code=C1&${iss}`],
    ['https://app.example.com/cb#frag', 'st', `https://app.example.com/cb?code=C1&state=st&${iss}`],
    [
      'http://127.0.0.1:5555/cb',
      'a b&c=d/é',
      `http://127.0.0.1:5555/cb?code=C1&state=a+b%26c%3Dd%2F%C3%A9&${iss}`,
    ],
  ])('codeRedirect(%j, state %j)', (uri, state, expected) => {
    expect(codeRedirect(uri, { code: 'C1', state, issuer: ISSUER })).toBe(expected);
  });

  it.each<[string, string, string]>([
    [
      'https://app.example.com/cb',
      'st',
      `https://app.example.com/cb?error=access_denied&error_description=No+thanks.&state=st&${iss}`,
    ],
    [
      'https://app.example.com/cb?x=1&y=2',
      'st',
      `https://app.example.com/cb?x=1&y=2&error=access_denied&error_description=No+thanks.&state=st&${iss}`,
    ],
    [
      'https://app.example.com/cb',
      '',
      `https://app.example.com/cb?error=access_denied&error_description=No+thanks.&${iss}`,
    ],
  ])('errorRedirect(%j, state %j)', (uri, state, expected) => {
    expect(
      errorRedirect(uri, { error: 'access_denied', description: 'No thanks.', state, issuer: ISSUER }),
    ).toBe(expected);
  });
});
