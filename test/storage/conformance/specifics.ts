import * as f from '../fixtures.js';
import { expectStorageError, type SuiteContext } from './context.js';

// What only one entity kind has: case-insensitive emails, composite keys, resource versions, optional fields.

export function describeSpecifics(ctx: SuiteContext): void {
  describe('passwords', () => {
    it('treat emails case-insensitively and store them lower-cased', async () => {
      const s = ctx.storage;
      await s.createPassword(f.password('Jane.Doe@Example.COM'));
      const expected = f.password('jane.doe@example.com');
      expect(await s.getPassword('jane.doe@example.com')).toEqual(expected);
      expect(await s.getPassword('JANE.DOE@EXAMPLE.COM')).toEqual(expected);
      expect((await s.listPasswords()).items).toEqual([expected]);
      await expectStorageError(s.createPassword(f.password('jane.doe@EXAMPLE.com')), 'AlreadyExists');

      const updated = await s.updatePassword('JANE.doe@example.com', (p) => ({ ...p, username: 'jdoe' }));
      expect(updated).toEqual({ ...expected, username: 'jdoe' });
      expect(await s.getPassword('jane.doe@example.com')).toEqual({ ...expected, username: 'jdoe' });

      await s.deletePassword('Jane.Doe@example.com');
      await expectStorageError(s.getPassword('jane.doe@example.com'), 'NotFound');
    });
  });

  describe('offline sessions', () => {
    it('are keyed by user and connector together', async () => {
      const s = ctx.storage;
      const a = f.offlineSessions('user-a', 'ldap');
      const b = f.offlineSessions('user-a', 'github');
      const c = f.offlineSessions('user-b', 'ldap');
      // Keys that would collide if the two parts were simply concatenated.
      const d = f.offlineSessions('user-a', 'ldap2');
      const e = f.offlineSessions('user-al', 'dap2');
      for (const o of [a, b, c, d, e]) await s.createOfflineSessions(o);
      for (const o of [a, b, c, d, e]) expect(await s.getOfflineSessions(o.userID, o.connectorID)).toEqual(o);
      await expectStorageError(s.getOfflineSessions('user-b', 'github'), 'NotFound');

      await s.updateOfflineSessions('user-a', 'ldap', (o) => ({ ...o, refresh: {} }));
      expect(await s.getOfflineSessions('user-a', 'ldap')).toEqual({ ...a, refresh: {} });
      expect(await s.getOfflineSessions('user-a', 'github')).toEqual(b);

      await s.deleteOfflineSessions('user-a', 'ldap');
      await expectStorageError(s.getOfflineSessions('user-a', 'ldap'), 'NotFound');
      for (const o of [b, c, d, e]) expect(await s.getOfflineSessions(o.userID, o.connectorID)).toEqual(o);
    });
  });

  describe('connectors', () => {
    it('carry a resource version that changes whenever the stored connector changes', async () => {
      const s = ctx.storage;
      await s.createConnector(f.connector('ldap'));
      const created = await s.getConnector('ldap');
      expect(typeof created.resourceVersion).toBe('string');
      expect(created.resourceVersion).not.toBe('');

      const updated = await s.updateConnector('ldap', (c) => ({ ...c, name: 'LDAP (new)' }));
      expect(updated.resourceVersion).toBeDefined();
      expect(updated.resourceVersion).not.toBe(created.resourceVersion);
      expect(await s.getConnector('ldap')).toEqual(updated);

      const untouched = await s.updateConnector('ldap', (c) => c);
      expect(untouched.resourceVersion).toBe(updated.resourceVersion);
      expect((await s.getConnector('ldap')).resourceVersion).toBe(updated.resourceVersion);
      expect((await s.listConnectors()).items).toEqual([updated]);
    });
  });

  describe('optional fields', () => {
    it('stay absent when they were absent', async () => {
      const s = ctx.storage;
      const rt = f.refreshToken('no-expiry');
      delete rt.connectorData;
      delete rt.familyID;
      delete rt.authTime;
      await s.createRefreshToken(rt);
      const got = await s.getRefreshToken('no-expiry');
      expect(got).toEqual(rt);
      expect(got.expiry).toBeUndefined();
      expect(got.connectorData).toBeUndefined();

      const ar = f.authRequest('bare');
      delete ar.connectorData;
      delete ar.authTime;
      await s.createAuthRequest(ar);
      expect(await s.getAuthRequest('bare')).toEqual(ar);

      const emptyBytes = { ...f.authCode('empty-bytes'), connectorData: new Uint8Array(0) };
      await s.createAuthCode(emptyBytes);
      expect(await s.getAuthCode('empty-bytes')).toEqual(emptyBytes);
    });

    it('keep dates at millisecond precision as instants', async () => {
      const s = ctx.storage;
      const expiry = new Date('2030-07-08T09:10:11.012+05:45');
      await s.createAuthRequest(f.authRequest('tz', expiry));
      const got = await s.getAuthRequest('tz');
      expect(got.expiry).toBeInstanceOf(Date);
      expect(got.expiry.getTime()).toBe(Date.UTC(2030, 6, 8, 3, 25, 11, 12));
    });
  });

  describe('key sets', () => {
    it('keep the signing and the sealing set apart', async () => {
      const s = ctx.storage;
      await expectStorageError(s.getKeySet('signing'), 'NotFound');
      await s.createKeySet(f.keySet('signing'));
      await expectStorageError(s.getKeySet('sealing'), 'NotFound');
      await s.createKeySet(f.keySet('sealing'));
      await s.updateKeySet('sealing', (k) => ({ ...k, keys: [] }));
      expect(await s.getKeySet('signing')).toEqual(f.keySet('signing'));
      expect(await s.getKeySet('sealing')).toEqual({ ...f.keySet('sealing'), keys: [] });
    });
  });

  describe('ping', () => {
    it('answers and leaves no trace', async () => {
      const s = ctx.storage;
      await s.createConnector(f.connector('ldap'));
      const before = await s.getConnector('ldap');
      await s.ping();
      await s.ping();
      expect((await s.listAuthRequests()).items).toEqual([]);
      expect((await s.listClients()).items).toEqual([]);
      expect((await s.listRefreshTokens()).items).toEqual([]);
      expect((await s.listPasswords()).items).toEqual([]);
      expect((await s.listConnectors()).items).toEqual([before]);
    });
  });
}
