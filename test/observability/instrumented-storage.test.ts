import { instrumentStorage } from '../../src/observability/instrumented-storage.js';
import { Metrics } from '../../src/observability/metrics.js';
import { NotFoundError } from '../../src/storage/errors.js';
import { MemoryStorage } from '../../src/storage/memory/memory.js';
import type { Storage } from '../../src/storage/storage.js';

/** A back end whose close() calls a helper of its own on `this`, as the Kubernetes one does. */
class ClosingStorage extends MemoryStorage {
  stopped: string[] = [];
  private watches(): string[] {
    return ['clients', 'refreshtokens'];
  }
  override async close(): Promise<void> {
    for (const w of this.watches()) this.stopped.push(w);
    await super.close();
  }
}

async function count(metrics: Metrics, operation: string, outcome: string): Promise<number> {
  const json = await metrics.registry.getMetricsAsJSON();
  const m = json.find((x) => x.name === 'latchkey_storage_operation_duration_seconds');
  const v = (m?.values as { metricName?: string; labels: Record<string, unknown>; value: number }[]).find(
    (x) =>
      x.metricName === 'latchkey_storage_operation_duration_seconds_count' &&
      x.labels.operation === operation &&
      x.labels.outcome === outcome,
  );
  return v?.value ?? 0;
}

describe('instrumentStorage', () => {
  it('times each call by operation and outcome', async () => {
    const metrics = new Metrics();
    const storage: Storage = instrumentStorage(new MemoryStorage(), metrics);
    await expect(storage.getClient('nobody')).rejects.toBeInstanceOf(NotFoundError);
    await storage.listClients();
    expect(await count(metrics, 'getClient', 'not_found')).toBe(1);
    expect(await count(metrics, 'listClients', 'ok')).toBe(1);
  });

  it('closes the back end as itself: its own helpers are not seen through the proxy', async () => {
    const inner = new ClosingStorage();
    const storage = instrumentStorage(inner, new Metrics());
    await storage.close();
    expect(inner.stopped).toEqual(['clients', 'refreshtokens']);
  });
});
