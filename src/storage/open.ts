import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { StorageConfig } from '../config/types.js';
import { MemoryStorage } from './memory/memory.js';
import { SqliteStorage } from './sqlite/sqlite.js';
import type { Storage } from './storage.js';

/** Opens the configured back end, ready for use (SQLite: file created and migrated). */
export async function openStorage(cfg: StorageConfig): Promise<Storage> {
  switch (cfg.type) {
    case 'memory':
      return new MemoryStorage();
    case 'sqlite3':
      if (cfg.file !== ':memory:') await mkdir(dirname(resolve(cfg.file)), { recursive: true });
      return SqliteStorage.open(cfg.file);
    case 'kubernetes':
      throw new Error(
        'storage type "kubernetes" is accepted by the configuration but not implemented yet in this build ' +
          '(it has its own issue); use "sqlite3" or "memory" for now',
      );
  }
}
