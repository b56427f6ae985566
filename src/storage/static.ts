import { deepCopy } from './copy.js';
import { AlreadyExistsError, StorageError } from './errors.js';
import { pageSize } from './paging.js';
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
} from './storage.js';

// Clients, passwords and connectors from the config file are a read-only layer over the real storage:
// reads and lists see them (first, and in place of a stored entity with the same key), creating one of
// their keys is a duplicate, and changing or deleting one fails with ReadOnlyError.

/**
 * An attempt to change an entity that comes from the configuration file. Its code is Conflict (the request
 * conflicts with how the entity is managed), so code that maps storage errors needs nothing new; the
 * message says what to do instead.
 */
export class ReadOnlyError extends StorageError {
  constructor(what: string) {
    super('Conflict', `${what} is defined in the configuration file and is read-only; change it there`);
    this.name = 'ReadOnlyError';
  }
}

export interface StaticEntities {
  clients: Client[];
  passwords: Password[];
  connectors: Connector[];
}

export function withStaticOverlay(inner: Storage, statics: StaticEntities): Storage {
  return new StaticOverlayStorage(inner, statics);
}

/** The static entities of one kind, in config order, with the paging that puts them before the stored ones. */
class StaticSet<T> {
  private readonly byKey = new Map<string, T>();
  private readonly ordered: T[];

  constructor(
    private readonly what: string,
    items: T[],
    private readonly keyOf: (v: T) => string,
  ) {
    this.ordered = items.map((v) => deepCopy(v));
    for (const v of this.ordered) {
      const key = keyOf(v);
      if (this.byKey.has(key)) throw new Error(`static ${what} ${JSON.stringify(key)} is defined twice`);
      this.byKey.set(key, v);
    }
  }

  find(key: string): T | undefined {
    const v = this.byKey.get(key);
    return v === undefined ? undefined : deepCopy(v);
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  refuseCreate(key: string): void {
    if (this.byKey.has(key)) throw new AlreadyExistsError(`${this.what} ${JSON.stringify(key)}`);
  }

  refuseChange(key: string): void {
    if (this.byKey.has(key)) throw new ReadOnlyError(`${this.what} ${JSON.stringify(key)}`);
  }

  /**
   * The token says which part the next page starts in: {s: index} in the statics, {i: token|null} in the
   * inner storage (null = its first page).
   */
  async list(
    opts: ListOptions | undefined,
    innerList: (o: ListOptions) => Promise<Page<T>>,
  ): Promise<Page<T>> {
    const limit = pageSize(opts);
    const at = decodeToken(opts?.continue);
    const visible = (v: T): boolean => !this.byKey.has(this.keyOf(v));
    if ('i' in at) {
      const page = await innerList(at.i === null ? { limit } : { limit, continue: at.i });
      return withToken(page.items.filter(visible), page.continue);
    }
    const items = this.ordered.slice(at.s, at.s + limit).map((v) => deepCopy(v));
    if (at.s + limit < this.ordered.length) return { items, continue: encodeToken({ s: at.s + limit }) };
    const room = limit - items.length;
    if (room === 0) {
      // Look ahead so that a page ending exactly with the statics is known to be the last one or not.
      const peek = await innerList({ limit: 1 });
      return peek.items.length === 0 ? { items } : { items, continue: encodeToken({ i: null }) };
    }
    const page = await innerList({ limit: room });
    return withToken([...items, ...page.items.filter(visible)], page.continue);
  }
}

type Position = { s: number } | { i: string | null };

function withToken<T>(items: T[], innerContinue: string | undefined): Page<T> {
  return innerContinue === undefined ? { items } : { items, continue: encodeToken({ i: innerContinue }) };
}

function encodeToken(p: Position): string {
  return Buffer.from(JSON.stringify(p), 'utf8').toString('base64url');
}

function decodeToken(token: string | undefined): Position {
  if (token === undefined) return { s: 0 };
  try {
    const p = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (Number.isInteger(p.s) && (p.s as number) >= 0) return { s: p.s as number };
    if (p.i === null || typeof p.i === 'string') return { i: p.i };
  } catch {
    // fall through to the error below
  }
  throw new TypeError('invalid continue token');
}

class StaticOverlayStorage implements Storage {
  readonly kind: string;
  private readonly clients: StaticSet<Client>;
  private readonly passwords: StaticSet<Password>;
  private readonly connectors: StaticSet<Connector>;

  constructor(
    private readonly inner: Storage,
    statics: StaticEntities,
  ) {
    this.kind = inner.kind;
    this.clients = new StaticSet('client', statics.clients, (c) => c.id);
    this.passwords = new StaticSet(
      'password',
      statics.passwords.map((p) => ({ ...p, email: p.email.toLowerCase() })),
      (p) => p.email,
    );
    this.connectors = new StaticSet('connector', statics.connectors, (c) => c.id);
  }

  async createClient(c: Client): Promise<void> {
    this.clients.refuseCreate(c.id);
    return this.inner.createClient(c);
  }
  async getClient(id: string): Promise<Client> {
    return this.clients.find(id) ?? this.inner.getClient(id);
  }
  listClients(opts?: ListOptions): Promise<Page<Client>> {
    return this.clients.list(opts, (o) => this.inner.listClients(o));
  }
  async updateClient(id: string, updater: Updater<Client>): Promise<Client> {
    this.clients.refuseChange(id);
    return this.inner.updateClient(id, updater);
  }
  async deleteClient(id: string): Promise<void> {
    this.clients.refuseChange(id);
    return this.inner.deleteClient(id);
  }

  async createPassword(p: Password): Promise<void> {
    this.passwords.refuseCreate(p.email.toLowerCase());
    return this.inner.createPassword(p);
  }
  async getPassword(email: string): Promise<Password> {
    return this.passwords.find(email.toLowerCase()) ?? this.inner.getPassword(email);
  }
  listPasswords(opts?: ListOptions): Promise<Page<Password>> {
    return this.passwords.list(opts, (o) => this.inner.listPasswords(o));
  }
  async updatePassword(email: string, updater: Updater<Password>): Promise<Password> {
    this.passwords.refuseChange(email.toLowerCase());
    return this.inner.updatePassword(email, updater);
  }
  async deletePassword(email: string): Promise<void> {
    this.passwords.refuseChange(email.toLowerCase());
    return this.inner.deletePassword(email);
  }

  async createConnector(c: Connector): Promise<void> {
    this.connectors.refuseCreate(c.id);
    return this.inner.createConnector(c);
  }
  async getConnector(id: string): Promise<Connector> {
    return this.connectors.find(id) ?? this.inner.getConnector(id);
  }
  listConnectors(opts?: ListOptions): Promise<Page<Connector>> {
    return this.connectors.list(opts, (o) => this.inner.listConnectors(o));
  }
  async updateConnector(id: string, updater: Updater<Connector>): Promise<Connector> {
    this.connectors.refuseChange(id);
    return this.inner.updateConnector(id, updater);
  }
  async deleteConnector(id: string): Promise<void> {
    this.connectors.refuseChange(id);
    return this.inner.deleteConnector(id);
  }

  // Everything else is the inner storage's alone.

  createAuthRequest(a: AuthRequest): Promise<void> {
    return this.inner.createAuthRequest(a);
  }
  getAuthRequest(id: string): Promise<AuthRequest> {
    return this.inner.getAuthRequest(id);
  }
  updateAuthRequest(id: string, updater: Updater<AuthRequest>): Promise<AuthRequest> {
    return this.inner.updateAuthRequest(id, updater);
  }
  deleteAuthRequest(id: string): Promise<void> {
    return this.inner.deleteAuthRequest(id);
  }
  listAuthRequests(opts?: ListOptions): Promise<Page<AuthRequest>> {
    return this.inner.listAuthRequests(opts);
  }

  createAuthCode(c: AuthCode): Promise<void> {
    return this.inner.createAuthCode(c);
  }
  getAuthCode(id: string): Promise<AuthCode> {
    return this.inner.getAuthCode(id);
  }
  consumeAuthCode(id: string): Promise<AuthCode> {
    return this.inner.consumeAuthCode(id);
  }
  deleteAuthCode(id: string): Promise<void> {
    return this.inner.deleteAuthCode(id);
  }

  createRefreshToken(r: RefreshToken): Promise<void> {
    return this.inner.createRefreshToken(r);
  }
  getRefreshToken(id: string, opts?: { consistent?: boolean }): Promise<RefreshToken> {
    return this.inner.getRefreshToken(id, opts);
  }
  listRefreshTokens(opts?: ListOptions): Promise<Page<RefreshToken>> {
    return this.inner.listRefreshTokens(opts);
  }
  updateRefreshToken(id: string, updater: Updater<RefreshToken>): Promise<RefreshToken> {
    return this.inner.updateRefreshToken(id, updater);
  }
  deleteRefreshToken(id: string): Promise<void> {
    return this.inner.deleteRefreshToken(id);
  }

  createOfflineSessions(o: OfflineSessions): Promise<void> {
    return this.inner.createOfflineSessions(o);
  }
  getOfflineSessions(userID: string, connectorID: string): Promise<OfflineSessions> {
    return this.inner.getOfflineSessions(userID, connectorID);
  }
  updateOfflineSessions(
    userID: string,
    connectorID: string,
    updater: Updater<OfflineSessions>,
  ): Promise<OfflineSessions> {
    return this.inner.updateOfflineSessions(userID, connectorID, updater);
  }
  deleteOfflineSessions(userID: string, connectorID: string): Promise<void> {
    return this.inner.deleteOfflineSessions(userID, connectorID);
  }

  createDeviceRequest(d: DeviceRequest): Promise<void> {
    return this.inner.createDeviceRequest(d);
  }
  getDeviceRequest(userCode: string): Promise<DeviceRequest> {
    return this.inner.getDeviceRequest(userCode);
  }

  createDeviceToken(t: DeviceToken): Promise<void> {
    return this.inner.createDeviceToken(t);
  }
  getDeviceToken(deviceCode: string): Promise<DeviceToken> {
    return this.inner.getDeviceToken(deviceCode);
  }
  updateDeviceToken(deviceCode: string, updater: Updater<DeviceToken>): Promise<DeviceToken> {
    return this.inner.updateDeviceToken(deviceCode, updater);
  }
  consumeDeviceToken(deviceCode: string): Promise<DeviceToken> {
    return this.inner.consumeDeviceToken(deviceCode);
  }

  createKeySet(k: KeySet): Promise<void> {
    return this.inner.createKeySet(k);
  }
  getKeySet(name: KeySetName): Promise<KeySet> {
    return this.inner.getKeySet(name);
  }
  updateKeySet(name: KeySetName, updater: Updater<KeySet>): Promise<KeySet> {
    return this.inner.updateKeySet(name, updater);
  }

  createRevocation(r: Revocation): Promise<void> {
    return this.inner.createRevocation(r);
  }
  getRevocation(id: string): Promise<Revocation> {
    return this.inner.getRevocation(id);
  }

  createSession(session: Session): Promise<void> {
    return this.inner.createSession(session);
  }
  getSession(id: string): Promise<Session> {
    return this.inner.getSession(id);
  }
  listSessions(opts?: ListOptions): Promise<Page<Session>> {
    return this.inner.listSessions(opts);
  }
  updateSession(id: string, updater: Updater<Session>): Promise<Session> {
    return this.inner.updateSession(id, updater);
  }
  deleteSession(id: string): Promise<void> {
    return this.inner.deleteSession(id);
  }

  garbageCollect(now: Date): Promise<GarbageCollectionResult> {
    return this.inner.garbageCollect(now);
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
