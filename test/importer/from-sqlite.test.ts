import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { DexSqliteSource } from '../../src/importer/dex-sqlite.js';
import { importDex } from '../../src/importer/import-dex.js';
import { digest } from '../../src/oauth/digest.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite.js';
import { MemoryStorage } from '../../src/storage/memory/memory.js';
import { withStaticOverlay } from '../../src/storage/static.js';
import type { Client, ListOptions, Page, Storage } from '../../src/storage/storage.js';
import { runCli, startServer, type ServerProcess } from '../helpers/cli.js';
import { writeTestConfig, type TestServerConfig } from '../helpers/config.js';
import {
  ALICE,
  DASHBOARD,
  KUBECTL,
  buildDexInstallation,
  currentToken,
  dexNewID,
  secretsOf,
  wireOf,
  writeDexSqlite,
  type DexInstallation,
} from '../helpers/dex-fixtures.js';
import { startInProcess, type InProcessServer } from '../helpers/in-process.js';
import { goJsonTime, goSqliteTime } from '../fixtures/dex/formats.js';
import {
  LATCHKEY_EXTRA,
  expectClientAndPasswordLogIn,
  expectDexKeysPublished,
  expectDexRefreshTokensWork,
  expectNoSecrets,
  importSettings,
  waitForDexKey,
} from './checks.js';

// `latchkey import dex` from a Dex SQLite file (Dex's schema from its migrations, rows in Dex's formats):
// into memory storage (Latchkey in this process, the importer as a library) and into SQLite storage (the
// real CLI, then the real server on the imported file). What is proven for each: Dex's refresh tokens
// refresh with the same sub, email and groups; ID tokens Dex signed verify against Latchkey's JWKS; the
// imported client logs in with its Dex secret and the imported password logs in. For the CLI also: a dry
// run writes nothing, a second run changes nothing, conflicts are reported and skipped (--overwrite
// replaces them), Dex's newer state of a token is picked up, no secret is ever printed, Dex's file is only
// read, and sources that cannot be imported say so.

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'latchkey-import-sqlite-'));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const fileHash = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

async function countAll<T>(list: (o: ListOptions) => Promise<Page<T>>): Promise<number> {
  let n = 0;
  let opts: ListOptions = {};
  for (;;) {
    const page = await list(opts);
    n += page.items.length;
    if (page.continue === undefined) return n;
    opts = { continue: page.continue };
  }
}

/** Every stored object Latchkey counts, by kind (signing keys: the keys of the set). */
async function counts(s: Storage): Promise<Record<string, number>> {
  const keys = await s.getKeySet('signing').then(
    (ks) => ks.keys.length,
    () => 0,
  );
  return {
    clients: await countAll((o) => s.listClients(o)),
    passwords: await countAll((o) => s.listPasswords(o)),
    connectors: await countAll((o) => s.listConnectors(o)),
    refreshTokens: await countAll((o) => s.listRefreshTokens(o)),
    signingKeys: keys,
  };
}

describe('Dex SQLite → memory storage (Latchkey in process)', () => {
  let inst: DexInstallation;
  let server: InProcessServer;
  const extra = `${LATCHKEY_EXTRA}\nsigner:\n  type: local\n  config:\n    keysRotationPeriod: 8s`;

  beforeAll(async () => {
    inst = await buildDexInstallation();
    const dexFile = join(tmp, 'dex-for-memory.db');
    writeDexSqlite(dexFile, inst);
    server = await startInProcess(extra);
    const source = DexSqliteSource.open(dexFile);
    try {
      const report = await importDex(source, server.running.storage, {
        apply: true,
        overwrite: false,
        pace: { parallel: 8 },
        clock: server.clock,
        ...importSettings(extra),
        target: 'memory',
      });
      expect(report.failures).toEqual([]);
      expect(report.kinds).toEqual({
        connectors: { read: 2, created: 1, updated: 0, unchanged: 0, conflicts: 0, skipped: 1, failed: 0 },
        clients: { read: 3, created: 3, updated: 0, unchanged: 0, conflicts: 0, skipped: 0, failed: 0 },
        passwords: { read: 2, created: 2, updated: 0, unchanged: 0, conflicts: 0, skipped: 0, failed: 0 },
        signingKeys: { read: 3, created: 2, updated: 0, unchanged: 0, conflicts: 0, skipped: 1, failed: 0 },
        refreshTokens: { read: 6, created: 3, updated: 0, unchanged: 0, conflicts: 0, skipped: 3, failed: 0 },
      });
      expect(report.shortLived).toEqual({
        authRequests: 1,
        authCodes: 1,
        deviceRequests: 1,
        deviceTokens: 1,
      });
    } finally {
      await source.close();
    }
    // The running key manager re-reads its key set every period / 4.
    await waitForDexKey(server.issuer, inst);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it("refreshes Dex's refresh tokens with the same sub, email and groups", async () => {
    await expectDexRefreshTokensWork(server.issuer, inst);
  });

  it("verifies ID tokens signed with Dex's keys against /keys", async () => {
    await expectDexKeysPublished(server.issuer, inst);
  });

  it('logs the imported client in with its Dex secret, and the imported password', async () => {
    await expectClientAndPasswordLogIn(server.issuer);
  });
});

describe('Dex SQLite → SQLite storage (the CLI, then the server)', () => {
  let inst: DexInstallation;
  let dexFile: string;
  let cfg: TestServerConfig;
  let server: ServerProcess | undefined;
  let secrets: string[];
  const latchkeyDb = () => join(cfg.dir, 'latchkey.db');
  const importArgs = (...more: string[]) => [
    'import',
    'dex',
    '--config',
    cfg.file,
    '--from',
    'sqlite3',
    '--file',
    dexFile,
    ...more,
  ];
  async function withStorage<T>(fn: (s: SqliteStorage) => Promise<T>): Promise<T> {
    const s = SqliteStorage.open(latchkeyDb());
    try {
      return await fn(s);
    } finally {
      await s.close();
    }
  }

  beforeAll(async () => {
    inst = await buildDexInstallation();
    secrets = secretsOf(inst);
    dexFile = join(tmp, 'dex.db');
    writeDexSqlite(dexFile, inst);
    cfg = await writeTestConfig({ extra: LATCHKEY_EXTRA });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    if (cfg) await rm(cfg.dir, { recursive: true, force: true });
  });

  it('dry run (the default) writes nothing: no database is created, an existing one keeps its counts', async () => {
    const first = await runCli(importArgs());
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('DRY RUN: nothing was written');
    expect(first.stdout).toMatch(/refresh tokens\s+6\s+3\s+0\s+0\s+0\s+3\s+0/);
    expect(existsSync(latchkeyDb())).toBe(false);

    // Latchkey's own client with the dashboard's ID, differently configured: a conflict.
    await withStorage((s) =>
      s.createClient({
        id: DASHBOARD.id,
        secret: 'latchkey-side-secret',
        redirectURIs: ['https://elsewhere.example.com/callback'],
        trustedPeers: [],
        public: false,
        name: 'Dashboard (Latchkey)',
        logoURL: '',
      }),
    );
    const before = await withStorage(counts);
    const hashBefore = fileHash(latchkeyDb());
    const second = await runCli(importArgs('--dry-run'));
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(
      'clients "dashboard": differs in secret, redirectURIs, trustedPeers, name, logoURL',
    );
    expect(await withStorage(counts)).toEqual(before);
    expect(fileHash(latchkeyDb())).toBe(hashBefore);
    expectNoSecrets(first.stdout + first.stderr + second.stdout + second.stderr, secrets);
  });

  it("--apply imports, reports and skips the conflict, prints no secret and leaves Dex's file as it was", async () => {
    const dexHash = fileHash(dexFile);
    const r = await runCli(importArgs('--apply'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Dex import — applied.');
    expect(r.stdout).toContain('Conflicts (skipped; --overwrite replaces them):');
    expect(r.stdout).toMatch(/clients "dashboard": differs in .*; skipped/);
    expect(r.stdout).toMatch(/connectors "corp-saml": Latchkey cannot run it: .*saml/);
    expect(r.stdout).toContain(
      'Not imported (short-lived; logins in progress restart at Latchkey): 1 auth requests, 1 auth codes, 1 device requests, 1 device tokens.',
    );
    expect(r.stderr).toContain('refresh tokens: 6/6 read, 3 created');
    expectNoSecrets(r.stdout + r.stderr, secrets);
    expect(fileHash(dexFile)).toBe(dexHash);

    const stored = await withStorage(async (s) => ({
      dashboard: await s.getClient(DASHBOARD.id),
      kubectl: await s.getClient(KUBECTL.id),
      counts: await counts(s),
    }));
    expect(stored.dashboard.redirectURIs).toEqual(['https://elsewhere.example.com/callback']);
    // Stored as a digest: Latchkey's storage holds no live client secret.
    expect(stored.kubectl.secret).toBe(`sha256:${digest(KUBECTL.secret)}`);
    // 3 Dex clients (1 conflicting), 2 passwords, 1 connector, 3 tokens, 2 Latchkey keys + 2 of Dex's.
    expect(stored.counts).toEqual({
      clients: 3,
      passwords: 2,
      connectors: 1,
      refreshTokens: 3,
      signingKeys: 4,
    });
  });

  it('a second --apply reports 0 changes', async () => {
    const r = await runCli(importArgs('--apply', '--output', 'json'));
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as {
      changes: number;
      conflicts: unknown[];
      kinds: Record<string, { unchanged: number }>;
    };
    expect(report.changes).toBe(0);
    expect(report.conflicts).toHaveLength(1);
    expect(report.kinds.refreshTokens!.unchanged).toBe(3);
    expect(report.kinds.signingKeys!.unchanged).toBe(2);
    expectNoSecrets(r.stdout + r.stderr, secrets);
  });

  it('picks up a refresh token Dex rotated since the last import (re-running before the switch)', async () => {
    const t = currentToken(inst, ALICE.userID, 'local', KUBECTL.id);
    const oldWire = wireOf(t);
    // What Dex writes when its client refreshes: a new secret, the old one obsolete, last used now.
    t.obsoleteToken = t.token;
    t.token = dexNewID();
    t.lastUsed = new Date();
    const db = new DatabaseSync(dexFile);
    try {
      db.prepare('update refresh_token set token = ?, obsolete_token = ?, last_used = ? where id = ?').run(
        t.token,
        t.obsoleteToken,
        goSqliteTime(t.lastUsed, 1),
        t.id,
      );
      const row = db
        .prepare('select refresh from offline_session where user_id = ? and conn_id = ?')
        .get(ALICE.userID, 'local') as { refresh: Uint8Array };
      const refresh = JSON.parse(Buffer.from(row.refresh).toString()) as Record<string, { LastUsed: string }>;
      refresh[KUBECTL.id]!.LastUsed = goJsonTime(t.lastUsed);
      db.prepare('update offline_session set refresh = ? where user_id = ? and conn_id = ?').run(
        Buffer.from(JSON.stringify(refresh)),
        ALICE.userID,
        'local',
      );
    } finally {
      db.close();
    }
    const r = await runCli(importArgs('--apply', '--output', 'json'));
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { changes: number; kinds: Record<string, { updated: number }> };
    expect(report.changes).toBe(1);
    expect(report.kinds.refreshTokens!.updated).toBe(1);
    const stored = await withStorage((s) => s.getRefreshToken(t.id));
    expect(stored.token).toBe(digest(t.token));
    expect(oldWire).not.toBe(wireOf(t));
  });

  it("--overwrite replaces the conflicting client with Dex's", async () => {
    const r = await runCli(importArgs('--apply', '--overwrite'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/clients "dashboard": differs in .*; overwritten/);
    expect(r.stdout).toContain('1 change, ');
    const dashboard = await withStorage((s) => s.getClient(DASHBOARD.id));
    expect(dashboard.redirectURIs).toEqual([DASHBOARD.redirect]);
    expect(dashboard.secret).toBe(`sha256:${digest(DASHBOARD.secret)}`);
  });

  it('serves the imported installation: refresh tokens, Dex-signed ID tokens, client secret, password', async () => {
    server = await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`);
    await expectDexRefreshTokensWork(cfg.issuer, inst);
    await expectDexKeysPublished(cfg.issuer, inst);
    await expectClientAndPasswordLogIn(cfg.issuer);
  });

  it("reports a token used at Latchkey since the import as a conflict and keeps Latchkey's", async () => {
    // The previous test refreshed every imported token at Latchkey.
    const digests = () =>
      withStorage(async (s) => (await s.listRefreshTokens()).items.map((t) => [t.id, t.token]).sort());
    const before = await digests();
    const r = await runCli(importArgs('--apply'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /refresh tokens "[a-z2-7]{25}": differs in token \(used at Latchkey since the import\); skipped/,
    );
    expect(r.stdout).toContain('0 changes, 3 conflicts');
    expect(await digests()).toEqual(before);
  });
});

describe('Dex SQLite files from older Dex versions', () => {
  it('reads a file whose schema stops at an older migration, with the missing columns at their defaults', async () => {
    const inst = await buildDexInstallation();
    const file = join(tmp, 'dex-old.db');
    // Migration 4: before preferred usernames, connector data in sessions, device flow, PKCE, rotation.
    writeDexSqlite(file, inst, { upTo: 4 });
    const source = DexSqliteSource.open(file);
    try {
      const tokens = [];
      for await (const page of source.refreshTokens()) tokens.push(...page);
      expect(tokens).toHaveLength(inst.refreshTokens.length);
      const alice = currentToken(inst, ALICE.userID, 'local', KUBECTL.id);
      const read = tokens.find((t) => 'value' in t && t.value.id === alice.id);
      expect(read).toEqual({
        value: expect.objectContaining({
          token: alice.token,
          obsoleteToken: '',
          claims: expect.objectContaining({ preferredUsername: '', groups: ALICE.groups }),
          lastUsed: new Date(alice.lastUsed.getTime()),
        }),
      });
      const passwords = [];
      for await (const page of source.passwords()) passwords.push(...page);
      expect(passwords[0]).toEqual({ value: expect.objectContaining({ email: ALICE.email, groups: [] }) });
      expect(await source.shortLived()).toEqual({
        authRequests: 1,
        authCodes: 1,
        deviceRequests: 0,
        deviceTokens: 0,
      });
      expect((await source.offlineSession(ALICE.userID, 'local'))?.refresh[KUBECTL.id]).toBe(alice.id);
    } finally {
      await source.close();
    }
  });

  it("warns about refresh tokens whose client Latchkey will not have (one from Dex's config file)", async () => {
    const inst = await buildDexInstallation();
    const kubectlToken = currentToken(inst, ALICE.userID, 'local', KUBECTL.id);
    const session = inst.offlineSessions.find((x) => x.userID === ALICE.userID)!;
    const staticOnly = { ...kubectlToken, id: dexNewID(), token: dexNewID(), clientID: 'kubelogin-static' };
    inst.refreshTokens.push(staticOnly);
    session.refresh['kubelogin-static'] = {
      ID: staticOnly.id,
      ClientID: 'kubelogin-static',
      CreatedAt: staticOnly.createdAt,
      LastUsed: staticOnly.lastUsed,
    };
    const file = join(tmp, 'dex-static-client.db');
    writeDexSqlite(file, inst);
    const run = async (statics: Client[]) => {
      const source = DexSqliteSource.open(file);
      try {
        return await importDex(
          source,
          withStaticOverlay(new MemoryStorage(), {
            clients: statics,
            passwords: [],
            // What enablePasswordDB adds to Latchkey's connectors.
            connectors: [{ id: 'local', type: 'local', name: 'Email', config: {} }],
          }),
          {
            apply: false,
            overwrite: false,
            pace: { parallel: 4 },
            clock: { now: () => new Date() },
            ...importSettings(LATCHKEY_EXTRA),
            target: 'memory',
          },
        );
      } finally {
        await source.close();
      }
    };
    const without = await run([]);
    expect(without.warnings).toEqual([
      {
        kind: 'refreshTokens',
        id: 'kubelogin-static',
        detail: expect.stringContaining(
          '1 refresh tokens name client "kubelogin-static", which Latchkey does not have',
        ),
      },
    ]);
    const staticClient: Client = {
      id: 'kubelogin-static',
      secret: '',
      redirectURIs: ['http://localhost:8000'],
      trustedPeers: [],
      public: true,
      name: 'kubelogin',
      logoURL: '',
    };
    expect((await run([staticClient])).warnings).toEqual([]);
  });

  it("reads the clients' browser-session columns of a Dex built from its main branch, when it has them", async () => {
    const inst = await buildDexInstallation();
    const file = join(tmp, 'dex-sessions.db');
    writeDexSqlite(file, inst);
    const db = new DatabaseSync(file);
    try {
      // As Dex adds a column: existing rows keep NULL (or the column's default).
      db.exec(`alter table client add column post_logout_redirect_uris blob`);
      db.exec(`alter table client add column sso_shared_with blob`);
      db.exec(`alter table client add column backchannel_logout_uri text not null default ''`);
      db.exec(`alter table client add column refresh_token_lifetime text not null default ''`);
      db.prepare(
        `update client set post_logout_redirect_uris = ?, sso_shared_with = ?, backchannel_logout_uri = ?,
           refresh_token_lifetime = ? where id = ?`,
      ).run(
        Buffer.from(JSON.stringify(['http://127.0.0.1:5555/'])),
        Buffer.from('[]'),
        'http://127.0.0.1:5555/backchannel-logout',
        'session',
        DASHBOARD.id,
      );
    } finally {
      db.close();
    }
    const source = DexSqliteSource.open(file);
    try {
      const clients = [];
      for await (const page of source.clients()) clients.push(...page);
      const byId = new Map(clients.flatMap((r) => ('value' in r ? [[r.value.id, r.value] as const] : [])));
      expect(byId.get(DASHBOARD.id)).toMatchObject({
        postLogoutRedirectURIs: ['http://127.0.0.1:5555/'],
        ssoSharedWith: [],
        backchannelLogoutURI: 'http://127.0.0.1:5555/backchannel-logout',
        refreshTokenLifetime: 'session',
      });
      const kubectl = byId.get(KUBECTL.id)!;
      for (const key of [
        'postLogoutRedirectURIs',
        'ssoSharedWith',
        'backchannelLogoutURI',
        'refreshTokenLifetime',
      ]) {
        expect(kubectl).not.toHaveProperty(key);
      }
    } finally {
      await source.close();
    }
  });

  it('refuses a file that is not a Dex database', async () => {
    const file = join(tmp, 'not-dex.db');
    const db = new DatabaseSync(file);
    db.exec('create table something (x integer)');
    db.close();
    expect(() => DexSqliteSource.open(file)).toThrow(
      /not a Dex SQLite database \(it has no "migrations" table\)/,
    );
    expect(() => DexSqliteSource.open(join(tmp, 'missing.db'))).toThrow(/does not exist/);
  });
});

describe('sources and targets the importer refuses', () => {
  let cfg: TestServerConfig;
  beforeAll(async () => {
    cfg = await writeTestConfig({ extra: LATCHKEY_EXTRA });
  });
  afterAll(async () => {
    if (cfg) await rm(cfg.dir, { recursive: true, force: true });
  });

  it.each(['postgres', 'mysql'])("says plainly that Dex's %s storage is not supported", async (type) => {
    const byFlag = await runCli(['import', 'dex', '--config', cfg.file, '--from', type]);
    expect(byFlag.code).toBe(2);
    expect(byFlag.stderr).toContain(`importing from Dex's "${type}" storage is not supported`);
    expect(byFlag.stderr).toContain('supported sources: kubernetes, sqlite3');

    const dexConfig = join(cfg.dir, `dex-${type}.yaml`);
    await writeFile(
      dexConfig,
      `issuer: https://dex.example.com\nstorage:\n  type: ${type}\n  config:\n    host: db.example.com\n    password: $DB_PASSWORD\n`,
    );
    const byConfig = await runCli(['import', 'dex', '--config', cfg.file, '--dex-config', dexConfig]);
    expect(byConfig.code).toBe(2);
    expect(byConfig.stderr).toContain(`importing from Dex's "${type}" storage is not supported`);
    expect(byConfig.stdout).toBe('');
  });

  it('refuses memory storage as the target, and a missing source', async () => {
    const memory = join(cfg.dir, 'memory.yaml');
    await writeFile(
      memory,
      'issuer: http://127.0.0.1:5556/dex\nstorage:\n  type: memory\nweb:\n  http: 127.0.0.1:5556\n',
    );
    const dexFile = join(tmp, 'dex-for-refusals.db');
    writeDexSqlite(dexFile, await buildDexInstallation());
    const r = await runCli(['import', 'dex', '--config', memory, '--from', 'sqlite3', '--file', dexFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('uses memory storage, which lives only inside one running Latchkey');

    const none = await runCli(['import', 'dex', '--config', cfg.file]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('name the source: --dex-config FILE, --from kubernetes or --from sqlite3');
  });

  it("names Dex's cluster when it cannot be reached", async () => {
    const r = await runCli([
      'import',
      'dex',
      '--config',
      cfg.file,
      '--from',
      'kubernetes',
      '--kubeconfig',
      join(tmp, 'no-such.kubeconfig'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "latchkey import dex: Dex's custom resources: cannot read the kubeconfig file",
    );
  });

  it("reads the source from Dex's own config file (sqlite3)", async () => {
    const dexFile = join(tmp, 'dex-by-config.db');
    writeDexSqlite(dexFile, await buildDexInstallation());
    const dexConfig = join(cfg.dir, 'dex-sqlite.yaml');
    await writeFile(
      dexConfig,
      `issuer: https://dex.example.com\nstorage:\n  type: sqlite3\n  config:\n    file: \${DEX_DB}\n`,
    );
    const r = await runCli(['import', 'dex', '--config', cfg.file, '--dex-config', dexConfig], {
      env: { DEX_DB: dexFile },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`from: Dex's SQLite database ${dexFile}`);
    expect(r.stdout).toContain('DRY RUN');
  });
});
