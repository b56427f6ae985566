import bcrypt from 'bcrypt';
import { ConnectorError, RefreshDeniedError, type Identity } from '../../src/connectors/connector.js';
import {
  DUMMY_HASH,
  bcryptCompare,
  checkHash,
  type CompareFn,
} from '../../src/connectors/local/bcrypt-hash.js';
import { LocalConnector } from '../../src/connectors/local/local.js';
import { UnavailableError } from '../../src/storage/errors.js';
import { MemoryStorage } from '../../src/storage/memory/memory.js';
import { withStaticOverlay } from '../../src/storage/static.js';
import type { Storage } from '../../src/storage/storage.js';
import { RecordingLogger, decode, jane, offline, scopes } from './helpers.js';

const PASSWORD = 'correct horse';
let hash10: string;
let hash4: string;

beforeAll(async () => {
  hash10 = await bcrypt.hash(PASSWORD, 10);
  hash4 = await bcrypt.hash(PASSWORD, 4);
});

/** bcrypt's compare, recording the hash of every call: the instrument of the timing tests. */
function countingCompare(): { compare: CompareFn; hashes: string[] } {
  const hashes: string[] = [];
  return {
    hashes,
    compare: async (password, hash) => {
      hashes.push(hash);
      return bcryptCompare(password, hash);
    },
  };
}

async function setup(storage: Storage = new MemoryStorage()) {
  const counter = countingCompare();
  const logger = new RecordingLogger();
  const connector = new LocalConnector(storage, { compare: counter.compare, logger });
  return { storage, connector, hashes: counter.hashes, logger };
}

describe('local connector: login', () => {
  it('is a password connector asking for an email address', async () => {
    const { connector } = await setup();
    expect(connector.kind).toBe('password');
    expect(connector.prompt()).toBe('Email Address');
  });

  it('accepts the right password and maps the entry to an identity', async () => {
    const { storage, connector, hashes } = await setup();
    await storage.createPassword(jane(hash10));
    const identity = await connector.login(scopes, 'jane@example.com', PASSWORD);
    expect(identity).toEqual<Identity>({
      userID: 'user-jane',
      username: 'Jane Doe',
      preferredUsername: 'janed',
      email: 'jane@example.com',
      emailVerified: true,
      groups: ['admins', 'dev'],
    });
    expect(hashes).toEqual([hash10]);
  });

  it('uses the username when there is no name, and defaults emailVerified to true', async () => {
    const { storage, connector } = await setup();
    const entry = jane(hash10, { groups: [] });
    delete entry.name;
    delete entry.preferredUsername;
    delete entry.emailVerified;
    await storage.createPassword(entry);
    expect(await connector.login(scopes, 'jane@example.com', PASSWORD)).toEqual<Identity>({
      userID: 'user-jane',
      username: 'jane',
      preferredUsername: '',
      email: 'jane@example.com',
      emailVerified: true,
      groups: [],
    });
  });

  it('passes emailVerified: false through', async () => {
    const { storage, connector } = await setup();
    await storage.createPassword(jane(hash10, { emailVerified: false }));
    expect((await connector.login(scopes, 'jane@example.com', PASSWORD))?.emailVerified).toBe(false);
  });

  it('keeps the email in connectorData only with offline access', async () => {
    const { storage, connector } = await setup();
    await storage.createPassword(jane(hash10));
    expect((await connector.login(scopes, 'jane@example.com', PASSWORD))?.connectorData).toBeUndefined();
    const identity = await connector.login(offline, 'jane@example.com', PASSWORD);
    expect(decode(identity?.connectorData)).toEqual({ email: 'jane@example.com' });
  });

  it('refuses a wrong password after one comparison against the real hash', async () => {
    const { storage, connector, hashes } = await setup();
    await storage.createPassword(jane(hash10));
    expect(await connector.login(scopes, 'jane@example.com', 'wrong')).toBeUndefined();
    expect(hashes).toEqual([hash10]);
  });

  it('looks the email up case-insensitively', async () => {
    const { storage, connector } = await setup();
    await storage.createPassword(jane(hash10, { email: 'Jane@Example.com' }));
    const identity = await connector.login(scopes, 'JANE@example.COM', PASSWORD);
    expect(identity?.userID).toBe('user-jane');
    expect(identity?.email).toBe('jane@example.com');
  });

  it('accepts $2y$ hashes (htpasswd), which the bcrypt library alone answers false for', async () => {
    const { storage, connector } = await setup();
    const y = `$2y$${hash10.slice(4)}`;
    expect(await bcrypt.compare(PASSWORD, y)).toBe(false);
    await storage.createPassword(jane(y));
    expect((await connector.login(scopes, 'jane@example.com', PASSWORD))?.userID).toBe('user-jane');
  });

  it('serves static passwords from the overlay beside stored ones', async () => {
    const inner = new MemoryStorage();
    await inner.createPassword(jane(hash10, { email: 'stored@example.com', userID: 'stored' }));
    const storage = withStaticOverlay(inner, {
      clients: [],
      connectors: [],
      passwords: [jane(hash10, { email: 'static@example.com', userID: 'static' })],
    });
    const { connector } = await setup(storage);
    expect((await connector.login(scopes, 'Static@example.com', PASSWORD))?.userID).toBe('static');
    expect((await connector.login(scopes, 'stored@example.com', PASSWORD))?.userID).toBe('stored');
  });
});

describe('local connector: an unknown user costs what a known one costs', () => {
  it('the dummy hash is a well-formed cost-10 hash nobody logs in with', async () => {
    expect(checkHash(DUMMY_HASH)).toEqual({ ok: true, hash: DUMMY_HASH });
    expect(bcrypt.getRounds(DUMMY_HASH)).toBe(10);
    expect(await bcrypt.compare(PASSWORD, DUMMY_HASH)).toBe(false);
  });

  it('compares against the dummy hash for an unknown user', async () => {
    const { storage, connector, hashes } = await setup();
    await storage.createPassword(jane(hash10));
    expect(await connector.login(scopes, 'nobody@example.com', PASSWORD)).toBeUndefined();
    expect(hashes).toEqual([DUMMY_HASH]);
  });

  it('compares an unknown user against a dummy as dear as the static and stored hashes', async () => {
    const hash11 = await bcrypt.hash(PASSWORD, 11);
    const storage = withStaticOverlay(new MemoryStorage(), {
      clients: [],
      connectors: [],
      passwords: [jane(hash11, { email: 'static@example.com', userID: 'static' })],
    });
    await storage.createPassword(jane(hash10));
    const { connector, hashes } = await setup(storage);
    expect(await connector.login(scopes, 'nobody@example.com', PASSWORD)).toBeUndefined();
    expect(hashes.map((h) => bcrypt.getRounds(h))).toEqual([11]);
    expect(hashes[0]).not.toBe(hash11);
    expect(await bcrypt.compare(PASSWORD, hashes[0]!)).toBe(false);
  });

  it('raises the dummy cost when a login reads a dearer hash stored after the first scan', async () => {
    const { storage, connector, hashes } = await setup();
    await storage.createPassword(jane(hash10));
    expect(await connector.login(scopes, 'nobody@example.com', PASSWORD)).toBeUndefined();
    let scans = 0;
    const list = storage.listPasswords.bind(storage);
    storage.listPasswords = (...a) => (scans++, list(...a));
    await storage.createPassword(
      jane(await bcrypt.hash(PASSWORD, 12), { email: 'dear@example.com', userID: 'dear' }),
    );
    expect(await connector.login(scopes, 'dear@example.com', 'wrong')).toBeUndefined();
    expect(await connector.login(scopes, 'nobody@example.com', PASSWORD)).toBeUndefined();
    expect(hashes.map((h) => bcrypt.getRounds(h))).toEqual([10, 12, 12]);
    // Learnt from the login's own read: no scan per login.
    expect(scans).toBe(0);
  });

  it('compares against the dummy hash for an empty password, and never accepts it', async () => {
    const { storage, connector, hashes } = await setup();
    const emptyHash = await bcrypt.hash('', 10);
    await storage.createPassword(jane(emptyHash));
    const yes: CompareFn = async () => true;
    const gullible = new LocalConnector(storage, { compare: yes });
    expect(await gullible.login(scopes, 'jane@example.com', '')).toBeUndefined();
    expect(await connector.login(scopes, 'jane@example.com', '')).toBeUndefined();
    expect(hashes).toEqual([DUMMY_HASH]);
  });

  it('compares against the dummy hash for an empty username', async () => {
    const { connector, hashes } = await setup();
    expect(await connector.login(scopes, '', PASSWORD)).toBeUndefined();
    expect(hashes).toEqual([DUMMY_HASH]);
  });

  it.each([
    ['cost 4', () => hash4, 'bcrypt cost 4 is outside 10..16'],
    ['cost 17', () => hash10.replace('$10$', '$17$'), 'bcrypt cost 17 is outside 10..16'],
    ['not bcrypt', () => 'plaintext', 'not a bcrypt hash'],
  ])('refuses a %s hash as a failed login, logged, after a dummy comparison', async (_, hashOf, reason) => {
    const { storage, connector, hashes, logger } = await setup();
    await storage.createPassword(jane(hashOf()));
    expect(await connector.login(scopes, 'jane@example.com', PASSWORD)).toBeUndefined();
    expect(hashes).toEqual([DUMMY_HASH]);
    const warnings = logger.at('warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain(reason);
    expect(warnings[0]?.obj).toEqual({ connector: 'local', userID: 'user-jane' });
  });

  it('the cost-4 hash would match: the refusal is the cost rule', async () => {
    expect(await bcrypt.compare(PASSWORD, hash4)).toBe(true);
  });
});

describe('local connector: refresh', () => {
  async function loggedIn() {
    const env = await setup();
    await env.storage.createPassword(jane(hash10));
    const identity = await env.connector.login(offline, 'jane@example.com', PASSWORD);
    if (identity === undefined) throw new Error('login failed');
    return { ...env, identity };
  }

  it('picks up changed groups, name and emailVerified', async () => {
    const { storage, connector, identity } = await loggedIn();
    await storage.updatePassword('jane@example.com', (p) => ({
      ...p,
      groups: ['ops'],
      name: 'Jane Roe',
      emailVerified: false,
    }));
    const refreshed = await connector.refresh(offline, identity);
    expect(refreshed).toMatchObject({
      userID: 'user-jane',
      username: 'Jane Roe',
      email: 'jane@example.com',
      emailVerified: false,
      groups: ['ops'],
    });
    expect(decode(refreshed.connectorData)).toEqual({ email: 'jane@example.com' });
  });

  it('finds the entry by the email in connectorData', async () => {
    const { connector, identity } = await loggedIn();
    const refreshed = await connector.refresh(offline, { ...identity, email: 'changed@example.com' });
    expect(refreshed.email).toBe('jane@example.com');
  });

  it('falls back to the identity email without connectorData', async () => {
    const { connector, identity } = await loggedIn();
    const { connectorData: _, ...bare } = identity;
    expect((await connector.refresh(offline, bare)).groups).toEqual(['admins', 'dev']);
  });

  it('is denied once the entry is deleted', async () => {
    const { storage, connector, identity } = await loggedIn();
    await storage.deletePassword('jane@example.com');
    await expect(connector.refresh(offline, identity)).rejects.toBeInstanceOf(RefreshDeniedError);
  });

  it('is denied when the email now belongs to another user ID', async () => {
    const { storage, connector, identity } = await loggedIn();
    await storage.updatePassword('jane@example.com', (p) => ({ ...p, userID: 'someone-else' }));
    await expect(connector.refresh(offline, identity)).rejects.toBeInstanceOf(RefreshDeniedError);
  });

  it('reports an unreadable storage as a ConnectorError, not a denial', async () => {
    const { identity } = await loggedIn();
    const down = new MemoryStorage();
    down.getPassword = async () => {
      throw new UnavailableError('storage down');
    };
    const connector = new LocalConnector(down);
    await expect(connector.refresh(offline, identity)).rejects.toBeInstanceOf(ConnectorError);
    await expect(connector.login(scopes, 'jane@example.com', PASSWORD)).rejects.toBeInstanceOf(
      ConnectorError,
    );
  });
});
