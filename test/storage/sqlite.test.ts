import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ConflictError, NotFoundError, UnavailableError } from '../../src/storage/errors.js';
import { encodeBody } from '../../src/storage/sqlite/codec.js';
import { MIGRATIONS, migrate, schemaVersion } from '../../src/storage/sqlite/migrations.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite.js';
import { runStorageConformance } from './conformance.js';
import { rejection } from './conformance/context.js';
import * as f from './fixtures.js';
import { raceWorkers } from './sqlite/processes.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-sqlite-'));
  dirs.push(dir);
  return join(dir, 'latchkey.db');
}

runStorageConformance('sqlite3', async (opts) => {
  const storage = SqliteStorage.open(tempFile(), opts);
  return { storage, cleanup: () => storage.close() };
});

describe('sqlite3 file', () => {
  it('survives a restart with clients, keys and tokens intact', async () => {
    const file = tempFile();
    const first = SqliteStorage.open(file);
    const clients = f.ids('client', 3).map(f.client);
    for (const c of clients) await first.createClient(c);
    await first.createKeySet(f.keySet('signing'));
    await first.createRefreshToken(f.refreshToken('rt', new Date('2030-01-01T00:00:00.001+03:00')));
    await first.createConnector(f.connector('ldap'));
    const connectorBefore = await first.getConnector('ldap');
    await first.close();

    const second = SqliteStorage.open(file);
    try {
      expect((await second.listClients()).items).toEqual(clients);
      expect(await second.getKeySet('signing')).toEqual(f.keySet('signing'));
      expect(await second.getRefreshToken('rt')).toEqual(
        f.refreshToken('rt', new Date('2030-01-01T00:00:00.001+03:00')),
      );
      expect(await second.getConnector('ldap')).toEqual(connectorBefore);
      // Resource versions keep growing across restarts, even for a deleted and re-created connector.
      await second.deleteConnector('ldap');
      await second.createConnector(f.connector('ldap'));
      expect(Number((await second.getConnector('ldap')).resourceVersion)).toBeGreaterThan(
        Number(connectorBefore.resourceVersion),
      );
    } finally {
      await second.close();
    }
  });

  it('refuses calls after close as Unavailable', async () => {
    const s = SqliteStorage.open(tempFile());
    await s.close();
    await expect(s.getClient('x')).rejects.toBeInstanceOf(UnavailableError);
    await expect(s.ping()).rejects.toBeInstanceOf(UnavailableError);
  });

  it('reports a write lock held past the busy timeout as Unavailable, then recovers', async () => {
    const file = tempFile();
    const s = SqliteStorage.open(file, { busyTimeoutMs: 50 });
    const other = new DatabaseSync(file);
    try {
      other.exec('BEGIN IMMEDIATE');
      await expect(s.createClient(f.client('blocked'))).rejects.toBeInstanceOf(UnavailableError);
      other.exec('ROLLBACK');
      await s.createClient(f.client('blocked'));
      expect((await s.getClient('blocked')).id).toBe('blocked');
    } finally {
      other.close();
      await s.close();
    }
  });

  it('pings without writing', async () => {
    const file = tempFile();
    const s = SqliteStorage.open(file);
    const observer = new DatabaseSync(file);
    // data_version changes when another connection commits to the file.
    const dataVersion = (): unknown => observer.prepare('PRAGMA data_version').get();
    try {
      const before = dataVersion();
      await s.ping();
      expect(dataVersion()).toEqual(before);
      await s.createClient(f.client('written'));
      expect(dataVersion()).not.toEqual(before);
    } finally {
      observer.close();
      await s.close();
    }
  });

  it('collects a backlog of 1200 expired entities with the default page size', async () => {
    const s = SqliteStorage.open(tempFile());
    try {
      const expiry = new Date('2026-01-01T00:00:00-05:00');
      for (const id of f.ids('ar', 1200)) await s.createAuthRequest(f.authRequest(id, expiry));
      await s.createAuthRequest(f.authRequest('keep', new Date('2026-01-02T00:00:00Z')));
      const result = await s.garbageCollect(new Date('2026-01-01T07:00:00+01:00'));
      expect(result.authRequests).toBe(1200);
      expect((await s.listAuthRequests()).items.map((a) => a.id)).toEqual(['keep']);
    } finally {
      await s.close();
    }
  });
});

describe('sqlite3 schema migrations', () => {
  const versions = (file: string): number[] => {
    const db = new DatabaseSync(file);
    try {
      const rows = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as {
        version: number;
      }[];
      return rows.map((r) => r.version);
    } finally {
      db.close();
    }
  };
  const all = MIGRATIONS.map((_, i) => i + 1);

  it('are applied once however often the file is opened', async () => {
    const file = tempFile();
    await SqliteStorage.open(file).close();
    await SqliteStorage.open(file).close();
    expect(versions(file)).toEqual(all);
  });

  it('apply only what is new, and running them again changes nothing', () => {
    const file = tempFile();
    const db = new DatabaseSync(file);
    try {
      migrate(db);
      // Re-running a CREATE TABLE would fail: passing twice proves the step is skipped.
      const extended = [...MIGRATIONS, 'CREATE TABLE extra (x INTEGER)'];
      expect(migrate(db, extended)).toBe(MIGRATIONS.length + 1);
      expect(migrate(db, extended)).toBe(MIGRATIONS.length + 1);
      expect(schemaVersion(db)).toBe(MIGRATIONS.length + 1);
    } finally {
      db.close();
    }
  });

  it('bring a file of the release before sessions up to date, its rows intact', async () => {
    const file = tempFile();
    const db = new DatabaseSync(file);
    // Migrations 1-2 only, and a client and a refresh token as that release wrote them (no session fields).
    migrate(db, MIGRATIONS.slice(0, 2));
    const client = f.client('old');
    delete client.postLogoutRedirectURIs;
    delete client.backchannelLogoutURI;
    delete client.ssoSharedWith;
    delete client.refreshTokenLifetime;
    const token = f.refreshToken('old-rt');
    delete token.sessionID;
    delete token.sessionBound;
    db.prepare('INSERT INTO clients (id, version, body) VALUES (?, 1, ?)').run('old', encodeBody(client));
    db.prepare('INSERT INTO refresh_tokens (id, version, expiry, body) VALUES (?, 1, NULL, ?)').run(
      'old-rt',
      encodeBody(token),
    );
    db.close();

    const s = SqliteStorage.open(file);
    try {
      expect(versions(file)).toEqual(all);
      expect(await s.getClient('old')).toEqual(client);
      expect(await s.getRefreshToken('old-rt')).toEqual(token);
      await s.createSession(f.session('new'));
      expect(await s.getSession('new')).toEqual(f.session('new'));
    } finally {
      await s.close();
    }
  });

  it('refuse a file whose schema is newer than this build', () => {
    const file = tempFile();
    const db = new DatabaseSync(file);
    migrate(db, [...MIGRATIONS, 'CREATE TABLE from_the_future (x INTEGER)']);
    db.close();
    expect(() => SqliteStorage.open(file)).toThrow(/newer than this build/);
  });

  it('are applied exactly once when four processes open a new file at the same moment', async () => {
    const file = tempFile();
    const results = await raceWorkers<{ opened: boolean }>(Array.from({ length: 4 }, () => ['open', file]));
    expect(results).toEqual(Array(4).fill({ opened: true }));
    expect(versions(file)).toEqual(all);
  });
});

describe('sqlite3 shared by two connections', () => {
  let file: string;
  let a: SqliteStorage;
  let b: SqliteStorage;
  beforeEach(() => {
    file = tempFile();
    a = SqliteStorage.open(file);
    b = SqliteStorage.open(file);
  });
  afterEach(async () => {
    await a.close();
    await b.close();
  });

  it('see each other’s writes at once', async () => {
    await a.createClient(f.client('shared'));
    expect(await b.getClient('shared')).toEqual(f.client('shared'));
    await b.updateClient('shared', (c) => ({ ...c, name: 'renamed' }));
    expect((await a.getClient('shared')).name).toBe('renamed');
  });

  it('never let one connection overwrite a write the other made after it read', async () => {
    await a.createRefreshToken(f.refreshToken('rt'));
    const inner: Promise<unknown>[] = [];
    const err = await rejection(
      a.updateRefreshToken('rt', (r) => {
        inner.push(b.updateRefreshToken('rt', (o) => ({ ...o, nonce: 'from b' })));
        return { ...r, nonce: 'from a' };
      }),
    );
    expect(err).toBeInstanceOf(ConflictError);
    await Promise.all(inner);
    expect((await a.getRefreshToken('rt')).nonce).toBe('from b');
  });

  it('hand a code to exactly one of them', async () => {
    await a.createAuthCode(f.authCode('code'));
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).consumeAuthCode('code')),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(NotFoundError);
  });
});

describe('sqlite3 shared by several processes', () => {
  const PROCESSES = 4;

  it('loses no update when processes increment one counter at the same time', async () => {
    const file = tempFile();
    const setup = SqliteStorage.open(file);
    await setup.createRefreshToken(f.refreshToken('counter'));
    const results = await raceWorkers<{ successes: number; conflicts: number }>(
      Array.from({ length: PROCESSES }, () => ['increment', file, 'counter', '150']),
    );
    try {
      const total = results.reduce((n, r) => n + r.successes, 0);
      expect(total).toBe(PROCESSES * 150);
      expect(Number((await setup.getRefreshToken('counter')).nonce)).toBe(total);
    } finally {
      await setup.close();
    }
  });

  it('consume each code exactly once across processes', async () => {
    const file = tempFile();
    const setup = SqliteStorage.open(file);
    const codes = f.ids('code', 60);
    for (const id of codes) await setup.createAuthCode(f.authCode(id));
    await setup.close();
    const results = await raceWorkers<{ won: string[] }>(
      Array.from({ length: PROCESSES }, (_, i) => [
        'consume',
        file,
        ...(i % 2 ? [...codes].reverse() : codes),
      ]),
    );
    const won = results.flatMap((r) => r.won);
    expect(won).toHaveLength(codes.length);
    expect([...won].sort()).toEqual(codes);
  });
});
