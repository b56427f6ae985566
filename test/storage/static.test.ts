import { isConflict } from '../../src/storage/errors.js';
import { MemoryStorage } from '../../src/storage/memory/memory.js';
import { ReadOnlyError, withStaticOverlay, type StaticEntities } from '../../src/storage/static.js';
import type { Client, ListOptions, Page, Storage } from '../../src/storage/storage.js';
import { runStorageConformance } from './conformance.js';
import { expectStorageError, rejection } from './conformance/context.js';
import * as f from './fixtures.js';

// With no statics the overlay must be invisible: the whole contract still holds through it.
runStorageConformance('memory behind an empty static overlay', async (opts) => {
  const storage = withStaticOverlay(new MemoryStorage(opts), { clients: [], passwords: [], connectors: [] });
  return { storage, cleanup: () => storage.close() };
});

const overlay = (statics: Partial<StaticEntities>, inner: Storage = new MemoryStorage()): Storage =>
  withStaticOverlay(inner, { clients: [], passwords: [], connectors: [], ...statics });

async function allPages<T>(list: (o: ListOptions) => Promise<Page<T>>, limit: number): Promise<T[][]> {
  const pages: T[][] = [];
  let token: string | undefined;
  do {
    const page = await list(token === undefined ? { limit } : { limit, continue: token });
    pages.push(page.items);
    token = page.continue;
    if (pages.length > 100) throw new Error('paging does not terminate');
  } while (token !== undefined);
  return pages;
}

const idsOf = (pages: Client[][]): string[][] => pages.map((p) => p.map((c) => c.id));

describe('static overlay', () => {
  it('serves static entities beside stored ones', async () => {
    const inner = new MemoryStorage();
    await inner.createClient(f.client('stored'));
    await inner.createPassword(f.password('stored@example.com'));
    await inner.createConnector(f.connector('stored'));
    const s = overlay(
      {
        clients: [f.client('static')],
        passwords: [f.password('Admin@Example.com')],
        connectors: [f.connector('static')],
      },
      inner,
    );
    expect(await s.getClient('static')).toEqual(f.client('static'));
    expect(await s.getClient('stored')).toEqual(f.client('stored'));
    expect(await s.getPassword('ADMIN@example.COM')).toEqual(f.password('admin@example.com'));
    expect((await s.getPassword('stored@example.com')).email).toBe('stored@example.com');
    expect(await s.getConnector('static')).toEqual(f.connector('static'));
    expect((await s.getConnector('stored')).id).toBe('stored');
    await expectStorageError(s.getClient('neither'), 'NotFound');
  });

  it('lists statics first, in config order, then stored ones, paging across the seam', async () => {
    const inner = new MemoryStorage();
    const stored = f.ids('stored', 25);
    for (const id of stored) await inner.createClient(f.client(id));
    const statics = ['zeta', 'alpha', 'mu'];
    const s = overlay({ clients: statics.map(f.client) }, inner);

    const pages = idsOf(await allPages((o) => s.listClients(o), 10));
    expect(pages.map((p) => p.length)).toEqual([10, 10, 8]);
    expect(pages.flat()).toEqual([...statics, ...stored]);
    expect(idsOf([(await s.listClients()).items])).toEqual([[...statics, ...stored]]);
  });

  it('pages correctly when the statics fill pages exactly or outnumber the page size', async () => {
    const statics = f.ids('static', 10).map(f.client);

    const onlyStatics = overlay({ clients: statics });
    const a = idsOf(await allPages((o) => onlyStatics.listClients(o), 10));
    expect(a).toEqual([statics.map((c) => c.id)]);

    const inner = new MemoryStorage();
    for (const id of f.ids('stored', 5)) await inner.createClient(f.client(id));
    const both = overlay({ clients: statics }, inner);
    expect((await allPages((o) => both.listClients(o), 10)).map((p) => p.length)).toEqual([10, 5]);
    expect((await allPages((o) => both.listClients(o), 4)).map((p) => p.length)).toEqual([4, 4, 4, 3]);
    const flat = (await allPages((o) => both.listClients(o), 3)).flat().map((c) => c.id);
    expect(flat).toEqual([...statics.map((c) => c.id), ...f.ids('stored', 5)]);
  });

  it('hides a stored entity that a static one with the same key replaces', async () => {
    const inner = new MemoryStorage();
    await inner.createClient({ ...f.client('app'), name: 'stored copy' });
    await inner.createClient(f.client('other'));
    const s = overlay({ clients: [f.client('app')] }, inner);
    expect((await s.getClient('app')).name).toBe('Client app');
    const all = (await allPages((o) => s.listClients(o), 1)).flat();
    expect(all.map((c) => [c.id, c.name])).toEqual([
      ['app', 'Client app'],
      ['other', 'Client other'],
    ]);
  });

  it('refuses to create an entity under a static key', async () => {
    const s = overlay({
      clients: [f.client('app')],
      passwords: [f.password('admin@example.com')],
      connectors: [f.connector('ldap')],
    });
    await expectStorageError(s.createClient(f.client('app')), 'AlreadyExists');
    await expectStorageError(s.createPassword(f.password('ADMIN@example.com')), 'AlreadyExists');
    await expectStorageError(s.createConnector(f.connector('ldap')), 'AlreadyExists');
  });

  it('refuses to change or delete a static entity, saying it is read-only', async () => {
    const s = overlay({
      clients: [f.client('app')],
      passwords: [f.password('admin@example.com')],
      connectors: [f.connector('ldap')],
    });
    const attempts: Promise<unknown>[] = [
      s.updateClient('app', (c) => ({ ...c, name: 'x' })),
      s.deleteClient('app'),
      s.updatePassword('Admin@example.com', (p) => ({ ...p, username: 'x' })),
      s.deletePassword('ADMIN@EXAMPLE.COM'),
      s.updateConnector('ldap', (c) => ({ ...c, name: 'x' })),
      s.deleteConnector('ldap'),
    ];
    for (const attempt of attempts) {
      const err = await rejection(attempt);
      expect(err).toBeInstanceOf(ReadOnlyError);
      expect(isConflict(err)).toBe(true);
      expect((err as Error).message).toMatch(/defined in the configuration file and is read-only/);
    }
    expect(await s.getClient('app')).toEqual(f.client('app'));
    expect(await s.getPassword('admin@example.com')).toEqual(f.password('admin@example.com'));
  });

  it('lets stored entities be changed as usual', async () => {
    const s = overlay({ clients: [f.client('static')] });
    await s.createClient(f.client('dynamic'));
    await s.updateClient('dynamic', (c) => ({ ...c, name: 'renamed' }));
    expect((await s.getClient('dynamic')).name).toBe('renamed');
    await s.deleteClient('dynamic');
    await expectStorageError(s.getClient('dynamic'), 'NotFound');
  });

  it('cannot be changed through the objects it was given or has returned', async () => {
    const given = f.client('app');
    const s = overlay({ clients: [given] });
    given.redirectURIs.push('https://evil.example');
    const read = await s.getClient('app');
    read.redirectURIs.push('https://evil.example');
    (await s.listClients()).items[0]!.trustedPeers.push('evil');
    expect(await s.getClient('app')).toEqual(f.client('app'));
  });

  it('rejects a static key defined twice', () => {
    expect(() => overlay({ passwords: [f.password('a@example.com'), f.password('A@example.com')] })).toThrow(
      /defined twice/,
    );
  });
});
