import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { StorageConfig } from '../config/types.js';
import type { RequestCounter } from './kubernetes/api.js';
import type { StorageLogger } from './kubernetes/logger.js';
import type { StatusJudges } from './kubernetes/status.js';
import { MemoryStorage } from './memory/memory.js';
import type { Storage } from './storage.js';

// The SQLite and Kubernetes back ends are imported only when configured: the Kubernetes one brings
// @kubernetes/client-node (about 85 MB and half a second to load), which a SQLite installation never uses.

export interface OpenStorageOptions {
  logger?: StorageLogger;
  /** Kubernetes only: called for every API request (the request budgets are checked through it). */
  requestCounter?: RequestCounter;
  /** Kubernetes only: write the Ready condition of clients, passwords and connectors, judged by these. */
  statusJudges?: StatusJudges;
}

/**
 * Opens the configured back end, ready for use (SQLite: file created and migrated; Kubernetes: CRDs
 * checked or created, permissions checked, watch caches filled).
 */
export async function openStorage(cfg: StorageConfig, opts: OpenStorageOptions = {}): Promise<Storage> {
  switch (cfg.type) {
    case 'memory':
      return new MemoryStorage();
    case 'sqlite3': {
      if (cfg.file !== ':memory:') await mkdir(dirname(resolve(cfg.file)), { recursive: true });
      const { SqliteStorage } = await import('./sqlite/sqlite.js');
      return SqliteStorage.open(cfg.file);
    }
    case 'kubernetes': {
      const { KubernetesStorage } = await import('./kubernetes/kubernetes.js');
      return KubernetesStorage.open(cfg, {
        ...(opts.statusJudges ? { statusJudges: opts.statusJudges } : {}),
        ...(opts.logger ? { logger: opts.logger } : {}),
        ...(opts.requestCounter ? { requestCounter: opts.requestCounter } : {}),
      });
    }
  }
}
