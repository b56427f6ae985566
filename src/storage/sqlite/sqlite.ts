import { DatabaseSync } from 'node:sqlite';
import { UnavailableError } from '../errors.js';
import { DEFAULT_PAGE_SIZE } from '../paging.js';
import type {
  AuthCode,
  AuthRequest,
  Client,
  Connector,
  DeviceRequest,
  DeviceToken,
  GarbageCollectionResult,
  KeySet,
  KeySetName,
  ListOptions,
  OfflineSessions,
  Page,
  Password,
  RefreshToken,
  Revocation,
  Session,
  Storage,
  Updater,
} from '../storage.js';
import { sessionExpiry } from '../expiry.js';
import { migrate } from './migrations.js';
import { guard, SqliteTable } from './table.js';

// One SQLite file through node:sqlite (no native addon). WAL lets readers run beside the one writer, and the
// busy timeout lets several processes share the file: a writer waits for the lock instead of failing.
// Every call is a short synchronous statement (or a few), so the event loop is never held for long.

export interface SqliteStorageOptions {
  /** How long a statement waits for another connection's write lock before failing as Unavailable. */
  busyTimeoutMs?: number;
  /** Rows garbage collection deletes per statement. */
  gcPageSize?: number;
}

const expiryOf = (v: { expiry?: Date }): Date | undefined => v.expiry;

export class SqliteStorage implements Storage {
  readonly kind = 'sqlite3';

  private closed = false;
  private readonly gcPageSize: number;

  private readonly clients: SqliteTable<Client>;
  private readonly authRequests: SqliteTable<AuthRequest>;
  private readonly authCodes: SqliteTable<AuthCode>;
  private readonly refreshTokens: SqliteTable<RefreshToken>;
  private readonly offlineSessions: SqliteTable<OfflineSessions>;
  private readonly passwords: SqliteTable<Password>;
  private readonly connectors: SqliteTable<Connector>;
  private readonly deviceRequests: SqliteTable<DeviceRequest>;
  private readonly deviceTokens: SqliteTable<DeviceToken>;
  private readonly keySets: SqliteTable<KeySet>;
  private readonly revocations: SqliteTable<Revocation>;
  private readonly sessions: SqliteTable<Session>;

  /** Opens (creating if needed) and migrates the database file; ":memory:" gives a private in-memory one. */
  static open(file: string, options: SqliteStorageOptions = {}): SqliteStorage {
    const db = new DatabaseSync(file);
    try {
      guard(() => {
        db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
        // Switching a new file to WAL needs an exclusive lock, and SQLite does not call the busy handler
        // for it: processes opening a fresh file at the same moment retry here instead of failing.
        retryWhileBusy(() => db.exec('PRAGMA journal_mode = WAL'));
        // In WAL mode NORMAL never corrupts the file; at worst a power cut loses the last commits.
        db.exec('PRAGMA synchronous = NORMAL');
        retryWhileBusy(() => migrate(db));
      });
    } catch (e) {
      db.close();
      throw e;
    }
    return new SqliteStorage(db, options);
  }

  private constructor(
    private readonly db: DatabaseSync,
    options: SqliteStorageOptions,
  ) {
    this.gcPageSize = Math.max(1, options.gcPageSize ?? DEFAULT_PAGE_SIZE);
    const byId = { keyColumns: ['id'], keyOf: (v: { id: string }) => [v.id] };
    this.clients = new SqliteTable<Client>(db, { table: 'clients', what: 'client', ...byId });
    this.authRequests = new SqliteTable<AuthRequest>(db, {
      table: 'auth_requests',
      what: 'auth request',
      expiryOf,
      ...byId,
    });
    this.authCodes = new SqliteTable<AuthCode>(db, {
      table: 'auth_codes',
      what: 'auth code',
      expiryOf,
      ...byId,
    });
    this.refreshTokens = new SqliteTable<RefreshToken>(db, {
      table: 'refresh_tokens',
      what: 'refresh token',
      expiryOf,
      ...byId,
    });
    this.offlineSessions = new SqliteTable<OfflineSessions>(db, {
      table: 'offline_sessions',
      what: 'offline sessions',
      keyColumns: ['user_id', 'connector_id'],
      keyOf: (v) => [v.userID, v.connectorID],
    });
    this.passwords = new SqliteTable<Password>(db, {
      table: 'passwords',
      what: 'password',
      keyColumns: ['email'],
      keyOf: (v) => [v.email],
      prepare: (v) => ({ ...v, email: v.email.toLowerCase() }),
    });
    const nextConnectorVersion = db.prepare(
      `UPDATE counters SET value = value + 1 WHERE name = 'connector_version' RETURNING value`,
    );
    this.connectors = new SqliteTable<Connector>(db, {
      table: 'connectors',
      what: 'connector',
      ...byId,
      // The resource version is the row's version, drawn from one counter so it never repeats.
      prepare: (v) => {
        const rest = { ...v };
        delete rest.resourceVersion;
        return rest;
      },
      fromRow: (v, version) => ({ ...v, resourceVersion: String(version) }),
      nextVersion: () => (nextConnectorVersion.get() as { value: number }).value,
    });
    this.deviceRequests = new SqliteTable<DeviceRequest>(db, {
      table: 'device_requests',
      what: 'device request',
      keyColumns: ['user_code'],
      keyOf: (v) => [v.userCode],
      expiryOf,
    });
    this.deviceTokens = new SqliteTable<DeviceToken>(db, {
      table: 'device_tokens',
      what: 'device token',
      keyColumns: ['device_code'],
      keyOf: (v) => [v.deviceCode],
      expiryOf,
    });
    this.keySets = new SqliteTable<KeySet>(db, {
      table: 'key_sets',
      what: 'key set',
      keyColumns: ['name'],
      keyOf: (v) => [v.name],
    });
    this.revocations = new SqliteTable<Revocation>(db, {
      table: 'revocations',
      what: 'revocation',
      expiryOf,
      ...byId,
    });
    this.sessions = new SqliteTable<Session>(db, {
      table: 'sessions',
      what: 'session',
      expiryOf: sessionExpiry,
      ...byId,
    });
  }

  async createClient(c: Client): Promise<void> {
    this.open().clients.create(c);
  }
  async getClient(id: string): Promise<Client> {
    return this.open().clients.get([id]);
  }
  async listClients(opts?: ListOptions): Promise<Page<Client>> {
    return this.open().clients.list(opts);
  }
  async updateClient(id: string, updater: Updater<Client>): Promise<Client> {
    return this.open().clients.update([id], updater);
  }
  async deleteClient(id: string): Promise<void> {
    this.open().clients.delete([id]);
  }

  async createAuthRequest(a: AuthRequest): Promise<void> {
    this.open().authRequests.create(a);
  }
  async getAuthRequest(id: string): Promise<AuthRequest> {
    return this.open().authRequests.get([id]);
  }
  async updateAuthRequest(id: string, updater: Updater<AuthRequest>): Promise<AuthRequest> {
    return this.open().authRequests.update([id], updater);
  }
  async deleteAuthRequest(id: string): Promise<void> {
    this.open().authRequests.delete([id]);
  }
  async listAuthRequests(opts?: ListOptions): Promise<Page<AuthRequest>> {
    return this.open().authRequests.list(opts);
  }

  async createAuthCode(c: AuthCode): Promise<void> {
    this.open().authCodes.create(c);
  }
  async getAuthCode(id: string): Promise<AuthCode> {
    return this.open().authCodes.get([id]);
  }
  async consumeAuthCode(id: string): Promise<AuthCode> {
    return this.open().authCodes.take([id]);
  }
  async deleteAuthCode(id: string): Promise<void> {
    this.open().authCodes.delete([id]);
  }

  async createRefreshToken(r: RefreshToken): Promise<void> {
    this.open().refreshTokens.create(r);
  }
  async getRefreshToken(id: string): Promise<RefreshToken> {
    return this.open().refreshTokens.get([id]);
  }
  async listRefreshTokens(opts?: ListOptions): Promise<Page<RefreshToken>> {
    return this.open().refreshTokens.list(opts);
  }
  async updateRefreshToken(id: string, updater: Updater<RefreshToken>): Promise<RefreshToken> {
    return this.open().refreshTokens.update([id], updater);
  }
  async deleteRefreshToken(id: string): Promise<void> {
    this.open().refreshTokens.delete([id]);
  }

  async createOfflineSessions(o: OfflineSessions): Promise<void> {
    this.open().offlineSessions.create(o);
  }
  async getOfflineSessions(userID: string, connectorID: string): Promise<OfflineSessions> {
    return this.open().offlineSessions.get([userID, connectorID]);
  }
  async updateOfflineSessions(
    userID: string,
    connectorID: string,
    updater: Updater<OfflineSessions>,
  ): Promise<OfflineSessions> {
    return this.open().offlineSessions.update([userID, connectorID], updater);
  }
  async deleteOfflineSessions(userID: string, connectorID: string): Promise<void> {
    this.open().offlineSessions.delete([userID, connectorID]);
  }

  async createPassword(p: Password): Promise<void> {
    this.open().passwords.create(p);
  }
  async getPassword(email: string): Promise<Password> {
    return this.open().passwords.get([email.toLowerCase()]);
  }
  async listPasswords(opts?: ListOptions): Promise<Page<Password>> {
    return this.open().passwords.list(opts);
  }
  async updatePassword(email: string, updater: Updater<Password>): Promise<Password> {
    return this.open().passwords.update([email.toLowerCase()], updater);
  }
  async deletePassword(email: string): Promise<void> {
    this.open().passwords.delete([email.toLowerCase()]);
  }

  async createConnector(c: Connector): Promise<void> {
    this.open().connectors.create(c);
  }
  async getConnector(id: string): Promise<Connector> {
    return this.open().connectors.get([id]);
  }
  async listConnectors(opts?: ListOptions): Promise<Page<Connector>> {
    return this.open().connectors.list(opts);
  }
  async updateConnector(id: string, updater: Updater<Connector>): Promise<Connector> {
    return this.open().connectors.update([id], updater);
  }
  async deleteConnector(id: string): Promise<void> {
    this.open().connectors.delete([id]);
  }

  async createDeviceRequest(d: DeviceRequest): Promise<void> {
    this.open().deviceRequests.create(d);
  }
  async getDeviceRequest(userCode: string): Promise<DeviceRequest> {
    return this.open().deviceRequests.get([userCode]);
  }

  async createDeviceToken(t: DeviceToken): Promise<void> {
    this.open().deviceTokens.create(t);
  }
  async getDeviceToken(deviceCode: string): Promise<DeviceToken> {
    return this.open().deviceTokens.get([deviceCode]);
  }
  async updateDeviceToken(deviceCode: string, updater: Updater<DeviceToken>): Promise<DeviceToken> {
    return this.open().deviceTokens.update([deviceCode], updater);
  }
  async consumeDeviceToken(deviceCode: string): Promise<DeviceToken> {
    return this.open().deviceTokens.take([deviceCode]);
  }

  async createKeySet(k: KeySet): Promise<void> {
    this.open().keySets.create(k);
  }
  async getKeySet(name: KeySetName): Promise<KeySet> {
    return this.open().keySets.get([name]);
  }
  async updateKeySet(name: KeySetName, updater: Updater<KeySet>): Promise<KeySet> {
    return this.open().keySets.update([name], updater);
  }

  async createRevocation(r: Revocation): Promise<void> {
    this.open().revocations.create(r);
  }
  async getRevocation(id: string): Promise<Revocation> {
    return this.open().revocations.get([id]);
  }

  async createSession(session: Session): Promise<void> {
    this.open().sessions.create(session);
  }
  async getSession(id: string): Promise<Session> {
    return this.open().sessions.get([id]);
  }
  async listSessions(opts?: ListOptions): Promise<Page<Session>> {
    return this.open().sessions.list(opts);
  }
  async updateSession(id: string, updater: Updater<Session>): Promise<Session> {
    return this.open().sessions.update([id], updater);
  }
  async deleteSession(id: string): Promise<void> {
    this.open().sessions.delete([id]);
  }

  async garbageCollect(now: Date): Promise<GarbageCollectionResult> {
    this.open();
    const n = this.gcPageSize;
    return {
      authRequests: await this.authRequests.deleteExpired(now, n),
      authCodes: await this.authCodes.deleteExpired(now, n),
      deviceRequests: await this.deviceRequests.deleteExpired(now, n),
      deviceTokens: await this.deviceTokens.deleteExpired(now, n),
      refreshTokens: await this.refreshTokens.deleteExpired(now, n),
      revocations: await this.revocations.deleteExpired(now, n),
      sessions: await this.sessions.deleteExpired(now, n),
    };
  }

  /** Reads the schema version: proves the file is open and readable, and never writes. */
  async ping(): Promise<void> {
    const db = this.open().db;
    guard(() => db.prepare('SELECT max(version) FROM schema_migrations').get());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private open(): this {
    if (this.closed) throw new UnavailableError('sqlite storage is closed');
    return this;
  }
}

const OPEN_RETRY_DEADLINE_MS = 10_000;

/**
 * Retries a start-up statement while SQLite reports SQLITE_BUSY (errcode 5). Only used while opening, where
 * blocking is acceptable: the process is not serving yet.
 */
function retryWhileBusy(fn: () => void): void {
  const deadline = Date.now() + OPEN_RETRY_DEADLINE_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 1; ; attempt++) {
    try {
      fn();
      return;
    } catch (e) {
      if ((e as { errcode?: number }).errcode !== 5 || Date.now() > deadline) throw e;
      Atomics.wait(pause, 0, 0, Math.min(5 * attempt, 50));
    }
  }
}
