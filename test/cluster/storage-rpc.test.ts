import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RpcClient } from '../../src/cluster/rpc.js';
import { serveStorage } from '../../src/cluster/storage-host.js';
import { connectStorage } from '../../src/cluster/storage-proxy.js';
import {
  AlreadyExistsError,
  NotFoundError,
  UnavailableError,
  isAlreadyExists,
  isNotFound,
} from '../../src/storage/errors.js';
import { MemoryStorage } from '../../src/storage/memory/memory.js';
import type { Client } from '../../src/storage/storage.js';
import {
  runStorageConformance,
  type StorageFactoryOptions,
  type StorageUnderTest,
} from '../storage/conformance.js';
import { rejection } from '../storage/conformance/context.js';
import * as f from '../storage/fixtures.js';
import { TestChild, until, within } from './fork.js';
import { RecordingChannel } from './recording-channel.js';

// A Storage served by one process to others over their IPC channels (src/cluster): the conformance suite run
// unchanged against the proxy, with the storage (memory, SQLite) in a forked host process; then what only the
// channel adds — the calls an update costs, stale compare-and-swaps, errors and values crossing, a host that
// dies, and several worker processes updating one entity through one host.

const dir = mkdtempSync(join(tmpdir(), 'latchkey-storage-rpc-'));
const children: TestChild[] = [];

afterAll(async () => {
  for (const child of children) await child.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Host {
  child: TestChild;
  /** Drives the host's test handlers (test.fresh). */
  control: RpcClient;
}

async function startHost(kind: 'memory' | 'sqlite'): Promise<Host> {
  const child = new TestChild('storage-host.ts', kind === 'sqlite' ? ['sqlite', dir] : ['memory']);
  children.push(child);
  await child.ready();
  return { child, control: new RpcClient(child.process) };
}

/**
 * Host processes serving one storage each, reused from test to test (a fork per test would cost seconds);
 * a test holding two storages at once (the GC page-size test) gets a second host.
 */
class HostPool {
  private readonly idle: Host[] = [];

  constructor(private readonly kind: 'memory' | 'sqlite') {}

  async fresh(opts: StorageFactoryOptions = {}): Promise<StorageUnderTest> {
    const host = this.idle.pop() ?? (await startHost(this.kind));
    await host.control.call('test.fresh', [opts]);
    // Each storage has its own client on the host's channel, as each worker has.
    const storage = await connectStorage(new RpcClient(host.child.process));
    return {
      storage,
      cleanup: async () => {
        await storage.close();
        this.idle.push(host);
      },
    };
  }
}

const memoryHosts = new HostPool('memory');
const sqliteHosts = new HostPool('sqlite');
runStorageConformance('memory over rpc', (opts) => memoryHosts.fresh(opts));
runStorageConformance('sqlite3 over rpc', (opts) => sqliteHosts.fresh(opts));

describe('storage over rpc', () => {
  let host: Host;
  beforeAll(async () => {
    host = await startHost('memory');
  });
  beforeEach(async () => {
    await host.control.call('test.fresh', [{}]);
  });

  async function proxyOn(channel: RecordingChannel | TestChild['process']) {
    return connectStorage(new RpcClient(channel));
  }

  it('reports the back end’s kind', async () => {
    const s = await proxyOn(host.child.process);
    expect(s.kind).toBe(new MemoryStorage().kind);
    await s.close();
  });

  it('updates with one read and one compare-and-swap; an unchanged entity costs only the read', async () => {
    const channel = new RecordingChannel(host.child.process);
    const s = await proxyOn(channel);
    await s.createClient(f.client('c'));
    channel.sent.length = 0;

    expect(await s.updateClient('c', (c) => c)).toEqual(f.client('c'));
    expect(channel.methods()).toEqual(['storage.getClient']);

    channel.sent.length = 0;
    expect(await s.updateClient('c', (c) => ({ ...c, name: 'renamed' }))).toEqual({
      ...f.client('c'),
      name: 'renamed',
    });
    expect(channel.methods()).toEqual(['storage.getClient', 'storage.updateClient']);
    expect((await s.getClient('c')).name).toBe('renamed');
    await s.close();
  });

  it('re-applies the updater to the entity as it now is when another worker wrote first, without a re-read', async () => {
    const slow = new RecordingChannel(host.child.process);
    const a = await proxyOn(slow);
    const b = await proxyOn(host.child.process);
    await a.createClient(f.client('c'));
    slow.sent.length = 0;
    slow.holdBack = 'storage.updateClient';

    const seen: string[] = [];
    const updated = a.updateClient('c', (c) => {
      seen.push(c.name);
      return { ...c, name: `${c.name}+a` };
    });
    await until(() => slow.methods().includes('storage.updateClient'), 'a’s compare-and-swap');
    // b's whole update lands while a's write is on its way.
    await b.updateClient('c', (c) => ({ ...c, name: `${c.name}+b` }));
    expect(slow.release()).toBe(1);
    slow.holdBack = undefined;

    const name = f.client('c').name;
    expect((await updated).name).toBe(`${name}+b+a`);
    expect(seen).toEqual([name, `${name}+b`]);
    expect(slow.methods()).toEqual(['storage.getClient', 'storage.updateClient', 'storage.updateClient']);
    expect((await b.getClient('c')).name).toBe(`${name}+b+a`);
    await a.close();
    await b.close();
  });

  it('brings storage errors back as their classes, and the host’s refusals as errors', async () => {
    const s = await proxyOn(host.child.process);
    const missing = await rejection(s.getClient('missing'));
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(isNotFound(missing)).toBe(true);
    await s.createClient(f.client('c'));
    const duplicate = await rejection(s.createClient(f.client('c')));
    expect(duplicate).toBeInstanceOf(AlreadyExistsError);
    expect(isAlreadyExists(duplicate)).toBe(true);
    await expect(s.updateClient('c', (c) => ({ ...c, id: 'other' }))).rejects.toThrow(
      /may not change the key/,
    );
    await expect(s.updateClient('missing', (c) => c)).rejects.toBeInstanceOf(NotFoundError);
    await s.close();
  });

  it('hands back Dates and byte arrays of this realm', async () => {
    const s = await proxyOn(host.child.process);
    const sent = { ...f.authRequest('ar'), connectorData: Uint8Array.of(0, 9, 255) };
    await s.createAuthRequest(sent);
    const got = await s.getAuthRequest('ar');
    expect(got).toEqual(sent);
    expect(got.expiry).toBeInstanceOf(Date);
    expect(got.connectorData).toBeInstanceOf(Uint8Array);
    const page = await s.listAuthRequests();
    expect(page.items[0]!.expiry).toBeInstanceOf(Date);
    await s.close();
  });

  it('closes only its client: the host’s storage serves on', async () => {
    const first = await proxyOn(host.child.process);
    await first.createClient(f.client('c'));
    await first.close();
    await expect(first.getClient('c')).rejects.toBeInstanceOf(UnavailableError);
    const second = await proxyOn(host.child.process);
    expect(await second.getClient('c')).toEqual(f.client('c'));
    await second.close();
  });

  it('fails calls with UnavailableError once its host has died', async () => {
    const doomed = await startHost('memory');
    await doomed.control.call('test.fresh', [{}]);
    const s = await proxyOn(doomed.child.process);
    await s.createClient(f.client('c'));
    // Calls on their way when the host is killed: answered before, or failed as unreachable — never hanging.
    const inFlight = Promise.allSettled(Array.from({ length: 50 }, () => s.getClient('c')));
    await doomed.child.stop('SIGKILL');
    for (const o of await within(5_000, inFlight, 'calls in flight')) {
      if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(UnavailableError);
    }
    await expect(s.getClient('c')).rejects.toBeInstanceOf(UnavailableError);
    await expect(s.updateClient('c', (c) => ({ ...c, name: 'x' }))).rejects.toBeInstanceOf(UnavailableError);
  });

  it('costs a measurable amount per call (printed, not asserted)', async () => {
    const N = 2_000;
    const s = await proxyOn(host.child.process);
    const direct = new MemoryStorage();
    await s.createClient(f.client('c'));
    await direct.createClient(f.client('c'));
    const timeReads = async (read: () => Promise<Client>): Promise<number> => {
      for (let i = 0; i < N / 10; i++) expect((await read()).id).toBe('c');
      const start = performance.now();
      for (let i = 0; i < N; i++) await read();
      return (performance.now() - start) / N;
    };
    const overRpc = await timeReads(() => s.getClient('c'));
    const inProcess = await timeReads(() => direct.getClient('c'));
    console.log(
      `getClient, ${N} sequential calls: over rpc ${(overRpc * 1000).toFixed(1)} µs/call, ` +
        `direct ${(inProcess * 1000).toFixed(1)} µs/call, ratio ${(overRpc / inProcess).toFixed(1)}`,
    );
    await s.close();
    await direct.close();
  });
});

interface Done {
  done: { successes: number; conflicts: number };
}
const isDone = (m: unknown): m is Done => typeof m === 'object' && m !== null && 'done' in m;

describe('workers sharing one host', () => {
  const WORKERS = 3;
  const TIMES = 150;

  it(`lose no update when ${WORKERS} worker processes increment one counter at the same time`, async () => {
    // This process is the primary: one storage, served to each worker on its own channel.
    const storage = new MemoryStorage();
    await storage.createRefreshToken({ ...f.refreshToken('counter'), nonce: '0' });
    const workers = Array.from(
      { length: WORKERS },
      () => new TestChild('incrementer.ts', ['counter', `${TIMES}`]),
    );
    children.push(...workers);
    const servers = workers.map((w) => serveStorage(w.process, storage));
    try {
      await Promise.all(workers.map((w) => w.ready()));
      const results = workers.map((w) => w.message(isDone));
      for (const w of workers) w.process.send({ go: true });
      const done = (await Promise.all(results)).map((m) => m.done);
      const total = done.reduce((n, d) => n + d.successes, 0);
      expect(total).toBe(WORKERS * TIMES);
      expect(Number((await storage.getRefreshToken('counter')).nonce)).toBe(total);
      console.log(
        `${WORKERS} workers × ${TIMES} increments: conflicts ${done.map((d) => d.conflicts).join(', ')}`,
      );
    } finally {
      for (const server of servers) server.close();
      await storage.close();
    }
  });
});
