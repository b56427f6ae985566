import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage } from '../../src/storage/open.js';
import * as f from './fixtures.js';

describe('openStorage', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-open-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('opens the memory back end', async () => {
    const s = await openStorage({ type: 'memory' });
    expect(s.kind).toBe('memory');
    await s.createClient(f.client('app'));
    expect((await s.getClient('app')).id).toBe('app');
    await s.close();
  });

  it('opens SQLite, creating the missing folders of its file', async () => {
    const file = join(dir, 'data', 'nested', 'latchkey.db');
    const s = await openStorage({ type: 'sqlite3', file });
    expect(s.kind).toBe('sqlite3');
    await s.createClient(f.client('app'));
    await s.close();
    expect(existsSync(file)).toBe(true);
    const again = await openStorage({ type: 'sqlite3', file });
    expect((await again.getClient('app')).id).toBe('app');
    await again.close();
  });

  it('opens an in-memory SQLite database without touching the disk', async () => {
    const s = await openStorage({ type: 'sqlite3', file: ':memory:' });
    await s.ping();
    await s.close();
    expect(existsSync(':memory:')).toBe(false);
  });

  it('opens the Kubernetes back end, and says why when in-cluster config is used outside a pod', async () => {
    await expect(openStorage({ type: 'kubernetes', inCluster: true, crdHandling: 'ensure' })).rejects.toThrow(
      /inCluster is true, but this process does not run in a Kubernetes pod/,
    );
  });
});
