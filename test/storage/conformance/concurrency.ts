import { isConflict } from '../../../src/storage/errors.js';
import type { Storage, Updater } from '../../../src/storage/storage.js';
import * as f from '../fixtures.js';
import { allKits, type Kit } from '../kits.js';
import { expectStorageError, type SuiteContext } from './context.js';

// Compare-and-swap and single-use gates: what keeps a code from being redeemed twice and a refresh from
// being lost when replicas race.

const CONSUMERS = 20;
const UPDATERS = 50;
/** Attempts per caller in the no-lost-update test; the back end retries inside each attempt too. */
const CALLER_ATTEMPTS = 20;

export function describeConcurrency(ctx: SuiteContext): void {
  describe('single-use consumption', () => {
    it(`gives an auth code to exactly one of ${CONSUMERS} concurrent consumers`, async () => {
      const s = ctx.storage;
      const code = f.authCode('code-race');
      await s.createAuthCode(code);
      await expectExactlyOneWinner(() => s.consumeAuthCode(code.id), code);
      await expectStorageError(s.getAuthCode(code.id), 'NotFound');
      await expectStorageError(s.consumeAuthCode(code.id), 'NotFound');
    });

    it(`gives a device token to exactly one of ${CONSUMERS} concurrent consumers`, async () => {
      const s = ctx.storage;
      const token = {
        ...f.deviceToken('device-race'),
        status: 'complete' as const,
        token: '{"id_token":"x"}',
      };
      await s.createDeviceToken(token);
      await expectExactlyOneWinner(() => s.consumeDeviceToken(token.deviceCode), token);
      await expectStorageError(s.getDeviceToken(token.deviceCode), 'NotFound');
      await expectStorageError(s.consumeDeviceToken(token.deviceCode), 'NotFound');
    });

    it('reports NotFound when consuming what was never there', async () => {
      await expectStorageError(ctx.storage.consumeAuthCode('never-issued'), 'NotFound');
      await expectStorageError(ctx.storage.consumeDeviceToken('never-issued'), 'NotFound');
    });
  });

  for (const kit of allKits) {
    const update = kit.update;
    if (!update) continue;
    describe(`${kit.name} concurrent updates`, () => {
      it('fails the outer update when an update nested in its updater changes the entity first', async () => {
        await nestedUpdateRace(ctx.storage, kit, update);
      });
      const counter = kit.counter;
      if (counter) {
        it(`loses no update among ${UPDATERS} concurrent incrementers`, async () => {
          await incrementRace(ctx.storage, kit, update, counter);
        });
      }
    });
  }
}

async function expectExactlyOneWinner<T>(consume: () => Promise<T>, expected: T): Promise<void> {
  const outcomes = await Promise.allSettled(Array.from({ length: CONSUMERS }, consume));
  const winners = outcomes.filter((o) => o.status === 'fulfilled');
  expect(winners).toHaveLength(1);
  expect(winners[0]!.value).toEqual(expected);
  for (const o of outcomes) {
    if (o.status === 'rejected')
      expect(['NotFound', 'Conflict']).toContain((o.reason as { code?: string }).code);
  }
}

type Update<T> = (s: Storage, v: T, updater: Updater<T>) => Promise<T>;

/**
 * Every application of the outer updater starts an inner update of the same entity, which (being a whole,
 * uninterrupted update) lands before the outer one writes. So no application of the outer updater can ever
 * be written: the outer must end with ConflictError, and what is stored is the inner update's value.
 */
async function nestedUpdateRace<T>(s: Storage, kit: Kit<T>, update: Update<T>): Promise<void> {
  const v = kit.make(1);
  await kit.create(s, v);
  const inner: Promise<T>[] = [];
  const outer = update(s, v, (old) => {
    // The inner value is absolute (not derived from `o`), so however often it is applied the result is known.
    inner.push(update(s, v, () => kit.change(v, 'inner')));
    return kit.change(old, 'outer');
  });
  await expectStorageError(outer, 'Conflict');
  expect(inner.length).toBeGreaterThanOrEqual(1);
  const innerOutcomes = await Promise.allSettled(inner);
  expect(innerOutcomes.filter((o) => o.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
  expect(kit.comparable(await kit.get(s, v))).toEqual(kit.comparable(kit.change(v, 'inner')));
}

async function incrementRace<T>(
  s: Storage,
  kit: Kit<T>,
  update: Update<T>,
  counter: NonNullable<Kit<T>['counter']>,
): Promise<void> {
  const v = counter.write(kit.make(1), 0);
  await kit.create(s, v);
  const incrementOnce = async (): Promise<boolean> => {
    for (let attempt = 0; attempt < CALLER_ATTEMPTS; attempt++) {
      try {
        await update(s, v, (old) => counter.write(old, counter.read(old) + 1));
        return true;
      } catch (e) {
        if (!isConflict(e)) throw e;
      }
    }
    return false;
  };
  const results = await Promise.all(Array.from({ length: UPDATERS }, incrementOnce));
  const successes = results.filter(Boolean).length;
  expect(counter.read(await kit.get(s, v))).toBe(successes);
  expect(successes).toBe(UPDATERS);
}
