import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { callLimit } from '../oauth/limits.js';
import { openReplica } from '../server/replica.js';
import { Readiness } from '../server/health-routes.js';
import { listen, type RunningListener } from '../server/listen.js';
import type { ListenOverrides } from '../server/server.js';
import { telemetryApp } from '../server/telemetry.js';
import { systemClock } from '../util/clock.js';
import { RpcClient, serveRpc, type RpcHandlers } from './rpc.js';
import { storageHandlers } from './storage-host.js';
import { isWorkerMessage, type PrimaryMessage } from './messages.js';

// The primary of a replica that runs several workers (web.workers): it holds what a replica has once — the
// storage with its watches, Lease and GC, the in-memory limits, the storage check — and serves them to its
// workers over IPC; the workers serve HTTP on listeners they share (node:cluster hands each accepted
// connection to one of them). The primary also serves telemetry, with every worker's metrics added to its
// own, and runs the graceful stop: readiness off, the workers drain and exit, then the storage closes.

/** A worker that dies within this long of its start is not restarted at once (a crash loop). */
const RESTART_BACKOFF_MS = 1_000;

export interface RunningPrimary {
  webUrls: string[];
  telemetryUrl?: string;
  workers: number;
  close(graceMs: number): Promise<void>;
}

export async function runPrimary(
  config: Config,
  opts: {
    logger: Logger;
    workers: number;
    overrides?: ListenOverrides;
    /** Node.js flags of the workers (their share of the heap); default: the primary's own. */
    execArgv?: string[];
  },
): Promise<RunningPrimary> {
  const { logger } = opts;
  const metrics = new Metrics();
  const core = await openReplica(config, { logger, metrics, clock: systemClock });
  const handlers: RpcHandlers = {
    ...storageHandlers(core.storage),
    limits: (name: unknown, method: unknown, args: unknown) => callLimit(core.limits, name, method, args),
    health: () => core.health.status(),
  };
  // Structured clone over IPC: entities keep their Dates and byte arrays (cluster/rpc.ts).
  cluster.setupPrimary({
    serialization: 'advanced',
    ...(opts.execArgv ? { execArgv: opts.execArgv } : {}),
  });

  const live = new Map<Worker, RpcClient>();
  let serving = false;
  let stopping = false;
  let webUrls: string[] = [];

  const start = async (): Promise<void> => {
    // A restart timer that fires once the primary stops (or failed to start) forks nothing.
    if (stopping) return;
    const worker = cluster.fork();
    const startedAt = Date.now();
    serveRpc(worker, handlers);
    live.set(worker, new RpcClient(worker));
    worker.on('exit', (code, signal) => {
      live.get(worker)?.close();
      live.delete(worker);
      if (stopping) return;
      logger.error({ worker: worker.process.pid, code, signal }, 'worker exited; starting another');
      const wait = Math.max(0, RESTART_BACKOFF_MS - (Date.now() - startedAt));
      setTimeout(
        () => void start().catch((err: unknown) => logger.error({ err }, 'worker restart failed')),
        wait,
      );
    });
    const [message] = await Promise.race([
      waitForMessage(worker, 'listening'),
      once(worker, 'exit').then(() => {
        throw new Error(`worker ${worker.process.pid} exited before it was serving`);
      }),
    ]);
    webUrls = message.urls;
    // The shared listener hands connections only to workers that listen: one is enough to serve.
    serving = true;
  };

  const telemetryListeners: RunningListener[] = [];
  try {
    // Telemetry first: a probe or a scrape that follows the first answer of a worker finds it listening.
    // Not ready, though, until a worker serves.
    const readiness = new Readiness({
      status: () =>
        serving
          ? core.health.status()
          : { ready: false, checkedAt: new Date().toISOString(), error: 'starting workers' },
    });
    const telemetryAddr = opts.overrides?.telemetry ?? config.telemetry.http;
    let telemetryUrl: string | undefined;
    if (telemetryAddr) {
      const source = {
        registry: {
          contentType: metrics.registry.contentType,
          metrics: () => replicaMetrics(metrics, [...live.values()]),
        },
      };
      const t = await listen(telemetryAddr, telemetryApp(source, readiness));
      telemetryListeners.push(t);
      telemetryUrl = t.url;
    }
    await Promise.all(Array.from({ length: opts.workers }, () => start()));
    return {
      webUrls,
      ...(telemetryUrl ? { telemetryUrl } : {}),
      workers: opts.workers,
      close: async (graceMs) => {
        stopping = true;
        readiness.drain();
        // Each worker drains (web.drainDelay), lets requests in flight finish and exits.
        const exits = [...live.keys()].map((w) => once(w, 'exit'));
        for (const w of live.keys()) w.send({ latchkey: 'stop', graceMs } satisfies PrimaryMessage);
        const deadline = (config.web.drainDelay ?? 0) + graceMs + 5_000;
        const timer = setTimeout(() => {
          for (const w of live.keys()) w.process.kill('SIGKILL');
        }, deadline);
        await Promise.all(exits);
        clearTimeout(timer);
        await Promise.all(telemetryListeners.map((l) => l.close(graceMs)));
        await core.close();
      },
    };
  } catch (err) {
    stopping = true;
    for (const w of live.keys()) w.process.kill('SIGKILL');
    await Promise.all(telemetryListeners.map((l) => l.close(0)));
    await core.close();
    throw err;
  }
}

/** The replica's metrics: the primary's own plus every worker's, summed as Prometheus would across pods. */
type MetricsJSON = MetricObjectWithValues<MetricValue<string>>[];

async function replicaMetrics(own: Metrics, workers: RpcClient[]): Promise<string> {
  // A worker that does not answer (it is restarting) is left out of this scrape rather than failing it.
  const parts = await Promise.all(
    workers.map((w) => w.call<MetricsJSON>('metrics', []).catch((): MetricsJSON => [])),
  );
  const aggregated = AggregatorRegistry.aggregate([await own.registry.getMetricsAsJSON(), ...parts]);
  return aggregated.metrics();
}

/** The worker's "listening" message; its other messages (RPC, metrics) pass by. */
function waitForMessage(worker: Worker, kind: 'listening'): Promise<[{ urls: string[] }]> {
  return new Promise((resolve) => {
    const onMessage = (m: unknown) => {
      if (!isWorkerMessage(m) || m.latchkey !== kind) return;
      worker.off('message', onMessage);
      resolve([m]);
    };
    worker.on('message', onMessage);
  });
}
