import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Storage } from '../storage/storage.js';
import { openStorage } from '../storage/open.js';
import { instrumentStorage } from '../observability/instrumented-storage.js';
import { StorageHealthMonitor } from '../observability/storage-health.js';
import { statusJudges } from '../connectors/status-judges.js';
import { ReplicaLimits } from '../oauth/limits.js';
import type { Clock } from '../util/clock.js';
import type { StorageHealth } from './health-routes.js';

// What a replica holds exactly once, however many worker processes serve its requests: the storage (on
// Kubernetes one set of watches, one Lease, one status writer), the in-memory limits, the background storage
// check and garbage collection. A single-process server opens it itself; with `web.workers` above 1 the
// primary opens it and the workers reach it over IPC (src/cluster/), so N workers cost the API server what
// one replica does.

const GC_INTERVAL_MS = 5 * 60_000;

export interface ReplicaCore {
  storage: Storage;
  limits: ReplicaLimits;
  health: StorageHealth;
  /** Stops GC and the storage check, then closes the storage: the last thing a replica does. */
  close(): Promise<void>;
}

export async function openReplica(
  config: Config,
  opts: { logger: Logger; metrics: Metrics; clock: Clock },
): Promise<ReplicaCore> {
  const { logger, metrics, clock } = opts;
  // The config file's clients, passwords and connectors are not here: each web process lays them over
  // this storage itself (server.ts), so a worker answers them without a round trip to its primary.
  const storage = instrumentStorage(
    await openStorage(config.storage, {
      logger: logger.child({ component: 'storage' }),
      requestCounter: (verb, resource) => metrics.kubernetesRequests.inc({ verb, resource }),
      statusJudges,
    }),
    metrics,
  );
  const stopping = new AbortController();
  const health = new StorageHealthMonitor(storage, {
    clock,
    onResult: (ready) => metrics.storageReady.set(ready ? 1 : 0),
  });
  let gc: NodeJS.Timeout | undefined;
  try {
    await health.start(stopping.signal);
    gc = setInterval(() => {
      storage
        .garbageCollect(clock.now())
        .then((r) => {
          for (const [kind, n] of Object.entries(r)) if (n > 0) metrics.gcDeleted.inc({ kind }, n);
          const total = Object.values(r).reduce((a, b) => a + b, 0);
          if (total > 0) logger.info({ component: 'gc', ...r }, 'garbage collection removed expired objects');
        })
        .catch((err: unknown) => logger.error({ component: 'gc', err }, 'garbage collection failed'));
    }, GC_INTERVAL_MS);
    gc.unref();
  } catch (err) {
    stopping.abort();
    await storage.close();
    throw err;
  }
  return {
    storage,
    limits: new ReplicaLimits(config.throttling, clock),
    health,
    close: async () => {
      clearInterval(gc);
      stopping.abort();
      await storage.close();
    },
  };
}
