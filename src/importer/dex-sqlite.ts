import { existsSync } from 'node:fs';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import {
  blobBytes,
  bool,
  bytesText,
  isObject,
  jsonOfBytes,
  optionalStrs,
  parseGoTime,
  refreshMapOf,
  refreshTokenLifetimeOf,
  strs,
} from './dex-encoding.js';
import type {
  DexClient,
  DexConnector,
  DexKeys,
  DexOfflineSession,
  DexPassword,
  DexRecord,
  DexRefreshToken,
  DexSource,
  ShortLivedCounts,
} from './dex-model.js';

// Dex's SQLite storage (storage/sql in Dex): one table per kind, created by Dex's numbered migrations, so a
// file written by an older Dex lacks some columns (claims_preferred_username, obsolete_token, the device
// tables, …); those read as their migration defaults. JSON arrays and objects are blobs, booleans integers,
// times text. The file is opened read-only and read in pages by primary key.

const PAGE_SIZE = 500;

type Row = Record<string, SQLInputValue>;

export class DexSqliteSource implements DexSource {
  readonly description: string;
  private readonly tables: Map<string, Set<string>>;
  private sessionQuery: StatementSync | undefined;

  private constructor(
    private readonly db: DatabaseSync,
    file: string,
  ) {
    this.description = `Dex's SQLite database ${file}`;
    this.tables = new Map();
    const names = db.prepare(`select name from sqlite_master where type = 'table'`).all() as {
      name: string;
    }[];
    for (const { name } of names) {
      const cols = db.prepare(`select name from pragma_table_info(?)`).all(name) as { name: string }[];
      this.tables.set(name, new Set(cols.map((c) => c.name)));
    }
    for (const t of ['migrations', 'client', 'password', 'refresh_token', 'keys']) {
      if (!this.tables.has(t)) {
        db.close();
        throw new Error(`${file} is not a Dex SQLite database (it has no "${t}" table)`);
      }
    }
  }

  static open(file: string): DexSqliteSource {
    // A missing file would otherwise be reported by SQLite as merely "unable to open database file".
    if (!existsSync(file)) throw new Error(`Dex's SQLite database ${file} does not exist`);
    const db = new DatabaseSync(file, { readOnly: true });
    // Dex may be writing while we read: wait for its lock instead of failing.
    db.exec('PRAGMA busy_timeout = 5000');
    return new DexSqliteSource(db, file);
  }

  clients(): AsyncIterable<DexRecord<DexClient>[]> {
    return this.pages('client', 'id', (r) => {
      const allowed = this.has('client', 'allowed_connectors') ? strs(jsonOfBytes(r.allowed_connectors)) : [];
      // The browser-session columns of a Dex built from its main branch, named as allowed_connectors is; a
      // database without them (every release) has clients without these settings.
      const column = (name: string): SQLInputValue | undefined =>
        this.has('client', name) ? r[name] : undefined;
      const postLogout = strs(jsonOfBytes(column('post_logout_redirect_uris')));
      const backchannel = text(column('backchannel_logout_uri'));
      const ssoSharedWith = optionalStrs(jsonOfBytes(column('sso_shared_with')));
      const lifetime = refreshTokenLifetimeOf(text(column('refresh_token_lifetime')));
      return {
        id: text(r.id),
        secret: text(r.secret),
        redirectURIs: strs(jsonOfBytes(r.redirect_uris)),
        trustedPeers: strs(jsonOfBytes(r.trusted_peers)),
        public: bool(r.public),
        name: text(r.name),
        logoURL: text(r.logo_url),
        ...(allowed.length > 0 ? { allowedConnectors: allowed } : {}),
        ...(postLogout.length > 0 ? { postLogoutRedirectURIs: postLogout } : {}),
        ...(backchannel !== '' ? { backchannelLogoutURI: backchannel } : {}),
        ...(ssoSharedWith !== undefined ? { ssoSharedWith } : {}),
        ...(lifetime !== undefined ? { refreshTokenLifetime: lifetime } : {}),
      };
    });
  }

  passwords(): AsyncIterable<DexRecord<DexPassword>[]> {
    return this.pages('password', 'email', (r) => ({
      email: text(r.email),
      hash: bytesText(blobBytes(r.hash)),
      username: text(r.username),
      userID: text(r.user_id),
      ...(text(r.name) !== '' ? { name: text(r.name) } : {}),
      ...(text(r.preferred_username) !== '' ? { preferredUsername: text(r.preferred_username) } : {}),
      // NULL (a row from before the column existed) means "not recorded".
      ...(r.email_verified !== null && r.email_verified !== undefined
        ? { emailVerified: bool(r.email_verified) }
        : {}),
      groups: strs(jsonOfBytes(r.groups)),
    }));
  }

  connectors(): AsyncIterable<DexRecord<DexConnector>[]> {
    if (!this.tables.has('connector')) return empty();
    return this.pages('connector', 'id', (r) => {
      const grantTypes = this.has('connector', 'grant_types') ? strs(jsonOfBytes(r.grant_types)) : [];
      return {
        id: text(r.id),
        type: text(r.type),
        name: text(r.name),
        config: blobBytes(r.config) ?? new Uint8Array(),
        ...(grantTypes.length > 0 ? { grantTypes } : {}),
      };
    });
  }

  refreshTokens(): AsyncIterable<DexRecord<DexRefreshToken>[]> {
    return this.pages('refresh_token', 'id', (r) => {
      const createdAt = parseGoTime(r.created_at);
      const lastUsed = parseGoTime(r.last_used);
      if (!createdAt || !lastUsed) throw new Error('created_at or last_used is not a time');
      const connectorData = blobBytes(r.connector_data);
      return {
        id: text(r.id),
        clientID: text(r.client_id),
        scopes: strs(jsonOfBytes(r.scopes)),
        nonce: text(r.nonce),
        token: text(r.token),
        obsoleteToken: text(r.obsolete_token),
        claims: {
          userID: text(r.claims_user_id),
          username: text(r.claims_username),
          preferredUsername: text(r.claims_preferred_username),
          email: text(r.claims_email),
          emailVerified: bool(r.claims_email_verified),
          groups: strs(jsonOfBytes(r.claims_groups)),
        },
        connectorID: text(r.connector_id),
        ...(connectorData ? { connectorData } : {}),
        createdAt,
        lastUsed,
      };
    });
  }

  async refreshTokenCount(): Promise<number> {
    return this.countOf('refresh_token');
  }

  async offlineSession(userID: string, connectorID: string): Promise<DexOfflineSession | undefined> {
    if (!this.tables.has('offline_session')) return undefined;
    this.sessionQuery ??= this.db.prepare('select * from offline_session where user_id = ? and conn_id = ?');
    const row = this.sessionQuery.get(userID, connectorID) as Row | undefined;
    if (!row) return undefined;
    const connectorData = blobBytes(row.connector_data);
    return {
      userID,
      connectorID,
      refresh: refreshMapOf(jsonOfBytes(row.refresh)),
      ...(connectorData ? { connectorData } : {}),
    };
  }

  async keys(): Promise<DexKeys | undefined> {
    const row = this.db.prepare(`select * from keys where id = 'keys'`).get() as Row | undefined;
    if (!row) return undefined;
    const nextRotation = parseGoTime(row.next_rotation);
    if (!nextRotation) throw new Error(`Dex's signing keys: next_rotation is not a time`);
    const pub = jsonOfBytes(row.signing_key_pub);
    const verification = jsonOfBytes(row.verification_keys);
    return {
      ...(isObject(pub) ? { signingKeyPub: pub } : {}),
      verificationKeys: (Array.isArray(verification) ? verification : []).flatMap((v: unknown) => {
        const expiry = isObject(v) ? parseGoTime(v.expiry) : undefined;
        return isObject(v) && isObject(v.publicKey) && expiry ? [{ publicKey: v.publicKey, expiry }] : [];
      }),
      nextRotation,
    };
  }

  async shortLived(): Promise<ShortLivedCounts> {
    return {
      authRequests: this.countOf('auth_request'),
      authCodes: this.countOf('auth_code'),
      deviceRequests: this.countOf('device_request'),
      deviceTokens: this.countOf('device_token'),
    };
  }

  async close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
  }

  private has(table: string, column: string): boolean {
    return this.tables.get(table)?.has(column) ?? false;
  }

  private countOf(table: string): number {
    if (!this.tables.has(table)) return 0;
    const row = this.db.prepare(`select count(*) as n from "${table}"`).get() as { n: number };
    return Number(row.n);
  }

  private async *pages<T>(
    table: string,
    key: string,
    decode: (r: Row) => T,
  ): AsyncGenerator<DexRecord<T>[], void, undefined> {
    const first = this.db.prepare(`select * from "${table}" order by "${key}" limit ${PAGE_SIZE}`);
    const next = this.db.prepare(
      `select * from "${table}" where "${key}" > ? order by "${key}" limit ${PAGE_SIZE}`,
    );
    let after: string | undefined;
    for (;;) {
      const rows = (after === undefined ? first.all() : next.all(after)) as Row[];
      if (rows.length === 0) return;
      yield rows.map((r) => {
        try {
          return { value: decode(r) };
        } catch (e) {
          return { name: text(r[key]), invalid: (e as Error).message };
        }
      });
      if (rows.length < PAGE_SIZE) return;
      after = text(rows[rows.length - 1]![key]);
    }
  }
}

function text(v: SQLInputValue | undefined): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return bytesText(v);
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return '';
}

async function* empty<T>(): AsyncGenerator<T[], void, undefined> {}
