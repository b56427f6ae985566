import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import { AlreadyExistsError, ConflictError, NotFoundError, UnavailableError } from '../errors.js';
import type { ListOptions, Page, Updater } from '../storage.js';
import { continueAfter, encodeContinue, pageSize } from '../paging.js';
import { decodeBody, encodeBody } from './codec.js';

// One entity table: key columns, a version for compare-and-swap, an optional expiry column, the JSON body.
// node:sqlite is synchronous, so every method here runs to completion without yielding, except the paged
// garbage collection, which yields between pages.

/** Re-applications of an updater before giving up with ConflictError. */
export const MAX_UPDATE_ATTEMPTS = 10;

export interface TableSpec<T> {
  table: string;
  /** For error messages: "client", "auth request", … */
  what: string;
  keyColumns: readonly string[];
  keyOf(value: T): string[];
  /** Only for tables with an expiry column; undefined = never expires. */
  expiryOf?(value: T): Date | undefined;
  /** Normalises a value before it is written (lower-cased email, no resource version in the body). */
  prepare?(value: T): T;
  /** Fills in what the row holds outside the body (the connector's resource version). */
  fromRow?(value: T, version: number): T;
  /** The version a row gets on its next write; default: one more than before. */
  nextVersion?(previous: number | undefined): number;
}

interface StoredRow {
  version: number;
  body: string;
}

export class SqliteTable<T> {
  private readonly statements = new Map<string, StatementSync>();
  private readonly keyWhere: string;
  private readonly hasExpiry: boolean;

  constructor(
    private readonly db: DatabaseSync,
    private readonly spec: TableSpec<T>,
  ) {
    this.keyWhere = spec.keyColumns.map((c) => `${c} = ?`).join(' AND ');
    this.hasExpiry = spec.expiryOf !== undefined;
  }

  create(value: T): void {
    guard(() => {
      const v = this.prepare(value);
      const cols = [...this.spec.keyColumns, 'version', ...(this.hasExpiry ? ['expiry'] : []), 'body'];
      const sql = `INSERT INTO ${this.spec.table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})
        ON CONFLICT DO NOTHING`;
      const params: SQLInputValue[] = [...this.spec.keyOf(v), this.nextVersion(undefined)];
      if (this.hasExpiry) params.push(this.expiry(v));
      params.push(encodeBody(v));
      if (this.stmt(sql).run(...params).changes === 0)
        throw new AlreadyExistsError(this.describe(this.spec.keyOf(v)));
    });
  }

  get(key: string[]): T {
    return guard(() => this.toValue(this.read(key)));
  }

  delete(key: string[]): void {
    guard(() => {
      const sql = `DELETE FROM ${this.spec.table} WHERE ${this.keyWhere}`;
      if (this.stmt(sql).run(...key).changes === 0) throw new NotFoundError(this.describe(key));
    });
  }

  /** One DELETE … RETURNING: whichever connection's statement runs first gets the row, the rest get nothing. */
  take(key: string[]): T {
    return guard(() => {
      const sql = `DELETE FROM ${this.spec.table} WHERE ${this.keyWhere} RETURNING version, body`;
      const row = this.stmt(sql).get(...key) as StoredRow | undefined;
      if (!row) throw new NotFoundError(this.describe(key));
      return this.toValue(row);
    });
  }

  /**
   * Optimistic: read, apply, then write only if the version is still the one read. A write in between (by
   * another connection, or by an update nested in the updater) leaves 0 rows changed: read and apply again.
   */
  update(key: string[], updater: Updater<T>): T {
    const cas =
      `UPDATE ${this.spec.table} SET version = ?, ${this.hasExpiry ? 'expiry = ?, ' : ''}body = ? ` +
      `WHERE ${this.keyWhere} AND version = ?`;
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const row = guard(() => this.read(key));
      const input = this.toValue(row);
      const output = updater(input);
      if (output === input) return this.toValue(row);
      const next = this.prepare(output);
      const nextKey = this.spec.keyOf(next);
      if (nextKey.some((k, i) => k !== key[i])) {
        throw new TypeError(`an updater may not change the key of ${this.describe(key)}`);
      }
      const version = this.nextVersion(row.version);
      const params: SQLInputValue[] = [version];
      if (this.hasExpiry) params.push(this.expiry(next));
      const body = encodeBody(next);
      params.push(body, ...key, row.version);
      if (guard(() => this.stmt(cas).run(...params).changes) === 1) return this.toValue({ version, body });
    }
    throw new ConflictError(this.describe(key));
  }

  /** Pages in key order; the continue token carries the last key served. Single-column keys only. */
  list(opts: ListOptions | undefined): Page<T> {
    return guard(() => {
      const [keyColumn] = this.spec.keyColumns;
      const limit = pageSize(opts);
      const after = continueAfter(opts);
      const where = after === undefined ? '' : `WHERE ${keyColumn} > ?`;
      const sql = `SELECT ${keyColumn} AS k, version, body FROM ${this.spec.table} ${where} ORDER BY ${keyColumn} LIMIT ?`;
      // One row more than asked tells whether another page follows, so the last page never has a token.
      const params: SQLInputValue[] = after === undefined ? [limit + 1] : [after, limit + 1];
      const rows = this.stmt(sql).all(...params) as unknown as (StoredRow & { k: string })[];
      const page = rows.slice(0, limit);
      const items = page.map((r) => this.toValue(r));
      return rows.length > limit ? { items, continue: encodeContinue(page.at(-1)!.k) } : { items };
    });
  }

  /** Deletes rows expired at `now` (expiry < now), `batch` per statement, yielding between statements. */
  async deleteExpired(now: Date, batch: number): Promise<number> {
    const sql =
      `DELETE FROM ${this.spec.table} WHERE rowid IN ` +
      `(SELECT rowid FROM ${this.spec.table} WHERE expiry < ? LIMIT ?)`;
    let deleted = 0;
    for (;;) {
      const changes = Number(guard(() => this.stmt(sql).run(now.getTime(), batch).changes));
      deleted += changes;
      if (changes < batch) return deleted;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private read(key: string[]): StoredRow {
    const sql = `SELECT version, body FROM ${this.spec.table} WHERE ${this.keyWhere}`;
    const row = this.stmt(sql).get(...key) as StoredRow | undefined;
    if (!row) throw new NotFoundError(this.describe(key));
    return row;
  }

  private toValue(row: StoredRow): T {
    const value = decodeBody<T>(row.body);
    return this.spec.fromRow ? this.spec.fromRow(value, row.version) : value;
  }

  private prepare(value: T): T {
    return this.spec.prepare ? this.spec.prepare(value) : value;
  }

  private nextVersion(previous: number | undefined): number {
    return this.spec.nextVersion ? this.spec.nextVersion(previous) : (previous ?? 0) + 1;
  }

  private expiry(value: T): number | null {
    const expiry = this.spec.expiryOf?.(value);
    return expiry === undefined ? null : expiry.getTime();
  }

  private describe(key: string[]): string {
    return `${this.spec.what} ${key.map((k) => JSON.stringify(k)).join('/')}`;
  }

  private stmt(sql: string): StatementSync {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }
}

/** Turns SQLite's own errors (busy past the timeout, I/O, a closed file) into the storage's Unavailable. */
export function guard<R>(fn: () => R): R {
  try {
    return fn();
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ERR_SQLITE_ERROR' || code === 'ERR_INVALID_STATE') {
      throw new UnavailableError(`sqlite: ${(e as Error).message}`, { cause: e });
    }
    throw e;
  }
}
