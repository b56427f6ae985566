import { AlreadyExistsError, ConflictError, NotFoundError } from '../errors.js';
import type { ListOptions, Page, Updater } from '../storage.js';
import { continueAfter, encodeContinue, pageSize } from '../paging.js';
import { deepCopy } from '../copy.js';

// One keyed collection of the memory back end. Every value crosses the boundary as a deep copy, so a
// caller holding a returned object (or the one it created) can never change what is stored.

/** Re-applications of an updater before giving up with ConflictError. */
export const MAX_UPDATE_ATTEMPTS = 5;

interface Row<T> {
  readonly value: T;
  readonly version: number;
}

export class MemoryTable<T> {
  private readonly rows = new Map<string, Row<T>>();
  private sortedKeys: string[] | undefined;

  constructor(
    private readonly what: string,
    /** Normalises a value on the way in (lower-cased emails, fresh resource versions). */
    private readonly prepare: (value: T) => T = (v) => v,
  ) {}

  create(key: string, value: T): void {
    if (this.rows.has(key)) throw new AlreadyExistsError(`${this.what} ${JSON.stringify(key)}`);
    this.rows.set(key, { value: this.prepare(deepCopy(value)), version: 1 });
    this.sortedKeys = undefined;
  }

  get(key: string): T {
    return deepCopy(this.row(key).value);
  }

  delete(key: string): void {
    this.row(key);
    this.rows.delete(key);
    this.sortedKeys = undefined;
  }

  /** Removes and returns; the synchronous check-and-delete is what makes it single-use. */
  take(key: string): T {
    const row = this.row(key);
    this.rows.delete(key);
    this.sortedKeys = undefined;
    return row.value;
  }

  /**
   * The updater runs synchronously between the read and the write, so the only way the row can change in
   * between is an update started from inside the updater itself; that makes this attempt stale.
   */
  update(key: string, updater: Updater<T>, keyOf: (value: T) => string): T {
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const read = this.row(key);
      const input = deepCopy(read.value);
      const output = updater(input);
      if (output === input) return deepCopy(read.value);
      if (this.rows.get(key) !== read) continue;
      const next = this.prepare(deepCopy(output));
      if (keyOf(next) !== key)
        throw new TypeError(`an updater may not change the key of ${this.what} ${key}`);
      this.rows.set(key, { value: next, version: read.version + 1 });
      return deepCopy(next);
    }
    throw new ConflictError(`${this.what} ${JSON.stringify(key)}`);
  }

  list(opts: ListOptions | undefined): Page<T> {
    const keys = this.keysInOrder();
    const limit = pageSize(opts);
    const after = continueAfter(opts);
    const start = after === undefined ? 0 : firstIndexAfter(keys, after);
    const slice = keys.slice(start, start + limit);
    const items = slice.map((k) => deepCopy(this.rows.get(k)!.value));
    const last = slice.at(-1);
    return start + limit < keys.length && last !== undefined
      ? { items, continue: encodeContinue(last) }
      : { items };
  }

  /** Deletes matching rows, at most `batch` per step, yielding between steps so a backlog never blocks. */
  async deleteWhere(matches: (value: T) => boolean, batch: number): Promise<number> {
    // A Map iterator stays valid across deletions and insertions, and has no return(), so breaking out of
    // for-of leaves it open: each step resumes where the previous one stopped and every row is seen once.
    const rows = this.rows.entries();
    let deleted = 0;
    for (;;) {
      let inStep = 0;
      let exhausted = true;
      for (const [key, row] of rows) {
        if (matches(row.value)) {
          this.rows.delete(key);
          this.sortedKeys = undefined;
          inStep++;
        }
        if (inStep >= batch) {
          exhausted = false;
          break;
        }
      }
      deleted += inStep;
      if (exhausted) return deleted;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private row(key: string): Row<T> {
    const row = this.rows.get(key);
    if (!row) throw new NotFoundError(`${this.what} ${JSON.stringify(key)}`);
    return row;
  }

  private keysInOrder(): string[] {
    this.sortedKeys ??= [...this.rows.keys()].sort(compareKeys);
    return this.sortedKeys;
  }
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function firstIndexAfter(sorted: string[], after: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
