import type { DatabaseSync } from 'node:sqlite';

// Versioned schema migrations. The list only ever grows: a released migration is never edited, a change is
// a new entry. Entry i (0-based) brings the schema to version i + 1, recorded in schema_migrations.

export const MIGRATIONS: readonly string[] = [
  // 1: one table per entity. `body` is the whole entity as JSON (see codec.ts); key columns serve lookups and
  // paging, `expiry` (integer ms, indexed) serves garbage collection, `version` serves compare-and-swap.
  `
  CREATE TABLE clients (id TEXT PRIMARY KEY, version INTEGER NOT NULL, body TEXT NOT NULL);
  CREATE TABLE auth_requests (
    id TEXT PRIMARY KEY, version INTEGER NOT NULL, expiry INTEGER NOT NULL, body TEXT NOT NULL);
  CREATE INDEX auth_requests_expiry ON auth_requests (expiry);
  CREATE TABLE auth_codes (id TEXT PRIMARY KEY, version INTEGER NOT NULL, expiry INTEGER NOT NULL, body TEXT NOT NULL);
  CREATE INDEX auth_codes_expiry ON auth_codes (expiry);
  CREATE TABLE refresh_tokens (id TEXT PRIMARY KEY, version INTEGER NOT NULL, expiry INTEGER, body TEXT NOT NULL);
  CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expiry);
  CREATE TABLE offline_sessions (
    user_id TEXT NOT NULL, connector_id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (user_id, connector_id));
  CREATE TABLE passwords (email TEXT PRIMARY KEY, version INTEGER NOT NULL, body TEXT NOT NULL);
  CREATE TABLE connectors (id TEXT PRIMARY KEY, version INTEGER NOT NULL, body TEXT NOT NULL);
  CREATE TABLE device_requests (
    user_code TEXT PRIMARY KEY, version INTEGER NOT NULL, expiry INTEGER NOT NULL, body TEXT NOT NULL);
  CREATE INDEX device_requests_expiry ON device_requests (expiry);
  CREATE TABLE device_tokens (
    device_code TEXT PRIMARY KEY, version INTEGER NOT NULL, expiry INTEGER NOT NULL, body TEXT NOT NULL);
  CREATE INDEX device_tokens_expiry ON device_tokens (expiry);
  CREATE TABLE key_sets (name TEXT PRIMARY KEY, version INTEGER NOT NULL, body TEXT NOT NULL);
  -- Connector versions come from one counter, so a deleted and re-created connector never repeats one.
  CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
  INSERT INTO counters (name, value) VALUES ('connector_version', 0);
  `,
  // 2: revoked grants, read on every /userinfo and introspection call (by primary key).
  `
  CREATE TABLE revocations (id TEXT PRIMARY KEY, version INTEGER NOT NULL, expiry INTEGER NOT NULL, body TEXT NOT NULL);
  CREATE INDEX revocations_expiry ON revocations (expiry);
  `,
  // 3: browser sessions, read on every login that may skip the connector. `expiry` is the earlier of the
  // absolute and the idle expiry (storage/expiry.ts), rewritten by every update that moves either. The new
  // optional fields of clients, codes and refresh tokens (logout URIs, SSO sharing, session IDs) live in
  // their JSON bodies and need no column: nothing looks them up.
  `
  CREATE TABLE sessions (id TEXT PRIMARY KEY, version INTEGER NOT NULL, expiry INTEGER NOT NULL, body TEXT NOT NULL);
  CREATE INDEX sessions_expiry ON sessions (expiry);
  `,
];

export function schemaVersion(db: DatabaseSync): number {
  const exists = db
    .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`)
    .get();
  if (!exists) return 0;
  const row = db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}

/**
 * Brings the schema up to date. BEGIN IMMEDIATE takes the write lock before reading the version, so when
 * two processes start at once the second waits (busy_timeout), then finds nothing left to do.
 */
export function migrate(
  db: DatabaseSync,
  migrations: readonly string[] = MIGRATIONS,
  now = Date.now(),
): number {
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)',
    );
    const current = schemaVersion(db);
    if (current > migrations.length) {
      throw new Error(
        `the database schema is at version ${current}, newer than this build knows (${migrations.length}); ` +
          'upgrade Latchkey instead of downgrading it',
      );
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
    for (let v = current + 1; v <= migrations.length; v++) {
      db.exec(migrations[v - 1]!);
      record.run(v, now);
    }
    db.exec('COMMIT');
    return migrations.length;
  } catch (e) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw e;
  }
}
