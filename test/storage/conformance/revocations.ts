import type { Revocation } from '../../../src/storage/storage.js';
import { expectStorageError, scribble, type SuiteContext } from './context.js';

// Revoked grants: read on every /userinfo and introspection call, written only when a login is revoked,
// collected once the last access token they cover has expired.

const revocation = (id: string, expiry: Date): Revocation => ({ id, expiry });

export function describeRevocations(ctx: SuiteContext): void {
  describe('revocations', () => {
    it('are created once, read back exactly (to the millisecond, whatever the zone) and missing ones are NotFound', async () => {
      const s = ctx.storage;
      const r = revocation('grant-a', new Date('2026-03-01T10:15:30.123+05:30'));
      await s.createRevocation(r);
      expect(await s.getRevocation('grant-a')).toEqual(
        revocation('grant-a', new Date('2026-03-01T04:45:30.123Z')),
      );
      await expectStorageError(s.createRevocation(revocation('grant-a', new Date())), 'AlreadyExists');
      await expectStorageError(s.getRevocation('grant-b'), 'NotFound');
    });

    it('hand out copies: changing what a read returned changes nothing stored', async () => {
      const s = ctx.storage;
      const expiry = new Date('2026-03-01T00:00:00Z');
      await s.createRevocation(revocation('grant-copy', expiry));
      scribble(await s.getRevocation('grant-copy'));
      expect(await s.getRevocation('grant-copy')).toEqual(revocation('grant-copy', expiry));
    });

    it('are garbage-collected once expired (expiry < now), later ones kept', async () => {
      const s = ctx.storage;
      const now = new Date('2026-03-01T12:00:00Z');
      await s.createRevocation(revocation('grant-old', new Date('2026-03-01T11:59:59.999Z')));
      await s.createRevocation(revocation('grant-now', now));
      await s.createRevocation(revocation('grant-noon-cet', new Date('2026-03-01T13:00:00+01:00')));
      expect((await s.garbageCollect(now)).revocations).toBe(1);
      await expectStorageError(s.getRevocation('grant-old'), 'NotFound');
      expect((await s.getRevocation('grant-now')).id).toBe('grant-now');
      expect((await s.garbageCollect(new Date('2026-03-01T12:00:00.001Z'))).revocations).toBe(2);
      await expectStorageError(s.getRevocation('grant-noon-cet'), 'NotFound');
    });
  });
}
