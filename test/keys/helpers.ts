// Shared by the key tests: a logger that records, and a storage wrapper that counts key-set writes and can
// be made to fail.

import type { KeyLogger } from '../../src/keys/manager.js';
import { UnavailableError } from '../../src/storage/errors.js';
import { MemoryStorage } from '../../src/storage/memory/memory.js';
import type { KeySet, KeySetName, Storage, Updater } from '../../src/storage/storage.js';

export const H = 60 * 60 * 1000;
export const T0 = new Date('2030-01-01T00:00:00.000Z');

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object;
  msg: string | undefined;
}

export function recordingLogger(): KeyLogger & {
  entries: LogEntry[];
  at(level: LogEntry['level']): LogEntry[];
} {
  const entries: LogEntry[] = [];
  const log =
    (level: LogEntry['level']) =>
    (obj: object, msg?: string): void => {
      entries.push({ level, obj, msg });
    };
  return {
    entries,
    at: (level) => entries.filter((e) => e.level === level),
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
  };
}

export interface Counts {
  creates: number;
  createConflicts: number;
  gets: number;
  updates: number;
  /** Updates whose updater returned a new object (a write), counted once per update call. */
  writes: number;
}

/** MemoryStorage with key-set calls counted; `failing = true` makes key-set calls throw Unavailable. */
export class CountingStorage extends MemoryStorage {
  readonly counts: Counts = { creates: 0, createConflicts: 0, gets: 0, updates: 0, writes: 0 };
  failing = false;

  override async createKeySet(k: KeySet): Promise<void> {
    this.check();
    this.counts.creates++;
    try {
      await super.createKeySet(k);
    } catch (e) {
      this.counts.createConflicts++;
      throw e;
    }
  }
  override async getKeySet(name: KeySetName): Promise<KeySet> {
    this.check();
    this.counts.gets++;
    return super.getKeySet(name);
  }
  override async updateKeySet(name: KeySetName, updater: Updater<KeySet>): Promise<KeySet> {
    this.check();
    this.counts.updates++;
    let wrote = false;
    const result = await super.updateKeySet(name, (old) => {
      const next = updater(old);
      wrote = next !== old;
      return next;
    });
    if (wrote) this.counts.writes++;
    return result;
  }
  private check(): void {
    if (this.failing) throw new UnavailableError('storage down (test)');
  }
}

export const asStorage = (s: CountingStorage): Storage => s;
