import { pino } from 'pino';
import { ConnectorConfigError } from '../../src/connectors/config-keys.js';
import type { PasswordConnector } from '../../src/connectors/connector.js';
import { LocalConnector } from '../../src/connectors/local/local.js';
import { MockCallbackConnector } from '../../src/connectors/mock/callback.js';
import { MockPasswordConnector } from '../../src/connectors/mock/password.js';
import {
  ConnectorRegistry,
  openConnector,
  type ConnectorDeps,
  type ConnectorLogger,
} from '../../src/connectors/registry.js';
import { MemoryStorage } from '../../src/storage/memory/memory.js';
import { withStaticOverlay } from '../../src/storage/static.js';
import type { Connector, ListOptions, Page, Storage } from '../../src/storage/storage.js';
import { RecordingLogger, scopes } from './helpers.js';

const entity = (id: string, type: string, config: Record<string, unknown> = {}, name = id): Connector => ({
  id,
  type,
  name,
  config,
});

const mockPassword = (password: string, id = 'mock'): Connector =>
  entity(id, 'mockPassword', { username: 'kilgore', password });

function deps(): ConnectorDeps & { logger: RecordingLogger } {
  return { storage: new MemoryStorage(), logger: new RecordingLogger() };
}

const message = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
};

describe('openConnector', () => {
  it('opens each supported type', () => {
    const d = deps();
    expect(openConnector(entity('local', 'local'), d)).toBeInstanceOf(LocalConnector);
    expect(openConnector(entity('cb', 'mockCallback'), d)).toBeInstanceOf(MockCallbackConnector);
    expect(openConnector(mockPassword('trout'), d)).toBeInstanceOf(MockPasswordConnector);
    expect(d.logger.records).toEqual([]);
  });

  it.each(['saml', 'gitlab', 'toString', ''])('refuses type %j as not supported', (type) => {
    expect(() => openConnector(entity('x', type), deps())).toThrow(ConnectorConfigError);
    expect(message(() => openConnector(entity('x', type), deps()))).toBe(
      `connectors[x].type: connector type ${JSON.stringify(type)} is not supported by Latchkey ` +
        '(supported: local, mockCallback, mockPassword, ldap, oidc, github, oauth)',
    );
  });

  it.each([
    [{ username: 'kilgore' }, 'connectors[mock].config.password: required'],
    [{ password: 'trout' }, 'connectors[mock].config.username: required'],
    [{ username: '', password: 'trout' }, 'connectors[mock].config.username: required'],
    [
      { username: 'kilgore', password: 42 },
      'connectors[mock].config.password: expected a string, got number',
    ],
    [{ UserName: 7, password: 'trout' }, 'connectors[mock].config.UserName: expected a string, got number'],
    [
      { username: 'a', Username: 'b', password: 'trout' },
      'connectors[mock].config.username: given more than once ("username", "Username"); keys are case-insensitive',
    ],
  ])('names the key path of a bad mockPassword config %j', (config, expected) => {
    expect(message(() => openConnector(entity('mock', 'mockPassword', config), deps()))).toBe(expected);
  });

  it('refuses a config that is not a mapping', () => {
    const bad = { ...entity('mock', 'mockPassword'), config: ['x'] as unknown as Record<string, unknown> };
    expect(message(() => openConnector(bad, deps()))).toBe(
      'connectors[mock].config: expected a mapping, got a list',
    );
  });

  it('matches config keys case-insensitively, as Go does', async () => {
    const c = openConnector(
      entity('mock', 'mockPassword', { UserName: 'kilgore', PASSWORD: 'trout' }),
      deps(),
    );
    expect(await (c as PasswordConnector).login(scopes, 'kilgore', 'trout')).toBeDefined();
    expect(await (c as PasswordConnector).login(scopes, 'kilgore', 'salmon')).toBeUndefined();
  });

  it('reads mockCallback failRefresh, checking its type', async () => {
    const failing = openConnector(entity('cb', 'mockCallback', { FailRefresh: true }), deps());
    await expect(failing.refresh?.(scopes, await identityOf(failing))).rejects.toThrow('failRefresh');
    expect(message(() => openConnector(entity('cb', 'mockCallback', { failRefresh: 'yes' }), deps()))).toBe(
      'connectors[cb].config.failRefresh: expected true or false, got string',
    );
  });

  it('warns about keys the type does not read', () => {
    const d = deps();
    openConnector(entity('cb', 'mockCallback', { failrefresh: false, redirectURI: 'x' }), d);
    expect(d.logger.at('warn')).toEqual([
      {
        level: 'warn',
        obj: { connector: 'cb', keys: ['redirectURI'] },
        msg: 'connectors[cb].config: ignoring keys that type mockCallback does not read',
      },
    ]);
  });

  it('accepts the process logger', () => {
    const logger: ConnectorLogger = pino({ level: 'silent' });
    expect(openConnector(entity('local', 'local'), { storage: new MemoryStorage(), logger })).toBeDefined();
  });
});

async function identityOf(c: ReturnType<typeof openConnector>) {
  if (c.kind !== 'callback') throw new Error('not a callback connector');
  return c.handleCallback(scopes, 'https://x/callback', new URLSearchParams(), undefined);
}

describe('ConnectorRegistry', () => {
  it('opens a connector once and reuses it while its resourceVersion stays', async () => {
    const storage = new MemoryStorage();
    await storage.createConnector(mockPassword('trout'));
    const registry = new ConnectorRegistry(storage, { storage });
    const first = await registry.get('mock');
    const second = await registry.get('mock');
    expect(first?.entity.id).toBe('mock');
    expect(second?.connector).toBe(first?.connector);
    // An update that changes nothing keeps the resourceVersion, so the connector too.
    await storage.updateConnector('mock', (c) => c);
    expect((await registry.get('mock'))?.connector).toBe(first?.connector);
  });

  it('reopens a connector after updateConnector changes it', async () => {
    const storage = new MemoryStorage();
    const logger = new RecordingLogger();
    await storage.createConnector(mockPassword('trout'));
    const registry = new ConnectorRegistry(storage, { storage, logger });
    const before = await registry.get('mock');
    const updated = await storage.updateConnector('mock', (c) => ({
      ...c,
      config: { ...c.config, password: 'salmon' },
    }));
    expect(updated.resourceVersion).not.toBe(before?.entity.resourceVersion);

    const after = await registry.get('mock');
    expect(after?.connector).not.toBe(before?.connector);
    expect(after?.entity.resourceVersion).toBe(updated.resourceVersion);
    const login = after?.connector as PasswordConnector;
    expect(await login.login(scopes, 'kilgore', 'salmon')).toBeDefined();
    expect(await login.login(scopes, 'kilgore', 'trout')).toBeUndefined();
    expect((await registry.get('mock'))?.connector).toBe(after?.connector);
    expect(logger.at('info')).toHaveLength(1);
  });

  it('caches config-file connectors (no resourceVersion) for the process lifetime', async () => {
    const storage = withStaticOverlay(new MemoryStorage(), {
      clients: [],
      passwords: [],
      connectors: [entity('local', 'local', {}, 'Email')],
    });
    const registry = new ConnectorRegistry(storage, { storage });
    const first = await registry.get('local');
    expect(first?.entity.resourceVersion).toBeUndefined();
    expect(first?.connector).toBeInstanceOf(LocalConnector);
    expect((await registry.get('local'))?.connector).toBe(first?.connector);
  });

  it('answers undefined for an unknown or deleted connector', async () => {
    const storage = new MemoryStorage();
    await storage.createConnector(mockPassword('trout'));
    const registry = new ConnectorRegistry(storage, { storage });
    expect(await registry.get('nope')).toBeUndefined();
    const before = await registry.get('mock');
    await storage.deleteConnector('mock');
    expect(await registry.get('mock')).toBeUndefined();
    await storage.createConnector(mockPassword('trout'));
    expect((await registry.get('mock'))?.connector).not.toBe(before?.connector);
  });

  it('throws the config error of a bad stored connector', async () => {
    const storage = new MemoryStorage();
    await storage.createConnector(entity('mock', 'mockPassword', { username: 'kilgore' }));
    const registry = new ConnectorRegistry(storage, { storage });
    await expect(registry.get('mock')).rejects.toThrow('connectors[mock].config.password: required');
  });

  it('lists every entity across pages, sorted by name case-insensitively', async () => {
    const inner = new MemoryStorage();
    const names = ['beta', 'Alpha', 'delta', 'Charlie', 'echo'];
    for (const [i, name] of names.entries())
      await inner.createConnector(entity(`c${i}`, 'mockCallback', {}, name));
    const storage = withStaticOverlay(inner, {
      clients: [],
      passwords: [],
      connectors: [entity('local', 'local', {}, 'Email'), entity('z', 'mockCallback', {}, 'alpha')],
    });
    const { paged, calls } = smallPages(storage, 2);
    const registry = new ConnectorRegistry(paged, { storage: paged });
    const listed = await registry.list();
    expect(listed.map((c) => c.name)).toEqual([
      'Alpha',
      'alpha',
      'beta',
      'Charlie',
      'delta',
      'echo',
      'Email',
    ]);
    expect(listed.map((c) => c.id).slice(0, 2)).toEqual(['c1', 'z']);
    expect(calls.length).toBe(4);
  });
});

/** The storage with list pages of at most `limit` items, recording each listConnectors call. */
function smallPages(storage: Storage, limit: number): { paged: Storage; calls: (ListOptions | undefined)[] } {
  const calls: (ListOptions | undefined)[] = [];
  const paged = new Proxy(storage, {
    get(target, prop, receiver) {
      if (prop === 'listConnectors') {
        return (opts?: ListOptions): Promise<Page<Connector>> => {
          calls.push(opts);
          return target.listConnectors({ ...opts, limit });
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { paged, calls };
}
