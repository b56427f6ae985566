import { Metrics } from '../../src/observability/metrics.js';
import { StorageHealthMonitor } from '../../src/observability/storage-health.js';
import { Readiness } from '../../src/server/health-routes.js';
import { listen } from '../../src/server/listen.js';
import { telemetryApp } from '../../src/server/telemetry.js';
import { startInProcess } from '../helpers/in-process.js';
import { freePort } from '../helpers/net.js';

// /livez and /readyz, Kubernetes' own probe names, beside the /healthz family: liveness never depends on
// storage, readiness is the last background check (so a probe never hangs with the API server) or false
// while draining.

/** A probe as the kubelet makes it: with a timeout, failing (not hanging) when nothing answers. */
async function probe(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: await res.text() };
}

describe('probes on the telemetry listener, with a storage that never answers', () => {
  it('answers /readyz 503 at once, naming the timeout, and /livez 200', async () => {
    const hung = { ping: () => new Promise<void>(() => {}) };
    const monitor = new StorageHealthMonitor(hung, { intervalMs: 60_000, timeoutMs: 200 });
    await monitor.start();
    const metrics = new Metrics();
    const l = await listen('127.0.0.1:0', telemetryApp(metrics, new Readiness(monitor)));
    try {
      for (const path of ['/readyz', '/healthz/ready']) {
        const ready = await probe(`${l.url}${path}`);
        expect({ path, status: ready.status }).toEqual({ path, status: 503 });
        expect(JSON.parse(ready.body)).toMatchObject({
          ready: false,
          error: 'storage did not answer within 200 ms',
        });
      }
      for (const path of ['/livez', '/healthz/live']) {
        expect(await probe(`${l.url}${path}`)).toEqual({ status: 200, body: 'ok' });
      }
    } finally {
      monitor.stop();
      await l.close(0);
    }
  });
});

describe('probes of a running Latchkey', () => {
  it('serves /livez and /readyz on both listeners; draining turns readiness false, never liveness', async () => {
    const telemetryPort = await freePort();
    const server = await startInProcess(`telemetry:\n  http: 127.0.0.1:${telemetryPort}`, {
      web: '  drainDelay: 2s',
    });
    const telemetry = `http://127.0.0.1:${telemetryPort}`;
    let closing: Promise<void> | undefined;
    try {
      expect(await probe(`${telemetry}/livez`)).toEqual({ status: 200, body: 'ok' });
      const ready = await probe(`${telemetry}/readyz`);
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.body)).toMatchObject({ ready: true });
      expect(await probe(`${server.issuer}/livez`)).toEqual({ status: 200, body: 'ok' });
      expect(await probe(`${server.issuer}/readyz`)).toEqual({ status: 200, body: 'Health check passed' });
      // The storage check's gauge follows the background check.
      expect(await server.running.metrics.registry.getSingleMetricAsString('latchkey_storage_ready')).toMatch(
        /^latchkey_storage_ready 1$/m,
      );

      closing = server.running.close(5_000);
      const draining = await probe(`${telemetry}/readyz`);
      expect(draining.status).toBe(503);
      expect(JSON.parse(draining.body)).toMatchObject({ ready: false, error: 'shutting down' });
      expect((await probe(`${server.issuer}/readyz`)).status).toBe(503);
      // A liveness failure now would restart the container mid-drain.
      expect((await probe(`${telemetry}/livez`)).status).toBe(200);
      expect((await probe(`${server.issuer}/livez`)).status).toBe(200);
      // Probes are not logged (they would drown everything else); other requests are.
      expect((await probe(`${server.issuer}/.well-known/openid-configuration`)).status).toBe(200);
      const paths = server.logs().map((l) => String(l.path ?? ''));
      expect(paths).toContain(`${new URL(server.issuer).pathname}/.well-known/openid-configuration`);
      expect(paths.filter((p) => /livez|readyz/.test(p))).toEqual([]);
    } finally {
      await (closing ?? server.close());
    }
  });
});
