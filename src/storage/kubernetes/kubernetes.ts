import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubernetesStorageConfig } from '../../config/types.js';
import {
  AlreadyExistsError,
  ConflictError,
  NotFoundError,
  StorageError,
  UnavailableError,
} from '../errors.js';
import { continueAfter, encodeContinue, pageSize } from '../paging.js';
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
import { KubeApi, KubeApiError, type KubeObject, type RequestCounter } from './api.js';
import { KubernetesStorageStartupError, loadCluster } from './cluster.js';
import * as k from './codec.js';
import { LABEL_EXPIRES } from './names.js';
import { Lease } from './lease.js';
import type { StorageLogger } from './logger.js';
import { SECRET_FRESH_MS, SecretsByName, WatchedSecrets, type ClientSecretSource } from './client-secrets.js';
import { checkPermissions, describeStartupFailure, prepareCrds, requiredPermissions } from './startup.js';
import {
  judgeClient,
  judgeConnector,
  judgePassword,
  StatusReporter,
  type StatusJudges,
  type StatusKind,
} from './status.js';
import { TokenCache } from './token-cache.js';
import { WatchCache } from './watch-cache.js';

// Storage in custom resources of the latchkey.dev/v1 group, in one namespace (see manifests/crds).
//
// - Clients, key sets, connectors, passwords and revocations are read from a watch cache (no request per
//   read); every other kind is read from the API, never from a cache: one-time objects above all.
//   Revocations are cached because /userinfo and introspection ask for one on every call, and they are few
//   (written only when a login is revoked, collected when its last access token has expired).
// - Refresh tokens, offline sessions and browser sessions are too many to hold whole: a bounded TokenCache
//   (token-cache.ts) keeps those this replica created, read or updated, invalidated by a watch, so a refresh
//   or an SSO login reads nothing from the API, and a session deleted elsewhere (logout on another replica,
//   `kubectl delete authsession`) is gone here once the watch says so; a write stays a compare-and-swap on
//   the version read, so a stale hit loses and the update retries on a fresh GET.
// - Writes are compare-and-swap on metadata.resourceVersion; an update re-reads and re-applies its updater
//   on 409, a bounded number of times.
// - Codes and device tokens are consumed by a GET and a DELETE with a uid + resourceVersion precondition,
//   so of concurrent consumers (in any process) exactly one gets the object.
// - Garbage collection selects expired objects by a label (`latchkey.dev/expires<now`), in pages, and runs
//   on one replica at a time (a Lease).

export interface KubernetesStorageOptions {
  logger?: StorageLogger;
  /** Called for every API request the back end makes (request budgets; see RequestTally). */
  requestCounter?: RequestCounter;
  /** Objects garbage collection lists per page (default 500). */
  gcPageSize?: number;
  /** Timeout of each API request (default 10 s). */
  requestTimeoutMs?: number;
  /** Lease duration of the garbage-collection Lease (default 60 s). */
  gcLeaseDurationSeconds?: number;
  /** This replica's name as a Lease holder (default: host name + random suffix). */
  identity?: string;
  /** How long a client's Secret read by name is used before it is read again (default 10 s). */
  secretFreshMs?: number;
  /** Where the CRD manifests are (default: manifests/crds of this installation). */
  crdDirectory?: string;
  /**
   * Given, a Ready condition is written into the status of OAuth2Client, Password and Connector objects (on
   * the replica holding the garbage-collection Lease, when it changes), judged with these rules of the
   * layers above storage. The server gives them (src/connectors/status-judges.ts); absent, nothing is
   * written, so that a library user's request counts hold only its own calls.
   */
  statusJudges?: StatusJudges;
  /** For tests: environment and service-account directory prefix of an in-cluster start. */
  env?: NodeJS.ProcessEnv;
  inClusterRoot?: string;
}

export { RequestTally } from './api.js';
export type { RequestCounter, Verb } from './api.js';
export { KubernetesStorageStartupError } from './cluster.js';

/** Re-applications of an updater after a 409 before giving up with ConflictError. */
export const MAX_UPDATE_ATTEMPTS = 5;
/** Entries of each token cache (refresh tokens, offline and browser sessions) unless configured. */
export const DEFAULT_TOKEN_CACHE_SIZE = 10_000;
const GC_LEASE_NAME = 'latchkey-gc';
const GC_DELETE_CONCURRENCY = 8;

type Expiring = { expiry?: Date };

interface UpdateTrack {
  starts: number;
  active: number;
}

export class KubernetesStorage implements Storage {
  readonly kind = 'kubernetes';

  private closed = false;
  private readonly gcPageSize: number;
  private readonly lease: Lease;
  private readonly clientCache: WatchCache;
  private readonly passwordCache: WatchCache;
  private readonly connectorCache: WatchCache;
  private readonly keySetCache: WatchCache;
  private readonly revocationCache: WatchCache;
  /** Absent when the configured size is 0: every read is a GET, as before. */
  private readonly refreshTokenCache: TokenCache | undefined;
  private readonly offlineSessionCache: TokenCache | undefined;
  private readonly sessionCache: TokenCache | undefined;
  private readonly clientSecrets: ClientSecretSource;
  private readonly status: StatusReporter | undefined;
  /** Updates in progress per entity, to notice an update started from inside another's updater. */
  private readonly updates = new Map<string, UpdateTrack>();

  private constructor(
    private readonly api: KubeApi,
    private readonly opts: KubernetesStorageOptions,
    watchSecrets: boolean,
    tokenCacheSize: number,
  ) {
    this.clientSecrets = watchSecrets
      ? new WatchedSecrets(api, opts.logger)
      : new SecretsByName(api, { freshMs: opts.secretFreshMs ?? SECRET_FRESH_MS, logger: opts.logger });
    this.gcPageSize = Math.max(1, opts.gcPageSize ?? 500);
    this.lease = new Lease(
      api,
      GC_LEASE_NAME,
      opts.identity ?? `${hostname()}-${randomBytes(4).toString('hex')}`,
      opts.gcLeaseDurationSeconds ?? 60,
    );
    const statusOf = (
      kind: k.Kind<unknown>,
      cache: () => WatchCache,
      judge: StatusKind['judge'],
    ): StatusKind => ({
      ref: kind.ref,
      judge,
      objects: () => cache().objects(),
      byName: (name) => cache().byObjectName(name),
      written: (o) => cache().put(o),
    });
    const clientStatus = statusOf(
      k.clients,
      () => this.clientCache,
      (o) => judgeClient(o, (name) => this.clientSecrets.get(name)),
    );
    const judges = opts.statusJudges;
    const passwordStatus = statusOf(
      k.passwords,
      () => this.passwordCache,
      (o) => judgePassword(o, judges!),
    );
    const connectorStatus = statusOf(
      k.connectors,
      () => this.connectorCache,
      (o) => judgeConnector(o, judges!),
    );
    const status = judges
      ? new StatusReporter({
          api,
          lease: this.lease,
          kinds: [clientStatus, passwordStatus, connectorStatus],
          logger: opts.logger,
        })
      : undefined;
    this.status = status;
    this.clientCache = this.cacheOf(k.clients, (o) => {
      if (k.secretRefOf(o)) this.clientSecrets.referenced();
      status?.changed(clientStatus, o);
    });
    this.passwordCache = this.cacheOf(k.passwords, (o) => status?.changed(passwordStatus, o));
    this.connectorCache = this.cacheOf(k.connectors, (o) => status?.changed(connectorStatus, o));
    this.keySetCache = this.cacheOf(k.keySets);
    this.revocationCache = this.cacheOf(k.revocations);
    if (tokenCacheSize > 0) {
      this.refreshTokenCache = this.tokenCacheOf(k.refreshTokens, tokenCacheSize);
      this.offlineSessionCache = this.tokenCacheOf(k.offlineSessions, tokenCacheSize);
      this.sessionCache = this.tokenCacheOf(k.sessions, tokenCacheSize);
    }
  }

  /**
   * Connects, checks (or creates) the CRDs and permissions, and fills the watch caches. Fails with a
   * KubernetesStorageStartupError saying what is wrong: missing CRDs, missing RBAC, an unreachable API.
   */
  static async open(
    cfg: KubernetesStorageConfig,
    opts: KubernetesStorageOptions = {},
  ): Promise<KubernetesStorage> {
    const cluster = loadCluster(cfg, {
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.inClusterRoot !== undefined ? { inClusterRoot: opts.inClusterRoot } : {}),
    });
    const api = new KubeApi(
      cluster.kc,
      cluster.namespace,
      opts.requestCounter,
      opts.requestTimeoutMs ?? 10_000,
    );
    await prepareCrds(api, {
      mode: cfg.crdHandling,
      logger: opts.logger,
      ...(opts.crdDirectory ? { dir: opts.crdDirectory } : {}),
    });
    const watchSecrets = cfg.watchSecrets === true;
    const storage = new KubernetesStorage(
      api,
      opts,
      watchSecrets,
      cfg.tokenCacheSize ?? DEFAULT_TOKEN_CACHE_SIZE,
    );
    await checkPermissions(api, requiredPermissions(storage.cachedPlurals(), { watchSecrets }), opts.logger);
    try {
      await Promise.all([...storage.caches(), ...storage.tokenCaches()].map((c) => c.start()));
    } catch (e) {
      await storage.close();
      throw new KubernetesStorageStartupError(describeStartupFailure(e, api.namespace), { cause: e });
    }
    // Before serving, so that the status writes of a start never land among the first requests' own.
    await storage.status?.reconcileAll();
    opts.logger?.info(
      { namespace: api.namespace, server: api.server },
      'kubernetes storage: connected; watch caches filled',
    );
    return storage;
  }

  get namespace(): string {
    return this.api.namespace;
  }

  // ---- clients -----------------------------------------------------------------------------------------

  async createClient(c: Client): Promise<void> {
    await this.createCached(k.clients, this.clientCache, c);
  }
  async getClient(id: string): Promise<Client> {
    return this.clientOf(this.fromCache(k.clients, this.clientCache, id));
  }
  async listClients(opts?: ListOptions): Promise<Page<Client>> {
    return this.listCached(this.clientCache, opts, (o) => this.clientOf(o));
  }
  async updateClient(id: string, updater: Updater<Client>): Promise<Client> {
    return this.update(k.clients, id, updater, {
      cache: this.clientCache,
      decode: (o) => this.clientOf(o),
      prepare: (next, base, current) => {
        const obj = k.toObject(k.clients, next, this.namespace, base);
        const ref = k.secretRefOf(base);
        if (ref) {
          if (next.secret !== current.secret) {
            throw new TypeError(
              `the secret of client ${JSON.stringify(id)} comes from key "${ref.key}" of Secret "${ref.name}"; change it there`,
            );
          }
          delete obj.spec!.secret;
          obj.spec!.secretRef = { name: ref.name, key: ref.key };
        }
        return obj;
      },
    });
  }
  async deleteClient(id: string): Promise<void> {
    await this.deleteCached(k.clients, this.clientCache, id);
  }

  // ---- auth requests -----------------------------------------------------------------------------------

  async createAuthRequest(a: AuthRequest): Promise<void> {
    await this.create(k.authRequests, a);
  }
  async getAuthRequest(id: string): Promise<AuthRequest> {
    return k.authRequests.decode(await this.read(k.authRequests, id));
  }
  async updateAuthRequest(id: string, updater: Updater<AuthRequest>): Promise<AuthRequest> {
    return this.update(k.authRequests, id, updater);
  }
  async deleteAuthRequest(id: string): Promise<void> {
    await this.remove(k.authRequests, id);
  }
  async listAuthRequests(opts?: ListOptions): Promise<Page<AuthRequest>> {
    return this.list(k.authRequests, opts);
  }

  // ---- auth codes --------------------------------------------------------------------------------------

  async createAuthCode(c: AuthCode): Promise<void> {
    await this.create(k.authCodes, c);
  }
  async getAuthCode(id: string): Promise<AuthCode> {
    return k.authCodes.decode(await this.read(k.authCodes, id));
  }
  async consumeAuthCode(id: string): Promise<AuthCode> {
    return this.consume(k.authCodes, id);
  }
  async deleteAuthCode(id: string): Promise<void> {
    await this.remove(k.authCodes, id);
  }

  // ---- refresh tokens ----------------------------------------------------------------------------------

  async createRefreshToken(r: RefreshToken): Promise<void> {
    await this.create(k.refreshTokens, r, this.refreshTokenCache);
  }
  async getRefreshToken(id: string, opts?: { consistent?: boolean }): Promise<RefreshToken> {
    // A consistent read skips the cached copy, and its answer replaces it.
    const o = await this.readThrough(k.refreshTokens, id, this.refreshTokenCache, opts?.consistent);
    return k.refreshTokens.decode(o);
  }
  async listRefreshTokens(opts?: ListOptions): Promise<Page<RefreshToken>> {
    return this.list(k.refreshTokens, opts);
  }
  async updateRefreshToken(id: string, updater: Updater<RefreshToken>): Promise<RefreshToken> {
    return this.update(k.refreshTokens, id, updater, { tokenCache: this.refreshTokenCache });
  }
  async deleteRefreshToken(id: string): Promise<void> {
    await this.remove(k.refreshTokens, id, this.refreshTokenCache);
  }

  // ---- offline sessions --------------------------------------------------------------------------------

  async createOfflineSessions(o: OfflineSessions): Promise<void> {
    await this.create(k.offlineSessions, o, this.offlineSessionCache);
  }
  async getOfflineSessions(userID: string, connectorID: string): Promise<OfflineSessions> {
    const key = k.offlineSessionsKey(userID, connectorID);
    return k.offlineSessions.decode(await this.readThrough(k.offlineSessions, key, this.offlineSessionCache));
  }
  async updateOfflineSessions(
    userID: string,
    connectorID: string,
    updater: Updater<OfflineSessions>,
  ): Promise<OfflineSessions> {
    return this.update(k.offlineSessions, k.offlineSessionsKey(userID, connectorID), updater, {
      tokenCache: this.offlineSessionCache,
    });
  }
  async deleteOfflineSessions(userID: string, connectorID: string): Promise<void> {
    await this.remove(k.offlineSessions, k.offlineSessionsKey(userID, connectorID), this.offlineSessionCache);
  }

  // ---- passwords ---------------------------------------------------------------------------------------

  async createPassword(p: Password): Promise<void> {
    await this.createCached(k.passwords, this.passwordCache, p);
  }
  async getPassword(email: string): Promise<Password> {
    return k.passwords.decode(this.fromCache(k.passwords, this.passwordCache, email.toLowerCase()));
  }
  async listPasswords(opts?: ListOptions): Promise<Page<Password>> {
    return this.listCached(this.passwordCache, opts, (o) => k.passwords.decode(o));
  }
  async updatePassword(email: string, updater: Updater<Password>): Promise<Password> {
    return this.update(k.passwords, email.toLowerCase(), updater, { cache: this.passwordCache });
  }
  async deletePassword(email: string): Promise<void> {
    await this.deleteCached(k.passwords, this.passwordCache, email.toLowerCase());
  }

  // ---- connectors --------------------------------------------------------------------------------------

  async createConnector(c: Connector): Promise<void> {
    await this.createCached(k.connectors, this.connectorCache, c);
  }
  async getConnector(id: string): Promise<Connector> {
    return k.connectors.decode(this.fromCache(k.connectors, this.connectorCache, id));
  }
  async listConnectors(opts?: ListOptions): Promise<Page<Connector>> {
    return this.listCached(this.connectorCache, opts, (o) => k.connectors.decode(o));
  }
  async updateConnector(id: string, updater: Updater<Connector>): Promise<Connector> {
    return this.update(k.connectors, id, updater, { cache: this.connectorCache });
  }
  async deleteConnector(id: string): Promise<void> {
    await this.deleteCached(k.connectors, this.connectorCache, id);
  }

  // ---- device flow -------------------------------------------------------------------------------------

  async createDeviceRequest(d: DeviceRequest): Promise<void> {
    await this.create(k.deviceRequests, d);
  }
  async getDeviceRequest(userCode: string): Promise<DeviceRequest> {
    return k.deviceRequests.decode(await this.read(k.deviceRequests, userCode));
  }
  async createDeviceToken(t: DeviceToken): Promise<void> {
    await this.create(k.deviceTokens, t);
  }
  async getDeviceToken(deviceCode: string): Promise<DeviceToken> {
    return k.deviceTokens.decode(await this.read(k.deviceTokens, deviceCode));
  }
  async updateDeviceToken(deviceCode: string, updater: Updater<DeviceToken>): Promise<DeviceToken> {
    return this.update(k.deviceTokens, deviceCode, updater);
  }
  async consumeDeviceToken(deviceCode: string): Promise<DeviceToken> {
    return this.consume(k.deviceTokens, deviceCode);
  }

  // ---- key sets ----------------------------------------------------------------------------------------

  async createKeySet(ks: KeySet): Promise<void> {
    await this.createCached(k.keySets, this.keySetCache, ks);
  }
  async getKeySet(name: KeySetName): Promise<KeySet> {
    return k.keySets.decode(this.fromCache(k.keySets, this.keySetCache, name));
  }
  async updateKeySet(name: KeySetName, updater: Updater<KeySet>): Promise<KeySet> {
    return this.update(k.keySets, name, updater, { cache: this.keySetCache });
  }

  // ---- revocations -------------------------------------------------------------------------------------

  async createRevocation(r: Revocation): Promise<void> {
    await this.createCached(k.revocations, this.revocationCache, r);
  }
  async getRevocation(id: string): Promise<Revocation> {
    return k.revocations.decode(this.fromCache(k.revocations, this.revocationCache, id));
  }

  // ---- browser sessions --------------------------------------------------------------------------------

  async createSession(session: Session): Promise<void> {
    await this.create(k.sessions, session, this.sessionCache);
  }
  async getSession(id: string): Promise<Session> {
    return k.sessions.decode(await this.readThrough(k.sessions, id, this.sessionCache));
  }
  async listSessions(opts?: ListOptions): Promise<Page<Session>> {
    return this.list(k.sessions, opts);
  }
  async updateSession(id: string, updater: Updater<Session>): Promise<Session> {
    return this.update(k.sessions, id, updater, { tokenCache: this.sessionCache });
  }
  async deleteSession(id: string): Promise<void> {
    await this.remove(k.sessions, id, this.sessionCache);
  }

  // ---- maintenance -------------------------------------------------------------------------------------

  async garbageCollect(now: Date): Promise<GarbageCollectionResult> {
    this.open();
    const result: GarbageCollectionResult = {
      authRequests: 0,
      authCodes: 0,
      deviceRequests: 0,
      deviceTokens: 0,
      refreshTokens: 0,
      revocations: 0,
      sessions: 0,
    };
    try {
      if (!(await this.lease.acquire())) return result;
    } catch (e) {
      throw this.storageError(e, `lease ${GC_LEASE_NAME}`, 'write');
    }
    result.authRequests = await this.collect(k.authRequests, now);
    result.authCodes = await this.collect(k.authCodes, now);
    result.deviceRequests = await this.collect(k.deviceRequests, now);
    result.deviceTokens = await this.collect(k.deviceTokens, now);
    result.refreshTokens = await this.collect(k.refreshTokens, now, { tokenCache: this.refreshTokenCache });
    result.revocations = await this.collect(k.revocations, now, { cache: this.revocationCache });
    result.sessions = await this.collect(k.sessions, now, {
      tokenCache: this.sessionCache,
      expiryOf: sessionExpiry,
    });
    // While holding the Lease: judge every object again (a Secret created after its client, a replica that
    // lost the Lease with judgements pending).
    await this.status?.reconcileAll();
    return result;
  }

  /** One LIST of at most one key set: read-only, and it proves the API, RBAC and the CRDs are there. */
  async ping(): Promise<void> {
    this.open();
    try {
      await this.api.list(k.keySets.ref, { limit: 1 });
    } catch (e) {
      throw this.storageError(e, 'key sets', 'read');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.status?.stop();
    for (const c of [...this.caches(), ...this.tokenCaches()]) c.stop();
    this.clientSecrets.stop();
    this.api.close();
  }

  // ---- uncached kinds ----------------------------------------------------------------------------------

  private async create<T>(kind: k.Kind<T>, v: T, tokenCache?: TokenCache): Promise<void> {
    this.open();
    const key = kind.key(v);
    const obj = k.toObject(kind, v, this.namespace);
    const create = () => this.api.create<KubeObject>(kind.ref, obj);
    try {
      await (tokenCache ? tokenCache.through(obj.metadata.name, create) : create());
    } catch (e) {
      throw this.storageError(e, describe(kind, key), 'create');
    }
  }

  /** GET by the derived name, checking that the object holds this key. */
  private async read<T>(kind: k.Kind<T>, key: string, name: string = kind.name(key)): Promise<KubeObject> {
    this.open();
    let o: KubeObject;
    try {
      o = await this.api.get(kind.ref, name);
    } catch (e) {
      throw this.storageError(e, describe(kind, key), 'read');
    }
    const held = kind.specKey(o.spec ?? {});
    if (held !== key) {
      throw new NotFoundError(`${describe(kind, key)} (object ${name} holds ${JSON.stringify(held)})`);
    }
    return o;
  }

  private async remove<T>(kind: k.Kind<T>, key: string, tokenCache?: TokenCache): Promise<void> {
    this.open();
    const name = kind.name(key);
    try {
      await this.api.delete(kind.ref, name);
    } catch (e) {
      throw this.storageError(e, describe(kind, key), 'write');
    } finally {
      tokenCache?.forget(name);
    }
  }

  /**
   * A hit of the token cache, else a GET (whose answer the cache keeps); the same key check as `read`. A
   * hit may be a moment stale: whoever writes on it does so with a compare-and-swap (see `update`).
   */
  private async readThrough<T>(
    kind: k.Kind<T>,
    key: string,
    tokenCache: TokenCache | undefined,
    skipHit = false,
  ): Promise<KubeObject> {
    if (!tokenCache) return this.read(kind, key);
    this.open();
    const name = kind.name(key);
    const hit = skipHit ? undefined : tokenCache.get(name);
    if (hit && kind.specKey(hit.spec ?? {}) === key) return hit;
    return tokenCache.through(name, () => this.read(kind, key, name));
  }

  private async list<T>(kind: k.Kind<T>, opts?: ListOptions): Promise<Page<T>> {
    this.open();
    try {
      const page = await this.api.list(kind.ref, {
        limit: pageSize(opts),
        ...(opts?.continue !== undefined ? { continue: opts.continue } : {}),
      });
      const items = page.items.map((o) => kind.decode(o));
      const next = page.metadata?.continue;
      return next ? { items, continue: next } : { items };
    } catch (e) {
      throw this.storageError(e, `${kind.what} list`, 'read');
    }
  }

  /** A real GET (never a cache), then a DELETE that only succeeds on exactly the version read. */
  private async consume<T>(kind: k.Kind<T>, key: string): Promise<T> {
    const o = await this.read(kind, key);
    try {
      await this.api.delete(kind.ref, o.metadata.name, {
        ...(o.metadata.uid ? { uid: o.metadata.uid } : {}),
        ...(o.metadata.resourceVersion ? { resourceVersion: o.metadata.resourceVersion } : {}),
      });
    } catch (e) {
      throw this.storageError(e, describe(kind, key), 'write');
    }
    return kind.decode(o);
  }

  // ---- cached kinds ------------------------------------------------------------------------------------

  private cacheOf<T>(kind: k.Kind<T>, onChange?: (o: KubeObject) => void): WatchCache {
    return new WatchCache(this.api, {
      resource: kind.plural,
      path: `/apis/${kind.ref.group}/${kind.ref.version}/namespaces/${this.api.namespace}/${kind.plural}`,
      list: () => this.api.list(kind.ref),
      keyOf: (o) => kind.specKey(o.spec ?? {}) || undefined,
      logger: this.opts.logger,
      ...(onChange ? { onChange } : {}),
    });
  }

  private caches(): WatchCache[] {
    return [
      this.clientCache,
      this.passwordCache,
      this.connectorCache,
      this.keySetCache,
      this.revocationCache,
    ];
  }

  private tokenCaches(): TokenCache[] {
    return [this.refreshTokenCache, this.offlineSessionCache, this.sessionCache].filter(
      (c) => c !== undefined,
    );
  }

  private cachedPlurals(): Set<string> {
    const watched: k.Kind<unknown>[] = [k.clients, k.passwords, k.connectors, k.keySets, k.revocations];
    if (this.refreshTokenCache) watched.push(k.refreshTokens, k.offlineSessions, k.sessions);
    return new Set(watched.map((x) => x.plural));
  }

  private tokenCacheOf<T>(kind: k.Kind<T>, maxEntries: number): TokenCache {
    return new TokenCache(this.api, {
      resource: kind.plural,
      path: `/apis/${kind.ref.group}/${kind.ref.version}/namespaces/${this.api.namespace}/${kind.plural}`,
      // A LIST of one item is a consistent read: its version is where a watch misses nothing after it.
      currentVersion: async () =>
        (await this.api.list(kind.ref, { limit: 1 })).metadata?.resourceVersion ?? '',
      maxEntries,
      logger: this.opts.logger,
    });
  }

  private fromCache<T>(kind: k.Kind<T>, cache: WatchCache, key: string): KubeObject {
    this.open();
    const o = cache.lookup(key);
    if (!o) throw new NotFoundError(describe(kind, key));
    return o;
  }

  private async createCached<T>(kind: k.Kind<T>, cache: WatchCache, v: T): Promise<void> {
    this.open();
    const key = kind.key(v);
    if (cache.lookup(key)) throw new AlreadyExistsError(describe(kind, key));
    const name = kind.name(key);
    try {
      cache.put(await this.api.create(kind.ref, k.toObject(kind, v, this.namespace)));
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 409) {
        // Created by another replica the watch has not shown yet: take it in, so a re-read finds it.
        await this.api.get(kind.ref, name).then(
          (existing) => cache.put(existing),
          () => undefined,
        );
      }
      throw this.storageError(e, describe(kind, key), 'create');
    }
  }

  private async deleteCached<T>(kind: k.Kind<T>, cache: WatchCache, key: string): Promise<void> {
    this.open();
    const known = cache.lookup(key);
    const name = known?.metadata.name ?? kind.name(key);
    try {
      await this.api.delete(kind.ref, name);
    } catch (e) {
      if (known && e instanceof KubeApiError && e.status === 404) cache.remove(known);
      throw this.storageError(e, describe(kind, key), 'write');
    }
    cache.remove(known ?? { metadata: { name } });
  }

  private async listCached<T>(
    cache: WatchCache,
    opts: ListOptions | undefined,
    decode: (o: KubeObject) => T | Promise<T>,
  ): Promise<Page<T>> {
    this.open();
    const limit = pageSize(opts);
    const after = continueAfter(opts);
    const entries = cache.entries().filter(([key]) => after === undefined || key > after);
    const slice = entries.slice(0, limit);
    const items = await Promise.all(slice.map(([, o]) => decode(o)));
    const last = slice.at(-1);
    return entries.length > limit && last ? { items, continue: encodeContinue(last[0]) } : { items };
  }

  // ---- updates -----------------------------------------------------------------------------------------

  /**
   * Read, apply the updater, PUT with the resourceVersion read; on 409 read again (from the API) and
   * re-apply. An update of the same entity started from inside the updater also makes the attempt stale:
   * it will have changed the entity by the time this write lands, and the API could not tell (the inner
   * update may not even have read yet).
   */
  private async update<T>(
    kind: k.Kind<T>,
    key: string,
    updater: Updater<T>,
    how: {
      cache?: WatchCache;
      /** Reads of attempt 0 may hit it; every read and write passes through it. */
      tokenCache?: TokenCache | undefined;
      decode?: (o: KubeObject) => T | Promise<T>;
      prepare?: (next: T, base: KubeObject, current: T) => KubeObject;
    } = {},
  ): Promise<T> {
    this.open();
    const decode = how.decode ?? ((o: KubeObject) => kind.decode(o));
    const prepare =
      how.prepare ?? ((next: T, base: KubeObject) => k.toObject(kind, next, this.namespace, base));
    const what = describe(kind, key);
    const trackKey = `${kind.plural}\u0000${key}`;
    let track = this.updates.get(trackKey);
    if (!track) this.updates.set(trackKey, (track = { starts: 0, active: 0 }));
    track.starts++;
    track.active++;
    try {
      let name: string | undefined;
      for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
        if (attempt > 0) await jitter(attempt);
        let base: KubeObject;
        if (how.cache && attempt === 0) {
          base = this.fromCache(kind, how.cache, key);
        } else if (how.cache) {
          base = await this.read(kind, key, name ?? how.cache.lookup(key)?.metadata.name ?? kind.name(key));
        } else if (how.tokenCache) {
          // After a 409 the hit (if it was one) is what went stale: read the truth from the API.
          const tokenCache = how.tokenCache;
          const objectName = kind.name(key);
          const hit = attempt === 0 ? tokenCache.get(objectName) : undefined;
          base =
            hit && kind.specKey(hit.spec ?? {}) === key
              ? hit
              : await tokenCache.through(objectName, () => this.read(kind, key, objectName));
        } else {
          base = await this.read(kind, key);
        }
        name = base.metadata.name;
        const current = await decode(base);
        const startsBefore = track.starts;
        const next = updater(current);
        if (next === current) return await decode(base);
        if (track.starts !== startsBefore) continue;
        if (kind.key(next) !== key) throw new TypeError(`an updater may not change the key of ${what}`);
        let written: KubeObject;
        const objectName = name;
        const replace = () =>
          this.api.replace<KubeObject>(kind.ref, objectName, prepare(next, base, current));
        try {
          written = await (how.tokenCache ? how.tokenCache.through(objectName, replace) : replace());
        } catch (e) {
          if (e instanceof KubeApiError && e.status === 409) continue;
          if (e instanceof KubeApiError && e.status === 404) how.tokenCache?.forget(objectName);
          if (e instanceof KubeApiError && e.status === 404 && how.cache) how.cache.remove(base);
          throw this.storageError(e, what, 'write');
        }
        how.cache?.put(written);
        return await decode(written);
      }
      throw new ConflictError(what);
    } finally {
      if (--track.active === 0) this.updates.delete(trackKey);
    }
  }

  // ---- client secrets from Secrets ---------------------------------------------------------------------

  private async clientOf(o: KubeObject): Promise<Client> {
    const c = k.clients.decode(o);
    const ref = k.secretRefOf(o);
    if (!ref) return c;
    const secret = await this.clientSecrets.get(ref.name);
    const value = secret?.data?.[ref.key];
    if (value === undefined) {
      throw new UnavailableError(
        `kubernetes storage: client ${JSON.stringify(c.id)} takes its secret from key "${ref.key}" of Secret ` +
          `"${ref.name}" in namespace "${this.namespace}", which ${secret ? 'has no such key' : 'does not exist'}`,
      );
    }
    // A value written from a file usually ends with a newline that is not part of the secret.
    return {
      ...c,
      secret: Buffer.from(value, 'base64')
        .toString('utf8')
        .replace(/[\r\n]+$/, ''),
    };
  }

  // ---- garbage collection ------------------------------------------------------------------------------

  private async collect<T>(
    kind: k.Kind<T>,
    now: Date,
    how: {
      cache?: WatchCache;
      tokenCache?: TokenCache | undefined;
      /** When the entity expires, as its expires label says (default: its `expiry`). */
      expiryOf?: (v: T) => Date | undefined;
    } = {},
  ): Promise<number> {
    const expiryOf = how.expiryOf ?? ((v: T) => (v as Expiring).expiry);
    const t = now.getTime();
    // Label values are whole seconds: select a superset, then compare at millisecond precision.
    const labelSelector = `${LABEL_EXPIRES}<${Math.floor(t / 1000) + 1}`;
    let deleted = 0;
    let cont: string | undefined;
    try {
      do {
        const page = await this.api.list(kind.ref, {
          limit: this.gcPageSize,
          labelSelector,
          ...(cont ? { continue: cont } : {}),
        });
        const expired = page.items.filter((o) => {
          const expiry = expiryOf(kind.decode(o));
          return expiry !== undefined && expiry.getTime() < t;
        });
        deleted += await this.deleteAll(kind, expired, how);
        cont = page.metadata?.continue || undefined;
        if (cont && !(await this.lease.renewIfDue())) break;
      } while (cont);
    } catch (e) {
      throw this.storageError(e, `garbage collection of ${kind.plural}`, 'write');
    }
    return deleted;
  }

  /** Deletes exactly the versions listed (a token refreshed meanwhile is kept); returns how many went. */
  private async deleteAll<T>(
    kind: k.Kind<T>,
    objects: KubeObject[],
    caches: { cache?: WatchCache; tokenCache?: TokenCache | undefined },
  ): Promise<number> {
    let deleted = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < objects.length) {
        const o = objects[next++]!;
        try {
          await this.api.delete(kind.ref, o.metadata.name, {
            ...(o.metadata.uid ? { uid: o.metadata.uid } : {}),
            ...(o.metadata.resourceVersion ? { resourceVersion: o.metadata.resourceVersion } : {}),
          });
          caches.cache?.remove(o);
          // Its watch would drop it too, a moment later: meanwhile it must not be served.
          caches.tokenCache?.forget(o.metadata.name);
          deleted++;
        } catch (e) {
          if (!(e instanceof KubeApiError && (e.status === 404 || e.status === 409))) throw e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(GC_DELETE_CONCURRENCY, objects.length) }, worker));
    return deleted;
  }

  // ---- errors ------------------------------------------------------------------------------------------

  private open(): void {
    if (this.closed) throw new UnavailableError('kubernetes storage is closed');
  }

  /** API failures as storage errors: 404 NotFound, 409 AlreadyExists/Conflict, no answer/5xx/429 Unavailable. */
  private storageError(e: unknown, what: string, op: 'create' | 'read' | 'write'): Error {
    if (e instanceof StorageError || !(e instanceof KubeApiError)) return e as Error;
    // Creating in a namespace that does not exist: not the entity's absence.
    if (e.status === 404 && op === 'create') {
      return new UnavailableError(
        `kubernetes storage: cannot create ${what}: namespace "${this.namespace}" not found (${e.message})`,
        { cause: e },
      );
    }
    if (e.status === 404) return new NotFoundError(what, { cause: e });
    if (e.status === 409) {
      return op === 'create'
        ? new AlreadyExistsError(what, { cause: e })
        : new ConflictError(what, { cause: e });
    }
    // No answer from the API server: the token caches' watches may be dead too (token-cache.ts).
    if (e.transient) for (const c of this.tokenCaches()) c.distrust();
    if (e.transient || e.status === 401 || e.status === 403) {
      return new UnavailableError(`kubernetes storage: ${describeStartupFailure(e, this.namespace)}`, {
        cause: e,
      });
    }
    return new Error(`kubernetes storage: ${what}: ${e.message}`, { cause: e });
  }
}

function describe<T>(kind: k.Kind<T>, key: string): string {
  // The offline-sessions key is already JSON: ["user","connector"].
  return `${kind.what} ${kind === (k.offlineSessions as k.Kind<unknown>) ? key : JSON.stringify(key)}`;
}

/** Random wait growing with the attempt, so racing writers spread out. */
function jitter(attempt: number): Promise<void> {
  const ms = Math.random() * 5 * 2 ** attempt;
  return new Promise((r) => setTimeout(r, ms));
}
