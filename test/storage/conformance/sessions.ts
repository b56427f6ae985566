import type { AuthCode, Client, RefreshToken, Session } from '../../../src/storage/storage.js';
import * as f from '../fixtures.js';
import { expectStorageError, type SuiteContext } from './context.js';

// Browser sessions beyond the generic life cycle (kits.ts runs create/read/update/delete, paging and the
// no-lost-update race over them): every field read back exactly, garbage collection at the earlier of the
// absolute and the idle expiry (moved by an update), and the session fields clients, codes and refresh
// tokens gained with them.

/** 2026-05-01T12:00:00.000Z, the instant both kinds of expiry are set to below. */
const T = new Date('2026-05-01T14:00:00+02:00');
const at = (ms: number): Date => new Date(T.getTime() + ms);

export function describeSessions(ctx: SuiteContext): void {
  describe('sessions', () => {
    it('read back every field exactly (maps, empty lists, dates to the millisecond as instants)', async () => {
      const s = ctx.storage;
      const full = f.session('full');
      await s.createSession(full);
      const got = await s.getSession('full');
      expect(got).toEqual(full);
      expect(got.answeredApprovals['approval-1']).toBeInstanceOf(Date);
      expect(got.answeredApprovals['approval-1']!.getTime()).toBe(Date.UTC(2026, 3, 1, 3, 35, 0, 777));
      expect(got.clients.app!.since.getTime()).toBe(Date.UTC(2026, 3, 1, 7, 0, 1, 555));
      expect(got.consents.cli).toEqual([]);

      const bare: Session = {
        ...f.session('bare'),
        clients: {},
        consents: {},
        answeredApprovals: {},
        amr: [],
      };
      delete bare.connectorData;
      delete bare.ipAddress;
      delete bare.userAgent;
      await s.createSession(bare);
      const gotBare = await s.getSession('bare');
      expect(gotBare).toEqual(bare);
      expect('ipAddress' in gotBare || 'userAgent' in gotBare || 'connectorData' in gotBare).toBe(false);
      await expectStorageError(s.getSession('never-created'), 'NotFound');
    });

    it('are collected once the absolute or the idle expiry has passed (expiry < now), not before nor at it', async () => {
      const s = ctx.storage;
      const far = f.farFuture();
      await s.createSession(f.session('absolute', { absoluteExpiry: T, idleExpiry: far }));
      await s.createSession(f.session('idle', { absoluteExpiry: far, idleExpiry: T }));
      await s.createSession(f.session('later', { absoluteExpiry: at(1), idleExpiry: far }));
      await s.createSession(f.session('alive', { absoluteExpiry: far, idleExpiry: at(3_600_000) }));
      const ids = async (): Promise<string[]> => (await s.listSessions()).items.map((x) => x.id).sort();

      for (const now of [new Date('2026-05-01T11:59:59.999Z'), new Date('2026-05-01T07:00:00-05:00')]) {
        expect((await s.garbageCollect(now)).sessions).toBe(0);
      }
      expect(await ids()).toEqual(['absolute', 'alive', 'idle', 'later']);

      expect((await s.garbageCollect(at(1))).sessions).toBe(2);
      expect(await ids()).toEqual(['alive', 'later']);
      await expectStorageError(s.getSession('absolute'), 'NotFound');
      await expectStorageError(s.getSession('idle'), 'NotFound');

      expect((await s.garbageCollect(at(2))).sessions).toBe(1);
      expect(await ids()).toEqual(['alive']);
    });

    it('are collected by the expiry an update left them with', async () => {
      const s = ctx.storage;
      const far = f.farFuture();
      await s.createSession(f.session('used', { absoluteExpiry: far, idleExpiry: T }));
      await s.createSession(f.session('shortened', { absoluteExpiry: far, idleExpiry: at(3_600_000) }));
      // A login through the session moves its idle expiry on; a forced end moves it back.
      await s.updateSession('used', (x) => ({ ...x, lastActivity: T, idleExpiry: at(3_600_000) }));
      await s.updateSession('shortened', (x) => ({ ...x, idleExpiry: at(-1) }));

      expect((await s.garbageCollect(at(1))).sessions).toBe(1);
      await expectStorageError(s.getSession('shortened'), 'NotFound');
      expect((await s.getSession('used')).idleExpiry).toEqual(at(3_600_000));
      expect((await s.garbageCollect(at(3_600_001))).sessions).toBe(1);
      await expectStorageError(s.getSession('used'), 'NotFound');
    });
  });

  describe('session fields of clients, codes and refresh tokens', () => {
    it('round-trip when present', async () => {
      const s = ctx.storage;
      const client: Client = { ...f.client('rp'), refreshTokenLifetime: 'standalone', ssoSharedWith: [] };
      const code: AuthCode = f.authCode('code-with-sid');
      const token: RefreshToken = { ...f.refreshToken('rt-with-sid'), sessionBound: false };
      await s.createClient(client);
      await s.createAuthCode(code);
      await s.createRefreshToken(token);
      const [gotClient, gotCode, gotToken] = await Promise.all([
        s.getClient('rp'),
        s.getAuthCode('code-with-sid'),
        s.getRefreshToken('rt-with-sid'),
      ]);
      expect(gotClient).toEqual(client);
      expect(gotCode.sessionID).toBe('session-of-the-code');
      expect(gotCode).toEqual(code);
      expect(gotToken).toEqual(token);
      expect(gotToken.sessionBound).toBe(false);

      const rebound = await s.updateRefreshToken('rt-with-sid', (r) => ({ ...r, sessionBound: true }));
      expect(rebound.sessionBound).toBe(true);
      expect((await s.getRefreshToken('rt-with-sid')).sessionBound).toBe(true);
    });

    it('stay absent when absent', async () => {
      const s = ctx.storage;
      const client = f.client('plain');
      delete client.postLogoutRedirectURIs;
      delete client.backchannelLogoutURI;
      delete client.ssoSharedWith;
      delete client.refreshTokenLifetime;
      const code = f.authCode('code-without-sid');
      delete code.sessionID;
      const token = f.refreshToken('rt-without-sid');
      delete token.sessionID;
      delete token.sessionBound;
      await s.createClient(client);
      await s.createAuthCode(code);
      await s.createRefreshToken(token);
      expect(await s.getClient('plain')).toEqual(client);
      expect(await s.getAuthCode('code-without-sid')).toEqual(code);
      expect(await s.getRefreshToken('rt-without-sid')).toEqual(token);
      // toEqual treats a key holding undefined as absent: look at the keys themselves.
      const keys = [
        ...Object.keys(await s.getClient('plain')),
        ...Object.keys(await s.getAuthCode('code-without-sid')),
        ...Object.keys(await s.getRefreshToken('rt-without-sid')),
      ];
      for (const k of [
        'postLogoutRedirectURIs',
        'backchannelLogoutURI',
        'ssoSharedWith',
        'refreshTokenLifetime',
        'sessionID',
        'sessionBound',
      ]) {
        expect(keys).not.toContain(k);
      }
    });
  });
}
