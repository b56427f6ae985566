import { allKits, type Kit } from '../kits.js';
import { expectStorageError, rejection, scribble, type SuiteContext } from './context.js';

// The generic life cycle every entity kind shares: create, read back exactly, refuse duplicates, update,
// delete, and never let a caller's object alias what is stored.

export function describeCrud(ctx: SuiteContext): void {
  for (const kit of allKits) describe(kit.name, () => describeKit(ctx, kit));
}

function describeKit<T>(ctx: SuiteContext, kit: Kit<T>): void {
  const eq = (actual: T, expected: T): void =>
    expect(kit.comparable(actual)).toEqual(kit.comparable(expected));

  it('creates, reads back exactly, refuses a duplicate and reports a missing one', async () => {
    const s = ctx.storage;
    const one = kit.make(1);
    const two = kit.make(2);
    await expectStorageError(kit.get(s, one), 'NotFound');

    await kit.create(s, one);
    eq(await kit.get(s, one), one);

    await expectStorageError(kit.create(s, kit.change(one, 'duplicate')), 'AlreadyExists');
    eq(await kit.get(s, one), one);

    await kit.create(s, two);
    eq(await kit.get(s, two), two);
    eq(await kit.get(s, one), one);
  });

  it('keeps stored state apart from the objects callers hold', async () => {
    const s = ctx.storage;
    const original = kit.make(1);
    const handedIn = kit.make(1);
    await kit.create(s, handedIn);
    scribble(handedIn);
    const readOnce = await kit.get(s, original);
    eq(readOnce, original);
    scribble(readOnce);
    eq(await kit.get(s, original), original);
  });

  const update = kit.update;
  if (update) {
    it('updates through an updater that sees the stored value, and persists the result', async () => {
      const s = ctx.storage;
      const v = kit.make(1);
      await kit.create(s, v);
      const seen: T[] = [];
      const returned = await update(s, v, (old) => {
        seen.push(old);
        return kit.change(old, 'updated');
      });
      expect(seen.length).toBeGreaterThanOrEqual(1);
      eq(seen[0]!, v);
      eq(returned, kit.change(v, 'updated'));
      eq(await kit.get(s, v), kit.change(v, 'updated'));
    });

    it('writes nothing when the updater returns its argument, and returns the entity as read', async () => {
      const s = ctx.storage;
      const v = kit.make(1);
      await kit.create(s, v);
      const before = await kit.get(s, v);
      const returned = await update(s, v, (old) => old);
      expect(returned).toEqual(before);
      expect(await kit.get(s, v)).toEqual(before);
    });

    it('writes nothing when the updater throws, and passes its error on', async () => {
      const s = ctx.storage;
      const v = kit.make(1);
      await kit.create(s, v);
      const boom = new Error('updater refused');
      const err = await rejection(
        update(s, v, () => {
          throw boom;
        }),
      );
      expect(err).toBe(boom);
      eq(await kit.get(s, v), v);
    });

    it('reports NotFound for an update of a missing entity without calling the updater', async () => {
      const calls: T[] = [];
      await expectStorageError(
        update(ctx.storage, kit.make(1), (old) => {
          calls.push(old);
          return kit.change(old, 'x');
        }),
        'NotFound',
      );
      expect(calls).toEqual([]);
    });
  }

  const remove = kit.delete;
  if (remove) {
    it('deletes once; a second delete and a read report NotFound', async () => {
      const s = ctx.storage;
      const one = kit.make(1);
      const two = kit.make(2);
      await kit.create(s, one);
      await kit.create(s, two);
      await remove(s, one);
      await expectStorageError(kit.get(s, one), 'NotFound');
      await expectStorageError(remove(s, one), 'NotFound');
      eq(await kit.get(s, two), two);
      // A deleted ID is free again.
      await kit.create(s, one);
      eq(await kit.get(s, one), one);
    });
  }
}
