import { UnavailableError } from '../errors.js';
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
import { DEFAULT_PAGE_SIZE } from '../paging.js';
import { MemoryTable } from './table.js';

// Everything in process memory: for tests and single-replica trials; lost on restart (keys included).
// Methods are async but never await before they finish, so each one is atomic with respect to the others.

export interface MemoryStorageOptions {
  /** Rows garbage collection deletes per step (tests make it small to cross page boundaries). */
  gcPageSize?: number;
}

const offlineKey = (userID: string, connectorID: string): string => JSON.stringify([userID, connectorID]);

export class MemoryStorage implements Storage {
  readonly kind = 'memory';

  private closed = false;
  private revision = 0;
  private readonly gcPageSize: number;

  private readonly clients = new MemoryTable<Client>('client');
  private readonly authRequests = new MemoryTable<AuthRequest>('auth request');
  private readonly authCodes = new MemoryTable<AuthCode>('auth code');
  private readonly refreshTokens = new MemoryTable<RefreshToken>('refresh token');
  private readonly offlineSessions = new MemoryTable<OfflineSessions>('offline sessions');
  private readonly passwords = new MemoryTable<Password>('password', (p) => ({
    ...p,
    email: p.email.toLowerCase(),
  }));
  private readonly connectors = new MemoryTable<Connector>('connector', (c) => ({
    ...c,
    resourceVersion: String(++this.revision),
  }));
  private readonly deviceRequests = new MemoryTable<DeviceRequest>('device request');
  private readonly deviceTokens = new MemoryTable<DeviceToken>('device token');
  private readonly keySets = new MemoryTable<KeySet>('key set');
  private readonly revocations = new MemoryTable<Revocation>('revocation');
  private readonly sessions = new MemoryTable<Session>('session');

  constructor(options: MemoryStorageOptions = {}) {
    this.gcPageSize = Math.max(1, options.gcPageSize ?? DEFAULT_PAGE_SIZE);
  }

  async createClient(c: Client): Promise<void> {
    this.open().clients.create(c.id, c);
  }
  async getClient(id: string): Promise<Client> {
    return this.open().clients.get(id);
  }
  async listClients(opts?: ListOptions): Promise<Page<Client>> {
    return this.open().clients.list(opts);
  }
  async updateClient(id: string, updater: Updater<Client>): Promise<Client> {
    return this.open().clients.update(id, updater, (c) => c.id);
  }
  async deleteClient(id: string): Promise<void> {
    this.open().clients.delete(id);
  }

  async createAuthRequest(a: AuthRequest): Promise<void> {
    this.open().authRequests.create(a.id, a);
  }
  async getAuthRequest(id: string): Promise<AuthRequest> {
    return this.open().authRequests.get(id);
  }
  async updateAuthRequest(id: string, updater: Updater<AuthRequest>): Promise<AuthRequest> {
    return this.open().authRequests.update(id, updater, (a) => a.id);
  }
  async deleteAuthRequest(id: string): Promise<void> {
    this.open().authRequests.delete(id);
  }
  async listAuthRequests(opts?: ListOptions): Promise<Page<AuthRequest>> {
    return this.open().authRequests.list(opts);
  }

  async createAuthCode(c: AuthCode): Promise<void> {
    this.open().authCodes.create(c.id, c);
  }
  async getAuthCode(id: string): Promise<AuthCode> {
    return this.open().authCodes.get(id);
  }
  async consumeAuthCode(id: string): Promise<AuthCode> {
    return this.open().authCodes.take(id);
  }
  async deleteAuthCode(id: string): Promise<void> {
    this.open().authCodes.delete(id);
  }

  async createRefreshToken(r: RefreshToken): Promise<void> {
    this.open().refreshTokens.create(r.id, r);
  }
  async getRefreshToken(id: string): Promise<RefreshToken> {
    return this.open().refreshTokens.get(id);
  }
  async listRefreshTokens(opts?: ListOptions): Promise<Page<RefreshToken>> {
    return this.open().refreshTokens.list(opts);
  }
  async updateRefreshToken(id: string, updater: Updater<RefreshToken>): Promise<RefreshToken> {
    return this.open().refreshTokens.update(id, updater, (r) => r.id);
  }
  async deleteRefreshToken(id: string): Promise<void> {
    this.open().refreshTokens.delete(id);
  }

  async createOfflineSessions(o: OfflineSessions): Promise<void> {
    this.open().offlineSessions.create(offlineKey(o.userID, o.connectorID), o);
  }
  async getOfflineSessions(userID: string, connectorID: string): Promise<OfflineSessions> {
    return this.open().offlineSessions.get(offlineKey(userID, connectorID));
  }
  async updateOfflineSessions(
    userID: string,
    connectorID: string,
    updater: Updater<OfflineSessions>,
  ): Promise<OfflineSessions> {
    return this.open().offlineSessions.update(offlineKey(userID, connectorID), updater, (o) =>
      offlineKey(o.userID, o.connectorID),
    );
  }
  async deleteOfflineSessions(userID: string, connectorID: string): Promise<void> {
    this.open().offlineSessions.delete(offlineKey(userID, connectorID));
  }

  async createPassword(p: Password): Promise<void> {
    this.open().passwords.create(p.email.toLowerCase(), p);
  }
  async getPassword(email: string): Promise<Password> {
    return this.open().passwords.get(email.toLowerCase());
  }
  async listPasswords(opts?: ListOptions): Promise<Page<Password>> {
    return this.open().passwords.list(opts);
  }
  async updatePassword(email: string, updater: Updater<Password>): Promise<Password> {
    return this.open().passwords.update(email.toLowerCase(), updater, (p) => p.email);
  }
  async deletePassword(email: string): Promise<void> {
    this.open().passwords.delete(email.toLowerCase());
  }

  async createConnector(c: Connector): Promise<void> {
    this.open().connectors.create(c.id, c);
  }
  async getConnector(id: string): Promise<Connector> {
    return this.open().connectors.get(id);
  }
  async listConnectors(opts?: ListOptions): Promise<Page<Connector>> {
    return this.open().connectors.list(opts);
  }
  async updateConnector(id: string, updater: Updater<Connector>): Promise<Connector> {
    return this.open().connectors.update(id, updater, (c) => c.id);
  }
  async deleteConnector(id: string): Promise<void> {
    this.open().connectors.delete(id);
  }

  async createDeviceRequest(d: DeviceRequest): Promise<void> {
    this.open().deviceRequests.create(d.userCode, d);
  }
  async getDeviceRequest(userCode: string): Promise<DeviceRequest> {
    return this.open().deviceRequests.get(userCode);
  }

  async createDeviceToken(t: DeviceToken): Promise<void> {
    this.open().deviceTokens.create(t.deviceCode, t);
  }
  async getDeviceToken(deviceCode: string): Promise<DeviceToken> {
    return this.open().deviceTokens.get(deviceCode);
  }
  async updateDeviceToken(deviceCode: string, updater: Updater<DeviceToken>): Promise<DeviceToken> {
    return this.open().deviceTokens.update(deviceCode, updater, (t) => t.deviceCode);
  }
  async consumeDeviceToken(deviceCode: string): Promise<DeviceToken> {
    return this.open().deviceTokens.take(deviceCode);
  }

  async createKeySet(k: KeySet): Promise<void> {
    this.open().keySets.create(k.name, k);
  }
  async getKeySet(name: KeySetName): Promise<KeySet> {
    return this.open().keySets.get(name);
  }
  async updateKeySet(name: KeySetName, updater: Updater<KeySet>): Promise<KeySet> {
    return this.open().keySets.update(name, updater, (k) => k.name);
  }

  async createRevocation(r: Revocation): Promise<void> {
    this.open().revocations.create(r.id, r);
  }
  async getRevocation(id: string): Promise<Revocation> {
    return this.open().revocations.get(id);
  }

  async createSession(session: Session): Promise<void> {
    this.open().sessions.create(session.id, session);
  }
  async getSession(id: string): Promise<Session> {
    return this.open().sessions.get(id);
  }
  async listSessions(opts?: ListOptions): Promise<Page<Session>> {
    return this.open().sessions.list(opts);
  }
  async updateSession(id: string, updater: Updater<Session>): Promise<Session> {
    return this.open().sessions.update(id, updater, (x) => x.id);
  }
  async deleteSession(id: string): Promise<void> {
    this.open().sessions.delete(id);
  }

  async garbageCollect(now: Date): Promise<GarbageCollectionResult> {
    this.open();
    const t = now.getTime();
    const expired = (e: { expiry?: Date }): boolean => e.expiry !== undefined && e.expiry.getTime() < t;
    const n = this.gcPageSize;
    return {
      authRequests: await this.authRequests.deleteWhere(expired, n),
      authCodes: await this.authCodes.deleteWhere(expired, n),
      deviceRequests: await this.deviceRequests.deleteWhere(expired, n),
      deviceTokens: await this.deviceTokens.deleteWhere(expired, n),
      refreshTokens: await this.refreshTokens.deleteWhere(expired, n),
      revocations: await this.revocations.deleteWhere(expired, n),
      sessions: await this.sessions.deleteWhere((x) => sessionExpiry(x).getTime() < t, n),
    };
  }

  async ping(): Promise<void> {
    this.open();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private open(): this {
    if (this.closed) throw new UnavailableError('memory storage is closed');
    return this;
  }
}
