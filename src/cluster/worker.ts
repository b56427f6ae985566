import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import type { HealthStatus } from '../observability/storage-health.js';
import { viewOf, type LimitName } from '../oauth/limits.js';
import { startLatchkey, type ListenOverrides, type RunningLatchkey } from '../server/server.js';
import { RpcClient, serveRpc } from './rpc.js';
import { connectStorage } from './storage-proxy.js';
import { isPrimaryMessage, type WorkerMessage } from './messages.js';

// One worker of a replica (cluster/primary.ts): the whole web side — routes, connectors, keys, signing —
// over the primary's storage, limits and storage health, reached over IPC. Its listeners are the
// primary's, shared. It stops when the primary says so; a signal sent to the whole process group (Ctrl-C in
// a terminal) is left to the primary, which stops the workers in order.

/** How often the primary's storage check is mirrored (an IPC call; the primary never pings for it). */
const HEALTH_MIRROR_MS = 2_000;

export async function runWorker(
  config: Config,
  opts: { logger: Logger; overrides?: ListenOverrides },
): Promise<RunningLatchkey> {
  const rpc = new RpcClient(process);
  const metrics = new Metrics();
  serveRpc(process, { metrics: () => metrics.registry.getMetricsAsJSON() });
  const storage = await connectStorage(rpc);
  let last = await rpc.call<HealthStatus>('health', []);
  const mirror = setInterval(() => {
    rpc.call<HealthStatus>('health', []).then(
      (status: HealthStatus) => (last = status),
      (err: unknown) =>
        (last = { ready: false, checkedAt: new Date().toISOString(), error: (err as Error).message }),
    );
  }, HEALTH_MIRROR_MS);
  mirror.unref();

  const running = await startLatchkey(config, {
    logger: opts.logger,
    ...(opts.overrides ? { overrides: opts.overrides } : {}),
    replica: {
      storage,
      limits: viewOf((name: LimitName, method, args) => rpc.call('limits', [name, method, args])),
      health: { status: () => last },
      metrics,
      close: async () => {
        clearInterval(mirror);
        rpc.close();
      },
    },
  });
  const ignore = () => {};
  process.on('SIGTERM', ignore);
  process.on('SIGINT', ignore);
  process.on('message', (m: unknown) => {
    if (!isPrimaryMessage(m)) return;
    running.close(m.graceMs).then(
      () => process.exit(0),
      (err: unknown) => {
        opts.logger.error({ err }, 'worker shutdown failed');
        process.exit(1);
      },
    );
  });
  // Without its primary a worker has no storage: it goes too.
  process.on('disconnect', () => process.exit(1));
  process.send?.({ latchkey: 'listening', urls: running.webUrls } satisfies WorkerMessage);
  return running;
}
